//! Cgroup membership and the commands built on it: the init is in the container's cgroup
//! in every hierarchy, the cgroup mounts inside show that cgroup, `pause`/`resume`
//! freeze and thaw it, `ps` lists its processes, and a paused container can still be
//! killed and deleted. Every test holds on cgroup v1, hybrid and pure v2 hosts (the
//! v2 tier, `v2vm/run-tests.sh`, runs them in a cgroup-v2-only VM).

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
    let mode = cgroup_mode();
    if mode == CgroupMode::V2 {
        // Pure v2: one hierarchy, one `0::/path` line.
        assert_eq!(cg.trim(), format!("0::{}", t.cgroups_path), "init {pid} on a cgroup v2 host");
    }
    for line in cg.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap_or("");
        let controllers = line.split(':').nth(1).unwrap_or("");
        // Every v1 hierarchy and, on hybrid and v2 hosts, the unified one hold
        // the container (on a v1-only host the `0::` line is for an unmounted v2).
        if controllers.is_empty() && mode == CgroupMode::V1 {
            continue;
        }
        assert_eq!(path, t.cgroups_path, "init {pid} in {line:?}, expected {}", t.cgroups_path);
    }
    // And the other way round: the init is in cgroup.procs of every hierarchy.
    let dirs = container_cgroup_dirs(&t.cgroups_path);
    assert!(!dirs.is_empty(), "no cgroup hierarchy on this host");
    for d in dirs {
        let procs = fs::read_to_string(d.join("cgroup.procs"))
            .unwrap_or_else(|e| panic!("{}/cgroup.procs: {e} ({mode:?} host)", d.display()));
        assert!(procs.lines().any(|l| l.trim() == pid.to_string()), "init {pid} not in {}: {procs:?}", d.display());
    }
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn cgroup_mounts_inside_show_the_containers_own_cgroup() {
    // With a cgroup namespace the kernel roots the cgroup filesystems at the
    // container's cgroup, so the cgroup.procs at the top of every cgroup mount
    // under /sys/fs/cgroup lists the container's own processes only: pids of its
    // pid namespace, none of the host's (which would read as 0).
    // Without a cgroup namespace berth binds the container's own cgroup
    // directories there (as runc does on v1). The spec leaves that view open and
    // runc 1.1 on a v2 host mounts the whole hierarchy, so that half is berth's.
    for cgroupns in [true, false] {
        let mut t = TestEnv::new(if cgroupns { "cg_view_ns" } else { "cg_view_nons" });
        if !cgroupns && !t.is_berth() {
            continue;
        }
        if cgroupns {
            t.set_namespace("cgroup", None);
        }
        t.sh("for d in $(awk '/ - cgroup2? / {print $5}' /proc/self/mountinfo); do \
                echo \"$d=$(cat $d/cgroup.procs | tr '\\n' ' ')\"; done");
        let o = t.run();
        o.ok();
        let f = o.facts();
        assert!(!f.0.is_empty(), "no cgroup mount under /sys/fs/cgroup (cgroupns {cgroupns}): {}", o.stdout);
        if cgroup_mode() == CgroupMode::V2 {
            // The one cgroup2 mount is /sys/fs/cgroup itself.
            assert_eq!(f.0.keys().collect::<Vec<_>>(), ["/sys/fs/cgroup"], "cgroup mounts inside: {f:?}");
        }
        for (mount, pids) in &f.0 {
            let pids: Vec<&str> = pids.split_whitespace().collect();
            assert!(pids.contains(&"1"), "{mount} does not list the container's init (cgroupns {cgroupns}): {pids:?}");
            assert!(
                !pids.contains(&"0"),
                "{mount} lists processes outside the container (cgroupns {cgroupns}): {pids:?}"
            );
        }
    }
}

#[test]
fn pause_freezes_and_resume_thaws() {
    let mut t = TestEnv::new("cg_pause");
    start_counter(&mut t);
    assert!(wait_until(T, || counter(&t) >= 2), "the counter does not move");
    t.rt.cmd(&["pause", &t.id]).ok();
    assert_eq!(t.status(), "paused");
    // pause returns once the kernel reports the cgroup frozen (v1
    // freezer.state FROZEN, v2 cgroup.events "frozen 1").
    assert_eq!(cgroup_frozen(&t.cgroups_path), Some(true), "{} not frozen after pause", t.cgroups_path);
    let frozen_at = counter(&t);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(counter(&t), frozen_at, "the container ran while paused");
    t.rt.cmd(&["resume", &t.id]).ok();
    assert_eq!(t.status(), "running");
    assert_eq!(cgroup_frozen(&t.cgroups_path), Some(false), "{} still frozen after resume", t.cgroups_path);
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
    assert_eq!(cgroup_frozen(&t.cgroups_path), Some(true), "{} not frozen after pause", t.cgroups_path);
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
