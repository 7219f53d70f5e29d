//! `events`: runc's JSON event lines: `{"type":"stats","id":...,"data":{...}}` every
//! interval (or once with `--stats`), and `{"type":"oom","id":...}` when the kernel
//! OOM-kills a process of the container. Ends when the container stops.

use crate::cli::Events;
use anyhow::bail;
use libcontainer::{Container, Status};
use std::path::Path;
use std::time::{Duration, Instant};

/// A Go-style duration: `500ms`, `5s`, `1m`, `1h`, `2.5s`.
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| anyhow::anyhow!("invalid duration {s:?}"))?;
    let secs = match unit {
        "ns" => n / 1e9,
        "us" | "µs" => n / 1e6,
        "ms" => n / 1e3,
        "s" | "" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => bail!("invalid duration {s:?}: unknown unit {unit:?}"),
    };
    if !(secs > 0.0 && secs.is_finite()) {
        bail!("invalid duration {s:?}: must be positive");
    }
    Ok(Duration::from_secs_f64(secs))
}

fn emit(kind: &str, id: &str, data: Option<serde_json::Value>) {
    let mut v = serde_json::json!({"type": kind, "id": id});
    if let Some(d) = data {
        v["data"] = d;
    }
    println!("{v}");
}

pub fn run(root: &Path, a: Events) -> anyhow::Result<i32> {
    let interval = parse_duration(&a.interval)?;
    if a.stats {
        let c = Container::load(root, &a.id)?;
        emit("stats", &a.id, Some(c.stats()?));
        return Ok(0);
    }
    let mut ooms = Container::load(root, &a.id)?.oom_kills()?;
    let mut next_stats = Instant::now();
    loop {
        // Load afresh each round: the lock is not held while sleeping.
        let Ok(c) = Container::load(root, &a.id) else { return Ok(0) };
        // The OOM counter first: an OOM kill often ends the container, and its cgroup
        // (with the counter) stays until delete.
        let now_ooms = c.oom_kills().unwrap_or(ooms);
        if now_ooms > ooms {
            emit("oom", &a.id, None);
            ooms = now_ooms;
        }
        if c.status() == Status::Stopped {
            return Ok(0);
        }
        if Instant::now() >= next_stats {
            emit("stats", &a.id, Some(c.stats()?));
            next_stats = Instant::now() + interval;
        }
        drop(c);
        std::thread::sleep(interval.min(Duration::from_millis(200)));
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("abc").is_err());
    }
}
