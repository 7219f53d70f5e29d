//! Resource usage of a container's cgroup, in the JSON shape of `runc events --stats`
//! (runc's `types.Stats`), read from the v1 controllers or the v2 unified directory.

use super::{fs, CgroupError, LayoutKind, Manager};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// `runc events` stats (the parts cgroups provide; network interfaces are added by the caller).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Stats {
    pub cpu: Cpu,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    pub hugetlb: BTreeMap<String, Hugetlb>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CpuUsage {
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(rename = "throttledPeriods", skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(rename = "throttledTime", skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Memory {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Pids {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Blkio {
    #[serde(rename = "ioServiceBytesRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioServicedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// A single-number cgroup file; "max" is `u64::MAX` (runc's "unlimited"); missing is 0.
fn num(dir: &Path, file: &str) -> Result<u64, CgroupError> {
    Ok(fs::read_opt(&dir.join(file))?.map(|s| parse_num(&s)).unwrap_or(0))
}

fn parse_num(s: &str) -> u64 {
    match s.trim() {
        "max" => u64::MAX,
        t => t.parse().unwrap_or(0),
    }
}

/// A flat `key value` file (memory.stat, cpu.stat, cpuacct.stat, memory.events).
pub fn parse_flat(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

fn flat(dir: &Path, file: &str) -> Result<BTreeMap<String, u64>, CgroupError> {
    Ok(fs::read_opt(&dir.join(file))?.map(|s| parse_flat(&s)).unwrap_or_default())
}

/// v1 blkio lines `MAJ:MIN Op value` (the `Total` line has no device and is skipped).
fn parse_blkio_v1(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (maj, min) = f.first()?.split_once(':')?;
            Some(BlkioEntry {
                major: maj.parse().ok()?,
                minor: min.parse().ok()?,
                op: f.get(1)?.to_string(),
                value: f.get(2)?.parse().ok()?,
            })
        })
        .collect()
}

/// v2 `io.stat` lines `MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=..` → runc's v1-shaped entries.
fn parse_io_stat(text: &str) -> Blkio {
    let mut b = Blkio::default();
    for l in text.lines() {
        let mut it = l.split_whitespace();
        let Some((maj, min)) = it.next().and_then(|d| d.split_once(':')) else { continue };
        let (Ok(major), Ok(minor)) = (maj.parse(), min.parse()) else { continue };
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else { continue };
            let Ok(value) = v.parse() else { continue };
            let (list, op) = match k {
                "rbytes" => (&mut b.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut b.io_service_bytes_recursive, "Write"),
                "rios" => (&mut b.io_serviced_recursive, "Read"),
                "wios" => (&mut b.io_serviced_recursive, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry { major, minor, op: op.into(), value });
        }
    }
    b
}

/// Hugepage sizes from file names like `hugetlb.2MB.limit_in_bytes` / `hugetlb.2MB.max`.
fn hugepage_sizes(dir: &Path) -> Vec<String> {
    let mut sizes: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| Some(n.strip_prefix("hugetlb.")?.split('.').next()?.to_string()))
        .collect();
    sizes.sort();
    sizes.dedup();
    sizes
}

/// USER_HZ ticks (cpuacct.stat) to nanoseconds.
fn ticks_to_ns(t: u64) -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as u64 } else { 100 };
    t.saturating_mul(1_000_000_000 / hz)
}

fn memory_entry(dir: &Path, prefix: &str) -> Result<MemoryEntry, CgroupError> {
    Ok(MemoryEntry {
        usage: num(dir, &format!("{prefix}usage_in_bytes"))?,
        max: num(dir, &format!("{prefix}max_usage_in_bytes"))?,
        limit: num(dir, &format!("{prefix}limit_in_bytes"))?,
        failcnt: num(dir, &format!("{prefix}failcnt"))?,
    })
}

impl Manager {
    /// Read the container's resource usage.
    pub fn stats(&self) -> Result<Stats, CgroupError> {
        match self.kind() {
            LayoutKind::V2 => self.unified_dir().map(stats_v2).unwrap_or_else(|| Ok(Stats::default())),
            _ => self.stats_v1(),
        }
    }

    fn stats_v1(&self) -> Result<Stats, CgroupError> {
        let mut s = Stats::default();
        if let Some(d) = self.controller_dir("cpuacct") {
            s.cpu.usage.total = num(d, "cpuacct.usage")?;
            s.cpu.usage.percpu = fs::read_opt(&d.join("cpuacct.usage_percpu"))?
                .map(|t| t.split_whitespace().filter_map(|v| v.parse().ok()).collect())
                .unwrap_or_default();
            let st = flat(d, "cpuacct.stat")?;
            s.cpu.usage.user = ticks_to_ns(st.get("user").copied().unwrap_or(0));
            s.cpu.usage.kernel = ticks_to_ns(st.get("system").copied().unwrap_or(0));
        }
        if let Some(d) = self.controller_dir("cpu") {
            let st = flat(d, "cpu.stat")?;
            s.cpu.throttling = Throttling {
                periods: st.get("nr_periods").copied().unwrap_or(0),
                throttled_periods: st.get("nr_throttled").copied().unwrap_or(0),
                throttled_time: st.get("throttled_time").copied().unwrap_or(0),
            };
        }
        if let Some(d) = self.controller_dir("memory") {
            s.memory.usage = memory_entry(d, "memory.")?;
            s.memory.swap = memory_entry(d, "memory.memsw.")?;
            s.memory.kernel = memory_entry(d, "memory.kmem.")?;
            s.memory.kernel_tcp = memory_entry(d, "memory.kmem.tcp.")?;
            s.memory.raw = flat(d, "memory.stat")?;
            s.memory.cache = s.memory.raw.get("cache").copied().unwrap_or(0);
        }
        if let Some(d) = self.controller_dir("pids") {
            s.pids = Pids { current: num(d, "pids.current")?, limit: num(d, "pids.max")? };
        }
        if let Some(d) = self.controller_dir("blkio") {
            let read = |f: &str| -> Result<Vec<BlkioEntry>, CgroupError> {
                Ok(fs::read_opt(&d.join(f))?.map(|t| parse_blkio_v1(&t)).unwrap_or_default())
            };
            s.blkio.io_service_bytes_recursive = read("blkio.throttle.io_service_bytes_recursive")?;
            s.blkio.io_serviced_recursive = read("blkio.throttle.io_serviced_recursive")?;
        }
        if let Some(d) = self.controller_dir("hugetlb") {
            for size in hugepage_sizes(d) {
                let h = Hugetlb {
                    usage: num(d, &format!("hugetlb.{size}.usage_in_bytes"))?,
                    max: num(d, &format!("hugetlb.{size}.max_usage_in_bytes"))?,
                    failcnt: num(d, &format!("hugetlb.{size}.failcnt"))?,
                };
                s.hugetlb.insert(size, h);
            }
        }
        Ok(s)
    }
}

fn stats_v2(d: &Path) -> Result<Stats, CgroupError> {
    let mut s = Stats::default();
    let cpu = flat(d, "cpu.stat")?;
    let us = |k: &str| cpu.get(k).copied().unwrap_or(0).saturating_mul(1000);
    s.cpu.usage =
        CpuUsage { total: us("usage_usec"), percpu: Vec::new(), kernel: us("system_usec"), user: us("user_usec") };
    s.cpu.throttling = Throttling {
        periods: cpu.get("nr_periods").copied().unwrap_or(0),
        throttled_periods: cpu.get("nr_throttled").copied().unwrap_or(0),
        throttled_time: us("throttled_usec"),
    };
    let events = flat(d, "memory.events")?;
    s.memory.usage = MemoryEntry {
        usage: num(d, "memory.current")?,
        max: num(d, "memory.peak")?,
        limit: num(d, "memory.max")?,
        failcnt: events.get("max").copied().unwrap_or(0),
    };
    // v1 reports swap as memory+swap; runc keeps that meaning on v2.
    let swap = num(d, "memory.swap.current")?;
    let swap_max = num(d, "memory.swap.max")?;
    s.memory.swap = MemoryEntry {
        usage: swap.saturating_add(s.memory.usage.usage),
        max: 0,
        limit: if swap_max == u64::MAX || s.memory.usage.limit == u64::MAX {
            u64::MAX
        } else {
            swap_max.saturating_add(s.memory.usage.limit)
        },
        failcnt: 0,
    };
    s.memory.raw = flat(d, "memory.stat")?;
    s.memory.cache = s.memory.raw.get("file").copied().unwrap_or(0);
    s.pids = Pids { current: num(d, "pids.current")?, limit: num(d, "pids.max")? };
    s.blkio = fs::read_opt(&d.join("io.stat"))?.map(|t| parse_io_stat(&t)).unwrap_or_default();
    for size in hugepage_sizes(d) {
        let ev = flat(d, &format!("hugetlb.{size}.events"))?;
        let h = Hugetlb {
            usage: num(d, &format!("hugetlb.{size}.current"))?,
            max: 0,
            failcnt: ev.get("max").copied().unwrap_or(0),
        };
        s.hugetlb.insert(size, h);
    }
    Ok(s)
}

/// The number of OOM kills so far: v2 `memory.events` `oom_kill`, v1
/// `memory.oom_control` `oom_kill` (Linux 4.13+).
pub fn oom_kills(m: &Manager) -> Result<u64, CgroupError> {
    let (dir, file) = match m.kind() {
        LayoutKind::V2 => (m.unified_dir(), "memory.events"),
        _ => (m.controller_dir("memory"), "memory.oom_control"),
    };
    match dir {
        Some(d) => Ok(flat(d, file)?.get("oom_kill").copied().unwrap_or(0)),
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_files_parse() {
        let m = parse_flat("cache 10\nrss 20\nbad\nx notanumber\n");
        assert_eq!(m.get("cache"), Some(&10));
        assert_eq!(m.get("rss"), Some(&20));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn max_is_unlimited() {
        assert_eq!(parse_num("max\n"), u64::MAX);
        assert_eq!(parse_num("123\n"), 123);
    }

    #[test]
    fn blkio_v1_lines() {
        let e = parse_blkio_v1("8:0 Read 4096\n8:0 Write 0\nTotal 4096\n");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0], BlkioEntry { major: 8, minor: 0, op: "Read".into(), value: 4096 });
    }

    #[test]
    fn io_stat_becomes_v1_shape() {
        let b = parse_io_stat("254:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n");
        assert_eq!(b.io_service_bytes_recursive.len(), 2);
        assert_eq!(b.io_serviced_recursive[1], BlkioEntry { major: 254, minor: 0, op: "Write".into(), value: 2 });
    }

    #[test]
    fn json_shape_matches_runc() {
        let v = serde_json::to_value(Stats::default()).unwrap();
        for k in ["cpu", "memory", "pids", "blkio", "hugetlb"] {
            assert!(v.get(k).is_some(), "{k} missing");
        }
        assert!(v["memory"].get("kernelTCP").is_some());
        assert!(v["cpu"]["usage"].get("kernel").is_some());
    }
}
