//! Applying `linux.resources` of the runtime-spec to the container's cgroup, and
//! reading cgroup files back.
//!
//! [`Manager::apply`] writes what the spec asks, in runc's file formats and
//! order, to the cgroup made by [`Manager::create`] (which must run first):
//!
//! - **V1**: each controller's files in the v1 hierarchy that carries it, in the
//!   order of runc's `fs` manager (cpuset, devices, memory, cpu, pids, blkio,
//!   hugetlb, net_cls, net_prio, rdma).
//! - **V2**: the unified directory, in the order of runc's `fs2` manager (pids,
//!   memory, io, cpu, devices, cpuset, hugetlb, rdma, then `unified`). Before
//!   writing, `apply` enables the controllers the resources need in the
//!   `cgroup.subtree_control` of every ancestor, from the mount's root down to
//!   the container's parent (only the missing ones, only the needed ones:
//!   enabling is done lazily here, not in `create`, so a container without
//!   limits never needs delegated controllers). A controller missing from an
//!   ancestor's `cgroup.controllers` is an error that says where to enable it.
//! - **Hybrid**: as V1; a controller no v1 hierarchy carries is used from the
//!   cgroup2 hierarchy if that offers it, and `unified` keys go to the cgroup2
//!   directory when their controller is there (or for `cgroup.*` files).
//!
//! Values follow runc: 0 (or an absent field) leaves a setting alone, -1 means
//! unlimited (`max` on v2); `pids.limit <= 0` means `max`. Settings that one
//! version cannot express (swappiness, disableOOMKiller, realtime, leaf weights,
//! network on v2; `unified` on v1) are errors, never silently dropped, with one
//! exception: kernel memory limits (`memory.kernel`, `memory.kernelTCP`), which
//! runc ignores since 1.2 and recent kernels no longer have, are written on v1
//! where the files exist and otherwise (and on v2) skipped with a warning.
//!
//! Device rules: on v1 [`Manager::apply`] resets the devices cgroup to deny-all
//! and then writes the spec's rules in order (see [`Manager::apply_device_rules`]);
//! runc's default allowed devices are not added here, the caller passes them. On
//! v2 rules other than deny-all need an eBPF program, not implemented yet.

mod convert;
mod plan;
mod v1;
mod v2;

#[cfg(test)]
mod host_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_convert;
#[cfg(test)]
mod tests_v2;

use super::{fs, CgroupError, LayoutKind, Manager};
use oci_spec::runtime::{LinuxBlockIo, LinuxDeviceCgroup, LinuxRdma, LinuxResources, LinuxThrottleDevice};
use plan::{not_mounted, Ctl, Plan, Target};
use std::collections::HashMap;
use std::io;
use std::path::Path;

pub use convert::{blkio_weight_to_io_weight, memory_swap_to_v2, shares_to_weight};

impl Manager {
    /// Apply every resource in `r` to the container's cgroup (see the module docs
    /// for the rules); used at create, before the container's program runs, and by
    /// `berth update`, where only the fields given are changed. [`Manager::create`]
    /// must have run. Everything that can be checked without writing is checked
    /// first; a write the kernel refuses stops there, with the file and value in
    /// the error (earlier writes stay). `devices`, when given, resets the device
    /// rules (deny-all first), so `berth update` should leave it out, as
    /// `runc update` does.
    pub fn apply(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        let dirs = self.checked_dirs()?;
        validate(r)?;
        let unified_dir = dirs.iter().find(|d| d.is_v2);
        let unified_keys = sorted(r.unified());
        let Plan { steps, enable } = plan::plan(self, r, unified_dir, &unified_keys)?;
        let unified_target = unified_dir.filter(|_| !unified_keys.is_empty()).map(|d| d.path.as_path());
        let targets = steps.iter().map(|(_, t)| match t {
            Target::V1(dir) | Target::V2(dir) => *dir,
        });
        if let Some(missing) = targets.chain(unified_target).find(|d| !d.is_dir()) {
            return Err(CgroupError::NotCreated { path: missing.to_path_buf() });
        }
        if let (Some(d), false) = (unified_dir, enable.is_empty()) {
            v2::enable_controllers(&d.mount_point, &d.path, &enable)?;
        }
        for (ctl, target) in steps {
            match target {
                Target::V1(dir) => v1::apply(ctl, dir, r)?,
                Target::V2(dir) => v2::apply(ctl, dir, r)?,
            }
        }
        if let (Some(d), false) = (unified_dir, unified_keys.is_empty()) {
            v2::unified(&d.path, &unified_keys)?;
        }
        // On v2 the device rules are an eBPF program, not a file.
        if let (LayoutKind::V2, Some(d), Some(rules)) = (self.kind, unified_dir, r.devices()) {
            super::devices_bpf::apply(&d.path, rules)?;
        }
        tracing::debug!(path = ?self.container_path(), "cgroup resources applied");
        Ok(())
    }

    /// Write device rules to the v1 devices cgroup, exactly as given and in order:
    /// an allowing rule to `devices.allow` (`c 1:3 rwm`), a denying one to
    /// `devices.deny`; no type means `a`, no (or -1) major/minor means `*`, no
    /// access means `rwm`. [`Manager::apply`] writes a deny-all rule before the
    /// spec's rules.
    /// On v2 the rules are compiled to an eBPF program that replaces the one
    /// attached to the cgroup before (see `cgroups::devices_bpf`): they are then
    /// the whole policy, starting from deny-all, so `[]` denies every device.
    pub fn apply_device_rules(&self, rules: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
        self.checked_dirs()?;
        let writes = device_writes(rules)?;
        if self.kind == LayoutKind::V2 {
            let dir = self.unified_dir().ok_or_else(|| not_mounted(Ctl::Devices, self.kind))?;
            return super::devices_bpf::apply(dir, rules);
        }
        let dir = self.v1_dir("devices").ok_or_else(|| not_mounted(Ctl::Devices, self.kind))?;
        v1::write_device_rules(dir, &writes)
    }

    /// Read `file` of the container's cgroup from the directory of `controller`
    /// (`"memory"`, `"cpu"`: the v1 hierarchy carrying it, or the unified directory
    /// on V2; `"cgroup"` or `"unified"` name the cgroup2 directory on V2 and
    /// Hybrid). The text is returned as the kernel gives it (with its newline).
    pub fn read_file(&self, controller: &str, file: &str) -> Result<String, CgroupError> {
        if file.is_empty() || file.contains('/') || file == "." || file == ".." {
            let reason = "it must be the name of a file in the cgroup directory";
            return Err(CgroupError::InvalidPath { path: file.into(), reason });
        }
        let dir = match controller {
            "cgroup" | "unified" => self.unified_dir(),
            c => self.controller_dir(c),
        };
        let Some(dir) = dir else {
            return Err(CgroupError::ControllerUnavailable {
                what: format!("read {file}"),
                controller: controller.to_string(),
                reason: "the container's cgroup has no directory for it".into(),
                hint: match self.kind {
                    LayoutKind::V2 => "use the unified directory",
                    _ => "no cgroup v1 hierarchy carries it (see /proc/self/mountinfo)",
                }
                .into(),
            });
        };
        let path = dir.join(file);
        std::fs::read_to_string(&path).map_err(|source| CgroupError::Read { path, source })
    }

    /// The v1 hierarchy directory carrying `controller` (also on Hybrid).
    fn v1_dir(&self, controller: &str) -> Option<&Path> {
        self.dirs().iter().find(|d| !d.is_v2 && d.controllers.iter().any(|c| c == controller)).map(|d| d.path.as_path())
    }
}

/// Checks that need no host: ranges, names that become file names or values.
fn validate(r: &LinuxResources) -> Result<(), CgroupError> {
    let invalid = |field: &str, value: String, reason: &str| CgroupError::InvalidResource {
        field: field.to_string(),
        value,
        reason: reason.to_string(),
    };
    if let Some(m) = r.memory() {
        for (field, v) in [
            ("memory.limit", m.limit()),
            ("memory.reservation", m.reservation()),
            ("memory.swap", m.swap()),
            ("memory.kernel", m.kernel()),
            ("memory.kernelTCP", m.kernel_tcp()),
        ] {
            if let Some(v) = v.filter(|&v| v < -1) {
                return Err(invalid(field, v.to_string(), "-1 means unlimited; other negative values are invalid"));
            }
        }
        if let Some(s) = m.swappiness().filter(|&s| s > 100 && s != u64::MAX) {
            return Err(invalid("memory.swappiness", s.to_string(), "the valid range is 0-100"));
        }
        if let (Some(swap), Some(limit)) = (m.swap(), m.limit()) {
            if swap > 0 && limit > 0 && swap < limit {
                let reason = "memory+swap (memory.swap) must not be below memory.limit";
                return Err(invalid("memory.swap", swap.to_string(), reason));
            }
        }
    }
    for l in r.hugepage_limits().iter().flatten() {
        if !convert::valid_hugepage_size(l.page_size()) {
            let reason = "a page size is a number and KB, MB or GB, as in the kernel's hugetlb.<size>.* files";
            return Err(invalid("hugepageLimits.pageSize", format!("{:?}", l.page_size()), reason));
        }
    }
    for dev in r.rdma().iter().flat_map(|m| m.keys()) {
        if !convert::valid_word(dev) {
            return Err(invalid("rdma", format!("{dev:?}"), "a device name cannot be empty or contain white space"));
        }
    }
    for p in r.network().iter().flat_map(|n| n.priorities().iter().flatten()) {
        if !convert::valid_word(p.name()) {
            let reason = "an interface name cannot be empty or contain white space";
            return Err(invalid("network.priorities.name", format!("{:?}", p.name()), reason));
        }
    }
    for (key, value) in sorted(r.unified()) {
        unified_controller(key)?;
        if value.contains('\0') {
            return Err(invalid(&format!("unified[{key:?}]"), format!("{value:?}"), "a value cannot contain NUL"));
        }
    }
    if let Some(b) = r.block_io() {
        let weights = [("blockIO.weight", b.weight()), ("blockIO.leafWeight", b.leaf_weight())];
        let devices = b.weight_device().iter().flatten().flat_map(|wd| {
            [("blockIO.weightDevice.weight", wd.weight()), ("blockIO.weightDevice.leafWeight", wd.leaf_weight())]
        });
        for (field, w) in weights.into_iter().chain(devices) {
            if let Some(w) = w.filter(|w| !(1..=1000).contains(w) && *w != 0) {
                let reason = "the range is 10-1000 (1-1000 with the BFQ scheduler); 0 leaves it unchanged";
                return Err(invalid(field, w.to_string(), reason));
            }
        }
        for wd in b.weight_device().iter().flatten() {
            convert::dev_numbers("blockIO.weightDevice", wd.major(), wd.minor())?;
        }
        for (field, list) in throttles(b) {
            for td in list {
                convert::dev_numbers(field, td.major(), td.minor())?;
            }
        }
    }
    if let Some(rules) = r.devices() {
        device_writes(rules)?;
    }
    Ok(())
}

/// The blockIO throttle lists with their field names (read bps, write bps, read
/// IOPS, write IOPS).
fn throttles(b: &LinuxBlockIo) -> [(&'static str, &[LinuxThrottleDevice]); 4] {
    fn l(v: &Option<Vec<LinuxThrottleDevice>>) -> &[LinuxThrottleDevice] {
        v.as_deref().unwrap_or(&[])
    }
    [
        ("blockIO.throttleReadBpsDevice", l(b.throttle_read_bps_device())),
        ("blockIO.throttleWriteBpsDevice", l(b.throttle_write_bps_device())),
        ("blockIO.throttleReadIOPSDevice", l(b.throttle_read_iops_device())),
        ("blockIO.throttleWriteIOPSDevice", l(b.throttle_write_iops_device())),
    ]
}

/// The v1 writes for a list of device rules.
fn device_writes(rules: &[LinuxDeviceCgroup]) -> Result<Vec<(bool, String)>, CgroupError> {
    let mut out = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        out.extend(convert::device_rule_writes(i, rule)?);
    }
    Ok(out)
}

/// The controller part of a `unified` key, or why the key is refused.
fn unified_controller(key: &str) -> Result<&str, CgroupError> {
    convert::check_unified_key(key).map_err(|reason| CgroupError::InvalidResource {
        field: format!("unified[{key:?}]"),
        value: "...".into(),
        reason: reason.into(),
    })
}

/// A map's entries sorted by key (HashMap order is random; writes should not be).
fn sorted<V>(map: &Option<HashMap<String, V>>) -> Vec<(&str, &V)> {
    let mut v: Vec<(&str, &V)> = map.iter().flatten().map(|(k, v)| (k.as_str(), v)).collect();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v
}

/// Write `value` to `dir/file` (one write). A missing file in an existing
/// directory means the kernel lacks the feature: [`CgroupError::MissingFile`].
fn write(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    match fs::write(&path, value) {
        Ok(()) => {
            #[cfg(test)]
            tests::record(&path, value);
            Ok(())
        }
        Err(CgroupError::Write { source, .. }) if source.kind() == io::ErrorKind::NotFound && dir.is_dir() => {
            Err(CgroupError::MissingFile { value: value.to_string(), path, hint: missing_hint(file) })
        }
        Err(e) => Err(e),
    }
}

/// Whether the error is the kernel's EINVAL for a write.
fn is_einval(e: &CgroupError) -> bool {
    matches!(e, CgroupError::Write { source, .. } if source.raw_os_error() == Some(libc::EINVAL))
}

/// Read a file as a number; `max` reads as `u64::MAX`. `None` if it is missing.
fn read_u64(path: &Path) -> Result<Option<u64>, CgroupError> {
    let Some(text) = fs::read_opt(path)? else { return Ok(None) };
    let t = text.trim();
    if t == "max" {
        return Ok(Some(u64::MAX));
    }
    t.parse().map(Some).map_err(|_| CgroupError::Read {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidData, format!("not a number: {t:?}")),
    })
}

/// The white-space separated words of a file (`cgroup.controllers`); none if missing.
fn read_list(path: &Path) -> Result<Vec<String>, CgroupError> {
    Ok(fs::read_opt(path)?.map(|t| t.split_whitespace().map(str::to_string).collect()).unwrap_or_default())
}

/// `rdma.max` lines, the same on v1 and v2.
fn rdma(dir: &Path, map: &Option<HashMap<String, LinuxRdma>>) -> Result<(), CgroupError> {
    for (device, limits) in sorted(map) {
        if let Some(line) = convert::rdma_line(device, limits) {
            write(dir, "rdma.max", &line)?;
        }
    }
    Ok(())
}

/// Which kernel feature provides a resource file, for [`CgroupError::MissingFile`].
fn missing_hint(file: &str) -> &'static str {
    match file {
        f if f.starts_with("memory.memsw.") || f == "memory.swap.max" => {
            "swap accounting is off: the kernel lacks CONFIG_MEMCG_SWAP or was booted with swapaccount=0"
        }
        f if f.starts_with("memory.kmem.") => "this kernel has no kernel memory accounting limits",
        "cpu.cfs_burst_us" | "cpu.max.burst" => "CPU burst needs Linux 5.14 or later",
        "cpu.idle" => "cpu.idle needs Linux 5.15 or later",
        "cpu.rt_runtime_us" | "cpu.rt_period_us" => "the kernel is built without CONFIG_RT_GROUP_SCHED",
        "cpu.cfs_quota_us" | "cpu.cfs_period_us" | "cpu.max" => "the kernel is built without CONFIG_CFS_BANDWIDTH",
        "cpu.shares" | "cpu.weight" => "the kernel is built without CONFIG_FAIR_GROUP_SCHED",
        "blkio.leaf_weight" | "blkio.leaf_weight_device" | "blkio.weight_device" => {
            "leaf and per-device CFQ weights need the CFQ I/O scheduler, removed in Linux 5.0"
        }
        "blkio.weight" | "blkio.bfq.weight" | "blkio.bfq.weight_device" | "io.weight" | "io.bfq.weight" => {
            "I/O weights need the BFQ I/O scheduler (io.bfq.weight, blkio.bfq.weight) or io.cost (io.weight)"
        }
        f if f.starts_with("blkio.throttle.") || f == "io.max" => {
            "the kernel is built without CONFIG_BLK_DEV_THROTTLING"
        }
        f if f.starts_with("hugetlb.") => "this host has no huge pages of that size (see /sys/kernel/mm/hugepages)",
        _ => "the kernel does not provide this file (too old, or the feature is not built in)",
    }
}
