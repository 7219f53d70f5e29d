//! linux.resources on real cgroups: limits in place from the start and visible inside,
//! enforced (pids, memory with an OOM event), changed live by `update`, reported by
//! `events --stats`, and device rules that allow and deny.

use integration_tests::*;
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

fn is_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// A cgroup file of the container on the host (v1: in the controller's hierarchy).
fn host_file(t: &TestEnv, controller: &str, v1: &str, v2: &str) -> PathBuf {
    let rel = t.cgroups_path.trim_start_matches('/');
    if is_v2() {
        PathBuf::from("/sys/fs/cgroup").join(rel).join(v2)
    } else {
        PathBuf::from("/sys/fs/cgroup").join(controller).join(rel).join(v1)
    }
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display())).trim().to_string()
}

fn start_sleeper(t: &mut TestEnv) -> i32 {
    t.mount_shared();
    t.sh("touch /shared/ready; exec sleep 1000");
    let pid = t.create_ok();
    t.start().ok();
    wait_for_path(&t.shared.join("ready"), T);
    pid
}

#[test]
fn limits_are_applied_and_visible_inside() {
    let mut t = TestEnv::new("res_limits");
    // With its own cgroup namespace the container sees its cgroup at /sys/fs/cgroup.
    t.set_namespace("cgroup", None);
    t.config["linux"]["resources"] =
        json!({"memory": {"limit": 64u64 << 20}, "pids": {"limit": 20}, "cpu": {"quota": 50000, "period": 100000}});
    let inside = if is_v2() {
        "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max"
    } else {
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us"
    };
    t.sh(inside);
    let o = t.run();
    o.ok();
    let lines: Vec<String> = o.stdout_now().lines().map(str::to_string).collect();
    assert_eq!(lines.first().map(String::as_str), Some((64u64 << 20).to_string().as_str()), "memory: {lines:?}");
    assert_eq!(lines.get(1).map(String::as_str), Some("20"), "pids: {lines:?}");
    let cpu = lines.get(2).cloned().unwrap_or_default();
    assert!(cpu == "50000" || cpu == "50000 100000", "cpu quota: {lines:?}");
    t.assert_no_leftovers();
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    let mut t = TestEnv::new("res_pids");
    t.config["linux"]["resources"] = json!({"pids": {"limit": 8}});
    t.mount_shared();
    // The bomb runs in a subshell, which may give up at the first failed fork; pid 1 stays
    // (only builtins and exec after it) so the cgroup keeps the processes to count.
    t.sh("(i=0; while [ $i -lt 40 ]; do sleep 1000 & i=$((i+1)); done); echo > /shared/ready; exec sleep 1000");
    t.create_ok();
    t.start().ok();
    wait_for_path(&t.shared.join("ready"), T);
    let events = host_file(&t, "pids", "pids.events", "pids.events");
    let refused = || {
        fs::read_to_string(&events)
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("max ").and_then(|n| n.trim().parse::<u64>().ok()))
            .unwrap_or(0)
    };
    assert!(wait_until(T, || refused() > 0), "no fork was refused ({})", events.display());
    let current: u64 = read(&host_file(&t, "pids", "pids.current", "pids.current")).parse().unwrap();
    assert!((2..=8).contains(&current), "pids.current {current} with pids.max 8");
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn memory_limit_oom_kills_and_events_report_it() {
    let mut t = TestEnv::new("res_oom");
    // Swap limited too, so the allocation cannot escape into swap.
    t.config["linux"]["resources"] = json!({"memory": {"limit": 24u64 << 20, "swap": 24u64 << 20}});
    t.mount_shared();
    t.sh("while [ ! -e /shared/go ]; do sleep 0.05; done; /probe alloc 200");
    t.create_ok();
    t.start().ok();
    let events_out = t.dir.join("events.out");
    let mut events = std::process::Command::new(&t.rt.bin)
        .args(["--root", &t.rt.root.display().to_string(), "events", "--interval", "200ms", &t.id])
        .stdout(fs::File::create(&events_out).unwrap())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    fs::write(t.shared.join("go"), "").unwrap();
    assert!(t.wait_status("stopped", T), "the allocation past the limit was not stopped");
    let saw_oom = wait_until(T, || fs::read_to_string(&events_out).unwrap_or_default().contains("\"oom\""));
    let _ = events.kill();
    let _ = events.wait();
    let text = fs::read_to_string(&events_out).unwrap_or_default();
    assert!(saw_oom, "no oom event in: {}", &text[..text.len().min(2000)]);
    t.delete().ok();
    t.assert_no_leftovers();
}

#[test]
fn update_changes_limits_live() {
    let mut t = TestEnv::new("res_update");
    t.config["linux"]["resources"] = json!({"memory": {"limit": 64u64 << 20}, "pids": {"limit": 20}});
    start_sleeper(&mut t);
    t.rt.cmd(&[
        "update",
        "--memory",
        "96m",
        "--pids-limit",
        "42",
        "--cpu-quota",
        "20000",
        "--cpu-period",
        "100000",
        &t.id,
    ])
    .ok();
    assert_eq!(read(&host_file(&t, "memory", "memory.limit_in_bytes", "memory.max")), (96u64 << 20).to_string());
    assert_eq!(read(&host_file(&t, "pids", "pids.max", "pids.max")), "42");
    let cpu = read(&host_file(&t, "cpu", "cpu.cfs_quota_us", "cpu.max"));
    assert!(cpu == "20000" || cpu == "20000 100000", "cpu quota after update: {cpu}");
    // A resources file on stdin works too.
    t.rt.cmd_full(&["update", "-r", "-", &t.id], Some(br#"{"pids": {"limit": 17}}"#), T).ok();
    assert_eq!(read(&host_file(&t, "pids", "pids.max", "pids.max")), "17");
    // A limit the kernel refuses is an error naming the file (v1: EBUSY below usage; v2
    // reclaims or OOM-kills instead of refusing).
    if !is_v2() {
        let bad = t.rt.cmd(&["update", "--memory", "4k", &t.id]);
        bad.fails();
        if t.is_berth() {
            assert!(bad.stderr_now().contains("memory"), "error does not name the file: {}", bad.stderr_now());
        }
    }
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn events_stats_report_real_numbers() {
    let mut t = TestEnv::new("res_events");
    t.config["linux"]["resources"] = json!({"pids": {"limit": 50}});
    t.mount_shared();
    t.sh("i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; touch /shared/ready; exec sleep 1000");
    t.create_ok();
    t.start().ok();
    wait_for_path(&t.shared.join("ready"), T);
    let o = t.rt.cmd(&["events", "--stats", &t.id]);
    o.ok();
    let ev: Value = serde_json::from_str(o.stdout_now().lines().next().unwrap_or("")).expect("events prints JSON");
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["id"], t.id.as_str());
    let d = &ev["data"];
    assert!(d["cpu"]["usage"]["total"].as_u64().unwrap_or(0) > 0, "cpu total: {d}");
    assert!(d["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0, "memory usage: {d}");
    assert!(d["pids"]["current"].as_u64().unwrap_or(0) >= 1, "pids current: {d}");
    assert_eq!(d["pids"]["limit"].as_u64(), Some(50), "pids limit: {d}");
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn device_rules_allow_and_deny() {
    // c 1:12 is not a registered device: allowed, opening it fails with ENXIO; denied, EPERM.
    let script = "/probe mknod /tmp/nodev c 1 12; /probe read /tmp/nodev /dev/null; rm -f /tmp/nodev";
    let caps = ["CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    for (allow, want) in [(false, "errno=1"), (true, "errno=6")] {
        let mut t = TestEnv::new(if allow { "res_dev_allow" } else { "res_dev_deny" });
        for set in ["bounding", "effective", "permitted"] {
            t.config["process"]["capabilities"][set] = json!(caps);
        }
        let mut rules = vec![json!({"allow": false, "access": "rwm"})];
        if allow {
            rules.push(json!({"allow": true, "type": "c", "major": 1, "minor": 12, "access": "rw"}));
        }
        t.config["linux"]["resources"] = json!({"devices": rules});
        t.sh(script);
        let o = t.run();
        o.ok();
        let f = o.facts();
        assert_eq!(f.get("mknod:/tmp/nodev"), "ok", "mknod is allowed by the default c *:* m rule: {:?}", f.0);
        assert_eq!(f.get("read:/tmp/nodev"), want, "device rule allow={allow}: {:?}", f.0);
        assert_eq!(f.get("read:/dev/null"), "ok len=0", "/dev/null must stay usable: {:?}", f.0);
        t.assert_no_leftovers();
    }
}
