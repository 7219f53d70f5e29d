//! Cleanup: after every way a container can end, the host has no leftover
//! state dir, cgroup dirs, mounts or processes.

use integration_tests::*;
use serde_json::json;
use std::fs;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// The container's cgroup dirs that exist right now (one per hierarchy; on a
/// cgroup v2 host the one unified directory).
fn cgroup_dirs(t: &TestEnv) -> Vec<std::path::PathBuf> {
    container_cgroup_dirs(&t.cgroups_path).into_iter().filter(|p| p.exists()).collect()
}

#[test]
fn create_then_delete_leaves_nothing() {
    let mut t = TestEnv::new("create_delete_clean");
    t.args(&["/probe", "sleep"]);
    let pid = t.create_ok();
    // While it exists: state dir, cgroup with the init in it, mounts in the
    // container's namespace only.
    assert!(t.rt.root.join(&t.id).exists() || !t.is_berth(), "state dir expected under --root");
    let dirs = cgroup_dirs(&t);
    assert!(!dirs.is_empty(), "container cgroup {} not created", t.cgroups_path);
    let procs_dir = dirs.iter().find(|d| d.join("cgroup.procs").exists()).unwrap();
    let procs = fs::read_to_string(procs_dir.join("cgroup.procs")).unwrap();
    assert!(procs.lines().any(|l| l.trim() == pid.to_string()), "init {pid} not in {}: {procs}", procs_dir.display());
    let dir = t.dir.display().to_string();
    assert!(
        !host_mounts().iter().any(|m| m.mount_point.starts_with(&dir)),
        "container mounts leaked into the host mount namespace"
    );
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn stopped_then_delete_leaves_nothing() {
    let mut t = TestEnv::new("stopped_delete_clean");
    t.sh("exit 5");
    t.create_ok();
    t.start().ok();
    assert!(t.wait_status("stopped", T));
    t.delete().ok();
    t.assert_no_leftovers();
}

#[test]
fn run_leaves_nothing() {
    for code in [0, 9] {
        let mut t = TestEnv::new("run_clean");
        t.mount_shared();
        t.sh(&format!("echo ran > /shared/ran; exit {code}"));
        let o = t.run();
        assert_eq!(o.code(), Some(code), "stderr: {}", o.stderr);
        assert!(t.shared.join("ran").exists(), "the container process never ran");
        // `run` deletes the container when its process exits.
        t.state_out().fails();
        t.assert_no_leftovers();
    }
}

#[test]
fn run_with_background_children_leaves_nothing() {
    // The init exits while other processes of the container still run:
    // with a pid namespace the kernel kills them all with init.
    let mut t = TestEnv::new("run_children_clean");
    t.mount_shared();
    t.sh("sleep 300 & echo $! > /shared/child; sleep 0.2; exit 0");
    t.run().ok();
    assert!(t.shared.join("child").exists(), "the container process never ran");
    t.state_out().fails();
    t.assert_no_leftovers();
}

#[test]
fn detached_kill_delete_leaves_nothing() {
    let mut t = TestEnv::new("detached_kill_clean");
    t.args(&["/probe", "sleep"]);
    t.write_config();
    let b = t.bundle_str();
    t.rt.cmd(&["run", "-d", "--bundle", &b, &t.id]).ok();
    let p = t.remember_pid().expect("detached container has a pid");
    t.kill(Some("KILL")).ok();
    assert!(t.wait_status("stopped", T));
    assert!(wait_until(T, || !p.alive()));
    t.delete().ok();
    t.assert_no_leftovers();
}

#[test]
fn many_mounts_cleaned_up() {
    let mut t = TestEnv::new("many_mounts_clean");
    let src = t.host_dir("src");
    for i in 0..8 {
        t.add_mount(json!({"destination": format!("/mnt/b{i}"), "type": "bind",
            "source": src.display().to_string(), "options": ["rbind", "ro"]}));
        t.add_mount(json!({"destination": format!("/mnt/t{i}"), "type": "tmpfs", "source": "tmpfs"}));
    }
    t.args(&["/probe", "sleep"]);
    let pid = t.create_ok();
    assert!(mountinfo_of(pid).iter().filter(|m| m.mount_point.starts_with("/mnt/")).count() >= 16);
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn repeated_lifecycles_same_id() {
    // The same id can be reused once deleted; nothing accumulates.
    let mut t = TestEnv::new("repeated_same_id");
    t.args(&["/probe", "exit", "0"]);
    for _ in 0..3 {
        t.create_ok();
        t.start().ok();
        assert!(t.wait_status("stopped", T));
        t.delete().ok();
        t.assert_no_leftovers();
    }
}

#[test]
fn user_namespace_container_cleanup() {
    if fs::read_to_string("/proc/sys/user/max_user_namespaces").map(|s| s.trim() == "0").unwrap_or(true) {
        skip!("user namespaces unavailable");
    }
    let mut t = TestEnv::new("userns_cleanup");
    t.set_namespace("user", None);
    t.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    t.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    t.args(&["/probe", "sleep"]);
    t.create_ok();
    t.start().ok();
    t.delete_force().ok();
    t.assert_no_leftovers();
}
