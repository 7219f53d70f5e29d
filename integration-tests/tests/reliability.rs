//! Hostile conditions: a runtime killed in the middle of `create`, an init killed behind
//! berth's back, concurrent creates of one id, `kill` and `delete` racing `start`, and a
//! container whose memory limit leaves the runtime almost nothing. Afterwards `delete
//! --force` (or `delete`) must leave no state, cgroup, mount or process.

use integration_tests::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// crun's claim: a container under a 512 KiB memory limit starts (runc fails at 4 MiB:
/// Debian's runc 1.1.5 fails this test). The runtime's own setup must not be charged
/// to the container's cgroup beyond that.
#[test]
fn a_512k_memory_limit_is_enough_to_start() {
    let mut t = TestEnv::new("mem_512k");
    t.config["linux"]["resources"] = json!({ "memory": { "limit": 524288 } });
    let f = t.run_probe(&["ids", "+", "cgroup"]);
    assert_eq!(f.get("uid"), "0", "the program did not run: {:?}", f.0);
    t.assert_no_leftovers();
}

/// The runtime SIGKILLed by a createRuntime hook (mounts are done, init waits for the
/// hooks): init must go away by itself, and `delete --force` removes the rest.
#[test]
fn runtime_killed_after_mounts_then_delete_force_cleans_up() {
    let mut t = TestEnv::new("kill_after_mounts");
    t.args(&["sleep", "100"]);
    t.config["hooks"] = json!({ "createRuntime": [
        { "path": "/bin/sh", "args": ["sh", "-c", "kill -9 $PPID; sleep 2"] }
    ]});
    let o = t.create();
    assert!(!o.success(), "create survived its own SIGKILL");
    // Either it is there and stopped (init went away by itself), or it is gone.
    let gone_or_stopped = || {
        let st = t.state_out();
        !st.success() && st.stderr_now().contains("does not exist") || st.stdout_now().contains("\"stopped\"")
    };
    assert!(wait_until(Duration::from_secs(10), gone_or_stopped), "state: {}", t.state_out().stdout_now());
    t.delete_force().ok();
    assert!(wait_until(Duration::from_secs(10), || t.leftovers().is_empty()), "{:?}", t.leftovers());
}

/// The runtime SIGKILLed at different moments of `create` (from right after exec to
/// about when init is ready): whatever state it left, `delete --force` cleans it all.
#[test]
fn runtime_killed_at_any_moment_of_create() {
    // Every millisecond up to where a create is done on this machine (~10-20 ms): each
    // lands on some stage (state directory, cgroup, clone, mounts, hooks, ready).
    for delay_ms in 0u64..25 {
        let mut t = TestEnv::new(&format!("kill_create_{delay_ms}"));
        t.args(&["sleep", "100"]);
        t.write_config();
        let mut c = std::process::Command::new(&t.rt.bin);
        c.arg("--root").arg(&t.rt.root).args(["create", "--bundle", &t.bundle_str(), &t.id]);
        c.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        let mut child = c.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // The container may not exist (killed before the state directory) or be left
        // half-made: either way a forced delete succeeds and nothing stays.
        t.delete_force().ok();
        let clean = wait_until(Duration::from_secs(10), || t.leftovers().is_empty());
        assert!(clean, "killed after {delay_ms} ms: {:?}", t.leftovers());
    }
}

/// 20 concurrent `create`s of one id: exactly one wins, the others say it exists, and
/// the winner's state is intact.
#[test]
fn concurrent_creates_of_one_id() {
    let mut t = TestEnv::new("create_race");
    t.args(&["sleep", "100"]);
    t.write_config();
    let start = Instant::now() + Duration::from_millis(200);
    let outs: Vec<Out> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let (rt, b, id) = (&t.rt, t.bundle_str(), t.id.clone());
                s.spawn(move || {
                    std::thread::sleep(start.saturating_duration_since(Instant::now()));
                    rt.cmd(&["create", "--bundle", &b, &id])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won = outs.iter().filter(|o| o.success()).count();
    assert_eq!(won, 1, "{won} creates succeeded");
    for o in outs.iter().filter(|o| !o.success()) {
        assert!(o.stderr_now().contains("exists"), "a losing create said: {}", o.stderr_now());
    }
    t.remember_pid();
    assert_eq!(t.status(), "created");
    t.start().ok();
    assert_eq!(t.status(), "running");
    t.delete_force().ok();
    t.assert_no_leftovers();
}

/// A container whose init is killed from outside berth (SIGKILL to its pid, by the OOM
/// killer or an operator): `state` says stopped, and a plain `delete` removes everything.
/// Both for a created container (init waiting for start) and a running one.
#[test]
fn init_killed_behind_berths_back() {
    for started in [false, true] {
        let mut t = TestEnv::new(if started { "init_killed_running" } else { "init_killed_created" });
        t.args(&["sleep", "100"]);
        let pid = t.create_ok();
        if started {
            t.start().ok();
            assert!(t.wait_status("running", Duration::from_secs(10)));
        }
        // SAFETY: kill(2) takes plain integers.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
        assert!(
            t.wait_status("stopped", Duration::from_secs(10)),
            "state after init died: {}",
            t.state_out().stdout_now()
        );
        assert!(!t.start().success(), "a stopped container started");
        t.delete().ok();
        t.assert_no_leftovers();
    }
}

/// `kill` and `delete --force` racing `start` (and each other), many times: no command
/// hangs, each ends with a clear answer, and afterwards the container is either gone or
/// in a state that a `delete --force` removes completely.
#[test]
fn kill_and_delete_racing_start() {
    for i in 0..rounds(15, 6) as u64 {
        let mut t = TestEnv::new(&format!("race_start_{i}"));
        t.args(&["sleep", "100"]);
        t.create_ok();
        type Op = fn(&TestEnv) -> Out;
        let ops: [(&str, Op); 3] =
            [("start", |t| t.start()), ("kill", |t| t.kill(Some("KILL"))), ("delete --force", |t| t.delete_force())];
        let go = Instant::now() + Duration::from_millis(50);
        let outs: Vec<(&str, Out)> = std::thread::scope(|s| {
            let t = &t;
            // Stagger the three differently each round so every order gets tried.
            let handles: Vec<_> = (0u64..)
                .zip(ops)
                .map(|(k, (what, op))| {
                    let delay = Duration::from_micros(((i + k) % 3) * 400);
                    s.spawn(move || {
                        std::thread::sleep(go.saturating_duration_since(Instant::now()) + delay);
                        (what, op(t))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        // (A command that hangs fails the test: every invocation has a time limit.)
        let summary: Vec<String> =
            outs.iter().map(|(w, o)| format!("{w}: {}", if o.success() { "ok" } else { "refused" })).collect();
        eprintln!("round {i}: {}", summary.join(", "));
        for (what, o) in &outs {
            if !o.success() && t.is_berth() {
                let e = o.stderr_now();
                assert!(
                    ["does not exist", "not running", "stopped", "cannot start", "already"]
                        .iter()
                        .any(|w| e.contains(w)),
                    "round {i}: {what} failed without a clear reason: {e}"
                );
            }
        }
        // Whatever happened, the state is readable or the container is gone.
        let st = t.state_out();
        if st.success() {
            let v: serde_json::Value = serde_json::from_str(&st.stdout).expect("state is JSON");
            assert!(["created", "running", "stopped"].contains(&v["status"].as_str().unwrap_or("")), "round {i}: {v}");
        } else {
            assert!(st.stderr_now().contains("does not exist"), "round {i}: {}", st.stderr_now());
        }
        t.delete_if_exists();
        t.assert_no_leftovers();
    }
}
