//! Pausing a container: the v1 freezer (`freezer.state`) or v2 `cgroup.freeze`, waiting
//! until the kernel reports the cgroup frozen, as `runc pause` does.

use super::{fs, CgroupError, Manager};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long to wait for the kernel to freeze or thaw the cgroup.
pub const FREEZE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the freezer of a container lives.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Freezer {
    /// v1: `freezer.state` in the freezer hierarchy.
    V1(PathBuf),
    /// v2: `cgroup.freeze` and `cgroup.events` in the unified directory.
    V2(PathBuf),
}

fn freezer(m: &Manager) -> Option<Freezer> {
    // On v2, controller_dir() answers the unified directory for any name: ask v2 first.
    match m.kind() {
        super::LayoutKind::V2 => m.unified_dir().map(|d| Freezer::V2(d.to_path_buf())),
        _ => m.controller_dir("freezer").map(|d| Freezer::V1(d.to_path_buf())),
    }
}

/// The v2 `frozen` field of `cgroup.events`.
fn v2_frozen(dir: &Path) -> Result<bool, CgroupError> {
    let events = fs::read_opt(&dir.join("cgroup.events"))?.unwrap_or_default();
    Ok(events.lines().any(|l| l.trim() == "frozen 1"))
}

fn wait_for(
    action: &'static str,
    path: &Path,
    mut done: impl FnMut() -> Result<(bool, String), CgroupError>,
) -> Result<(), CgroupError> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(100);
    loop {
        let (ok, state) = done()?;
        if ok {
            return Ok(());
        }
        if start.elapsed() > FREEZE_TIMEOUT {
            return Err(CgroupError::FreezeTimeout {
                action,
                path: path.to_path_buf(),
                state,
                waited_ms: start.elapsed().as_millis() as u64,
            });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

impl Manager {
    /// Freeze every process of the container and wait until the kernel says it is frozen.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        match freezer(self).ok_or(CgroupError::NoFreezer)? {
            Freezer::V1(d) => {
                let f = d.join("freezer.state");
                fs::write(&f, "FROZEN")?;
                wait_for("freeze", &f, || {
                    let s = fs::read_opt(&f)?.unwrap_or_default().trim().to_string();
                    // A v1 freeze can stall in FREEZING; writing FROZEN again retries it.
                    if s == "FREEZING" {
                        fs::write(&f, "FROZEN")?;
                    }
                    Ok((s == "FROZEN", s))
                })
            }
            Freezer::V2(d) => {
                fs::write(&d.join("cgroup.freeze"), "1")?;
                wait_for("freeze", &d.join("cgroup.events"), || Ok((v2_frozen(&d)?, "not frozen".into())))
            }
        }
    }

    /// Thaw the container and wait until the kernel says it is running again.
    pub fn resume(&self) -> Result<(), CgroupError> {
        match freezer(self).ok_or(CgroupError::NoFreezer)? {
            Freezer::V1(d) => {
                let f = d.join("freezer.state");
                fs::write(&f, "THAWED")?;
                wait_for("thaw", &f, || {
                    let s = fs::read_opt(&f)?.unwrap_or_default().trim().to_string();
                    Ok((s == "THAWED", s))
                })
            }
            Freezer::V2(d) => {
                fs::write(&d.join("cgroup.freeze"), "0")?;
                wait_for("thaw", &d.join("cgroup.events"), || Ok((!v2_frozen(&d)?, "frozen".into())))
            }
        }
    }

    /// Whether the container's cgroup is frozen (or freezing).
    pub fn is_frozen(&self) -> Result<bool, CgroupError> {
        Ok(match freezer(self) {
            None => false,
            Some(Freezer::V1(d)) => {
                matches!(fs::read_opt(&d.join("freezer.state"))?.as_deref().map(str::trim), Some("FROZEN" | "FREEZING"))
            }
            Some(Freezer::V2(d)) => fs::read_opt(&d.join("cgroup.freeze"))?.as_deref().map(str::trim) == Some("1"),
        })
    }
}
