//! cgroup v1 files for `linux.resources`, in the formats and order of runc's
//! `libcontainer/cgroups/fs` (memory.go, cpu.go, cpuset.go, pids.go, blkio.go,
//! hugetlb.go, net_cls.go, net_prio.go, rdma.go, devices).

use super::{convert, is_einval, rdma, read_u64, throttles, write, Ctl};
use crate::cgroups::CgroupError;
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxHugepageLimit, LinuxMemory, LinuxResources};
use std::path::Path;

const LIMIT: &str = "memory.limit_in_bytes";
const MEMSW: &str = "memory.memsw.limit_in_bytes";

/// Write what `r` has for `ctl` into its v1 hierarchy directory `dir`.
pub(super) fn apply(ctl: Ctl, dir: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    match ctl {
        Ctl::Cpuset => r.cpu().as_ref().map_or(Ok(()), |c| cpuset(dir, c)),
        Ctl::Devices => {
            // runc's target state always starts from deny-all (its emulator
            // defaults to a white-list), whatever the spec's first rule is.
            let mut writes = vec![(false, "a *:* rwm".to_string())];
            writes.extend(super::device_writes(r.devices().as_deref().unwrap_or(&[]))?);
            write_device_rules(dir, &writes)
        }
        Ctl::Memory => r.memory().as_ref().map_or(Ok(()), |m| memory(dir, m)),
        Ctl::Cpu => r.cpu().as_ref().map_or(Ok(()), |c| cpu(dir, c)),
        Ctl::Pids => r.pids().map_or(Ok(()), |p| write(dir, "pids.max", &convert::pids_max(p.limit()))),
        Ctl::Io => r.block_io().as_ref().map_or(Ok(()), |b| blkio(dir, b)),
        Ctl::Hugetlb => hugetlb(dir, r.hugepage_limits().as_deref().unwrap_or(&[])),
        Ctl::NetCls => match r.network().as_ref().and_then(|n| n.class_id()) {
            Some(id) => write(dir, "net_cls.classid", &id.to_string()),
            None => Ok(()),
        },
        Ctl::NetPrio => {
            for p in r.network().as_ref().and_then(|n| n.priorities().as_ref()).into_iter().flatten() {
                write(dir, "net_prio.ifpriomap", &format!("{} {}", p.name(), p.priority()))?;
            }
            Ok(())
        }
        Ctl::Rdma => rdma(dir, r.rdma()),
    }
}

/// Device rule writes, in order: `(true, rule)` to `devices.allow`, else `devices.deny`.
pub(super) fn write_device_rules(dir: &Path, writes: &[(bool, String)]) -> Result<(), CgroupError> {
    for (allow, rule) in writes {
        write(dir, if *allow { "devices.allow" } else { "devices.deny" }, rule)?;
    }
    Ok(())
}

fn memory(dir: &Path, m: &LinuxMemory) -> Result<(), CgroupError> {
    if let Some(h) = m.use_hierarchy() {
        write(dir, "memory.use_hierarchy", if h { "1" } else { "0" })?;
    }
    let (limit, swap) = (m.limit().unwrap_or(0), m.swap().unwrap_or(0));
    if m.check_before_update() == Some(true) {
        check_usage(dir, "memory", limit, "memory.usage_in_bytes")?;
        check_usage(dir, "memory+swap", swap, "memory.memsw.usage_in_bytes")?;
    }
    memory_and_swap(dir, limit, swap)?;
    for (value, file) in
        [(m.kernel(), "memory.kmem.limit_in_bytes"), (m.kernel_tcp(), "memory.kmem.tcp.limit_in_bytes")]
    {
        match value.filter(|&v| v != 0) {
            Some(v) if dir.join(file).exists() => write(dir, file, &v.to_string())?,
            Some(v) => tracing::warn!("kernel memory limit {v} ignored: this kernel has no {file} (as runc does)"),
            None => {}
        }
    }
    if let Some(v) = m.reservation().filter(|&v| v != 0) {
        write(dir, "memory.soft_limit_in_bytes", &v.to_string())?;
    }
    if let Some(disable) = m.disable_oom_killer() {
        write(dir, "memory.oom_control", if disable { "1" } else { "0" })?;
    }
    if let Some(s) = m.swappiness().filter(|&s| s != u64::MAX) {
        write(dir, "memory.swappiness", &s.to_string())?;
    }
    Ok(())
}

/// `memory.checkBeforeUpdate`: refuse a positive limit not above the usage.
fn check_usage(dir: &Path, what: &'static str, limit: i64, usage_file: &str) -> Result<(), CgroupError> {
    if limit <= 0 {
        return Ok(());
    }
    let path = dir.join(usage_file);
    match read_u64(&path)? {
        Some(usage) if limit as u64 <= usage => Err(CgroupError::LimitBelowUsage { what, limit, usage, path }),
        _ => Ok(()),
    }
}

/// runc's `setMemoryAndSwap`: the kernel wants memory <= memory+swap at every
/// moment, so when memory+swap grows past the current memory limit (or becomes
/// unlimited) it is written first, otherwise last. Unlimited memory without a
/// swap value also makes memory+swap unlimited (where swap accounting exists).
fn memory_and_swap(dir: &Path, limit: i64, mut swap: i64) -> Result<(), CgroupError> {
    if limit == -1 && swap == 0 && dir.join(MEMSW).exists() {
        swap = -1;
    }
    if limit != 0 && swap != 0 {
        let path = dir.join(LIMIT);
        let current = read_u64(&path)?.ok_or_else(|| CgroupError::MissingFile {
            value: limit.to_string(),
            path,
            hint: "is the memory controller mounted here?",
        })?;
        if swap == -1 || current < swap as u64 {
            set_limit(dir, MEMSW, swap, "memory.memsw.usage_in_bytes", "memory.memsw.max_usage_in_bytes")?;
            return set_limit(dir, LIMIT, limit, "memory.usage_in_bytes", "memory.max_usage_in_bytes");
        }
    }
    set_limit(dir, LIMIT, limit, "memory.usage_in_bytes", "memory.max_usage_in_bytes")?;
    set_limit(dir, MEMSW, swap, "memory.memsw.usage_in_bytes", "memory.memsw.max_usage_in_bytes")
}

/// Write a memory limit (0: leave alone). EBUSY means the usage is above it and
/// could not be reclaimed: say how much is used.
fn set_limit(dir: &Path, file: &str, value: i64, usage: &str, peak: &str) -> Result<(), CgroupError> {
    if value == 0 {
        return Ok(());
    }
    match write(dir, file, &value.to_string()) {
        Err(CgroupError::Write { value, path, source }) if source.raw_os_error() == Some(libc::EBUSY) => {
            match read_u64(&dir.join(usage)) {
                Ok(Some(used)) => {
                    let peak = read_u64(&dir.join(peak)).ok().flatten();
                    Err(CgroupError::MemoryBelowUsage { value, path, usage: used, peak, source })
                }
                _ => Err(CgroupError::Write { value, path, source }),
            }
        }
        other => other,
    }
}

/// runc's `CpuGroup.Set`: shares (checked against what the kernel kept), then
/// period, burst, quota (a period or burst the kernel refuses with EINVAL because
/// of the old quota is retried after the quota), idle, then the realtime pair.
fn cpu(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(shares) = c.shares().filter(|&s| s != 0) {
        write(dir, "cpu.shares", &shares.to_string())?;
        let kept = read_u64(&dir.join("cpu.shares"))?;
        if let Some(kept) = kept.filter(|&k| k != shares) {
            let (lo, hi) = convert::SHARES_RANGE;
            return Err(CgroupError::InvalidResource {
                field: "cpu.shares".into(),
                value: shares.to_string(),
                reason: format!("the kernel set {kept} instead: the allowed range is {lo}-{hi}"),
            });
        }
    }
    let quota = c.quota().filter(|&q| q != 0);
    let mut retry: Vec<(&str, String)> = Vec::new();
    let later = [("cpu.cfs_period_us", c.period().filter(|&p| p != 0)), ("cpu.cfs_burst_us", c.burst())];
    for (file, value) in later {
        let Some(v) = value else { continue };
        match write(dir, file, &v.to_string()) {
            Err(e) if is_einval(&e) && quota.is_some() => retry.push((file, v.to_string())),
            // No burst knob (Linux < 5.14): a burst of 0 is what the kernel does anyway.
            Err(CgroupError::MissingFile { .. }) if file == "cpu.cfs_burst_us" && v == 0 => {}
            other => other?,
        }
    }
    if let Some(q) = quota {
        write(dir, "cpu.cfs_quota_us", &q.to_string())?;
        for (file, value) in &retry {
            write(dir, file, value)?;
        }
    }
    if let Some(idle) = c.idle() {
        write(dir, "cpu.idle", &idle.to_string())?;
    }
    let runtime = c.realtime_runtime().filter(|&r| r != 0);
    let mut rt_period = None;
    if let Some(p) = c.realtime_period().filter(|&p| p != 0) {
        match write(dir, "cpu.rt_period_us", &p.to_string()) {
            Err(e) if is_einval(&e) && runtime.is_some() => rt_period = Some(p),
            other => other?,
        }
    }
    if let Some(rt) = runtime {
        write(dir, "cpu.rt_runtime_us", &rt.to_string())?;
        if let Some(p) = rt_period {
            write(dir, "cpu.rt_period_us", &p.to_string())?;
        }
    }
    Ok(())
}

/// `cpuset.cpus` then `cpuset.mems` (`cpus`, `mems` on a `noprefix` mount).
fn cpuset(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    let prefix = if !dir.join("cpuset.cpus").exists() && dir.join("cpus").exists() { "" } else { "cpuset." };
    for (name, value) in [("cpus", c.cpus()), ("mems", c.mems())] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            write(dir, &format!("{prefix}{name}"), v)?;
        }
    }
    Ok(())
}

/// runc's `BlkioGroup.Set`: `blkio.weight` where it exists (CFQ), else the BFQ
/// files; per-device lines `MAJ:MIN VALUE`; throttle lines even with rate 0
/// (which removes a limit on v1).
fn blkio(dir: &Path, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    let (weight_file, device_file) = if dir.join("blkio.weight").exists() {
        ("blkio.weight", "blkio.weight_device")
    } else {
        ("blkio.bfq.weight", "blkio.bfq.weight_device")
    };
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        write(dir, weight_file, &w.to_string())?;
    }
    if let Some(w) = b.leaf_weight().filter(|&w| w != 0) {
        write(dir, "blkio.leaf_weight", &w.to_string())?;
    }
    for wd in b.weight_device().iter().flatten() {
        let dev = convert::dev_numbers("blockIO.weightDevice", wd.major(), wd.minor())?;
        if let Some(w) = wd.weight().filter(|&w| w != 0) {
            write(dir, device_file, &format!("{dev} {w}"))?;
        }
        if let Some(w) = wd.leaf_weight().filter(|&w| w != 0) {
            write(dir, "blkio.leaf_weight_device", &format!("{dev} {w}"))?;
        }
    }
    let files = [
        "blkio.throttle.read_bps_device",
        "blkio.throttle.write_bps_device",
        "blkio.throttle.read_iops_device",
        "blkio.throttle.write_iops_device",
    ];
    for ((field, list), file) in throttles(b).into_iter().zip(files) {
        for td in list {
            let dev = convert::dev_numbers(field, td.major(), td.minor())?;
            write(dir, file, &format!("{dev} {}", td.rate()))?;
        }
    }
    Ok(())
}

/// `hugetlb.<size>.limit_in_bytes` (-1 for a negative limit: unlimited), and the
/// same for reservations (`.rsvd.`) where the kernel has them (Linux 5.7+), as
/// runc does.
fn hugetlb(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    let mut rsvd = true;
    for l in limits {
        let value = if l.limit() < 0 { "-1".to_string() } else { l.limit().to_string() };
        write(dir, &format!("hugetlb.{}.limit_in_bytes", l.page_size()), &value)?;
        if rsvd {
            match write(dir, &format!("hugetlb.{}.rsvd.limit_in_bytes", l.page_size()), &value) {
                Err(CgroupError::MissingFile { .. }) => rsvd = false,
                other => other?,
            }
        }
    }
    Ok(())
}
