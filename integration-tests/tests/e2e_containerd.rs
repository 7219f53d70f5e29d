//! containerd drives the runtime under test unmodified: a private containerd, `ctr`
//! with the runc v2 shim (`io.containerd.runc.v2`) and `--runc-binary` set to it, over
//! a local OCI image of busybox and the probe. Each scenario checks from inside the
//! container (or from the host's cgroup files) and that nothing is left behind.

use integration_tests::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

macro_rules! containerd_or_skip {
    ($t:expr) => {{
        if let Some(why) = missing_tools(&["containerd", "ctr", "containerd-shim-runc-v2", "umoci"], "containerd umoci")
        {
            skip!("{why}");
        }
        Containerd::start(&$t)
    }};
}

fn assert_clean(c: &Containerd) {
    let left = c.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn ctr_run_prints_and_exits_with_the_status() {
    let t = TestEnv::new("e2e_ctr_run");
    let c = containerd_or_skip!(t);
    let o = c.run("run1", &[], &["sh", "-c", "echo hello from $(hostname); exit 3"]);
    assert_eq!(o.code(), Some(3), "{}{}", o.stdout_now(), o.stderr_now());
    assert!(o.stdout_now().contains("hello from"), "{}", o.stdout_now());
    assert_clean(&c);
}

#[test]
fn ctr_detached_task_exec_ps_kill_delete() {
    let t = TestEnv::new("e2e_ctr_task");
    let c = containerd_or_skip!(t);
    c.run_detached("task1", &[], &["sleep", "1000"]);
    let ls = c.ctr(&["tasks", "ls"]).stdout_now();
    assert!(ls.lines().any(|l| l.starts_with("task1") && l.contains("RUNNING")), "{ls}");
    let init: i32 =
        ls.lines().find(|l| l.starts_with("task1")).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();

    let o = c.ctr(&["tasks", "exec", "--exec-id", "e1", "task1", "/probe", "ns", "+", "exit", "4"]);
    assert_eq!(o.code(), Some(4), "{}", o.stderr_now());
    let f = o.facts();
    for ns in ["pid", "mnt", "net", "ipc", "uts"] {
        assert_eq!(f.get(&format!("ns.{ns}")), ns_of(&init.to_string(), ns), "exec's {ns} namespace");
    }

    // exec -t: ctr gets the pty master through the shim's console socket.
    let (pty, slave) = Pty::open(24, 80);
    let mut cmd = std::process::Command::new("ctr");
    cmd.args(["--address", &c.sock.display().to_string(), "-n", &c.namespace]);
    cmd.args(["tasks", "exec", "-t", "--exec-id", "e2", "task1", "/probe", "tty"]);
    let mut child = spawn_command_on_pty(cmd, &slave);
    let f = pty.probe_facts(T);
    assert_eq!(f.get("tty.isatty0"), "1", "{:?}", f.0);
    assert!(f.get("tty.name").starts_with("/dev/pts/"), "{:?}", f.0);
    let _ = child.wait();

    let ps = c.ctr(&["tasks", "ps", "task1"]).stdout_now();
    assert!(ps.contains(&init.to_string()), "tasks ps: {ps}");
    c.remove("task1");
    assert_clean(&c);
}

#[test]
fn ctr_pause_resume_and_metrics() {
    let t = TestEnv::new("e2e_ctr_pause");
    let c = containerd_or_skip!(t);
    c.run_detached("p1", &[], &["sleep", "1000"]);
    c.ctr(&["tasks", "pause", "p1"]).ok();
    assert!(c.ctr(&["tasks", "ls"]).stdout_now().contains("PAUSED"));
    assert_eq!(cgroup_frozen(&format!("/{}/p1", c.namespace)), Some(true), "the cgroup is not frozen");
    c.ctr(&["tasks", "resume", "p1"]).ok();
    assert!(c.ctr(&["tasks", "ls"]).stdout_now().contains("RUNNING"));
    let m = c.ctr(&["tasks", "metrics", "p1"]);
    m.ok();
    assert!(m.stdout_now().contains("memory"), "metrics: {}", m.stdout_now());
    c.remove("p1");
    assert_clean(&c);
}

#[test]
fn ctr_run_with_a_terminal() {
    let t = TestEnv::new("e2e_ctr_tty");
    let c = containerd_or_skip!(t);
    let (pty, slave) = Pty::open(30, 100);
    let mut cmd = std::process::Command::new("ctr");
    cmd.args(["--address", &c.sock.display().to_string(), "-n", &c.namespace, "run", "-t", "--rm"]);
    cmd.args(c.runtime_flags());
    // ctr sizes the pty once the task has started: give it a moment.
    cmd.args([c.image.as_str(), "tty1", "sh", "-c", "sleep 1; exec /probe tty"]);
    let mut child = spawn_command_on_pty(cmd, &slave);
    let f = pty.probe_facts(T);
    assert_eq!(f.get("tty.isatty1"), "1", "{:?}", f.0);
    assert_eq!(f.get("tty.size"), "30x100", "ctr resizes the pty to its terminal");
    assert_eq!(f.get("tty.tpgid"), f.get("tty.pgrp"));
    let _ = child.wait();
    assert!(wait_until(T, || c.leftovers().is_empty()), "{:?}", c.leftovers());
}

#[test]
fn ctr_memory_and_cpu_limits() {
    let t = TestEnv::new("e2e_ctr_limits");
    let c = containerd_or_skip!(t);
    c.run_detached("lim", &["--memory-limit", "67108864", "--cpus", "0.5"], &["sleep", "1000"]);
    let o = c.ctr(&["tasks", "exec", "--exec-id", "cg", "lim", "cat", "/proc/self/cgroup"]);
    o.ok();
    let report = o.stdout_now();
    if cgroup_mode() == CgroupMode::V2 {
        assert_eq!(container_cgroup_file(&report, "", "memory.max").trim(), "67108864");
        assert!(container_cgroup_file(&report, "", "cpu.max").starts_with("50000 100000"));
    } else {
        assert_eq!(container_cgroup_file(&report, "memory", "memory.limit_in_bytes").trim(), "67108864");
        assert_eq!(container_cgroup_file(&report, "cpu", "cpu.cfs_quota_us").trim(), "50000");
    }
    // And the limit holds inside: 100 MiB cannot be had.
    let o = c.ctr(&["tasks", "exec", "--exec-id", "big", "lim", "/probe", "alloc", "100"]);
    assert!(!o.success(), "allocating 100 MiB under a 64 MiB limit succeeded: {}", o.stdout_now());
    c.remove("lim");
    assert_clean(&c);
}

#[test]
fn ctr_read_only_caps_privileged_and_seccomp() {
    let t = TestEnv::new("e2e_ctr_security");
    let c = containerd_or_skip!(t);
    let o = c.run("ro", &["--read-only"], &["/probe", "write", "/x"]);
    o.ok();
    assert!(o.facts().get("write:/x").contains("errno=30"), "{}", o.stdout_now());

    let o = c.run("caps", &["--cap-add", "CAP_NET_ADMIN", "--cap-drop", "CAP_KILL"], &["/probe", "caps"]);
    o.ok();
    let eff = cap_names(o.facts().hex("CapEff"));
    assert!(eff.iter().any(|c| c == "CAP_NET_ADMIN") && !eff.iter().any(|c| c == "CAP_KILL"), "{eff:?}");

    let o = c.run("priv", &["--privileged"], &["/probe", "status"]);
    o.ok();
    assert_eq!(o.facts().get("Seccomp"), "0");
    assert!(cap_names(o.facts().hex("CapEff")).iter().any(|c| c == "CAP_SYS_ADMIN"));

    let o = c.run("nosc", &[], &["/probe", "status"]);
    o.ok();
    assert_eq!(o.facts().get("Seccomp"), "0", "ctr without --seccomp asks for no filter");
    let o = c.run("sc", &["--seccomp"], &["/probe", "status"]);
    o.ok();
    assert_eq!(o.facts().get("Seccomp"), "2", "containerd's default profile is not in force");

    let profile = t.dir.join("profile.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#,
    )
    .unwrap();
    let p = profile.display().to_string();
    let o = c.run("custom", &["--seccomp", "--seccomp-profile", &p], &["/probe", "mkdir", "/tmp/d"]);
    o.ok();
    assert_eq!(o.facts().get("mkdir:/tmp/d"), "errno=1", "the custom profile is not in force");
    assert_clean(&c);
}

#[test]
fn ctr_user_namespace_and_no_pivot() {
    let t = TestEnv::new("e2e_ctr_userns");
    let c = containerd_or_skip!(t);
    let o = c.run("uns", &["--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536"], &["cat", "/proc/self/uid_map"]);
    o.ok();
    let text = o.stdout_now();
    let map: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(map, ["0", "100000", "65536"], "{text}");
    let o = c.run("np", &["--no-pivot"], &["/probe", "ids"]);
    o.ok();
    assert_eq!(o.facts().get("uid"), "0");
    assert_clean(&c);
}
