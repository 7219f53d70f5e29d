//! cgroup v2 files for `linux.resources`, in the formats and order of runc's
//! `libcontainer/cgroups/fs2` (memory.go, cpu.go, io.go, pids.go, cpuset.go,
//! hugetlb.go, fs2.go's `setUnified`, create.go's controller enabling).

use super::{convert, is_einval, rdma, read_list, read_u64, throttles, write, Ctl};
use crate::cgroups::{fs, CgroupError};
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxDeviceCgroup, LinuxHugepageLimit, LinuxMemory, LinuxResources};
use std::path::{Path, PathBuf};

const SUBTREE: &str = "cgroup.subtree_control";
const CONTROLLERS: &str = "cgroup.controllers";

/// Refuse what `r` asks of `ctl` that cgroup v2 cannot do, before anything is
/// written.
pub(super) fn check(ctl: Ctl, r: &LinuxResources) -> Result<(), CgroupError> {
    let unsupported = |what: &str, why: &str| {
        Err(CgroupError::Unsupported(format!(
            "linux.resources.{what} on cgroup v2, which {why} (remove it from the config)"
        )))
    };
    match ctl {
        Ctl::Memory => {
            let Some(m) = r.memory() else { return Ok(()) };
            if let Some(s) = m.swappiness().filter(|&s| s != u64::MAX) {
                return unsupported(&format!("memory.swappiness = {s}"), "has no per-cgroup swappiness");
            }
            if m.disable_oom_killer() == Some(true) {
                return unsupported("memory.disableOOMKiller", "cannot turn the OOM killer off for a cgroup");
            }
            if m.use_hierarchy() == Some(false) {
                return unsupported("memory.useHierarchy = false", "is always hierarchical");
            }
            let swap = m.swap().unwrap_or(0);
            convert::memory_swap_to_v2(swap, m.limit().unwrap_or(0)).map_err(|reason| {
                CgroupError::InvalidResource {
                    field: "memory.swap".into(),
                    value: swap.to_string(),
                    reason: reason.into(),
                }
            })?;
        }
        Ctl::Cpu => {
            let Some(c) = r.cpu() else { return Ok(()) };
            if c.realtime_runtime().is_some_and(|v| v != 0) || c.realtime_period().is_some_and(|v| v != 0) {
                return unsupported("cpu.realtimeRuntime/realtimePeriod", "has no real-time group scheduling");
            }
            weight(c.shares().unwrap_or(0))?;
        }
        Ctl::Io => {
            let Some(b) = r.block_io() else { return Ok(()) };
            let leaf = b.weight_device().iter().flatten().any(|wd| wd.leaf_weight().is_some_and(|w| w != 0));
            if leaf || b.leaf_weight().is_some_and(|w| w != 0) {
                return unsupported(
                    "blockIO.leafWeight",
                    "has no leaf weights (a feature of the removed CFQ scheduler)",
                );
            }
        }
        Ctl::NetCls | Ctl::NetPrio if ctl.wanted(r, false) => {
            return unsupported(
                "network",
                "has no net_cls or net_prio controller (classify traffic with eBPF or tc instead)",
            );
        }
        Ctl::Devices => return check_devices(r.devices().as_deref().unwrap_or(&[])),
        _ => {}
    }
    Ok(())
}

/// Device rules on v2 become an eBPF program (`apply_device_rules`); here they are only
/// checked, by compiling them, so that a rule the filter can't express fails early.
pub(super) fn check_devices(rules: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
    crate::cgroups::devices_bpf::Filter::compile(rules).map(|_| ())
}

fn weight(shares: u64) -> Result<u64, CgroupError> {
    convert::shares_to_weight(shares).ok_or_else(|| {
        let (lo, hi) = convert::SHARES_RANGE;
        CgroupError::InvalidResource {
            field: "cpu.shares".into(),
            value: shares.to_string(),
            reason: format!("only {lo}-{hi} (the cgroup v1 range) converts to cpu.weight"),
        }
    })
}

fn io_weight(field: &str, w: u16) -> Result<u64, CgroupError> {
    convert::blkio_weight_to_io_weight(w).ok_or_else(|| {
        let (lo, hi) = convert::BLKIO_WEIGHT_RANGE;
        CgroupError::InvalidResource {
            field: field.into(),
            value: w.to_string(),
            reason: format!("only {lo}-{hi} (the blkio range) converts to io.weight (io.bfq.weight is absent)"),
        }
    })
}

/// Enable `needed` controllers for the container's cgroup `dir`: in the
/// `cgroup.subtree_control` of every ancestor from `mount_point` down to the
/// parent, write the ones not yet enabled there (`+memory +pids`). Each must be
/// in that level's `cgroup.controllers` (below the mount's root, that is the
/// parent's `cgroup.subtree_control`, so one enabled a level up counts), or the
/// error says where to enable it; every level is checked before the first write.
pub(super) fn enable_controllers(mount_point: &Path, dir: &Path, needed: &[String]) -> Result<(), CgroupError> {
    let mut chain = vec![mount_point.to_path_buf()];
    chain.extend(fs::levels(mount_point, dir));
    chain.pop();
    let mut writes = Vec::new();
    let mut enabled_above: Vec<&String> = Vec::new();
    for (i, level) in chain.iter().enumerate() {
        let enabled = read_list(&level.join(SUBTREE))?;
        let missing: Vec<&String> = needed.iter().filter(|c| !enabled.contains(c)).collect();
        if !missing.is_empty() {
            let path = level.join(CONTROLLERS);
            let available = std::fs::read_to_string(&path).map_err(|source| CgroupError::Read { path, source })?;
            let available: Vec<&str> = available.split_whitespace().collect();
            if let Some(c) = missing.iter().find(|c| !available.contains(&c.as_str()) && !enabled_above.contains(c)) {
                return Err(not_delegated(c, level, i.checked_sub(1).map(|p| &chain[p]), &available));
            }
            writes.push((level, missing.iter().map(|c| format!("+{c}")).collect::<Vec<_>>().join(" ")));
        }
        enabled_above = missing;
    }
    for (level, value) in writes {
        write(level, SUBTREE, &value)?;
    }
    Ok(())
}

fn not_delegated(controller: &str, level: &Path, parent: Option<&PathBuf>, available: &[&str]) -> CgroupError {
    let hint = match parent {
        Some(p) => format!(
            "enable it for the children of {p:?} by writing \"+{controller}\" to {:?} (it must be in that \
             cgroup's own cgroup.controllers), or have whoever manages {p:?} delegate it",
            p.join(SUBTREE)
        ),
        None => format!(
            "{level:?} is the root of the cgroup2 mount and does not offer it: the kernel lacks the controller, a \
             cgroup v1 hierarchy holds it, or it is not delegated to this cgroup namespace"
        ),
    };
    CgroupError::ControllerUnavailable {
        what: "enable the controllers the resources need".into(),
        controller: controller.to_string(),
        reason: format!("{:?} lists only {:?}", level.join(CONTROLLERS), available.join(" ")),
        hint,
    }
}

/// Write what `r` has for `ctl` into the container's cgroup v2 directory `dir`.
pub(super) fn apply(ctl: Ctl, dir: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    match ctl {
        Ctl::Pids => r.pids().map_or(Ok(()), |p| write(dir, "pids.max", &convert::pids_max(p.limit()))),
        Ctl::Memory => r.memory().as_ref().map_or(Ok(()), |m| memory(dir, m)),
        Ctl::Io => r.block_io().as_ref().map_or(Ok(()), |b| io(dir, b)),
        Ctl::Cpu => r.cpu().as_ref().map_or(Ok(()), |c| cpu(dir, c)),
        Ctl::Cpuset => {
            let Some(c) = r.cpu() else { return Ok(()) };
            for (file, value) in [("cpuset.cpus", c.cpus()), ("cpuset.mems", c.mems())] {
                if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                    write(dir, file, v)?;
                }
            }
            Ok(())
        }
        Ctl::Hugetlb => hugetlb(dir, r.hugepage_limits().as_deref().unwrap_or(&[])),
        Ctl::Rdma => rdma(dir, r.rdma()),
        // Checked (and refused where they ask for anything) in `check`.
        Ctl::Devices | Ctl::NetCls | Ctl::NetPrio => Ok(()),
    }
}

/// runc's fs2 `setMemory`: `memory.swap.max` (converted from memory+swap) before
/// `memory.max`, then `memory.low` for the reservation.
fn memory(dir: &Path, m: &LinuxMemory) -> Result<(), CgroupError> {
    let (limit, swap) = (m.limit().unwrap_or(0), m.swap().unwrap_or(0));
    if m.check_before_update() == Some(true) && (limit > 0 || swap > 0) {
        let path = dir.join("memory.current");
        if let Some(usage) = read_u64(&path)? {
            for (what, l) in [("memory+swap", swap), ("memory", limit)] {
                if l > 0 && l as u64 <= usage {
                    return Err(CgroupError::LimitBelowUsage { what, limit: l, usage, path });
                }
            }
        }
    }
    let swap_v2 = convert::memory_swap_to_v2(swap, limit).map_err(|reason| CgroupError::InvalidResource {
        field: "memory.swap".into(),
        value: swap.to_string(),
        reason: reason.into(),
    })?;
    // memory+swap equal to memory: no swap at all ("0", never an empty write).
    let swap_text = convert::v2_limit(swap_v2).or_else(|| (swap > 0).then(|| "0".to_string()));
    if let Some(text) = swap_text {
        match write(dir, "memory.swap.max", &text) {
            // No swap accounting: nothing to lift; and without it no swap can be limited.
            Err(CgroupError::MissingFile { .. }) if text == "max" => {}
            Err(CgroupError::MissingFile { path, .. }) if text == "0" => {
                tracing::warn!("cannot forbid swap: {path:?} does not exist (swap accounting is off)");
            }
            other => other?,
        }
    }
    if let Some(v) = convert::v2_limit(limit) {
        write(dir, "memory.max", &v)?;
    }
    if m.kernel().is_some_and(|v| v != 0) || m.kernel_tcp().is_some_and(|v| v != 0) {
        tracing::warn!("kernel memory limits (memory.kernel, memory.kernelTCP) are ignored on cgroup v2, as runc does");
    }
    if let Some(v) = convert::v2_limit(m.reservation().unwrap_or(0)) {
        write(dir, "memory.low", &v)?;
    }
    Ok(())
}

/// runc's fs2 `setCPU`: `cpu.idle`, `cpu.weight` (from shares), `cpu.max.burst`
/// (retried after `cpu.max` if the old quota made the kernel refuse it), `cpu.max`.
fn cpu(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(idle) = c.idle() {
        write(dir, "cpu.idle", &idle.to_string())?;
    }
    let w = weight(c.shares().unwrap_or(0))?;
    if w != 0 {
        write(dir, "cpu.weight", &w.to_string())?;
    }
    let (quota, period) = (c.quota().filter(|&q| q != 0), c.period().filter(|&p| p != 0));
    let mut burst_later = None;
    if let Some(b) = c.burst() {
        match write(dir, "cpu.max.burst", &b.to_string()) {
            Err(e) if is_einval(&e) && quota.is_some() => burst_later = Some(b),
            Err(CgroupError::MissingFile { .. }) if b == 0 => {}
            other => other?,
        }
    }
    let current = match (quota, period) {
        (None, Some(_)) => fs::read_opt(&dir.join("cpu.max"))?,
        _ => None,
    };
    if let Some(max) = convert::cpu_max(quota, period, current.as_deref()) {
        write(dir, "cpu.max", &max)?;
        if let Some(b) = burst_later {
            write(dir, "cpu.max.burst", &b.to_string())?;
        }
    }
    Ok(())
}

/// runc's fs2 `setIo`: the weight goes to `io.bfq.weight` unchanged when BFQ is
/// there, else converted to `io.weight`; per-device weights to `io.bfq.weight`
/// when it takes them (Linux 5.4+: it reads back as `default N` lines), else
/// converted to `io.weight` (runc drops them); throttles to `io.max` as
/// `MAJ:MIN rbps=N` (rate 0 is written as `max`, removing the limit as 0 does
/// on v1; runc skips it).
fn io(dir: &Path, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    let bfq = fs::read_opt(&dir.join("io.bfq.weight"))?;
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        match bfq {
            Some(_) => write(dir, "io.bfq.weight", &w.to_string())?,
            None => write(dir, "io.weight", &io_weight("blockIO.weight", w)?.to_string())?,
        }
    }
    let bfq_per_device = bfq.as_deref().is_some_and(|t| t.trim().parse::<u64>().is_err());
    for wd in b.weight_device().iter().flatten() {
        let dev = convert::dev_numbers("blockIO.weightDevice", wd.major(), wd.minor())?;
        if let Some(w) = wd.weight().filter(|&w| w != 0) {
            if bfq_per_device {
                write(dir, "io.bfq.weight", &format!("{dev} {w}"))?;
            } else {
                write(dir, "io.weight", &format!("{dev} {}", io_weight("blockIO.weightDevice.weight", w)?))?;
            }
        }
    }
    for ((field, list), key) in throttles(b).into_iter().zip(["rbps", "wbps", "riops", "wiops"]) {
        for td in list {
            let dev = convert::dev_numbers(field, td.major(), td.minor())?;
            let rate = if td.rate() == 0 { "max".to_string() } else { td.rate().to_string() };
            write(dir, "io.max", &format!("{dev} {key}={rate}"))?;
        }
    }
    Ok(())
}

/// `hugetlb.<size>.max` (`max` for a negative limit) and `.rsvd.max` where the
/// kernel has reservations, as runc does.
fn hugetlb(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    let mut rsvd = true;
    for l in limits {
        let value = if l.limit() < 0 { "max".to_string() } else { l.limit().to_string() };
        write(dir, &format!("hugetlb.{}.max", l.page_size()), &value)?;
        if rsvd {
            match write(dir, &format!("hugetlb.{}.rsvd.max", l.page_size()), &value) {
                Err(CgroupError::MissingFile { .. }) => rsvd = false,
                other => other?,
            }
        }
    }
    Ok(())
}

/// runc's `setUnified`: each key is a file of the container's cgroup; each line
/// of the value is written separately.
pub(super) fn unified(dir: &Path, keys: &[(&str, &String)]) -> Result<(), CgroupError> {
    for (key, value) in keys {
        let mut lines: Vec<&str> = value.split('\n').filter(|l| !l.is_empty()).collect();
        if lines.is_empty() {
            lines.push("");
        }
        for line in lines {
            match write(dir, key, line) {
                Err(CgroupError::MissingFile { value, path, .. }) => {
                    return Err(CgroupError::MissingFile {
                        value,
                        path,
                        hint: "a unified key must name a file of the container's cgroup v2 directory; this kernel has \
                               no such file, or its controller is not enabled",
                    })
                }
                other => other?,
            }
        }
    }
    Ok(())
}
