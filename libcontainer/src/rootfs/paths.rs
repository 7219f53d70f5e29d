//! maskedPaths and readonlyPaths, applied after pivot_root.
//!
//! Files are masked by binding `/dev/null` — opened once, by handle, and checked to be
//! the real null device (char 1:3) so an image cannot swap it for a symlink to a procfs
//! file (CVE-2025-31133, CVE-2025-62161). Directories get an empty read-only tmpfs.

use super::fd_path;
use super::sys::locked_flags;
use crate::syserr::{SysError, SysResultExt};
use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstat, major, minor};
use pathrs::{Handle, Root};
use std::path::{Path, PathBuf};

fn resolve_existing(root: &Root, p: &Path) -> Result<Option<Handle>, SysError> {
    match root.resolve_nofollow(p) {
        Ok(h) => Ok(Some(h)),
        Err(e) if matches!(e.kind(), pathrs::error::ErrorKind::OsError(Some(libc::ENOENT | libc::ENOTDIR))) => Ok(None),
        Err(e) => Err(e).op(|| format!("resolve {p:?}")),
    }
}

/// Mask each path (missing ones are skipped, as the spec allows).
pub fn mask_paths(root: &Root, paths: &[PathBuf]) -> Result<(), SysError> {
    if paths.is_empty() {
        return Ok(());
    }
    let null = root.resolve_nofollow("/dev/null").op(|| "open the container's /dev/null".into())?;
    let st = fstat(&null).op(|| "stat /dev/null".into())?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3 {
        return Err(SysError::new("check /dev/null before masking paths", Errno::EXDEV)
            .hint("the container's /dev/null is not the null device (char 1:3); refusing to bind it"));
    }
    for p in paths {
        let Some(h) = resolve_existing(root, p)? else { continue };
        let mode = fstat(&h).op(|| format!("stat {p:?}"))?.st_mode & libc::S_IFMT;
        let target = fd_path(&h);
        match mode {
            libc::S_IFDIR => mount(Some("tmpfs"), target.as_str(), Some("tmpfs"), MsFlags::MS_RDONLY, None::<&str>)
                .op(|| format!("mask directory {p:?} with a read-only tmpfs"))?,
            // A symlink is not followed: masking one would mask whatever it points at.
            libc::S_IFLNK => continue,
            _ => mount(Some(fd_path(&null).as_str()), target.as_str(), None::<&str>, MsFlags::MS_BIND, None::<&str>)
                .op(|| format!("mask {p:?} with /dev/null"))?,
        }
    }
    Ok(())
}

/// Make each path a read-only bind of itself (missing ones are skipped).
pub fn readonly_paths(root: &Root, paths: &[PathBuf]) -> Result<(), SysError> {
    for p in paths {
        let Some(h) = resolve_existing(root, p)? else { continue };
        if fstat(&h).op(|| format!("stat {p:?}"))?.st_mode & libc::S_IFMT == libc::S_IFLNK {
            continue;
        }
        mount(
            Some(fd_path(&h).as_str()),
            fd_path(&h).as_str(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .op(|| format!("bind {p:?} onto itself"))?;
        let m = root.resolve_nofollow(p).op(|| format!("resolve {p:?}"))?;
        let flags = MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_REC
            | locked_flags(Path::new(&fd_path(&m)))?;
        mount(None::<&str>, fd_path(&m).as_str(), None::<&str>, flags, None::<&str>)
            .op(|| format!("remount {p:?} read-only"))?;
    }
    Ok(())
}
