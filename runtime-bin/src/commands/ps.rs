//! `ps`: the container's processes, as JSON pids (what containerd's shim reads) or as
//! the lines of `ps(1)` whose PID column is one of them, like runc.

use crate::cli::Ps;
use anyhow::{bail, Context};
use libcontainer::Container;
use std::path::Path;

pub fn run(root: &Path, a: Ps) -> anyhow::Result<i32> {
    let pids = Container::load(root, &a.id)?.pids()?;
    if a.format == "json" {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(0);
    }
    let args = if a.ps_args.is_empty() { vec!["-ef".to_string()] } else { a.ps_args };
    let out = std::process::Command::new("ps").args(&args).output().context("run ps")?;
    if !out.status.success() {
        bail!("ps {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header.split_whitespace().position(|h| h == "PID").context("ps output has no PID column")?;
    println!("{header}");
    for l in lines {
        if l.split_whitespace().nth(col).and_then(|p| p.parse::<i32>().ok()).is_some_and(|p| pids.contains(&p)) {
            println!("{l}");
        }
    }
    Ok(0)
}
