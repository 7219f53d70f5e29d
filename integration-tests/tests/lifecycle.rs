//! OCI lifecycle on real containers: create / start / state / kill / delete,
//! `run` (foreground and detached), pid files, `list`, signal delivery, and
//! the container's stdio reaching the caller.

use integration_tests::*;
use serde_json::Value;
use std::fs;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// A container that waits until the host creates shared/go, then exits 0.
fn wait_for_go(t: &mut TestEnv) {
    t.mount_shared();
    t.sh("touch /shared/ready; while [ ! -e /shared/go ]; do sleep 0.05; done; exit 0");
}

/// A container with traps recording the signals it gets in /shared.
fn trapping(t: &mut TestEnv) {
    t.mount_shared();
    t.sh("trap 'echo TERM > /shared/sig.TERM; exit 0' TERM; \
          trap 'echo USR1 > /shared/sig.USR1' USR1; \
          trap 'echo USR2 > /shared/sig.USR2' USR2; \
          trap 'echo HUP > /shared/sig.HUP' HUP; \
          touch /shared/ready; while :; do sleep 0.05; done");
}

/// Create + start `t` and wait until its process signalled readiness.
fn start_ready(t: &mut TestEnv) -> i32 {
    let pid = t.create_ok();
    t.start().ok();
    wait_for_path(&t.shared.join("ready"), T);
    pid
}

#[test]
fn create_start_stop_delete() {
    let mut t = TestEnv::new("create_start_stop_delete");
    wait_for_go(&mut t);
    let pid = t.create_ok();
    let proc_ = ProcId::of(pid).expect("container init pid from state exists on the host");

    let st = t.state();
    assert_eq!(st["id"], t.id.as_str(), "{st}");
    assert_eq!(st["status"], "created", "{st}");
    assert!(st["ociVersion"].as_str().is_some_and(|v| v.starts_with("1.")), "ociVersion: {st}");
    let bundle = st["bundle"].as_str().expect("bundle in state");
    assert_eq!(
        fs::canonicalize(bundle).unwrap(),
        fs::canonicalize(&t.bundle).unwrap(),
        "state.bundle must be the bundle dir"
    );
    // The user process must not have run yet.
    std::thread::sleep(Duration::from_millis(200));
    assert!(!t.shared.join("ready").exists(), "process ran before start");

    t.start().ok();
    wait_for_path(&t.shared.join("ready"), T);
    let st = t.state();
    assert_eq!(st["status"], "running", "{st}");
    assert_eq!(st["pid"].as_i64(), Some(pid as i64), "pid changes between create and start: {st}");

    fs::write(t.shared.join("go"), "").unwrap();
    assert!(t.wait_status("stopped", T), "container never reported stopped: {}", t.state());
    assert!(wait_until(T, || !proc_.alive()), "init still alive after stop");

    t.delete().ok();
    let o = t.state_out();
    o.fails();
    t.assert_no_leftovers();
}

#[test]
fn state_of_stopped_container_then_delete() {
    let mut t = TestEnv::new("state_of_stopped");
    t.args(&["/probe", "exit", "0"]);
    t.create_ok();
    t.start().ok();
    assert!(t.wait_status("stopped", T));
    // A stopped container still exists until deleted.
    let st = t.state();
    assert_eq!(st["id"], t.id.as_str());
    // start of a stopped container is an error.
    t.start().fails();
    t.delete().ok();
    t.state_out().fails();
    t.assert_no_leftovers();
}

#[test]
fn run_returns_exit_status() {
    for code in [0, 3, 77] {
        let mut t = TestEnv::new("run_returns_exit_status");
        t.args(&["/probe", "exit", &code.to_string()]);
        let o = t.run();
        assert_eq!(o.code(), Some(code), "run exit status; stderr: {}", o.stderr);
        t.delete_if_exists();
        t.assert_no_leftovers();
    }
    let mut t = TestEnv::new("run_returns_exit_status_sh");
    t.sh("exit 3");
    assert_eq!(t.run().code(), Some(3));
}

#[test]
fn run_detach_and_pid_file() {
    let mut t = TestEnv::new("run_detach_and_pid_file");
    wait_for_go(&mut t);
    t.write_config();
    let pid_file = t.dir.join("container.pid");
    let b = t.bundle_str();
    let pf = pid_file.display().to_string();
    let o = t.rt.cmd(&["run", "--detach", "--pid-file", &pf, "--bundle", &b, &t.id]);
    o.ok();
    t.remember_pid();
    wait_for_path(&t.shared.join("ready"), T);
    let st = t.state();
    assert_eq!(st["status"], "running", "{st}");
    let pid: i64 = fs::read_to_string(&pid_file).unwrap().trim().parse().expect("pid file is a number");
    assert_eq!(Some(pid), st["pid"].as_i64(), "pid file vs state");
    fs::write(t.shared.join("go"), "").unwrap();
    assert!(t.wait_status("stopped", T));
    t.delete().ok();
    t.assert_no_leftovers();
}

#[test]
fn create_pid_file_matches_state() {
    let mut t = TestEnv::new("create_pid_file");
    t.args(&["/probe", "sleep"]);
    t.write_config();
    let pid_file = t.dir.join("sub/dir/c.pid");
    fs::create_dir_all(pid_file.parent().unwrap()).unwrap();
    let b = t.bundle_str();
    let pf = pid_file.display().to_string();
    t.rt.cmd(&["create", "--pid-file", &pf, "--bundle", &b, &t.id]).ok();
    t.remember_pid();
    let content = fs::read_to_string(&pid_file).unwrap();
    let st = t.state();
    assert_eq!(content.trim().parse::<i64>().ok(), st["pid"].as_i64(), "pid file {content:?} vs {st}");
    // After start, that very process has exec'd the configured program.
    t.start().ok();
    let pid = st["pid"].as_i64().unwrap();
    let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(exe.ends_with("probe"), "init runs the configured program: {}", exe.display());
}

#[test]
fn list_shows_ids() {
    let mut a = TestEnv::new("list_shows_ids");
    let mut b = a.sibling("b");
    a.args(&["/probe", "sleep"]);
    b.args(&["/probe", "sleep"]);
    a.create_ok();
    b.create_ok();
    b.start().ok();
    let o = a.rt.cmd(&["list"]);
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    let line_of = |id: &str| lines.iter().find(|l| l.split_whitespace().next() == Some(id)).copied();
    let la = line_of(&a.id).unwrap_or_else(|| panic!("list lacks {}:\n{}", a.id, o.stdout));
    let lb = line_of(&b.id).unwrap_or_else(|| panic!("list lacks {}:\n{}", b.id, o.stdout));
    assert!(la.contains("created"), "{la}");
    assert!(lb.contains("running"), "{lb}");
    b.delete_force().ok();
    a.delete_force().ok();
    let o = a.rt.cmd(&["list"]);
    o.ok();
    assert!(!o.stdout.contains(&a.id) && !o.stdout.contains(&b.id), "deleted ids still listed:\n{}", o.stdout);
}

#[test]
fn kill_default_is_sigterm() {
    let mut t = TestEnv::new("kill_default_is_sigterm");
    trapping(&mut t);
    start_ready(&mut t);
    t.kill(None).ok();
    let got = wait_for_file(&t.shared.join("sig.TERM"), T);
    assert_eq!(got.trim(), "TERM");
    assert!(t.wait_status("stopped", T), "trap exits 0 on TERM");
    for s in ["USR1", "USR2", "HUP"] {
        assert!(!t.shared.join(format!("sig.{s}")).exists(), "unexpected {s}");
    }
    t.delete().ok();
    t.assert_no_leftovers();
}

#[test]
fn kill_signal_name_forms_are_delivered() {
    let mut t = TestEnv::new("kill_signal_name_forms");
    trapping(&mut t);
    start_ready(&mut t);
    // Name without prefix, with SIG prefix, and by number.
    for (arg, name) in [("USR1", "USR1"), ("SIGUSR2", "USR2"), ("1", "HUP")] {
        t.kill(Some(arg)).ok();
        let got = wait_for_file(&t.shared.join(format!("sig.{name}")), T);
        assert_eq!(got.trim(), name, "kill {arg}");
    }
    assert_eq!(t.status(), "running");
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn kill_sigkill_forms() {
    for form in ["KILL", "SIGKILL", "9"] {
        let mut t = TestEnv::new("kill_sigkill_forms");
        // init (pid 1 in its namespace) with no handler: only SIGKILL from
        // outside stops it.
        t.args(&["/probe", "sleep"]);
        let pid = t.create_ok();
        t.start().ok();
        let p = ProcId::of(pid).unwrap();
        t.kill(Some(form)).ok();
        assert!(t.wait_status("stopped", T), "kill {form} did not stop the container");
        assert!(wait_until(T, || !p.alive()), "kill {form}: process alive");
        t.delete().ok();
        t.assert_no_leftovers();
    }
}

#[test]
fn kill_all_kills_every_process() {
    let mut t = TestEnv::new("kill_all");
    t.mount_shared();
    t.sh("sleep 1000 & sleep 1001 & touch /shared/ready; wait");
    start_ready(&mut t);
    // Collect the container's processes from its cgroup (any hierarchy: on v2 the only one).
    let procs_file = container_cgroup_dirs(&t.cgroups_path)
        .into_iter()
        .map(|d| d.join("cgroup.procs"))
        .find(|p| p.exists())
        .expect("container cgroup exists");
    let mut pids = Vec::new();
    wait_until(T, || {
        pids = fs::read_to_string(&procs_file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.parse::<i32>().ok())
            .filter_map(ProcId::of)
            .collect();
        pids.len() >= 3
    });
    assert!(pids.len() >= 3, "expected sh + 2 sleeps in {}: {pids:?}", procs_file.display());
    t.rt.cmd(&["kill", "--all", &t.id, "KILL"]).ok();
    assert!(t.wait_status("stopped", T));
    for p in &pids {
        assert!(wait_until(T, || !p.alive()), "pid {} survived kill --all", p.pid);
    }
    t.delete().ok();
    t.assert_no_leftovers();
}

#[test]
fn delete_force_running() {
    let mut t = TestEnv::new("delete_force_running");
    t.args(&["/probe", "sleep"]);
    let pid = t.create_ok();
    t.start().ok();
    let p = ProcId::of(pid).unwrap();
    t.delete_force().ok();
    t.state_out().fails();
    assert!(wait_until(T, || !p.alive()), "init survived delete --force");
    t.assert_no_leftovers();
}

#[test]
fn delete_force_created() {
    let mut t = TestEnv::new("delete_force_created");
    t.args(&["/probe", "sleep"]);
    let pid = t.create_ok();
    let p = ProcId::of(pid).unwrap();
    t.delete_force().ok();
    assert!(wait_until(T, || !p.alive()));
    t.assert_no_leftovers();
}

#[test]
fn delete_running_without_force_fails() {
    let mut t = TestEnv::new("delete_running_no_force");
    t.args(&["/probe", "sleep"]);
    let pid = t.create_ok();
    t.start().ok();
    let p = ProcId::of(pid).unwrap();
    // runtime-spec: "Attempting to delete a container that is not stopped
    // MUST have no effect on the container and MUST generate an error."
    // (runc 1.1: "cannot delete container <id> that is not stopped: running")
    let o = t.delete();
    o.fails();
    assert!(
        o.stderr.contains(&t.id) || o.stderr.to_lowercase().contains("running"),
        "error should name the container or its state: {}",
        o.stderr
    );
    assert_eq!(t.status(), "running");
    assert!(p.alive(), "a refused delete must not touch the process");
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn delete_created_without_force() {
    let mut t = TestEnv::new("delete_created_no_force");
    t.args(&["/probe", "sleep"]);
    let pid = t.create_ok();
    let p = ProcId::of(pid).unwrap();
    let o = t.delete();
    if t.is_berth() {
        // A created container is not stopped either: same rule as running.
        o.fails();
        assert_eq!(t.status(), "created");
        assert!(p.alive());
        t.delete_force().ok();
    } else {
        // Known runc deviation from runtime-spec: `runc delete` of a
        // *created* container (no --force) kills and deletes it, exit 0.
        o.ok();
        assert!(wait_until(T, || !p.alive()));
    }
    t.assert_no_leftovers();
}

#[test]
fn start_twice_fails() {
    let mut t = TestEnv::new("start_twice_fails");
    t.args(&["/probe", "sleep"]);
    t.create_ok();
    t.start().ok();
    assert_eq!(t.status(), "running");
    let o = t.start();
    o.fails();
    assert_eq!(t.status(), "running", "a failed start must not disturb the container");
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn stdout_and_stderr_reach_caller() {
    let mut t = TestEnv::new("stdout_stderr");
    t.sh("echo to-stdout; echo to-stderr >&2; /probe echo probe-out; /probe stderr probe-err");
    let o = t.run();
    o.ok();
    assert!(o.stdout.contains("to-stdout") && o.stdout.contains("probe-out"), "stdout: {:?}", o.stdout);
    assert!(!o.stdout.contains("to-stderr"), "stderr leaked into stdout: {:?}", o.stdout);
    assert!(o.stderr.contains("to-stderr") && o.stderr.contains("probe-err"), "stderr: {:?}", o.stderr);
    t.delete_if_exists();
    t.assert_no_leftovers();
}

#[test]
fn create_start_output_goes_to_create_stdio() {
    // With terminal=false and create/start, the container inherits the
    // stdio of `create` (pass-through), not of `start`.
    let mut t = TestEnv::new("create_stdio");
    t.args(&["/probe", "echo", "from-container"]);
    t.write_config();
    let b = t.bundle_str();
    let c = t.rt.cmd(&["create", "--bundle", &b, &t.id]);
    c.ok();
    let s = t.start();
    s.ok();
    assert!(t.wait_status("stopped", T));
    assert!(c.stdout_now().contains("from-container"), "create stdout: {:?}", c.stdout_now());
    assert!(!s.stdout.contains("from-container"));
}

#[test]
fn stdin_passes_through_run() {
    let mut t = TestEnv::new("stdin_run");
    t.args(&["/probe", "stdin"]);
    let o = t.run_with(&[], Some(b"hello from stdin\nline2\n"));
    o.ok();
    assert_eq!(o.facts().get("stdin"), "hello from stdin\\nline2\\n");
    t.delete_if_exists();
}

#[test]
fn state_json_shape() {
    let mut t = TestEnv::new("state_json_shape");
    t.args(&["/probe", "sleep"]);
    t.config["annotations"] = serde_json::json!({"org.berth.test": "yes"});
    t.create_ok();
    let st: Value = t.state();
    for k in ["ociVersion", "id", "status", "pid", "bundle"] {
        assert!(st.get(k).is_some(), "state lacks {k}: {st}");
    }
    // runtime-spec: the state includes the config's annotations.
    assert_eq!(st["annotations"]["org.berth.test"], "yes", "{st}");
    assert_eq!(st["pid"].as_i64(), Some(t.pid() as i64));
}
