//! `update`: runc's flags (or a resources JSON) merged into one `linux.resources`
//! object, applied to the running container's cgroup and kept in its state.

use crate::cli::Update;
use anyhow::{bail, Context};
use libcontainer::Container;
use serde_json::{json, Map, Value};
use std::io::Read;
use std::path::Path;

/// A byte count as runc takes it: a number, -1, or a number with a unit (k, m, g, t, p;
/// optional "b"/"ib"; powers of 1024, like Docker's RAMInBytes).
pub fn parse_bytes(s: &str) -> anyhow::Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().with_context(|| format!("invalid size {s:?}"))?;
    let mult: f64 = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => bail!("invalid size {s:?}: unknown unit {unit:?}"),
    };
    let v = n * mult;
    if !(0.0..9.2e18).contains(&v) {
        bail!("invalid size {s:?}");
    }
    Ok(v as i64)
}

fn set(obj: &mut Map<String, Value>, section: &str, key: &str, v: Value) {
    let sec = obj.entry(section).or_insert_with(|| json!({}));
    sec[key] = v;
}

/// The resources the flags ask for, on top of those of `-r` (flags win, as in runc).
pub fn resources_from(a: &Update) -> anyhow::Result<Value> {
    let mut r: Map<String, Value> = match &a.resources {
        None => Map::new(),
        Some(f) => {
            let mut text = String::new();
            if f == "-" {
                std::io::stdin().read_to_string(&mut text).context("read resources from stdin")?;
            } else {
                text = std::fs::read_to_string(f).with_context(|| format!("read {f}"))?;
            }
            serde_json::from_str(&text).with_context(|| format!("parse resources {f}"))?
        }
    };
    if let Some(w) = a.blkio_weight {
        set(&mut r, "blockIO", "weight", json!(w));
    }
    for (v, k) in [(a.cpu_period, "period"), (a.cpu_share, "shares"), (a.cpu_rt_period, "realtimePeriod")] {
        if let Some(v) = v {
            set(&mut r, "cpu", k, json!(v));
        }
    }
    for (v, k) in [(a.cpu_quota, "quota"), (a.cpu_rt_runtime, "realtimeRuntime")] {
        if let Some(v) = v {
            set(&mut r, "cpu", k, json!(v));
        }
    }
    if let Some(v) = &a.cpuset_cpus {
        set(&mut r, "cpu", "cpus", json!(v));
    }
    if let Some(v) = &a.cpuset_mems {
        set(&mut r, "cpu", "mems", json!(v));
    }
    for (v, k) in [(&a.memory, "limit"), (&a.memory_reservation, "reservation"), (&a.memory_swap, "swap")] {
        if let Some(v) = v {
            set(&mut r, "memory", k, json!(parse_bytes(v)?));
        }
    }
    if let Some(v) = a.pids_limit {
        set(&mut r, "pids", "limit", json!(v));
    }
    Ok(Value::Object(r))
}

pub fn run(root: &Path, a: Update) -> anyhow::Result<i32> {
    let v = resources_from(&a)?;
    let resources = serde_json::from_value(v).context("invalid resources")?;
    Container::load_exclusive(root, &a.id)?.update(&resources)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert_eq!(parse_bytes("512m").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1G").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("2kb").unwrap(), 2048);
        assert_eq!(parse_bytes("-1").unwrap(), -1);
        assert!(parse_bytes("12q").is_err());
        assert!(parse_bytes("").is_err());
    }
}
