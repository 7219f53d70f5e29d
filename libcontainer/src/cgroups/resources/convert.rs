//! Pure conversions and formatting: from `linux.resources` values (which the
//! runtime-spec defines in cgroup v1 terms) to what the v1 and v2 files take.
//! Nothing here touches the file system.

use super::super::CgroupError;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxRdma};

/// The cgroup v1 range of `cpu.shares` (the kernel's `MIN_SHARES`, `MAX_SHARES`).
pub const SHARES_RANGE: (u64, u64) = (2, 262_144);
/// The cgroup v1 (CFQ) range of `blkio.weight`.
pub const BLKIO_WEIGHT_RANGE: (u16, u16) = (10, 1000);

/// `cpu.shares` (v1) to `cpu.weight` (v2), the linear map runc uses
/// (`ConvertCPUSharesToCgroupV2Value`): `1 + (shares - 2) * 9999 / 262142`, so
/// 2 → 1, 1024 → 39, 262144 → 10000. 0 means unset and stays 0; other values
/// outside 2-262144 (where the formula would leave 1-10000) give `None`.
pub fn shares_to_weight(shares: u64) -> Option<u64> {
    match shares {
        0 => Some(0),
        s if (SHARES_RANGE.0..=SHARES_RANGE.1).contains(&s) => Some(1 + (s - 2) * 9999 / 262_142),
        _ => None,
    }
}

/// `blkio.weight` (v1, 10-1000) to `io.weight` (v2, 1-10000), runc's
/// `ConvertBlkIOToIOWeightValue`: `1 + (weight - 10) * 9999 / 990`, so 10 → 1,
/// 500 → 4950, 1000 → 10000. 0 means unset and stays 0; other values outside
/// 10-1000 give `None`.
pub fn blkio_weight_to_io_weight(weight: u16) -> Option<u64> {
    match weight {
        0 => Some(0),
        w if (BLKIO_WEIGHT_RANGE.0..=BLKIO_WEIGHT_RANGE.1).contains(&w) => Some(1 + (u64::from(w) - 10) * 9999 / 990),
        _ => None,
    }
}

/// `memory.swap` of the spec (memory+swap, the v1 `memory.memsw.limit_in_bytes`)
/// to the v2 `memory.swap.max` (swap alone), runc's
/// `ConvertMemorySwapToCgroupV2Value`. 0 = leave alone, -1 = unlimited.
pub fn memory_swap_to_v2(swap: i64, memory: i64) -> Result<i64, &'static str> {
    match (swap, memory) {
        // Unlimited memory and no swap given: unlimited swap too (as v1 does).
        (0, -1) => Ok(-1),
        (-1 | 0, _) => Ok(swap),
        (_, -1) => Ok(swap),
        (_, 0) => Err("a memory+swap limit needs a memory limit (linux.resources.memory.limit) to subtract"),
        (_, m) if m < 0 => Err("the memory limit is negative"),
        (s, m) if s < m => Err("memory+swap must not be below the memory limit"),
        (s, m) => Ok(s - m),
    }
}

/// A v2 limit file value (`memory.max`, `memory.low`, `pids.max` style): `None`
/// for 0 (unset: leave the file alone), `max` for a negative value, else the number.
pub fn v2_limit(value: i64) -> Option<String> {
    match value {
        0 => None,
        v if v < 0 => Some("max".to_string()),
        v => Some(v.to_string()),
    }
}

/// The `pids.max` value (both versions): the number, or `max` for `<= 0`.
pub fn pids_max(limit: i64) -> String {
    if limit > 0 {
        limit.to_string()
    } else {
        "max".to_string()
    }
}

/// The v2 `cpu.max` value: `"$QUOTA $PERIOD"`, `"max $PERIOD"`, or `"$QUOTA"` alone
/// (the kernel keeps the period). `quota` 0 or `None` means not given: with a
/// period, the quota stays what `current` (the file's present text) says, so
/// changing only the period does not drop a quota. `None` when neither is given.
pub fn cpu_max(quota: Option<i64>, period: Option<u64>, current: Option<&str>) -> Option<String> {
    let quota = quota.filter(|&q| q != 0);
    let period = period.filter(|&p| p != 0);
    let quota_text = match quota {
        Some(q) if q > 0 => q.to_string(),
        Some(_) => "max".to_string(),
        None if period.is_some() => current.and_then(|c| c.split_whitespace().next()).unwrap_or("max").to_string(),
        None => return None,
    };
    Some(match period {
        Some(p) => format!("{quota_text} {p}"),
        None => quota_text,
    })
}

/// Whether `size` looks like a huge page size in the kernel's file names
/// (`2MB`, `1GB`, `64KB`); it becomes part of a file name, so nothing else passes.
pub fn valid_hugepage_size(size: &str) -> bool {
    let num = ["KB", "MB", "GB"].iter().find_map(|unit| size.strip_suffix(unit));
    num.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A name that goes into a file value with a space after it (an RDMA device, a
/// network interface): non-empty, no white space or control characters.
pub fn valid_word(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A `unified` key: a plain cgroup file name of the form `controller.parameter`.
pub fn check_unified_key(key: &str) -> Result<&str, &'static str> {
    if key.contains('/') || key == "." || key == ".." || key.contains('\0') {
        return Err("it must be a file name in the cgroup directory (no '/', not '.' or '..')");
    }
    match key.split_once('.') {
        Some((controller, param)) if !controller.is_empty() && !param.is_empty() => Ok(controller),
        _ => Err("it must have the form CONTROLLER.PARAMETER, e.g. memory.high"),
    }
}

/// The rdma.max line for a device: `mlx4_0 hca_handle=2 hca_object=2000`; `None`
/// when neither limit is given.
pub fn rdma_line(device: &str, limits: &LinuxRdma) -> Option<String> {
    let mut line = device.to_string();
    if let Some(h) = limits.hca_handles() {
        line += &format!(" hca_handle={h}");
    }
    if let Some(o) = limits.hca_objects() {
        line += &format!(" hca_object={o}");
    }
    (line.len() > device.len()).then_some(line)
}

/// `MAJ:MIN`, refusing negative numbers (they would be written as such).
pub fn dev_numbers(field: &str, major: i64, minor: i64) -> Result<String, CgroupError> {
    if major < 0 || minor < 0 {
        return Err(CgroupError::InvalidResource {
            field: field.to_string(),
            value: format!("{major}:{minor}"),
            reason: "device numbers cannot be negative".into(),
        });
    }
    Ok(format!("{major}:{minor}"))
}

/// A major or minor of a device rule: `*` for none or -1 (runc's wildcard).
fn rule_number(n: Option<i64>) -> Result<String, ()> {
    match n {
        None | Some(-1) => Ok("*".into()),
        Some(v) if v >= 0 => Ok(v.to_string()),
        Some(_) => Err(()),
    }
}

/// The cgroup v1 writes for one device rule: `(allow, "c 1:3 rwm")`, to go to
/// `devices.allow` when `allow`, else `devices.deny`. Type `a` with wildcards and
/// full access is the kernel's reset (`a *:* rwm`); type `a` with a number or
/// partial access would be read by the kernel as that reset too (it ignores what
/// follows `a`), so it is split into a `b` and a `c` rule, as runc's emulator
/// does. `u` is a character device; `p` (FIFO) cannot be controlled.
pub fn device_rule_writes(index: usize, rule: &LinuxDeviceCgroup) -> Result<Vec<(bool, String)>, CgroupError> {
    let invalid = |value: String, reason: &str| CgroupError::InvalidResource {
        field: format!("devices[{index}]"),
        value,
        reason: reason.to_string(),
    };
    let access = match rule.access().as_deref() {
        None | Some("") => "rwm",
        Some(a) => a,
    };
    if !access.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
        return Err(invalid(format!("access {access:?}"), "access may only contain r, w and m"));
    }
    let (major, minor) = match (rule_number(rule.major()), rule_number(rule.minor())) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return Err(invalid(rule.to_string(), "device numbers cannot be negative (-1 means any)")),
    };
    let allow = rule.allow();
    let line = |t: &str| (allow, format!("{t} {major}:{minor} {access}"));
    Ok(match rule.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A if is_full_wildcard(&major, &minor, access) => vec![(allow, "a *:* rwm".to_string())],
        LinuxDeviceType::A => vec![line("b"), line("c")],
        LinuxDeviceType::B => vec![line("b")],
        LinuxDeviceType::C | LinuxDeviceType::U => vec![line("c")],
        LinuxDeviceType::P => {
            return Err(invalid(rule.to_string(), "FIFOs (type p) cannot be allowed or denied by the devices cgroup"))
        }
    })
}

fn is_full_wildcard(major: &str, minor: &str, access: &str) -> bool {
    major == "*" && minor == "*" && ['r', 'w', 'm'].iter().all(|c| access.contains(*c))
}
