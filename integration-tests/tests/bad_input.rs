//! Bad input: every error exits non-zero with a short message naming the
//! problem, and leaves no state dir, cgroup, mount or process behind.

use integration_tests::*;
use std::fs;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// The error output is short (no dumps) and, for berth, names `what`
/// (case-insensitive). runc's wording differs, so it only has to fail.
#[track_caller]
fn names_problem(rt: &Runtime, o: &Out, what: &[&str]) {
    o.fails();
    if rt.is_berth() {
        let e = o.stderr.to_lowercase();
        assert!(o.stderr.len() < 2000, "error output too long:\n{}", o.stderr);
        assert!(
            what.iter().any(|w| !w.is_empty() && e.contains(&w.to_lowercase())),
            "error should mention one of {what:?}: {}",
            o.stderr
        );
    }
}

/// Entries of the runtime root (there must be none for a failed create).
fn root_entries(t: &TestEnv) -> Vec<String> {
    fs::read_dir(&t.rt.root)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn invalid_json_config() {
    let mut t = TestEnv::new("invalid_json");
    t.write_config();
    fs::write(t.bundle.join("config.json"), "{\"ociVersion\": \"1.0.2\", not json").unwrap();
    let b = t.bundle_str();
    let o = t.rt.cmd(&["create", "--bundle", &b, &t.id]);
    names_problem(&t.rt, &o, &["config.json"]);
    assert!(root_entries(&t).is_empty(), "state left: {:?}", root_entries(&t));
    t.assert_no_leftovers();
    // Control: the same bundle with a valid config.json works.
    t.args(&["/probe", "exit", "0"]);
    t.run().ok();
}

#[test]
fn missing_config_json() {
    let t = TestEnv::new("missing_config");
    let b = t.bundle_str();
    let o = t.rt.cmd(&["create", "--bundle", &b, &t.id]);
    names_problem(&t.rt, &o, &["config.json"]);
    t.assert_no_leftovers();
}

#[test]
fn config_with_wrong_types() {
    let mut t = TestEnv::new("wrong_types");
    t.config["process"]["args"] = serde_json::json!("not-an-array");
    let o = t.create();
    names_problem(&t.rt, &o, &["config.json", "args"]);
    t.assert_no_leftovers();
}

#[test]
fn missing_rootfs() {
    let mut t = TestEnv::new("missing_rootfs");
    fs::remove_dir_all(&t.rootfs).unwrap();
    let o = t.create();
    names_problem(&t.rt, &o, &["rootfs"]);
    t.state_out().fails();
    t.assert_no_leftovers();
}

#[test]
fn bad_container_ids() {
    let mut t = TestEnv::new("bad_ids");
    t.write_config();
    let b = t.bundle_str();
    for id in ["../x", "a/b", "", "..", "/abs"] {
        let o = t.rt.cmd(&["create", "--bundle", &b, id]);
        names_problem(&t.rt, &o, &["id", id]);
        assert!(root_entries(&t).is_empty(), "id {id:?} left state: {:?}", root_entries(&t));
        // Nothing created outside the root either.
        assert!(!t.dir.join("x").exists(), "id {id:?} escaped the state root");
        assert!(!t.rt.root.join("a").exists());
    }
    t.assert_no_leftovers();
    // Control: the same bundle with a valid id works.
    t.args(&["/probe", "exit", "0"]);
    t.run().ok();
    t.assert_no_leftovers();
}

#[test]
fn duplicate_id() {
    let mut a = TestEnv::new("duplicate_id");
    a.args(&["/probe", "sleep"]);
    let pid = a.create_ok();
    let mut b = a.sibling("dup");
    b.id = a.id.clone();
    b.cgroups_path = format!("{}-dup", a.cgroups_path);
    b.config["linux"]["cgroupsPath"] = serde_json::json!(b.cgroups_path);
    b.write_config();
    let bb = b.bundle_str();
    let o = b.rt.cmd(&["create", "--bundle", &bb, &b.id]);
    names_problem(&b.rt, &o, &[&a.id, "exists"]);
    // The first container is untouched.
    let st = a.state();
    assert_eq!(st["status"], "created");
    assert_eq!(st["pid"].as_i64(), Some(pid as i64));
    assert_eq!(fs::canonicalize(st["bundle"].as_str().unwrap()).unwrap(), fs::canonicalize(&a.bundle).unwrap());
    // And the failed duplicate left nothing of its own.
    for d in container_cgroup_dirs(&b.cgroups_path) {
        assert!(!d.exists(), "duplicate created a cgroup: {}", d.display());
    }
    b.id = format!("{}-never-created", b.id); // so b's Drop does not delete a's container
    a.delete_force().ok();
    a.assert_no_leftovers();
}

#[test]
fn unknown_signal() {
    let mut t = TestEnv::new("unknown_signal");
    t.args(&["/probe", "sleep"]);
    let pid = t.create_ok();
    t.start().ok();
    for sig in ["SIGFOO", "BOGUS", "999"] {
        let o = t.kill(Some(sig));
        let name = sig.trim_start_matches("SIG");
        names_problem(&t.rt, &o, &[sig, name]);
    }
    assert_eq!(t.status(), "running");
    assert!(ProcId::of(pid).unwrap().alive());
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn start_of_running_container() {
    let mut t = TestEnv::new("start_running");
    t.args(&["/probe", "sleep"]);
    t.create_ok();
    t.start().ok();
    let o = t.start();
    names_problem(&t.rt, &o, &[&t.id, "running", "created"]);
    assert_eq!(t.status(), "running");
}

#[test]
fn unknown_id_state_kill_delete_start() {
    let t = TestEnv::new("unknown_id");
    let ghost = format!("{}-ghost", t.id);
    for args in [
        vec!["state", ghost.as_str()],
        vec!["kill", ghost.as_str()],
        vec!["kill", ghost.as_str(), "KILL"],
        vec!["delete", ghost.as_str()],
        vec!["start", ghost.as_str()],
    ] {
        let o = t.rt.cmd(&args);
        // runc says only "container does not exist"; berth must name the id.
        names_problem(&t.rt, &o, &[&ghost]);
    }
    assert!(root_entries(&t).is_empty());
}

#[test]
fn delete_force_of_unknown_id() {
    let t = TestEnv::new("delete_force_unknown");
    let ghost = format!("{}-ghost", t.id);
    let o = t.rt.cmd(&["delete", "--force", &ghost]);
    // runc 1.1 exits 0 here ("force" makes a missing container a no-op,
    // like `rm -f`); runtime-spec does not cover --force. Either way it
    // must not create anything or crash.
    assert!(o.code().is_some(), "died from a signal: {:?}", o.status);
    if !o.success() {
        assert!(!o.stderr.trim().is_empty());
    }
    assert!(root_entries(&t).is_empty());
}

#[test]
fn bind_source_missing_fails_create_cleanly() {
    let mut t = TestEnv::new("bind_source_missing");
    let missing = t.dir.join("no-such-source");
    t.add_mount(serde_json::json!({
        "destination": "/mnt/x", "type": "bind", "source": missing.display().to_string(), "options": ["bind"]
    }));
    t.args(&["/probe", "sleep"]);
    let o = t.create();
    names_problem(&t.rt, &o, &["no-such-source", "/mnt/x"]);
    t.state_out().fails();
    t.assert_no_leftovers();
}

#[test]
fn missing_executable() {
    let mut t = TestEnv::new("missing_executable");
    t.args(&["/no/such/binary"]);
    let o = t.create();
    if o.success() {
        // Some runtimes only find out at start.
        t.remember_pid();
        let s = t.start();
        names_problem(&t.rt, &s, &["/no/such/binary"]);
        let _ = t.delete_force();
    } else {
        names_problem(&t.rt, &o, &["/no/such/binary"]);
    }
    assert!(wait_until(T, || t.leftovers().is_empty()));
    t.assert_no_leftovers();
}

#[test]
fn no_subcommand_or_unknown_subcommand() {
    let t = TestEnv::new("unknown_subcommand");
    let o = t.rt.cmd(&["frobnicate"]);
    assert!(!o.success());
    let o = t.rt.cmd(&["create"]);
    assert!(!o.success(), "create without an id must fail");
    assert!(root_entries(&t).is_empty());
}
