//! The runc command-line contract that shims and people rely on: `--version`'s lines,
//! `features`, `spec`, a forced delete of a container already gone, runc's "does not
//! exist", the JSON error line of `--log-format json`, the session keyring, and the
//! global flags shims pass.

use integration_tests::*;
use serde_json::Value;
use std::fs;

#[test]
fn version_has_runc_lines() {
    let t = TestEnv::new("cli_version");
    let o = t.rt.cmd(&["--version"]);
    o.ok();
    let out = o.stdout_now();
    let first = out.lines().next().unwrap_or_default();
    assert!(first.contains(" version "), "first line: {first:?}");
    for key in ["commit: ", "spec: ", "libseccomp: "] {
        assert!(out.lines().any(|l| l.starts_with(key)), "no {key:?} line in {out:?}");
    }
}

#[test]
fn features_is_the_runtime_spec_document() {
    let t = TestEnv::new("cli_features");
    let o = t.rt.cmd(&["features"]);
    o.ok();
    let f: Value = serde_json::from_str(&o.stdout_now()).expect("features is JSON");
    assert!(f["ociVersionMin"].is_string() && f["ociVersionMax"].is_string(), "{f}");
    let has = |v: &Value, s: &str| v.as_array().is_some_and(|a| a.iter().any(|x| x == s));
    assert!(has(&f["hooks"], "createRuntime"), "{f}");
    assert!(has(&f["mountOptions"], "rbind"), "{f}");
    assert!(has(&f["linux"]["namespaces"], "pid") && has(&f["linux"]["namespaces"], "user"), "{f}");
    assert!(has(&f["linux"]["capabilities"], "CAP_SYS_ADMIN"), "{f}");
    assert_eq!(f["linux"]["seccomp"]["enabled"], true);
    assert!(has(&f["linux"]["seccomp"]["actions"], "SCMP_ACT_ERRNO"), "{f}");
}

#[test]
fn spec_writes_a_runnable_config_and_keeps_an_existing_one() {
    let mut t = TestEnv::new("cli_spec");
    let dir = t.dir.join("spec");
    fs::create_dir_all(&dir).unwrap();
    let d = dir.display().to_string();
    t.rt.cmd(&["spec", "--bundle", &d]).ok();
    let spec: Value = serde_json::from_slice(&fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(spec["process"]["args"][0], "sh");
    assert_eq!(spec["root"]["path"], "rootfs");
    // A second spec must not overwrite it.
    fs::write(dir.join("config.json"), "{}").unwrap();
    t.rt.cmd(&["spec", "--bundle", &d]).fails();
    assert_eq!(fs::read_to_string(dir.join("config.json")).unwrap(), "{}");
    // The default config runs (without a terminal, with the probe, on the test's cgroup).
    let mut cfg = spec;
    cfg["process"]["terminal"] = false.into();
    cfg["process"]["args"] = serde_json::json!(["/probe", "ids"]);
    cfg["linux"]["cgroupsPath"] = t.cgroups_path.clone().into();
    t.config = cfg;
    let f = t.run_probe(&["ids"]);
    assert_eq!(f.get("uid"), "0");
    t.assert_no_leftovers();
}

#[test]
fn delete_force_of_a_deleted_container_succeeds() {
    let mut t = TestEnv::new("cli_delete_twice");
    t.args(&["sleep", "100"]);
    t.create_ok();
    t.delete_force().ok();
    // containerd's shim deletes again after a failed or finished task.
    t.delete_force().ok();
    let o = t.rt.cmd(&["delete", &t.id]);
    o.fails();
    assert!(o.stderr_now().contains("does not exist"), "{}", o.stderr_now());
    let o = t.rt.cmd(&["state", &t.id]);
    o.fails();
    assert!(o.stderr_now().contains("does not exist"), "{}", o.stderr_now());
    t.assert_no_leftovers();
}

#[test]
fn kill_of_a_stopped_container_says_container_not_running() {
    // containerd's shim maps an error containing "container not running" (or "does
    // not exist") to "process already finished"; anything else is an unknown error.
    let mut t = TestEnv::new("cli_kill_stopped");
    t.args(&["true"]);
    t.create_ok();
    t.start().ok();
    assert!(wait_until(std::time::Duration::from_secs(10), || t.status() == "stopped"));
    let o = t.rt.cmd(&["kill", &t.id, "KILL"]);
    o.fails();
    assert!(o.stderr_now().contains("container not running"), "{}", o.stderr_now());
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn json_log_ends_with_the_error_line() {
    let t = TestEnv::new("cli_json_log");
    let log = t.dir.join("log.json");
    let l = log.display().to_string();
    t.rt.cmd(&["--log", &l, "--log-format", "json", "state", "no-such-container"]).fails();
    let text = fs::read_to_string(&log).expect("the log file");
    let last: Value = serde_json::from_str(text.lines().last().unwrap_or_default()).expect("a JSON line");
    assert_eq!(last["level"], "error", "{last}");
    assert!(last["msg"].as_str().unwrap_or_default().contains("does not exist"), "{last}");
    assert!(last["time"].is_string(), "{last}");
}

/// The keyrings the probe sees in /proc/keys (unmasked for this).
fn keyrings(t: &mut TestEnv, extra: &[&str]) -> String {
    let masked = t.config["linux"]["maskedPaths"].as_array_mut().unwrap();
    masked.retain(|p| p != "/proc/keys");
    t.args(&["/probe", "cat", "/proc/keys"]);
    let o = t.run_with(extra, None);
    o.ok();
    o.stdout_now()
}

#[test]
fn a_new_session_keyring_unless_no_new_keyring() {
    let mut t = TestEnv::new("cli_keyring");
    let keys = keyrings(&mut t, &[]);
    let id = t.id.clone();
    assert!(
        keys.lines().any(|l| l.contains(" keyring ") && l.trim_end().ends_with(&format!("{id}: empty"))),
        "no session keyring named {id} in /proc/keys:\n{keys}"
    );
    let mut t2 = TestEnv::new("cli_keyring_none");
    let keys = keyrings(&mut t2, &["--no-new-keyring"]);
    assert!(!keys.contains(&t2.id), "a keyring named after the container with --no-new-keyring:\n{keys}");
    t.assert_no_leftovers();
    t2.assert_no_leftovers();
}

#[test]
fn global_flags_shims_pass_are_accepted() {
    let t = TestEnv::new("cli_globals");
    t.rt.cmd(&["--rootless", "false", "--criu", "/usr/sbin/criu", "list"]).ok();
    if t.is_berth() {
        // Until the systemd driver exists, a clear refusal rather than cgroupfs in disguise.
        let o = t.rt.cmd(&["--systemd-cgroup", "list"]);
        o.fails();
        assert!(o.stderr_now().contains("systemd"), "{}", o.stderr_now());
    }
}
