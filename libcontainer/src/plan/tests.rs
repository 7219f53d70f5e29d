//! Validation without root: each check on a config built in memory.

use super::*;
use serde_json::json;

fn bundle() -> PathBuf {
    let d = std::env::temp_dir().join(format!("berth-plan-test-{}", std::process::id()));
    std::fs::create_dir_all(d.join("rootfs")).unwrap();
    d
}

fn base() -> serde_json::Value {
    json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs"},
        "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0},
                    "env": ["PATH=/bin"]},
        "hostname": "box",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}
        ],
        "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}]}
    })
}

fn build(v: serde_json::Value) -> Result<Plan, ConfigError> {
    let spec: Spec = serde_json::from_value(v).expect("spec parses");
    Plan::build("c1", &bundle(), &spec, &PlanOptions::default())
}

fn err_field(v: serde_json::Value) -> String {
    build(v).unwrap_err().field
}

#[test]
fn a_good_config_plans() {
    let p = build(base()).unwrap();
    assert_eq!(p.hostname.as_deref(), Some("box"));
    assert!(p.namespaces.creates(LinuxNamespaceType::Pid));
    assert!(!p.needs_two_step());
    assert_eq!(p.mounts[1].options.data, "mode=755");
    assert!(p.setup_dev);
    assert_eq!(p.devices.len(), 6);
    assert_eq!(p.rootfs_propagation, MsFlags::MS_SLAVE | MsFlags::MS_REC);
}

#[test]
fn ids_are_checked() {
    for bad in ["", "..", ".", "a/b", "../x", "a b", "x\0"] {
        assert!(validate_id(bad).is_err(), "{bad:?} accepted");
    }
    for good in ["a", "abc-1.2_3+4", "A"] {
        assert!(validate_id(good).is_ok(), "{good:?} refused");
    }
}

#[test]
fn missing_rootfs_names_root_path() {
    let mut v = base();
    v["root"]["path"] = json!("nope");
    assert_eq!(err_field(v), "root.path");
}

#[test]
fn cwd_must_be_absolute() {
    let mut v = base();
    v["process"]["cwd"] = json!("rel");
    let e = build(v).unwrap_err();
    assert_eq!(e.field, "process.cwd");
    assert!(e.reason.contains("absolute"));
}

#[test]
fn empty_args_refused() {
    let mut v = base();
    v["process"]["args"] = json!([]);
    assert_eq!(err_field(v), "process.args");
}

#[test]
fn hostname_needs_uts() {
    let mut v = base();
    v["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "mount"}]);
    assert_eq!(err_field(v), "hostname");
}

#[test]
fn duplicate_namespace_refused() {
    let mut v = base();
    v["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "pid"}, {"type": "uts"}]);
    assert_eq!(err_field(v), "linux.namespaces[1]");
}

#[test]
fn joins_are_ordered_user_first_and_need_two_steps() {
    let mut v = base();
    v["linux"]["namespaces"] = json!([
        {"type": "network", "path": "/proc/1/ns/net"},
        {"type": "user", "path": "/proc/1/ns/user"},
        {"type": "uts"}
    ]);
    let p = build(v).unwrap();
    assert_eq!(p.namespaces.join[0].0, LinuxNamespaceType::User);
    assert!(p.needs_two_step());
}

#[test]
fn user_namespace_needs_mappings_and_mappings_need_it() {
    let mut v = base();
    v["linux"]["namespaces"] = json!([{"type": "user"}, {"type": "uts"}]);
    assert_eq!(err_field(v.clone()), "linux.uidMappings");
    v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
    v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
    assert_eq!(build(v.clone()).unwrap().uid_map, vec![IdMap { container: 0, host: 1000, size: 1 }]);
    v["linux"]["namespaces"] = json!([{"type": "uts"}]);
    assert_eq!(err_field(v), "linux.uidMappings");
}

#[test]
fn time_offsets_need_a_time_namespace() {
    let mut v = base();
    v["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 10}});
    assert_eq!(err_field(v.clone()), "linux.timeOffsets");
    v["linux"]["namespaces"] = json!([{"type": "time"}, {"type": "uts"}]);
    let p = build(v).unwrap();
    assert_eq!(p.time_offsets, vec![TimeOffset { clock: "monotonic", secs: 10, nanos: 0 }]);
    assert!(p.needs_two_step());
}

#[test]
fn mount_destination_must_be_absolute_and_proc_only_at_proc() {
    let mut v = base();
    v["mounts"] = json!([{"destination": "rel", "type": "tmpfs"}]);
    assert_eq!(err_field(v.clone()), "mounts[0].destination");
    v["mounts"] = json!([{"destination": "/x", "type": "proc"}]);
    assert_eq!(err_field(v.clone()), "mounts[0].destination");
    v["mounts"] = json!([{"destination": "/x", "options": ["bind"]}]);
    assert_eq!(err_field(v), "mounts[0].source");
}

#[test]
fn bind_sources_are_bundle_relative_and_dev_bind_skips_devices() {
    let mut v = base();
    v["mounts"] = json!([{"destination": "/dev", "source": "devdir", "options": ["rbind"]}]);
    let p = build(v).unwrap();
    assert_eq!(p.mounts[0].typ, "bind");
    assert!(p.mounts[0].source.as_ref().unwrap().ends_with("devdir"));
    assert!(p.mounts[0].source.as_ref().unwrap().is_absolute());
    assert!(!p.setup_dev);
}

#[test]
fn destinations_are_cleaned_lexically() {
    let mut v = base();
    v["mounts"] = json!([{"destination": "/a/../../etc/./x", "type": "tmpfs"}]);
    assert_eq!(build(v).unwrap().mounts[0].destination, PathBuf::from("/etc/x"));
}

#[test]
fn sysctls_need_their_namespace() {
    let mut v = base();
    v["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    assert_eq!(err_field(v.clone()), "linux.sysctl.net.ipv4.ip_forward");
    v["linux"]["sysctl"] = json!({"kernel.panic": "1"});
    assert!(build(v.clone()).unwrap_err().reason.contains("not namespaced"));
    v["linux"]["namespaces"] = json!([{"type": "network"}, {"type": "uts"}]);
    v["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    assert_eq!(build(v).unwrap().sysctl, vec![("net.ipv4.ip_forward".into(), "1".into())]);
}

#[test]
fn devices_are_checked_and_override_defaults() {
    let mut v = base();
    v["linux"]["devices"] =
        json!([{"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 438, "uid": 5}]);
    let p = build(v.clone()).unwrap();
    assert_eq!(p.devices.len(), 6);
    assert_eq!(p.devices.iter().find(|d| d.path == Path::new("/dev/null")).unwrap().uid, 5);
    v["linux"]["devices"] = json!([{"path": "/etc/x", "type": "c", "major": 1, "minor": 3}]);
    assert_eq!(err_field(v), "linux.devices[0].path");
}

#[test]
fn rlimits_are_checked() {
    let mut v = base();
    v["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}]);
    assert_eq!(err_field(v.clone()), "process.rlimits[0]");
    v["process"]["rlimits"] =
        json!([{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 5}, {"type": "RLIMIT_NOFILE", "soft": 1, "hard": 5}]);
    assert_eq!(err_field(v.clone()), "process.rlimits[1]");
    v["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 5}]);
    assert_eq!(build(v).unwrap().process.rlimits[0].resource, libc::RLIMIT_NOFILE);
}

#[test]
fn capabilities_are_mapped() {
    let mut v = base();
    v["process"]["capabilities"] = json!({"bounding": ["CAP_KILL", "CAP_SYS_ADMIN"], "effective": ["CAP_KILL"]});
    let p = build(v.clone()).unwrap();
    let caps = p.process.caps.unwrap();
    assert!(caps.bounding.contains(&caps::Capability::CAP_SYS_ADMIN));
    assert!(caps.inheritable.is_empty() && caps.ambient.is_empty());
    v["process"]["capabilities"] = json!({"bounding": ["CAP_NOPE"]});
    assert!(serde_json::from_value::<Spec>(v).is_err(), "unknown capability names fail to parse");
}

#[test]
fn hooks_need_absolute_paths_and_positive_timeouts() {
    let mut v = base();
    v["hooks"] = json!({"prestart": [{"path": "rel/hook"}]});
    assert_eq!(err_field(v.clone()), "hooks.prestart[0].path");
    v["hooks"] = json!({"poststop": [{"path": "/bin/true"}, {"path": "/bin/true", "timeout": 0}]});
    assert_eq!(err_field(v), "hooks.poststop[1].timeout");
}

#[test]
fn device_rules_are_config_then_devices_then_defaults() {
    let mut v = base();
    v["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    v["linux"]["devices"] = json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]);
    let p = build(v.clone()).unwrap();
    assert!(!p.device_rules[0].allow());
    // One rule per device node created (the six defaults + fuse), then runc's defaults.
    assert!(p.device_rules[1..].iter().all(|r| r.allow()));
    assert!(p.device_rules.iter().any(|r| r.major() == Some(10) && r.minor() == Some(229)));
    assert!(p.device_rules.iter().any(|r| r.major() == Some(136) && r.minor().is_none()));
    v["linux"]["resources"] = json!({"devices": [{"allow": true, "access": "rwx"}]});
    assert_eq!(err_field(v), "linux.resources.devices[0].access");
}

#[test]
fn unimplemented_fields_are_refused_not_ignored() {
    let mut v = base();
    v["linux"]["personality"] = json!({"domain": "LINUX32"});
    assert_eq!(err_field(v), "linux.personality");
    let mut v = base();
    v["process"]["apparmorProfile"] = json!("docker-default");
    assert_eq!(err_field(v), "process.apparmorProfile");
}

#[test]
fn seccomp_is_compiled_in_the_plan() {
    let mut v = base();
    v["linux"]["seccomp"] =
        json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]});
    let p = build(v.clone()).unwrap();
    assert!(p.seccomp.as_ref().is_some_and(|s| !s.program.is_empty()));
    v["linux"]["seccomp"] =
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]});
    assert_eq!(err_field(v), "linux.seccomp.listenerPath");
}

#[test]
fn cgroups_path_may_not_escape() {
    let mut v = base();
    v["linux"]["cgroupsPath"] = json!("/a/../../b");
    assert_eq!(err_field(v), "linux.cgroupsPath");
}

#[test]
fn bad_env_and_propagation_refused() {
    let mut v = base();
    v["process"]["env"] = json!(["NOEQUALS"]);
    assert_eq!(err_field(v.clone()), "process.env[0]");
    let mut v = base();
    v["linux"]["rootfsPropagation"] = json!("sideways");
    assert_eq!(err_field(v), "linux.rootfsPropagation");
}
