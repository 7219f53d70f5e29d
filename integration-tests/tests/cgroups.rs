//! Cgroup membership and the commands built on it: the init is in the container's cgroup
//! in every hierarchy, `pause`/`resume` freeze and thaw it, `ps` lists its processes,
//! and a paused container can still be killed and deleted.

use integration_tests::*;
use std::fs;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

fn start_counter(t: &mut TestEnv) -> i32 {
    t.mount_shared();
    // A counter the container bumps every 20 ms: it stops moving only when frozen.
    t.sh("i=0; touch /shared/ready; while true; do i=$((i+1)); echo $i > /shared/n.tmp; mv /shared/n.tmp /shared/n; sleep 0.02; done");
    let pid = t.create_ok();
    t.start().ok();
    wait_for_path(&t.shared.join("ready"), T);
    pid
}

fn counter(t: &TestEnv) -> u64 {
    fs::read_to_string(t.shared.join("n")).unwrap_or_default().trim().parse().unwrap_or(0)
}

#[test]
fn init_is_in_its_cgroup_in_every_hierarchy() {
    let mut t = TestEnv::new("cg_member");
    t.args(&["/probe", "sleep"]);
    let pid = t.create_ok();
    let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in cg.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap_or("");
        let controllers = line.split(':').nth(1).unwrap_or("");
        // The v1 hierarchies and (on hybrid hosts) the unified one hold the container.
        if controllers.is_empty()
            && !std::path::Path::new("/sys/fs/cgroup/unified").exists()
            && !std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
        {
            continue;
        }
        assert_eq!(path, t.cgroups_path, "init {pid} in {line:?}, expected {}", t.cgroups_path);
    }
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn pause_freezes_and_resume_thaws() {
    let mut t = TestEnv::new("cg_pause");
    start_counter(&mut t);
    assert!(wait_until(T, || counter(&t) >= 2), "the counter does not move");
    t.rt.cmd(&["pause", &t.id]).ok();
    assert_eq!(t.status(), "paused");
    let frozen_at = counter(&t);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(counter(&t), frozen_at, "the container ran while paused");
    t.rt.cmd(&["resume", &t.id]).ok();
    assert_eq!(t.status(), "running");
    assert!(wait_until(T, || counter(&t) > frozen_at + 2), "the container did not run again after resume");
    // resume of a running container and pause of a paused one are errors.
    t.rt.cmd(&["resume", &t.id]).fails();
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn paused_container_can_be_killed_and_deleted() {
    let mut t = TestEnv::new("cg_pause_kill");
    let pid = start_counter(&mut t);
    let init = ProcId::of(pid).unwrap();
    t.rt.cmd(&["pause", &t.id]).ok();
    assert_eq!(t.status(), "paused");
    if t.is_berth() {
        // The spec: delete of a container that is not stopped fails without --force.
        t.delete().fails();
    }
    t.delete_force().ok();
    assert!(wait_until(T, || !init.alive()), "init survived delete --force of a paused container");
    t.assert_no_leftovers();
}

#[test]
fn ps_lists_the_container_processes() {
    let mut t = TestEnv::new("cg_ps");
    t.mount_shared();
    t.sh("sleep 1000 & touch /shared/ready; wait");
    let pid = t.create_ok();
    t.start().ok();
    wait_for_path(&t.shared.join("ready"), T);
    let out = t.rt.cmd(&["ps", "--format", "json", &t.id]);
    out.ok();
    let pids: Vec<i32> = serde_json::from_str(out.stdout_now().trim()).expect("ps --format json prints a list of pids");
    assert!(pids.contains(&pid), "init {pid} missing from {pids:?}");
    assert!(pids.len() >= 2, "the sleep child is missing from {pids:?}");
    let table = t.rt.cmd(&["ps", &t.id]);
    table.ok();
    let text = table.stdout_now();
    assert!(text.lines().next().unwrap_or("").contains("PID"), "no ps header: {text}");
    assert!(text.contains("sleep 1000"), "ps table misses the sleep: {text}");
    assert!(!text.contains("cargo"), "ps table shows host processes: {text}");
    t.delete_force().ok();
    t.assert_no_leftovers();
}
