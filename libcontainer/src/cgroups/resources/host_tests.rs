//! `apply` on this machine's real cgroups. Each test creates `/berth-restest-*`
//! at the root of every hierarchy and removes it. They need root and a v1 or
//! hybrid layout with the controllers used, and skip with a message otherwise.

use super::tests::res;
use crate::cgroups::{read_self_cgroup, CgroupError, Layout, LayoutKind, Manager};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A created manager for a unique path, or why the test cannot run here.
fn host_manager(tag: &str, controllers: &[&str]) -> Result<Manager, String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("needs root to create cgroups".into());
    }
    let layout = Layout::detect().map_err(|e| format!("no usable cgroup layout: {e}"))?;
    if layout.kind() == LayoutKind::V2 {
        return Err("the host is cgroup v2 only; these tests check v1 files".into());
    }
    if let Some(c) = controllers.iter().find(|c| layout.v1(c).is_none()) {
        return Err(format!("no v1 {c} hierarchy"));
    }
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let path = PathBuf::from(format!("/berth-restest-{tag}-{}-{nanos}", std::process::id()));
    let own = read_self_cgroup().map_err(|e| e.to_string())?;
    let m = Manager::new(layout, Some(&path), "unused", &own).map_err(|e| e.to_string())?;
    Ok(m)
}

use crate::cgroups::host_tests::Cleanup;

fn read(m: &Manager, controller: &str, file: &str) -> String {
    m.read_file(controller, file).unwrap().trim().to_string()
}

#[test]
fn host_apply_and_read_back_v1() {
    let m = match host_manager("apply", &["memory", "pids", "cpu", "cpuset"]) {
        Ok(m) => m,
        Err(why) => return eprintln!("skipped: {why}"),
    };
    let _guard = Cleanup(&m, None);
    m.create().unwrap();
    // A CPU and a memory node the cgroup certainly has: the first of what create inherited.
    let cpus = read(&m, "cpuset", "cpuset.cpus");
    let cpu = cpus.split([',', '-']).next().unwrap().to_string();
    let mems = read(&m, "cpuset", "cpuset.mems");
    let mem = mems.split([',', '-']).next().unwrap().to_string();
    let blkio = m.controller_dir("blkio");
    let weight_file =
        ["blkio.weight", "blkio.bfq.weight"].into_iter().find(|f| blkio.is_some_and(|d| d.join(f).exists()));
    let weight = if weight_file.is_some() { r#", "blockIO": {"weight": 500}"# } else { "" };
    let r = res(&format!(
        r#"{{"memory": {{"limit": 67108864}}, "pids": {{"limit": 20}},
            "cpu": {{"shares": 512, "quota": 50000, "period": 100000, "cpus": "{cpu}", "mems": "{mem}"}}{weight}}}"#
    ));
    m.apply(&r).unwrap();
    assert_eq!(read(&m, "memory", "memory.limit_in_bytes"), "67108864");
    assert_eq!(read(&m, "pids", "pids.max"), "20");
    assert_eq!(read(&m, "cpu", "cpu.shares"), "512");
    assert_eq!(read(&m, "cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(read(&m, "cpu", "cpu.cfs_period_us"), "100000");
    assert_eq!(read(&m, "cpuset", "cpuset.cpus"), cpu);
    assert_eq!(read(&m, "cpuset", "cpuset.mems"), mem);
    match weight_file {
        // BFQ prints "default 500" on newer kernels, "500" on older ones.
        Some(f) => assert!(read(&m, "blkio", f).ends_with("500"), "{f}: {}", read(&m, "blkio", f)),
        None => eprintln!("note: no blkio weight file here; blockIO.weight not tested"),
    }

    // An update changes only what it names.
    m.apply(&res(r#"{"pids": {"limit": -1}, "memory": {"limit": 134217728}, "cpu": {"quota": -1}}"#)).unwrap();
    assert_eq!(read(&m, "pids", "pids.max"), "max");
    assert_eq!(read(&m, "memory", "memory.limit_in_bytes"), "134217728");
    assert_eq!(read(&m, "cpu", "cpu.cfs_quota_us"), "-1");
    assert_eq!(read(&m, "cpu", "cpu.shares"), "512");

    // The kernel's own refusal names the file and the value.
    let e = m.apply(&res(r#"{"cpu": {"cpus": "100000"}}"#)).unwrap_err();
    let msg = e.to_string();
    assert!(msg.starts_with("write \"100000\" to ") && msg.contains("cpuset.cpus"), "{msg}");
}

#[test]
fn host_memory_limit_below_usage_v1() {
    let m = match host_manager("busy", &["memory"]) {
        Ok(m) => m,
        Err(why) => return eprintln!("skipped: {why}"),
    };
    let swaps = std::fs::read_to_string("/proc/swaps").unwrap_or_default();
    if swaps.lines().count() > 1 {
        return eprintln!("skipped: swap is on, the kernel could reclaim the memory");
    }
    let mut guard = Cleanup(&m, None);
    m.create().unwrap();
    // A shell that joins, then holds 4 MB of its own memory (charged to the cgroup).
    let script = "read x; y=$(head -c 4000000 /dev/zero | tr '\\0' a); echo ready; read x";
    let mut sh = Command::new("sh").args(["-c", script]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let pid = sh.id() as i32;
    let mut stdin = sh.stdin.take().unwrap();
    let stdout = sh.stdout.take().unwrap();
    guard.1 = Some(sh);
    m.add_task(pid).unwrap();
    stdin.write_all(b"go\n").unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");

    let e = m.apply(&res(r#"{"memory": {"limit": 4096}}"#)).unwrap_err();
    let CgroupError::MemoryBelowUsage { usage, ref path, .. } = e else { panic!("{e}") };
    assert!(usage > 4096, "{e}");
    assert!(path.ends_with("memory.limit_in_bytes"));
    let msg = e.to_string();
    assert!(msg.starts_with("write \"4096\" to ") && msg.contains("Device or resource busy"), "{msg}");
    assert!(msg.contains("the limit is below what the cgroup uses"), "{msg}");
    // checkBeforeUpdate refuses without asking the kernel.
    let e = m.apply(&res(r#"{"memory": {"limit": 8192, "checkBeforeUpdate": true}}"#)).unwrap_err();
    assert!(matches!(e, CgroupError::LimitBelowUsage { .. }), "{e}");
    drop(stdin);
}

#[test]
fn host_devices_hugetlb_unified() {
    let m = match host_manager("dev", &["devices"]) {
        Ok(m) => m,
        Err(why) => return eprintln!("skipped: {why}"),
    };
    let _guard = Cleanup(&m, None);
    m.create().unwrap();
    let r = res(r#"{"devices": [{"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": true, "type": "c", "major": 136, "access": "rw"}]}"#);
    m.apply(&r).unwrap();
    assert_eq!(m.read_file("devices", "devices.list").unwrap(), "c 1:3 rwm\nc 136:* rw\n");

    let huge = m.controller_dir("hugetlb").filter(|d| d.join("hugetlb.2MB.limit_in_bytes").exists());
    if huge.is_some() {
        m.apply(&res(r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}"#)).unwrap();
        assert_eq!(read(&m, "hugetlb", "hugetlb.2MB.limit_in_bytes"), "4194304");
    } else {
        eprintln!("note: no 2MB hugetlb files here; hugepageLimits not tested");
    }

    if m.kind() == LayoutKind::Hybrid {
        m.apply(&res(r#"{"unified": {"cgroup.max.descendants": "5"}}"#)).unwrap();
        assert_eq!(read(&m, "cgroup", "cgroup.max.descendants"), "5");
        let e = m.apply(&res(r#"{"unified": {"memory.high": "5"}}"#)).unwrap_err();
        assert!(e.to_string().contains("cannot use unified (cgroup v2) resources on cgroup v1"), "{e}");
    }
}
