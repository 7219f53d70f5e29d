//! podman drives the runtime under test unmodified (`--runtime PATH`, conmon in
//! between, `--log-format=json` since the runtime's name is listed in
//! `runtime_supports_json`), with storage, run root and containers.conf of the test's
//! own, over a local OCI image of busybox and the probe.

use integration_tests::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

macro_rules! podman_or_skip {
    ($t:expr) => {{
        if let Some(why) = missing_tools(&["podman", "conmon", "umoci"], "podman conmon umoci") {
            skip!("{why}");
        }
        Podman::new(&$t)
    }};
}

fn assert_clean(p: &Podman) {
    assert!(wait_until(T, || p.leftovers().is_empty()), "left behind: {:?}", p.leftovers());
}

#[test]
fn podman_run_rm_and_exit_codes() {
    let t = TestEnv::new("e2e_podman_run");
    let p = podman_or_skip!(t);
    let o = p.run(&["--rm"], &["sh", "-c", "echo hello from podman"]);
    o.ok();
    assert!(o.stdout_now().contains("hello from podman"), "{}", o.stdout_now());
    assert_eq!(p.run(&["--rm"], &["sh", "-c", "exit 7"]).code(), Some(7));
    // A program that does not exist: podman's 127, with the runtime's error.
    let o = p.run(&["--rm"], &["/no/such/program"]);
    assert_eq!(o.code(), Some(127), "{}", o.stderr_now());
    assert_clean(&p);
}

#[test]
fn podman_detached_exec_top_kill_pause_stats_logs_stop() {
    let t = TestEnv::new("e2e_podman_detached");
    let p = podman_or_skip!(t);
    p.run(
        &["-d", "--name", "d1"],
        &["sh", "-c", "echo started; trap 'echo got-usr1' USR1; while :; do sleep 0.1; done"],
    )
    .ok();
    let o = p.podman(&["exec", "d1", "/probe", "ids", "+", "exit", "5"]);
    assert_eq!(o.code(), Some(5), "{}", o.stderr_now());
    assert_eq!(o.facts().get("uid"), "0");
    let o = p.podman(&["exec", "--user", "1000", "d1", "/probe", "ids"]);
    o.ok();
    assert_eq!(o.facts().get("uid"), "1000");
    let top = p.podman(&["top", "d1"]);
    top.ok();
    assert!(top.stdout_now().contains("sh -c"), "{}", top.stdout_now());
    p.podman(&["kill", "-s", "USR1", "d1"]).ok();
    assert!(wait_until(T, || p.podman(&["logs", "d1"]).stdout_now().contains("got-usr1")), "the signal did not arrive");
    assert!(p.podman(&["logs", "d1"]).stdout_now().contains("started"));
    p.podman(&["pause", "d1"]).ok();
    let st = p.podman(&["inspect", "d1", "--format", "{{.State.Status}}"]).stdout_now();
    assert_eq!(st.trim(), "paused");
    p.podman(&["unpause", "d1"]).ok();
    let stats = p.podman(&["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "d1"]);
    stats.ok();
    assert!(stats.stdout_now().starts_with("d1 "), "{}", stats.stdout_now());
    p.podman(&["stop", "-t", "1", "d1"]).ok();
    let st = p.podman(&["inspect", "d1", "--format", "{{.State.Status}}"]).stdout_now();
    assert_eq!(st.trim(), "exited");
    p.podman(&["rm", "-f", "d1"]).ok();
    assert_clean(&p);
}

#[test]
fn podman_terminals_run_it_and_exec_t() {
    let t = TestEnv::new("e2e_podman_tty");
    let p = podman_or_skip!(t);
    let (pty, slave) = Pty::open(25, 90);
    let cg = p.cgroup_parent.clone();
    let mut child = spawn_command_on_pty(
        p.command(&["run", "-it", "--rm", "--pull", "never", "--cgroup-parent", &cg, &p.image, "/bin/sh"]),
        &slave,
    );
    pty.write(b"/probe tty; exit 3\n");
    let f = pty.probe_facts(T);
    assert_eq!(f.get("tty.isatty0"), "1", "{:?}", f.0);
    assert_eq!(f.get("tty.tpgid"), f.get("tty.pgrp"));
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(3));

    p.run(&["-d", "--name", "t1"], &["sleep", "1000"]).ok();
    let (pty, slave) = Pty::open(25, 90);
    let mut child = spawn_command_on_pty(p.command(&["exec", "-it", "t1", "/probe", "tty"]), &slave);
    let f = pty.probe_facts(T);
    assert!(f.get("tty.name").starts_with("/dev/pts/"), "{:?}", f.0);
    let _ = child.wait();
    p.podman(&["rm", "-f", "-t", "0", "t1"]).ok();
    assert_clean(&p);
}

#[test]
fn podman_memory_pids_cpus_and_oom() {
    let t = TestEnv::new("e2e_podman_limits");
    let p = podman_or_skip!(t);
    p.run(&["-d", "--name", "l1", "--memory", "64m", "--pids-limit", "50", "--cpus", "0.5"], &["sleep", "1000"]).ok();
    let o = p.podman(&["exec", "l1", "cat", "/proc/self/cgroup"]);
    o.ok();
    let report = o.stdout_now();
    if cgroup_mode() == CgroupMode::V2 {
        assert_eq!(container_cgroup_file(&report, "", "memory.max").trim(), "67108864");
        assert_eq!(container_cgroup_file(&report, "", "pids.max").trim(), "50");
        assert!(container_cgroup_file(&report, "", "cpu.max").starts_with("50000 100000"));
    } else {
        assert_eq!(container_cgroup_file(&report, "memory", "memory.limit_in_bytes").trim(), "67108864");
        assert_eq!(container_cgroup_file(&report, "pids", "pids.max").trim(), "50");
        assert_eq!(container_cgroup_file(&report, "cpu", "cpu.cfs_quota_us").trim(), "50000");
    }
    p.podman(&["rm", "-f", "-t", "0", "l1"]).ok();
    // Past the memory limit: killed, and podman reports the kill (137).
    let o = p.run(&["--name", "oom1", "--memory", "32m"], &["/probe", "alloc", "100"]);
    assert_eq!(o.code(), Some(137), "{}{}", o.stdout_now(), o.stderr_now());
    p.podman(&["rm", "-f", "oom1"]).ok();
    assert_clean(&p);
}

#[test]
fn podman_read_only_caps_privileged_seccomp() {
    let t = TestEnv::new("e2e_podman_security");
    let p = podman_or_skip!(t);
    // --read-only: a read-only root with podman's tmpfs mounts (tmpcopyup) writable.
    let o = p.run(&["--rm", "--read-only"], &["/probe", "write", "/x", "/tmp/y", "/run/z"]);
    o.ok();
    let f = o.facts();
    assert!(f.get("write:/x").contains("errno=30"), "{:?}", f.0);
    assert_eq!((f.get("write:/tmp/y"), f.get("write:/run/z")), ("ok", "ok"), "{:?}", f.0);
    let o = p.run(&["--rm", "--cap-drop", "ALL"], &["/probe", "caps"]);
    o.ok();
    assert_eq!(o.facts().hex("CapEff"), 0);
    assert_eq!(o.facts().hex("CapBnd"), 0);
    let o = p.run(&["--rm"], &["/probe", "status"]);
    o.ok();
    assert_eq!(o.facts().get("Seccomp"), "2", "podman's default seccomp profile is not in force");
    let o = p.run(&["--rm", "--privileged"], &["/probe", "status"]);
    o.ok();
    assert_eq!(o.facts().get("Seccomp"), "0");
    assert!(cap_names(o.facts().hex("CapEff")).iter().any(|c| c == "CAP_SYS_ADMIN"));
    assert_clean(&p);
}

#[test]
fn podman_ulimit_uidmap_init() {
    let t = TestEnv::new("e2e_podman_misc");
    let p = podman_or_skip!(t);
    // --ulimit replaces the configured defaults, so nproc is repeated within the host's limits.
    let o = p.run(&["--rm", "--ulimit", "nofile=512:512", "--ulimit", "nproc=4096:4096"], &["/probe", "rlimits"]);
    o.ok();
    assert_eq!(o.facts().get("RLIMIT_NOFILE"), "512,512", "{:?}", o.facts().0);
    let o =
        p.run(&["--rm", "--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536"], &["cat", "/proc/self/uid_map"]);
    o.ok();
    assert_eq!(o.stdout_now().split_whitespace().collect::<Vec<_>>(), ["0", "100000", "65536"]);
    if missing_tools(&["catatonit"], "catatonit").is_none()
        || std::path::Path::new("/usr/libexec/podman/catatonit").exists()
    {
        let o = p.run(&["--rm", "--init"], &["/probe", "pid"]);
        o.ok();
        assert_ne!(o.facts().get("pid"), "1", "--init: the program is not pid 1");
        assert_eq!(o.facts().get("ppid"), "1");
    } else {
        record_skip("e2e_podman::podman_ulimit_uidmap_init (--init part)", "catatonit is not installed");
    }
    assert_clean(&p);
}
