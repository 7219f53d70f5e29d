//! What berth supports, for `berth features` (the runtime-spec's features document,
//! which containerd reads) and the default config of `berth spec`.

use serde_json::{json, Value};

/// The version of the libseccomp linked into berth.
pub fn libseccomp_version() -> String {
    seccomp::libseccomp_version()
}

/// The runtime-spec features document, from berth's own tables.
pub fn features() -> Value {
    let mut caps: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    caps.sort();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::state::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": crate::plan::options::KNOWN,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": { "v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": true },
            "seccomp": {
                "enabled": true,
                "actions": seccomp::KNOWN_ACTIONS,
                "operators": seccomp::KNOWN_OPERATORS,
                "archs": seccomp::known_arches().collect::<Vec<_>>(),
                "knownFlags": seccomp::KNOWN_FLAGS,
                "supportedFlags": seccomp::supported_flags(),
            },
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false },
            "intelRdt": { "enabled": false },
            "mountExtensions": { "idmap": { "enabled": false } },
        },
        "annotations": {
            "io.berth.version": env!("CARGO_PKG_VERSION"),
            "io.berth.libseccomp.version": libseccomp_version(),
        },
    })
}

/// The default config.json of `berth spec`: `runc spec`'s (a `sh` with a terminal, the
/// default mounts, masked and read-only paths, three capabilities). With `rootless`,
/// runc's rootless variant: a user namespace mapping root to the caller, no network
/// namespace, `/sys` bound from the host, no `gid=5` on devpts.
pub fn default_spec(rootless: bool) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut spec = json!({
        "ociVersion": crate::state::OCI_VERSION,
        "process": {
            "terminal": true,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": { "bounding": caps, "effective": caps, "permitted": caps },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": true },
        "hostname": "berth",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
              "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
        ],
        "linux": {
            "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
            "namespaces": [{ "type": "pid" }, { "type": "network" }, { "type": "ipc" }, { "type": "uts" },
                           { "type": "mount" }, { "type": "cgroup" }],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    });
    if rootless {
        let (uid, gid) = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
        let linux = &mut spec["linux"];
        linux["namespaces"] = json!([{ "type": "pid" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" },
                                     { "type": "cgroup" }, { "type": "user" }]);
        linux["uidMappings"] = json!([{ "containerID": 0, "hostID": uid, "size": 1 }]);
        linux["gidMappings"] = json!([{ "containerID": 0, "hostID": gid, "size": 1 }]);
        linux.as_object_mut().map(|l| l.remove("resources"));
        for m in spec["mounts"].as_array_mut().into_iter().flatten() {
            if m["destination"] == "/sys" {
                *m = json!({ "destination": "/sys", "type": "none", "source": "/sys",
                             "options": ["rbind", "nosuid", "noexec", "nodev", "ro"] });
            }
            if let Some(o) = m["options"].as_array_mut() {
                o.retain(|w| w != "gid=5");
            }
        }
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_is_the_spec_document() {
        let f: oci_spec::runtime::Features = serde_json::from_value(features()).expect("features JSON");
        let linux = f.linux().as_ref().unwrap();
        assert!(linux.namespaces().as_ref().unwrap().len() == 8);
        assert!(linux.capabilities().as_ref().unwrap().iter().any(|c| c == "CAP_SYS_ADMIN"));
        assert!(f.mount_options().as_ref().unwrap().iter().any(|o| o == "rro"));
        assert!(linux.seccomp().as_ref().unwrap().actions().as_ref().unwrap().len() >= 8);
    }

    #[test]
    fn default_specs_are_valid_configs() {
        for rootless in [false, true] {
            let s: oci_spec::runtime::Spec = serde_json::from_value(default_spec(rootless)).expect("spec");
            let ns = s.linux().as_ref().unwrap().namespaces().clone().unwrap();
            let has_user = ns.iter().any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::User);
            assert_eq!(has_user, rootless);
        }
    }
}
