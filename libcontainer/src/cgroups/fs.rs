//! File helpers for cgroupfs: single-call writes, reads that tolerate a cgroup that
//! vanished, mkdir below a mount point, and recursive process listing and removal.

use super::CgroupError;
use nix::errno::Errno;
use std::collections::BTreeMap;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file listing (and accepting) a cgroup's processes, in v1 and v2.
pub(crate) const PROCS: &str = "cgroup.procs";

/// Write `value` to an existing cgroup file with a single write(2). The file is
/// neither created nor truncated: cgroupfs files are not ordinary files, and a
/// missing one means the cgroup is missing.
pub(crate) fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    let err = |source| CgroupError::Write { value: value.to_string(), path: path.to_path_buf(), source };
    let mut file = OpenOptions::new().write(true).open(path).map_err(err)?;
    loop {
        match file.write(value.as_bytes()) {
            Ok(n) if n == value.len() => return Ok(()),
            Ok(n) => {
                let msg = format!("short write ({n} of {} bytes)", value.len());
                return Err(err(io::Error::other(msg)));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(err(e)),
        }
    }
}

/// Whether an error means the file or its cgroup does not exist (any more):
/// ENOENT, or ENODEV for a file of a cgroup that was just removed.
pub(crate) fn is_gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENODEV)
}

/// Read a cgroup file; `None` if it or its cgroup does not exist.
pub(crate) fn read_opt(path: &Path) -> Result<Option<String>, CgroupError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if is_gone(&e) => Ok(None),
        Err(source) => Err(CgroupError::Read { path: path.to_path_buf(), source }),
    }
}

/// Each directory from the first level below `mount_point` down to `dir`.
pub(crate) fn levels(mount_point: &Path, dir: &Path) -> Vec<PathBuf> {
    let rel = dir.strip_prefix(mount_point).unwrap_or(dir);
    let mut cur = mount_point.to_path_buf();
    let mut out = Vec::new();
    for c in rel.components() {
        if let std::path::Component::Normal(name) = c {
            cur.push(name);
            out.push(cur.clone());
        }
    }
    out
}

/// mkdir with mode 0755; an existing directory is fine.
pub(crate) fn mkdir(path: &Path) -> Result<(), CgroupError> {
    match DirBuilder::new().mode(0o755).create(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(source) => Err(CgroupError::Mkdir { path: path.to_path_buf(), source }),
    }
}

/// `mkdir -p dir`, but never creating `mount_point` itself: if the hierarchy is no
/// longer mounted there, the first mkdir fails instead of populating the tmpfs below.
pub(crate) fn mkdir_all(mount_point: &Path, dir: &Path) -> Result<(), CgroupError> {
    levels(mount_point, dir).iter().try_for_each(|d| mkdir(d))
}

/// The child cgroups (subdirectories, symlinks not followed) of `dir`; none if `dir`
/// does not exist.
pub(crate) fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let err = |source| CgroupError::ReadDir { path: dir.to_path_buf(), source };
    let entries = match fs::read_dir(dir) {
        Ok(it) => it,
        Err(e) if is_gone(&e) => return Ok(Vec::new()),
        Err(e) => return Err(err(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) if is_gone(&e) => continue,
            Err(e) => return Err(err(e)),
        };
        match entry.file_type() {
            Ok(t) if t.is_dir() => out.push(entry.path()),
            Ok(_) => {}
            Err(e) if is_gone(&e) => {}
            Err(e) => return Err(err(e)),
        }
    }
    Ok(out)
}

/// The pids in `dir`'s `cgroup.procs` (`cgroup.threads` for a threaded cgroup, whose
/// `cgroup.procs` cannot be read). Entries `<= 0` (processes outside our pid
/// namespace) are skipped: signalling pid 0 would hit our own process group.
pub(crate) fn read_procs(dir: &Path) -> Result<Vec<i32>, CgroupError> {
    let mut path = dir.join(PROCS);
    let text = match fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) if is_gone(&e) => return Ok(Vec::new()),
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {
            path = dir.join("cgroup.threads");
            match read_opt(&path)? {
                Some(s) => s,
                None => return Ok(Vec::new()),
            }
        }
        Err(source) => return Err(CgroupError::Read { path, source }),
    };
    let mut pids = Vec::new();
    for word in text.split_whitespace() {
        let pid: i32 = word.parse().map_err(|_| CgroupError::Read {
            path: path.clone(),
            source: io::Error::new(io::ErrorKind::InvalidData, format!("not a pid: {word:?}")),
        })?;
        if pid > 0 {
            pids.push(pid);
        }
    }
    Ok(pids)
}

/// Add the processes of `dir` and of its descendant cgroups to `out`, each mapped to
/// the first directory that listed it.
pub(crate) fn collect_pids(dir: &Path, out: &mut BTreeMap<i32, PathBuf>) -> Result<(), CgroupError> {
    for pid in read_procs(dir)? {
        out.entry(pid).or_insert_with(|| dir.to_path_buf());
    }
    for child in subdirs(dir)? {
        collect_pids(&child, out)?;
    }
    Ok(())
}

/// Remove `dir` and its descendant cgroups, deepest first. A missing `dir` is fine.
pub(crate) fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    // Check first: on a read-only cgroupfs rmdir fails with EROFS even for a
    // directory that does not exist, and that must not break idempotency.
    if fs::symlink_metadata(dir).is_err_and(|e| is_gone(&e)) {
        return Ok(());
    }
    for child in subdirs(dir)? {
        remove_tree(&child)?;
    }
    rmdir(dir)
}

/// rmdir, retrying EBUSY for about a second: a cgroup can stay busy a moment after
/// its last process died.
fn rmdir(dir: &Path) -> Result<(), CgroupError> {
    let mut delay = Duration::from_millis(1);
    let mut tries = 0;
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if is_gone(&e) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.raw_os_error() == Some(Errno::EBUSY as i32) && tries < 14 => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(100));
                tries += 1;
            }
            Err(source) => return Err(CgroupError::Rmdir { path: dir.to_path_buf(), source }),
        }
    }
}
