//! Hostile conditions: a runtime killed in the middle of `create`, concurrent creates of
//! one id, and a container whose memory limit leaves the runtime almost nothing.
//! Afterwards `delete --force` must leave no state, cgroup, mount or process.

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
