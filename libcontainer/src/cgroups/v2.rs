//! cgroup v2 specifics: the directory fd for `CLONE_INTO_CGROUP`, `cgroup.kill`,
//! and `cgroup.freeze`.

use super::{fs, CgroupError};
use std::fs::OpenOptions;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Open `dir` with `O_PATH | O_DIRECTORY | O_CLOEXEC` (std adds `O_CLOEXEC`).
pub(crate) fn open_dir(dir: &Path) -> Result<OwnedFd, CgroupError> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(dir)
        .map(OwnedFd::from)
        .map_err(|source| CgroupError::Open { path: dir.to_path_buf(), source })
}

/// SIGKILL every process in the cgroup and its descendants by writing `1` to
/// `cgroup.kill` (Linux 5.14+). Returns false when the file does not exist (older
/// kernel, or the cgroup is gone).
pub(crate) fn kill(dir: &Path) -> Result<bool, CgroupError> {
    let file = dir.join("cgroup.kill");
    if !file.exists() {
        return Ok(false);
    }
    match fs::write(&file, "1") {
        Ok(()) => Ok(true),
        Err(CgroupError::Write { ref source, .. }) if fs::is_gone(source) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Enable, at every level above `dir`, each controller that level offers, as runc's
/// fs2 does at creation, so that stats (memory.current, io.stat, ...) exist even for
/// controllers no limit asked for. Best effort: a controller that can't be enabled
/// (not delegated, or a level with processes of its own) is left alone here; a limit
/// that needs it fails with a clear error in `apply`.
pub(crate) fn enable_available(mount_point: &Path, dir: &Path) {
    let mut chain = vec![mount_point.to_path_buf()];
    chain.extend(fs::levels(mount_point, dir));
    chain.pop();
    for level in chain {
        let Ok(Some(available)) = fs::read_opt(&level.join("cgroup.controllers")) else { return };
        let enabled = fs::read_opt(&level.join("cgroup.subtree_control")).ok().flatten().unwrap_or_default();
        for c in available.split_whitespace().filter(|c| !enabled.split_whitespace().any(|e| e == *c)) {
            if let Err(e) = fs::write(&level.join("cgroup.subtree_control"), &format!("+{c}")) {
                tracing::debug!("enable {c} in {level:?}: {e}");
            }
        }
    }
}

/// Unfreeze the cgroup (`cgroup.freeze`, Linux 5.2+) if it is frozen. Returns
/// whether it did.
pub(crate) fn thaw(dir: &Path) -> Result<bool, CgroupError> {
    let file = dir.join("cgroup.freeze");
    match fs::read_opt(&file)? {
        Some(s) if s.trim() == "1" => {
            fs::write(&file, "0")?;
            Ok(true)
        }
        _ => Ok(false),
    }
}
