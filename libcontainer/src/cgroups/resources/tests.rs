//! Unit tests of `apply` on fake v1 and hybrid hierarchies: plain directories in a temporary directory, where files the test
//! creates play the kernel's part (the kernel creates them on mkdir). Every
//! successful write is also recorded, so tests check values and their order.

use crate::cgroups::{CgroupError, Layout, LayoutKind, Manager};
use oci_spec::runtime::LinuxResources;
use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

thread_local! {
    static WRITES: RefCell<Vec<(PathBuf, String)>> = const { RefCell::new(Vec::new()) };
}

/// Note a successful write, so tests can check what was written in which order.
pub(super) fn record(path: &Path, value: &str) {
    WRITES.with(|w| w.borrow_mut().push((path.to_path_buf(), value.to_string())));
}

/// A temporary directory removed on drop.
pub(super) struct TempDir(PathBuf);

impl TempDir {
    pub(super) fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("berth-res-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub(super) fn path(&self) -> &Path {
        &self.0
    }

    /// The writes since the last call, as (path relative to this directory, value).
    pub(super) fn writes(&self) -> Vec<(String, String)> {
        let all = WRITES.with(|w| std::mem::take(&mut *w.borrow_mut()));
        all.into_iter()
            .map(|(p, v)| (p.strip_prefix(&self.0).unwrap_or(&p).to_string_lossy().into_owned(), v))
            .collect()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A layout of fake mounts below `root`: (fstype, super options, directory name).
pub(super) fn fake_layout(root: &Path, mounts: &[(&str, &str, &str)]) -> Layout {
    let mut text = String::new();
    for (i, (fstype, opts, name)) in mounts.iter().enumerate() {
        let mp = root.join(name);
        fs::create_dir_all(&mp).unwrap();
        text += &format!("{} 1 0:{} / {} rw - {fstype} x {opts}\n", 100 + i, 50 + i, mp.display());
    }
    Layout::from_mountinfo(&text).unwrap()
}

/// Create files (with contents) the way the kernel would.
pub(super) fn kernel(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        fs::write(dir.join(name), text).unwrap();
    }
}

pub(super) fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

pub(super) fn w(path: &str, value: &str) -> (String, String) {
    (path.to_string(), value.to_string())
}

/// A created container `/berth/c` on v1 hierarchies (one per controller).
fn v1(t: &TempDir, controllers: &[&str]) -> Manager {
    let mounts: Vec<(String, String)> = controllers.iter().map(|c| (format!("rw,{c}"), c.to_string())).collect();
    let mounts: Vec<(&str, &str, &str)> = mounts.iter().map(|(o, n)| ("cgroup", o.as_str(), n.as_str())).collect();
    let m = Manager::new(fake_layout(t.path(), &mounts), Some(Path::new("/berth/c")), "c", "").unwrap();
    m.create().unwrap();
    m
}

fn dir(t: &TempDir, controller: &str) -> PathBuf {
    t.path().join(controller).join("berth/c")
}

const UNLIMITED: &str = "9223372036854771712\n";

// ---- v1 -------------------------------------------------------------------

#[test]
fn nothing_given_writes_nothing() {
    let t = TempDir::new("none");
    let m = v1(&t, &["memory", "cpu"]);
    m.apply(&res("{}")).unwrap();
    m.apply(&res(r#"{"memory": {}, "cpu": {"shares": 0, "quota": 0, "cpus": ""}, "unified": {}}"#)).unwrap();
    assert_eq!(t.writes(), []);
}

#[test]
fn v1_memory_files_and_order() {
    let t = TempDir::new("mem");
    let m = v1(&t, &["memory"]);
    let d = dir(&t, "memory");
    let files = ["memory.soft_limit_in_bytes", "memory.oom_control", "memory.swappiness", "memory.use_hierarchy"];
    kernel(&d, &files.map(|f| (f, "")));
    kernel(&d, &[("memory.limit_in_bytes", UNLIMITED), ("memory.memsw.limit_in_bytes", UNLIMITED)]);
    let r = res(r#"{"memory": {"limit": 67108864, "swap": 134217728, "reservation": 33554432,
        "disableOOMKiller": true, "swappiness": 10, "useHierarchy": true}}"#);
    m.apply(&r).unwrap();
    let p = |f: &str| format!("memory/berth/c/{f}");
    // The current limit is above the new memory+swap: memory first, then memsw.
    assert_eq!(
        t.writes(),
        [
            w(&p("memory.use_hierarchy"), "1"),
            w(&p("memory.limit_in_bytes"), "67108864"),
            w(&p("memory.memsw.limit_in_bytes"), "134217728"),
            w(&p("memory.soft_limit_in_bytes"), "33554432"),
            w(&p("memory.oom_control"), "1"),
            w(&p("memory.swappiness"), "10"),
        ]
    );
    // Raising past the current limit: memsw first.
    kernel(&d, &[("memory.limit_in_bytes", "67108864\n")]);
    m.apply(&res(r#"{"memory": {"limit": 268435456, "swap": 536870912, "disableOOMKiller": false}}"#)).unwrap();
    assert_eq!(
        t.writes(),
        [
            w(&p("memory.memsw.limit_in_bytes"), "536870912"),
            w(&p("memory.limit_in_bytes"), "268435456"),
            w(&p("memory.oom_control"), "0"),
        ]
    );
    // Unlimited memory without a swap value: memory+swap unlimited too, first.
    kernel(&d, &[("memory.limit_in_bytes", "268435456\n")]);
    m.apply(&res(r#"{"memory": {"limit": -1}}"#)).unwrap();
    assert_eq!(t.writes(), [w(&p("memory.memsw.limit_in_bytes"), "-1"), w(&p("memory.limit_in_bytes"), "-1")]);
    // Without swap accounting only the memory limit is written.
    fs::remove_file(d.join("memory.memsw.limit_in_bytes")).unwrap();
    m.apply(&res(r#"{"memory": {"limit": -1}}"#)).unwrap();
    assert_eq!(t.writes(), [w(&p("memory.limit_in_bytes"), "-1")]);
    kernel(&d, &[("memory.limit_in_bytes", UNLIMITED)]);
    let e = m.apply(&res(r#"{"memory": {"limit": 1000, "swap": 5000}}"#)).unwrap_err();
    let CgroupError::MissingFile { ref path, hint, .. } = e else { panic!("{e}") };
    assert_eq!(path, &d.join("memory.memsw.limit_in_bytes"));
    assert!(hint.contains("swapaccount=0"), "{e}");
}

#[test]
fn v1_memory_refusals() {
    let t = TempDir::new("memref");
    let m = v1(&t, &["memory"]);
    let d = dir(&t, "memory");
    kernel(&d, &[("memory.limit_in_bytes", UNLIMITED), ("memory.usage_in_bytes", "100000000\n")]);
    for (json, msg) in [
        (
            r#"{"memory": {"swappiness": 101}}"#,
            "invalid linux.resources.memory.swappiness = 101: the valid range is 0-100",
        ),
        (r#"{"memory": {"limit": -2}}"#, "invalid linux.resources.memory.limit = -2: -1 means unlimited"),
        (r#"{"memory": {"limit": 2000, "swap": 1000}}"#, "invalid linux.resources.memory.swap = 1000: memory+swap"),
    ] {
        let e = m.apply(&res(json)).unwrap_err();
        assert!(e.to_string().starts_with(msg), "{e}");
    }
    let e = m.apply(&res(r#"{"memory": {"limit": 67108864, "checkBeforeUpdate": true}}"#)).unwrap_err();
    let want = format!(
        "refuse to set the memory limit to 67108864 bytes: it is not above the current usage of 100000000 \
         bytes (read from {:?}; linux.resources.memory.checkBeforeUpdate is set)",
        d.join("memory.usage_in_bytes")
    );
    assert_eq!(e.to_string(), want);
    assert_eq!(t.writes(), []);
    // A file the kernel refuses: the error names the file and the value.
    fs::create_dir(d.join("memory.soft_limit_in_bytes")).unwrap();
    let e = m.apply(&res(r#"{"memory": {"reservation": 1000}}"#)).unwrap_err();
    let want = format!("write \"1000\" to {:?}: Is a directory", d.join("memory.soft_limit_in_bytes"));
    assert_eq!(e.to_string(), want);
}

#[test]
fn v1_kernel_memory_only_where_the_files_exist() {
    let t = TempDir::new("kmem");
    let m = v1(&t, &["memory"]);
    let d = dir(&t, "memory");
    m.apply(&res(r#"{"memory": {"kernel": 1048576, "kernelTCP": 2097152}}"#)).unwrap();
    assert_eq!(t.writes(), []);
    kernel(&d, &[("memory.kmem.limit_in_bytes", ""), ("memory.kmem.tcp.limit_in_bytes", "")]);
    m.apply(&res(r#"{"memory": {"kernel": 1048576, "kernelTCP": 2097152}}"#)).unwrap();
    assert_eq!(
        t.writes(),
        [
            w("memory/berth/c/memory.kmem.limit_in_bytes", "1048576"),
            w("memory/berth/c/memory.kmem.tcp.limit_in_bytes", "2097152")
        ]
    );
}

#[test]
fn v1_cpu_files_and_order() {
    let t = TempDir::new("cpu");
    let m = v1(&t, &["cpu"]);
    let d = dir(&t, "cpu");
    let files = ["cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.cfs_burst_us", "cpu.idle"];
    kernel(&d, &files.map(|f| (f, "")));
    kernel(&d, &[("cpu.rt_period_us", ""), ("cpu.rt_runtime_us", "")]);
    m.apply(&res(r#"{"cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 10000, "idle": 0,
        "realtimePeriod": 1000000, "realtimeRuntime": 950000}}"#))
        .unwrap();
    let p = |f: &str| format!("cpu/berth/c/{f}");
    assert_eq!(
        t.writes(),
        [
            w(&p("cpu.shares"), "512"),
            w(&p("cpu.cfs_period_us"), "100000"),
            w(&p("cpu.cfs_burst_us"), "10000"),
            w(&p("cpu.cfs_quota_us"), "50000"),
            w(&p("cpu.idle"), "0"),
            w(&p("cpu.rt_period_us"), "1000000"),
            w(&p("cpu.rt_runtime_us"), "950000"),
        ]
    );
    assert_eq!(m.read_file("cpu", "cpu.cfs_quota_us").unwrap(), "50000");
    // -1: unlimited quota, written as is.
    m.apply(&res(r#"{"cpu": {"quota": -1}}"#)).unwrap();
    assert_eq!(t.writes(), [w(&p("cpu.cfs_quota_us"), "-1")]);
    // No burst knob: a burst of 0 changes nothing; another value is an error.
    fs::remove_file(d.join("cpu.cfs_burst_us")).unwrap();
    m.apply(&res(r#"{"cpu": {"burst": 0}}"#)).unwrap();
    let e = m.apply(&res(r#"{"cpu": {"burst": 5000}}"#)).unwrap_err();
    let want = format!(
        "write \"5000\" to {:?}: the file does not exist (hint: CPU burst needs Linux 5.14 or later)",
        d.join("cpu.cfs_burst_us")
    );
    assert_eq!(e.to_string(), want);
}

#[test]
fn v1_cpuset_pids_and_noprefix() {
    let t = TempDir::new("cpuset");
    let m = v1(&t, &["cpuset", "pids"]);
    kernel(&dir(&t, "cpuset"), &[("cpuset.cpus", ""), ("cpuset.mems", "")]);
    kernel(&dir(&t, "pids"), &[("pids.max", "")]);
    m.apply(&res(r#"{"cpu": {"cpus": "0-1", "mems": "0"}, "pids": {"limit": 20}}"#)).unwrap();
    assert_eq!(
        t.writes(),
        [
            w("cpuset/berth/c/cpuset.cpus", "0-1"),
            w("cpuset/berth/c/cpuset.mems", "0"),
            w("pids/berth/c/pids.max", "20")
        ]
    );
    for (limit, want) in [("0", "max"), ("-1", "max"), ("7", "7")] {
        m.apply(&res(&format!(r#"{{"pids": {{"limit": {limit}}}}}"#))).unwrap();
        assert_eq!(t.writes(), [w("pids/berth/c/pids.max", want)]);
    }
    let t = TempDir::new("noprefix");
    let l = fake_layout(t.path(), &[("cgroup", "rw,cpuset,noprefix", "cpuset")]);
    let m = Manager::new(l, Some(Path::new("/berth/c")), "c", "").unwrap();
    m.create().unwrap();
    kernel(&dir(&t, "cpuset"), &[("cpus", ""), ("mems", "")]);
    m.apply(&res(r#"{"cpu": {"cpus": "1", "mems": "0"}}"#)).unwrap();
    assert_eq!(t.writes(), [w("cpuset/berth/c/cpus", "1"), w("cpuset/berth/c/mems", "0")]);
}

#[test]
fn v1_blkio_cfq_or_bfq() {
    let t = TempDir::new("blkio");
    let m = v1(&t, &["blkio"]);
    let d = dir(&t, "blkio");
    let r = res(r#"{"blockIO": {"weight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 500}],
        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
        "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 0}]}}"#);
    // BFQ (Linux 5.0+): no blkio.weight.
    let files = ["blkio.bfq.weight", "blkio.bfq.weight_device", "blkio.throttle.read_bps_device"];
    kernel(&d, &files.map(|f| (f, "")));
    kernel(&d, &[("blkio.throttle.write_iops_device", "")]);
    m.apply(&r).unwrap();
    let p = |f: &str| format!("blkio/berth/c/{f}");
    assert_eq!(
        t.writes(),
        [
            w(&p("blkio.bfq.weight"), "300"),
            w(&p("blkio.bfq.weight_device"), "8:0 500"),
            w(&p("blkio.throttle.read_bps_device"), "8:0 1048576"),
            w(&p("blkio.throttle.write_iops_device"), "8:16 0"),
        ]
    );
    // CFQ: blkio.weight, leaf weights.
    kernel(&d, &[("blkio.weight", ""), ("blkio.weight_device", ""), ("blkio.leaf_weight", "")]);
    m.apply(&res(r#"{"blockIO": {"weight": 300, "leafWeight": 200,
        "weightDevice": [{"major": 8, "minor": 0, "weight": 500}]}}"#))
        .unwrap();
    assert_eq!(
        t.writes(),
        [w(&p("blkio.weight"), "300"), w(&p("blkio.leaf_weight"), "200"), w(&p("blkio.weight_device"), "8:0 500")]
    );
    let e = m.apply(&res(r#"{"blockIO": {"throttleReadBpsDevice": [{"major": -1, "minor": 0, "rate": 1}]}}"#));
    assert!(e.unwrap_err().to_string().contains("device numbers cannot be negative"));
}

#[test]
fn v1_hugetlb_with_and_without_reservations() {
    let t = TempDir::new("huge");
    let m = v1(&t, &["hugetlb"]);
    let d = dir(&t, "hugetlb");
    let names = ["hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.rsvd.limit_in_bytes", "hugetlb.1GB.limit_in_bytes"];
    kernel(&d, &names.map(|f| (f, "")));
    let r = res(r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 20971520}, {"pageSize": "1GB", "limit": -1}]}"#);
    m.apply(&r).unwrap();
    let p = |f: &str| format!("hugetlb/berth/c/{f}");
    assert_eq!(
        t.writes(),
        [
            w(&p("hugetlb.2MB.limit_in_bytes"), "20971520"),
            w(&p("hugetlb.2MB.rsvd.limit_in_bytes"), "20971520"),
            w(&p("hugetlb.1GB.limit_in_bytes"), "-1"),
        ]
    );
    let e = m.apply(&res(r#"{"hugepageLimits": [{"pageSize": "64KB", "limit": 1}]}"#)).unwrap_err();
    assert!(e.to_string().contains("no huge pages of that size"), "{e}");
    let e = m.apply(&res(r#"{"hugepageLimits": [{"pageSize": "../2MB", "limit": 1}]}"#)).unwrap_err();
    assert!(e.to_string().starts_with("invalid linux.resources.hugepageLimits.pageSize = \"../2MB\""), "{e}");
}

#[test]
fn v1_network_and_rdma() {
    let t = TempDir::new("net");
    let m = v1(&t, &["net_cls", "net_prio", "rdma"]);
    kernel(&dir(&t, "net_cls"), &[("net_cls.classid", "")]);
    kernel(&dir(&t, "net_prio"), &[("net_prio.ifpriomap", "")]);
    kernel(&dir(&t, "rdma"), &[("rdma.max", "")]);
    let r = res(r#"{"network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5},
        {"name": "lo", "priority": 2}]}, "rdma": {"mlx5_1": {"hcaHandles": 3}, "mlx4_0": {"hcaObjects": 100}}}"#);
    m.apply(&r).unwrap();
    assert_eq!(
        t.writes(),
        [
            w("net_cls/berth/c/net_cls.classid", "1048577"),
            w("net_prio/berth/c/net_prio.ifpriomap", "eth0 5"),
            w("net_prio/berth/c/net_prio.ifpriomap", "lo 2"),
            w("rdma/berth/c/rdma.max", "mlx4_0 hca_object=100"),
            w("rdma/berth/c/rdma.max", "mlx5_1 hca_handle=3"),
        ]
    );
    let e = m.apply(&res(r#"{"network": {"priorities": [{"name": "a b", "priority": 1}]}}"#)).unwrap_err();
    assert!(e.to_string().contains("an interface name cannot be empty or contain white space"), "{e}");
}

#[test]
fn v1_missing_controller_is_named() {
    let t = TempDir::new("missing");
    let m = v1(&t, &["memory"]);
    let e = m.apply(&res(r#"{"network": {"classID": 1}}"#)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "apply linux.resources.network.classID: the net_cls controller is not available: no cgroup v1 hierarchy \
         carries it (hint: mount its hierarchy (mount -t cgroup -o net_cls cgroup /sys/fs/cgroup/net_cls) or \
         remove linux.resources.network.classID from the config)"
    );
    let e = m.apply(&res(r#"{"pids": {"limit": 5}}"#)).unwrap_err();
    assert!(matches!(&e, CgroupError::ControllerUnavailable { controller, .. } if controller == "pids"), "{e}");
    let e = m.apply(&res(r#"{"unified": {"memory.high": "1000"}}"#)).unwrap_err();
    assert!(e.to_string().contains("cannot use unified (cgroup v2) resources on cgroup v1"), "{e}");
    assert_eq!(t.writes(), []);
}

#[test]
fn v1_device_rules_in_order() {
    let t = TempDir::new("dev");
    let m = v1(&t, &["devices"]);
    kernel(&dir(&t, "devices"), &[("devices.allow", ""), ("devices.deny", "")]);
    let r = res(r#"{"devices": [{"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": true, "type": "c", "major": 136, "access": "rwm"},
        {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "w"}]}"#);
    m.apply(&r).unwrap();
    let (allow, deny) = ("devices/berth/c/devices.allow", "devices/berth/c/devices.deny");
    assert_eq!(
        t.writes(),
        [
            w(deny, "a *:* rwm"),
            w(deny, "a *:* rwm"),
            w(allow, "c 1:3 rwm"),
            w(allow, "c 136:* rwm"),
            w(deny, "c 1:3 w")
        ]
    );
    // No rules: still the deny-all reset (runc's white-list default).
    m.apply(&res(r#"{"devices": []}"#)).unwrap();
    assert_eq!(t.writes(), [w(deny, "a *:* rwm")]);
    // apply_device_rules writes exactly what it is given.
    m.apply_device_rules(r.devices().as_deref().unwrap()).unwrap();
    assert_eq!(t.writes().len(), 4);
    m.apply_device_rules(&[]).unwrap();
    assert_eq!(t.writes(), []);
    // Without devices, apply leaves the rules alone.
    m.apply(&res(r#"{"pids": null}"#)).unwrap();
    assert_eq!(t.writes(), []);
}

/// Hybrid: v1 controllers, and a cgroup2 that offers `pids` (moved off v1).
#[test]
fn hybrid_uses_v2_for_what_v1_lacks() {
    let t = TempDir::new("hybrid");
    let l = fake_layout(t.path(), &[("cgroup", "rw,memory", "memory"), ("cgroup2", "rw", "unified")]);
    assert_eq!(l.kind(), LayoutKind::Hybrid);
    let m = Manager::new(l, Some(Path::new("/berth/c")), "c", "").unwrap();
    m.create().unwrap();
    let u = t.path().join("unified");
    kernel(&u, &[("cgroup.controllers", "pids\n"), ("cgroup.subtree_control", "")]);
    kernel(&u.join("berth"), &[("cgroup.controllers", "pids\n"), ("cgroup.subtree_control", "")]);
    kernel(&u.join("berth/c"), &[("pids.max", ""), ("cgroup.max.descendants", "")]);
    kernel(&dir(&t, "memory"), &[("memory.limit_in_bytes", "")]);
    let r = res(r#"{"memory": {"limit": 1048576}, "pids": {"limit": 9}, "unified": {"cgroup.max.descendants": "3"}}"#);
    m.apply(&r).unwrap();
    assert_eq!(
        t.writes(),
        [
            w("unified/cgroup.subtree_control", "+pids"),
            w("unified/berth/cgroup.subtree_control", "+pids"),
            w("memory/berth/c/memory.limit_in_bytes", "1048576"),
            w("unified/berth/c/pids.max", "9"),
            w("unified/berth/c/cgroup.max.descendants", "3"),
        ]
    );
    let e = m.apply(&res(r#"{"unified": {"memory.high": "1"}}"#)).unwrap_err();
    assert!(e.to_string().contains("the memory controller is not in a cgroup v2 hierarchy here"), "{e}");
    let e = m.apply(&res(r#"{"cpu": {"shares": 2}}"#)).unwrap_err();
    assert!(e.to_string().contains("the cgroup2 hierarchy does not offer cpu either"), "{e}");
    assert_eq!(m.read_file("cgroup", "pids.max").unwrap(), "9");
    assert_eq!(m.read_file("memory", "memory.limit_in_bytes").unwrap(), "1048576");
    let e = m.read_file("memory", "../x").unwrap_err();
    assert!(matches!(e, CgroupError::InvalidPath { .. }), "{e}");
    let e = m.read_file("cpu", "cpu.shares").unwrap_err();
    assert!(e.to_string().starts_with("read cpu.shares: the cpu controller is not available"), "{e}");
}
