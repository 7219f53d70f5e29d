//! `apply` on a fake cgroup v2 hierarchy: controller enabling, file formats,
//! conversions, and what v2 refuses.

use super::tests::{fake_layout, kernel, res, w, TempDir};
use crate::cgroups::{CgroupError, LayoutKind, Manager};
use std::fs;
use std::path::{Path, PathBuf};

const ALL: &str = "cpuset cpu io memory hugetlb pids rdma misc\n";

/// A created container `/berth/c` on a fake v2 mount `v2`, whose root offers
/// `offered`; nothing is enabled yet, so `/berth` offers nothing (a child's
/// `cgroup.controllers` is what its parent enabled).
fn v2(t: &TempDir, offered: &str) -> (Manager, PathBuf) {
    let l = fake_layout(t.path(), &[("cgroup2", "rw,nsdelegate", "v2")]);
    assert_eq!(l.kind(), LayoutKind::V2);
    let m = Manager::new(l, Some(Path::new("/berth/c")), "c", "").unwrap();
    m.create().unwrap();
    let root = t.path().join("v2");
    kernel(&root, &[("cgroup.controllers", offered), ("cgroup.subtree_control", "")]);
    kernel(&root.join("berth"), &[("cgroup.controllers", ""), ("cgroup.subtree_control", "")]);
    (m, root.join("berth/c"))
}

/// Nothing to enable any more: both levels list everything as enabled.
fn all_enabled(t: &TempDir) {
    let root = t.path().join("v2");
    for level in [root.clone(), root.join("berth")] {
        kernel(&level, &[("cgroup.subtree_control", ALL)]);
    }
}

const C: &str = "v2/berth/c/";

fn p(file: &str) -> String {
    format!("{C}{file}")
}

#[test]
fn enables_needed_controllers_top_down_then_writes() {
    let t = TempDir::new("v2enable");
    let (m, d) = v2(&t, ALL);
    kernel(&d, &[("memory.max", ""), ("pids.max", "")]);
    m.apply(&res(r#"{"memory": {"limit": 67108864}, "pids": {"limit": 20}}"#)).unwrap();
    assert_eq!(
        t.writes(),
        [
            w("v2/cgroup.subtree_control", "+pids +memory"),
            w("v2/berth/cgroup.subtree_control", "+pids +memory"),
            w(&p("pids.max"), "20"),
            w(&p("memory.max"), "67108864"),
        ]
    );
    // Already enabled at the root: only the missing level is written.
    kernel(&t.path().join("v2"), &[("cgroup.subtree_control", "memory pids\n")]);
    kernel(
        &t.path().join("v2/berth"),
        &[("cgroup.controllers", "memory pids\n"), ("cgroup.subtree_control", "pids\n")],
    );
    m.apply(&res(r#"{"memory": {"limit": -1}, "pids": {"limit": 0}}"#)).unwrap();
    assert_eq!(
        t.writes(),
        [w("v2/berth/cgroup.subtree_control", "+memory"), w(&p("pids.max"), "max"), w(&p("memory.max"), "max")]
    );
    // Nothing asked: nothing enabled.
    m.apply(&res(r#"{"memory": {"disableOOMKiller": false}}"#)).unwrap();
    assert_eq!(t.writes(), []);
}

#[test]
fn undelegated_controller_says_where_to_enable_it() {
    let t = TempDir::new("v2deleg");
    let (m, _) = v2(&t, ALL);
    let root = t.path().join("v2");
    // Inconsistent (the root enables memory, /berth does not list it), as with a
    // threaded subtree or a race: the parent is where to look.
    kernel(&root, &[("cgroup.subtree_control", "memory\n")]);
    kernel(&root.join("berth"), &[("cgroup.controllers", "cpu pids\n")]);
    let e = m.apply(&res(r#"{"memory": {"limit": 1000}}"#)).unwrap_err();
    let want = format!(
        "enable the controllers the resources need: the memory controller is not available: {:?} lists only \
         \"cpu pids\" (hint: enable it for the children of {root:?} by writing \"+memory\" to {:?} (it must be in \
         that cgroup's own cgroup.controllers), or have whoever manages {root:?} delegate it)",
        root.join("berth/cgroup.controllers"),
        root.join("cgroup.subtree_control"),
    );
    assert_eq!(e.to_string(), want);
    // The usual case: the mount's root does not offer it.
    kernel(&root, &[("cgroup.controllers", "cpu pids\n"), ("cgroup.subtree_control", "")]);
    let e = m.apply(&res(r#"{"memory": {"limit": 1000}}"#)).unwrap_err();
    let want = format!(
        "enable the controllers the resources need: the memory controller is not available: {:?} lists only \
         \"cpu pids\" (hint: {root:?} is the root of the cgroup2 mount and does not offer it: the kernel lacks the \
         controller, a cgroup v1 hierarchy holds it, or it is not delegated to this cgroup namespace)",
        root.join("cgroup.controllers")
    );
    assert_eq!(e.to_string(), want);
    let e = m.apply(&res(r#"{"unified": {"foo.bar": "1"}}"#)).unwrap_err();
    assert!(e.to_string().contains("the foo controller is not available"), "{e}");
    assert_eq!(t.writes(), []);
}

#[test]
fn v2_memory_swap_conversion() {
    let t = TempDir::new("v2mem");
    let (m, d) = v2(&t, ALL);
    all_enabled(&t);
    kernel(&d, &[("memory.max", ""), ("memory.swap.max", ""), ("memory.low", ""), ("memory.current", "5000\n")]);
    m.apply(&res(r#"{"memory": {"limit": 67108864, "swap": 134217728, "reservation": 1048576}}"#)).unwrap();
    assert_eq!(
        t.writes(),
        [w(&p("memory.swap.max"), "67108864"), w(&p("memory.max"), "67108864"), w(&p("memory.low"), "1048576")]
    );
    // memory+swap equal to memory: no swap.
    m.apply(&res(r#"{"memory": {"limit": 1000000, "swap": 1000000}}"#)).unwrap();
    assert_eq!(t.writes(), [w(&p("memory.swap.max"), "0"), w(&p("memory.max"), "1000000")]);
    // Unlimited memory: unlimited swap too.
    m.apply(&res(r#"{"memory": {"limit": -1}}"#)).unwrap();
    assert_eq!(t.writes(), [w(&p("memory.swap.max"), "max"), w(&p("memory.max"), "max")]);
    // Without swap accounting, lifting the swap limit is moot.
    fs::remove_file(d.join("memory.swap.max")).unwrap();
    m.apply(&res(r#"{"memory": {"limit": -1, "kernel": 5}}"#)).unwrap();
    assert_eq!(t.writes(), [w(&p("memory.max"), "max")]);
    let e = m.apply(&res(r#"{"memory": {"limit": 100, "swap": 200}}"#)).unwrap_err();
    assert!(matches!(e, CgroupError::MissingFile { .. }), "{e}");
    let e = m.apply(&res(r#"{"memory": {"swap": 2000}}"#)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid linux.resources.memory.swap = 2000: a memory+swap limit needs a memory limit \
         (linux.resources.memory.limit) to subtract"
    );
    let e = m.apply(&res(r#"{"memory": {"limit": 4096, "checkBeforeUpdate": true}}"#)).unwrap_err();
    assert!(matches!(e, CgroupError::LimitBelowUsage { usage: 5000, limit: 4096, .. }), "{e}");
    m.apply(&res(r#"{"memory": {"limit": 8192, "checkBeforeUpdate": true}}"#)).unwrap();
    assert_eq!(t.writes(), [w(&p("memory.max"), "8192")]);
}

#[test]
fn v2_refuses_what_it_cannot_express() {
    let t = TempDir::new("v2ref");
    let (m, _) = v2(&t, ALL);
    all_enabled(&t);
    for (json, msg) in [
        (
            r#"{"memory": {"swappiness": 60}}"#,
            "memory.swappiness = 60 on cgroup v2, which has no per-cgroup swappiness",
        ),
        (r#"{"memory": {"disableOOMKiller": true}}"#, "cannot turn the OOM killer off"),
        (r#"{"memory": {"useHierarchy": false}}"#, "is always hierarchical"),
        (r#"{"cpu": {"realtimeRuntime": 1000}}"#, "has no real-time group scheduling"),
        (r#"{"blockIO": {"leafWeight": 100}}"#, "has no leaf weights"),
        (r#"{"network": {"classID": 7}}"#, "has no net_cls or net_prio controller"),
    ] {
        let e = m.apply(&res(json)).unwrap_err();
        assert!(matches!(e, CgroupError::Unsupported(_)), "{e}");
        assert!(e.to_string().contains(msg), "{e}");
    }
    let e = m.apply(&res(r#"{"cpu": {"shares": 1}}"#)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid linux.resources.cpu.shares = 1: only 2-262144 (the cgroup v1 range) converts to cpu.weight"
    );
    let e = m.apply(&res(r#"{"blockIO": {"weight": 5}}"#)).unwrap_err();
    assert!(e.to_string().contains("only 10-1000 (the blkio range) converts to io.weight"), "{e}");
    let e = m.apply(&res(r#"{"blockIO": {"weight": 1001}}"#)).unwrap_err();
    assert!(e.to_string().starts_with("invalid linux.resources.blockIO.weight = 1001: the range is 10-1000"), "{e}");
    // True, harmless flags are fine.
    m.apply(&res(r#"{"memory": {"useHierarchy": true}}"#)).unwrap();
    // Device rules in `apply` become an eBPF program too: here (no real cgroup) that fails at the query.
    let e = m.apply(&res(r#"{"devices": [{"allow": false, "access": "rwm"}]}"#)).unwrap_err();
    assert!(e.to_string().contains("(BPF_PROG_QUERY)"), "{e}");
    // Other rules become an eBPF program; a temp dir is no cgroup, so attaching fails
    // at the query, while allow-all needs no program at all.
    let some = res(
        r#"{"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]}"#,
    );
    let e = m.apply_device_rules(some.devices().as_deref().unwrap()).unwrap_err();
    assert!(e.to_string().contains("(BPF_PROG_QUERY)"), "{e}");
    let allow = res(r#"{"devices": [{"allow": true, "access": "rwm"}]}"#);
    m.apply_device_rules(allow.devices().as_deref().unwrap()).unwrap();
    assert_eq!(t.writes(), []);
}

#[test]
fn v2_cpu_weight_max_burst_idle() {
    let t = TempDir::new("v2cpu");
    let (m, d) = v2(&t, ALL);
    all_enabled(&t);
    kernel(&d, &[("cpu.weight", ""), ("cpu.max", ""), ("cpu.max.burst", ""), ("cpu.idle", "")]);
    m.apply(&res(r#"{"cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 20000, "idle": 0}}"#)).unwrap();
    assert_eq!(
        t.writes(),
        [
            w(&p("cpu.idle"), "0"),
            w(&p("cpu.weight"), "39"),
            w(&p("cpu.max.burst"), "20000"),
            w(&p("cpu.max"), "50000 100000"),
        ]
    );
    m.apply(&res(r#"{"cpu": {"quota": -1}}"#)).unwrap();
    assert_eq!(t.writes(), [w(&p("cpu.max"), "max")]);
    // Only the period: the quota in place is kept.
    kernel(&d, &[("cpu.max", "30000 100000\n")]);
    m.apply(&res(r#"{"cpu": {"period": 50000}}"#)).unwrap();
    assert_eq!(t.writes(), [w(&p("cpu.max"), "30000 50000")]);
    m.apply(&res(r#"{"cpu": {"shares": 2}}"#)).unwrap();
    assert_eq!(t.writes(), [w(&p("cpu.weight"), "1")]);
    m.apply(&res(r#"{"cpu": {"shares": 262144}}"#)).unwrap();
    assert_eq!(t.writes(), [w(&p("cpu.weight"), "10000")]);
}

#[test]
fn v2_io_bfq_or_io_weight_and_io_max() {
    let t = TempDir::new("v2io");
    let (m, d) = v2(&t, ALL);
    all_enabled(&t);
    kernel(&d, &[("io.weight", "default 100\n"), ("io.max", "")]);
    let r = res(r#"{"blockIO": {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 1000}],
        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
        "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 0}],
        "throttleReadIOPSDevice": [{"major": 8, "minor": 16, "rate": 100}],
        "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 50}]}}"#);
    m.apply(&r).unwrap();
    assert_eq!(
        t.writes(),
        [
            w(&p("io.weight"), "4950"),
            w(&p("io.weight"), "8:0 10000"),
            w(&p("io.max"), "8:0 rbps=1048576"),
            w(&p("io.max"), "8:0 wbps=max"),
            w(&p("io.max"), "8:16 riops=100"),
            w(&p("io.max"), "8:16 wiops=50"),
        ]
    );
    // BFQ: the weight as is; per-device where io.bfq.weight reads as "default N".
    kernel(&d, &[("io.bfq.weight", "default 100\n")]);
    m.apply(&res(r#"{"blockIO": {"weight": 5, "weightDevice": [{"major": 8, "minor": 0, "weight": 7}]}}"#)).unwrap();
    assert_eq!(t.writes(), [w(&p("io.bfq.weight"), "5"), w(&p("io.bfq.weight"), "8:0 7")]);
    // An old BFQ (a bare number): per-device weights go to io.weight.
    kernel(&d, &[("io.bfq.weight", "100\n")]);
    m.apply(&res(r#"{"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 10}]}}"#)).unwrap();
    assert_eq!(t.writes(), [w(&p("io.weight"), "8:0 1")]);
}

#[test]
fn v2_cpuset_hugetlb_rdma_pids_in_runc_order() {
    let t = TempDir::new("v2misc");
    let (m, d) = v2(&t, ALL);
    all_enabled(&t);
    let files = ["cpuset.cpus", "cpuset.mems", "hugetlb.2MB.max", "rdma.max", "pids.max", "memory.max", "io.max"];
    kernel(&d, &files.map(|f| (f, "")));
    kernel(&d, &[("memory.high", ""), ("cpu.weight", "")]);
    let r = res(r#"{"cpu": {"cpus": "0-1", "mems": "0", "shares": 512}, "pids": {"limit": 10},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}], "rdma": {"mlx4_0": {"hcaHandles": 1}},
        "memory": {"limit": 1000000}, "blockIO": {"throttleReadBpsDevice": [{"major": 1, "minor": 2, "rate": 3}]},
        "unified": {"memory.high": "900000", "cpu.weight": "77"}}"#);
    m.apply(&r).unwrap();
    assert_eq!(
        t.writes(),
        [
            w(&p("pids.max"), "10"),
            w(&p("memory.max"), "1000000"),
            w(&p("io.max"), "1:2 rbps=3"),
            w(&p("cpu.weight"), "20"),
            w(&p("cpuset.cpus"), "0-1"),
            w(&p("cpuset.mems"), "0"),
            w(&p("hugetlb.2MB.max"), "4194304"),
            w(&p("rdma.max"), "mlx4_0 hca_handle=1"),
            w(&p("cpu.weight"), "77"),
            w(&p("memory.high"), "900000"),
        ]
    );
    assert_eq!(m.read_file("memory", "memory.high").unwrap(), "900000");
    assert_eq!(m.read_file("cgroup", "pids.max").unwrap(), "10");
    m.apply(&res(r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": -1}]}"#)).unwrap();
    assert_eq!(t.writes(), [w(&p("hugetlb.2MB.max"), "max")]);
}

#[test]
fn v2_unified_keys() {
    let t = TempDir::new("v2uni");
    let (m, d) = v2(&t, ALL);
    kernel(&d, &[("io.max", ""), ("cgroup.max.depth", "")]);
    m.apply(&res(r#"{"unified": {"io.max": "8:0 rbps=1\n8:16 wbps=2\n", "cgroup.max.depth": "2"}}"#)).unwrap();
    assert_eq!(
        t.writes(),
        [
            w("v2/cgroup.subtree_control", "+io"),
            w("v2/berth/cgroup.subtree_control", "+io"),
            w(&p("cgroup.max.depth"), "2"),
            w(&p("io.max"), "8:0 rbps=1"),
            w(&p("io.max"), "8:16 wbps=2"),
        ]
    );
    all_enabled(&t);
    for key in ["../x.y", "memory", "a/b.max", ".."] {
        let e = m.apply(&res(&format!(r#"{{"unified": {{"{key}": "1"}}}}"#))).unwrap_err();
        assert!(e.to_string().starts_with(&format!("invalid linux.resources.unified[{key:?}]")), "{e}");
    }
    let e = m.apply(&res(r#"{"unified": {"memory.nosuch": "1"}}"#)).unwrap_err();
    let want = format!(
        "write \"1\" to {:?}: the file does not exist (hint: a unified key must name a file of the container's \
         cgroup v2 directory; this kernel has no such file, or its controller is not enabled)",
        d.join("memory.nosuch")
    );
    assert_eq!(e.to_string(), want);
}

#[test]
fn v2_not_created_yet() {
    let t = TempDir::new("v2nocreate");
    let l = fake_layout(t.path(), &[("cgroup2", "rw", "v2")]);
    let m = Manager::new(l, Some(Path::new("/berth/c")), "c", "").unwrap();
    kernel(&t.path().join("v2"), &[("cgroup.controllers", ALL), ("cgroup.subtree_control", "")]);
    let e = m.apply(&res(r#"{"pids": {"limit": 1}}"#)).unwrap_err();
    let want = format!(
        "apply linux.resources: the cgroup {:?} does not exist (hint: it is made by create, before apply)",
        t.path().join("v2/berth/c")
    );
    assert_eq!(e.to_string(), want);
    assert_eq!(t.writes(), []);
}
