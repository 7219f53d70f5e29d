//! cgroup v1 specifics: cpuset inheritance on creation, and thawing the freezer.

use super::{fs, CgroupError};
use std::path::Path;

/// Create `dir` and its missing parents below the cpuset mount. A new v1 cpuset
/// cgroup starts with empty `cpuset.cpus` and `cpuset.mems`, and no task can join it
/// (ENOSPC) until they are set; like runc, walk down from the mount and give every
/// level whose values are empty those of its parent, so each level inherits from
/// the nearest ancestor that has them. Files that do not exist are left alone.
pub(crate) fn create_cpuset(mount_point: &Path, dir: &Path) -> Result<(), CgroupError> {
    // A cpuset hierarchy mounted with `noprefix` names the files `cpus` and `mems`.
    let prefix =
        if !mount_point.join("cpuset.cpus").exists() && mount_point.join("cpus").exists() { "" } else { "cpuset." };
    let mut parent = mount_point.to_path_buf();
    for level in fs::levels(mount_point, dir) {
        fs::mkdir(&level)?;
        for name in ["cpus", "mems"] {
            let file = format!("{prefix}{name}");
            copy_if_empty(&parent.join(&file), &level.join(&file))?;
        }
        parent = level;
    }
    Ok(())
}

/// Copy `from` to `to` when `to` exists and is empty and `from` is not.
fn copy_if_empty(from: &Path, to: &Path) -> Result<(), CgroupError> {
    match fs::read_opt(to)? {
        Some(current) if current.trim().is_empty() => {}
        _ => return Ok(()),
    }
    match fs::read_opt(from)? {
        Some(value) if !value.trim().is_empty() => fs::write(to, value.trim()),
        _ => Ok(()),
    }
}

/// Thaw a v1 freezer cgroup that is `FROZEN` or `FREEZING`. Returns whether it did.
pub(crate) fn thaw(dir: &Path) -> Result<bool, CgroupError> {
    let state = dir.join("freezer.state");
    match fs::read_opt(&state)? {
        Some(s) if matches!(s.trim(), "FROZEN" | "FREEZING") => {
            fs::write(&state, "THAWED")?;
            Ok(true)
        }
        _ => Ok(false),
    }
}
