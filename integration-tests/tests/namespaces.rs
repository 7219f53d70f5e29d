//! Namespaces: new ones differ from the host's, unconfigured ones are
//! shared, joining by path, user namespaces with id mappings, time
//! namespaces with offsets.

use integration_tests::*;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

fn host_ns(name: &str) -> String {
    let s = ns_of("self", name);
    assert!(!s.is_empty(), "host has no /proc/self/ns/{name}");
    s
}

/// Create + start a container running `probe <args> + sleep`, wait until the
/// probe output is complete, return (pid, facts).
fn start_probe_then_sleep(t: &mut TestEnv, probe_args: &[&str]) -> (i32, Facts) {
    let mut a = vec!["/probe"];
    a.extend_from_slice(probe_args);
    a.extend_from_slice(&["+", "echo", "probe-done", "+", "sleep"]);
    t.args(&a);
    let c = t.create();
    c.ok();
    let pid = t.pid();
    t.start().ok();
    let mut out = String::new();
    assert!(
        wait_until(T, || {
            out = c.stdout_now();
            out.contains("probe-done")
        }),
        "probe output never completed: {out:?} / {}",
        c.stderr_now()
    );
    (pid, Facts::parse(&out))
}

#[test]
fn configured_namespaces_are_new() {
    let mut t = TestEnv::new("configured_namespaces_are_new");
    t.set_namespace("cgroup", None);
    let (pid, f) = start_probe_then_sleep(&mut t, &["ns"]);
    for ns in ["pid", "net", "ipc", "uts", "mnt", "cgroup"] {
        let inside = f.get(&format!("ns.{ns}"));
        assert_ne!(inside, host_ns(ns), "{ns} namespace is the host's");
        assert!(inside.starts_with(&format!("{ns}:[")), "{inside}");
        // The host's view of the container init agrees with the probe.
        assert_eq!(inside, ns_of(&pid.to_string(), ns), "{ns}: probe vs /proc/{pid}/ns");
    }
    // Not configured: stays the host's.
    assert_eq!(f.get("ns.user"), host_ns("user"), "no user namespace was configured");
    if std::path::Path::new("/proc/self/ns/time").exists() {
        assert_eq!(f.get("ns.time"), host_ns("time"), "no time namespace was configured");
    }
}

#[test]
fn cgroup_namespace_root() {
    let mut t = TestEnv::new("cgroup_namespace_root");
    t.set_namespace("cgroup", None);
    t.args(&["/probe", "cgroup"]);
    let o = t.run();
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "no /proc/self/cgroup output");
    for l in &lines {
        assert!(l.ends_with(":/"), "inside a cgroup namespace every cgroup path is /: {l}");
    }
    if cgroup_mode() == CgroupMode::V2 {
        assert_eq!(lines, ["0::/"], "on a cgroup v2 host /proc/self/cgroup has the one unified line");
    }
    // Without a cgroup namespace the real (host) paths show, which contain our cgroupsPath.
    let mut t2 = TestEnv::new("cgroup_namespace_root_none");
    t2.args(&["/probe", "cgroup"]);
    let o = t2.run();
    o.ok();
    assert!(
        o.stdout.lines().any(|l| l.ends_with(&t2.cgroups_path)),
        "without cgroupns the container's cgroup is {}: {}",
        t2.cgroups_path,
        o.stdout
    );
}

#[test]
fn pid_one_inside() {
    let mut t = TestEnv::new("pid_one_inside");
    let f = t.run_probe(&["pid"]);
    assert_eq!(f.get("pid"), "1");
    assert_eq!(f.get("ppid"), "0");
}

#[test]
fn without_pid_namespace_pid_is_host_pid() {
    let mut t = TestEnv::new("without_pid_namespace");
    t.remove_namespace("pid");
    let (pid, f) = start_probe_then_sleep(&mut t, &["pid", "+", "ns"]);
    assert_eq!(f.get("pid"), pid.to_string(), "host pid namespace: pid as seen from host");
    assert_eq!(f.get("ns.pid"), host_ns("pid"));
    assert_ne!(f.get("ns.net"), host_ns("net"));
}

#[test]
fn join_net_namespace_of_host_process() {
    let mut t = TestEnv::new("join_net_ns_host");
    let helper = t.spawn_host(Command::new("unshare").args(["--net", "sleep", "300"]));
    let host_net = host_ns("net");
    let mut target = String::new();
    assert!(wait_until(T, || {
        target = ns_of(&helper.to_string(), "net");
        !target.is_empty() && target != host_net
    }));
    let path = format!("/proc/{helper}/ns/net");
    t.set_namespace("network", Some(&path));
    let f = t.run_probe(&["ns"]);
    assert_eq!(f.get("ns.net"), target, "container must join {path}");
    assert_ne!(f.get("ns.uts"), host_ns("uts"));
}

#[test]
fn join_namespaces_of_another_container() {
    let mut a = TestEnv::new("join_other_container");
    a.args(&["/probe", "sleep"]);
    let apid = a.create_ok();
    a.start().ok();
    let mut b = a.sibling("b");
    b.set_namespace("network", Some(&format!("/proc/{apid}/ns/net")));
    b.set_namespace("ipc", Some(&format!("/proc/{apid}/ns/ipc")));
    let f = b.run_probe(&["ns"]);
    let a_pid = apid.to_string();
    assert_eq!(f.get("ns.net"), ns_of(&a_pid, "net"));
    assert_eq!(f.get("ns.ipc"), ns_of(&a_pid, "ipc"));
    // Not joined: new ones, different from both A's and the host's.
    for ns in ["uts", "mnt", "pid"] {
        assert_ne!(f.get(&format!("ns.{ns}")), ns_of(&a_pid, ns), "{ns}");
        assert_ne!(f.get(&format!("ns.{ns}")), host_ns(ns), "{ns}");
    }
    b.assert_no_leftovers();
    assert_eq!(a.status(), "running", "B's lifetime must not affect A");
}

#[test]
fn user_namespace_with_mappings() {
    if !std::path::Path::new("/proc/self/ns/user").exists() {
        skip!("kernel has no user namespaces");
    }
    if fs::read_to_string("/proc/sys/user/max_user_namespaces").map(|s| s.trim() == "0").unwrap_or(false) {
        skip!("user namespaces disabled (max_user_namespaces=0)");
    }
    let mut t = TestEnv::new("user_namespace_with_mappings");
    let host_base = 100000u32;
    chown_tree(&t.rootfs, host_base, host_base);
    t.set_namespace("user", None);
    t.config["linux"]["uidMappings"] = serde_json::json!([{"containerID": 0, "hostID": host_base, "size": 65536}]);
    t.config["linux"]["gidMappings"] = serde_json::json!([{"containerID": 0, "hostID": host_base, "size": 65536}]);
    let (pid, f) =
        start_probe_then_sleep(&mut t, &["ids", "+", "ns", "+", "stat", "/probe", "+", "write", "/tmp/owned"]);
    // Inside: root.
    assert_eq!(f.get("uid"), "0");
    assert_eq!(f.get("gid"), "0");
    assert_eq!(f.get("euid"), "0");
    assert_ne!(f.get("ns.user"), host_ns("user"));
    // Files owned by host 100000 appear as root inside.
    let st = f.fields("stat:/probe");
    assert_eq!(st["uid"], "0", "{st:?}");
    assert_eq!(f.get("write:/tmp/owned"), "ok");
    // Host side: the mapping and the real ids.
    let uid_map = fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    let gid_map = fs::read_to_string(format!("/proc/{pid}/gid_map")).unwrap();
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(norm(&uid_map), format!("0 {host_base} 65536"));
    assert_eq!(norm(&gid_map), format!("0 {host_base} 65536"));
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(uid_line.split_whitespace().skip(1).all(|u| u == host_base.to_string()), "{uid_line}");
    // The file the container created is owned by the mapped host uid.
    let md = fs::metadata(t.rootfs.join("tmp/owned")).unwrap();
    assert_eq!((md.uid(), md.gid()), (host_base, host_base));
    t.delete_force().ok();
    t.assert_no_leftovers();
}

fn clock_secs(s: &str) -> f64 {
    s.parse().unwrap()
}

fn host_clock(id: libc::clockid_t) -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid out pointer.
    unsafe { libc::clock_gettime(id, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

#[test]
fn time_namespace_offsets() {
    if !std::path::Path::new("/proc/self/ns/time").exists() {
        skip!("kernel has no time namespaces (/proc/self/ns/time missing)");
    }
    let mut t = TestEnv::new("time_namespace_offsets");
    let mono_off = 86400i64 * 3;
    let boot_off = 86400i64 * 7;
    t.set_namespace("time", None);
    t.config["linux"]["timeOffsets"] = serde_json::json!({
        "monotonic": {"secs": mono_off, "nanosecs": 0},
        "boottime": {"secs": boot_off, "nanosecs": 0}
    });
    t.args(&["/probe", "clock", "+", "ns"]);
    let before_m = host_clock(libc::CLOCK_MONOTONIC);
    let before_b = host_clock(libc::CLOCK_BOOTTIME);
    let o = t.run();
    let after_m = host_clock(libc::CLOCK_MONOTONIC);
    let after_b = host_clock(libc::CLOCK_BOOTTIME);
    if !o.success() && !t.is_berth() {
        // runc < 1.2 has no time namespace support ("unknown namespace").
        skip!("runtime does not support time namespaces: {}", o.stderr.trim());
    }
    o.ok();
    let f = o.facts();
    assert_ne!(f.get("ns.time"), host_ns("time"));
    let m = clock_secs(f.get("monotonic"));
    let b = clock_secs(f.get("boottime"));
    assert!(
        m >= before_m + mono_off as f64 && m <= after_m + mono_off as f64,
        "monotonic inside {m} not host [{before_m}, {after_m}] + {mono_off}"
    );
    assert!(
        b >= before_b + boot_off as f64 && b <= after_b + boot_off as f64,
        "boottime inside {b} not host [{before_b}, {after_b}] + {boot_off}"
    );
}
