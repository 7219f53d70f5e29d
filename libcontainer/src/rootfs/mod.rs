//! The container's root filesystem: propagation, the rootfs bind, mounts, devices,
//! pivot_root, masked and read-only paths.
//!
//! Every path inside the rootfs is resolved with `pathrs` (openat2 `RESOLVE_IN_ROOT`),
//! so a symlink in the image can never send a mount, a device or a mask outside it.
//! Mounts are made on `/proc/self/fd/N` of the resolved `O_PATH` handle, never on a
//! path string the image could swap (the CVE-2021-30465 and CVE-2019-18837 lessons).

mod cgroupfs;
mod copyup;
mod devices;
mod mount;
mod paths;
pub mod sys;

pub use cgroupfs::CgroupMount;
pub use devices::{create_devices, setup_dev_links};
pub use mount::mount_all;
pub use paths::{mask_paths, readonly_paths};

use crate::plan::Plan;
use crate::syserr::{SysError, SysResultExt};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{chdir, chroot, pivot_root};
use pathrs::Root;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

/// A path to hand to `mount(2)` for an open fd: the procfs magic link of the fd.
pub(crate) fn fd_path(fd: &impl AsFd) -> String {
    format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd())
}

/// Make `/` of the new mount namespace slave (or as configured), make the rootfs's
/// parent mount private (pivot_root refuses a shared parent), and bind the rootfs onto
/// itself so it is a mount point.
pub fn prepare_root(plan: &Plan) -> Result<(), SysError> {
    mount(None::<&str>, "/", None::<&str>, plan.rootfs_propagation, None::<&str>)
        .op(|| format!("make \"/\" {}", crate::plan::options::flags_to_string(plan.rootfs_propagation)))?;
    make_parent_private(&plan.rootfs)?;
    mount(Some(&plan.rootfs), &plan.rootfs, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .op(|| format!("bind rootfs {:?} onto itself", plan.rootfs))
}

/// Find the mount point the rootfs lives on (from mountinfo) and make it private.
fn make_parent_private(rootfs: &Path) -> Result<(), SysError> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").op(|| "read /proc/self/mountinfo".into())?;
    let mut best: Option<&str> = None;
    for line in info.lines() {
        let Some(mp) = line.split(' ').nth(4) else { continue };
        if rootfs.starts_with(mp) && best.is_none_or(|b| mp.len() > b.len()) {
            best = Some(mp);
        }
    }
    // A mount point containing escaped characters (\040) is rare; falling back to "/" is safe.
    let mp = best.filter(|m| !m.contains('\\')).unwrap_or("/");
    match mount(None::<&str>, mp, None::<&str>, MsFlags::MS_PRIVATE, None::<&str>) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) => Ok(()),
        Err(e) => Err(SysError::new(format!("make {mp:?} private"), e)),
    }
}

/// Open the rootfs as a pathrs root (all in-root resolution goes through it).
pub fn open_root(path: &Path) -> Result<Root, SysError> {
    Root::open(path).op(|| format!("open rootfs {path:?}"))
}

/// Switch to the rootfs: `pivot_root(".", ".")` then detach the old root (runc's way,
/// no temporary directory needed); with `no_pivot`, move the rootfs onto `/` and chroot.
pub fn enter_root(plan: &Plan) -> Result<(), SysError> {
    let rootfs = &plan.rootfs;
    let old_root = nix::fcntl::open(
        "/",
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .op(|| "open the old root \"/\"".into())?;
    chdir(rootfs).op(|| format!("chdir to rootfs {rootfs:?}"))?;
    if plan.no_pivot {
        mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
            .op(|| format!("move rootfs {rootfs:?} onto \"/\""))?;
        chroot(".").op(|| format!("chroot to {rootfs:?}"))?;
    } else {
        pivot_root(".", ".").op(|| format!("pivot_root to {rootfs:?}")).map_err(|e| match e.errno() {
            nix::errno::Errno::EINVAL => e.hint("the rootfs may be on a ramfs/initramfs: use --no-pivot"),
            _ => e,
        })?;
        // The old root is now stacked on the new one. The kernel leaves "." on it today, but
        // make sure: the recursive rslave below must not reach the container's mounts
        // (their propagation is configured), only the old root's, so that detaching it
        // does not propagate to the host.
        nix::unistd::fchdir(&old_root).op(|| "chdir to the old root".into())?;
        mount(None::<&str>, ".", None::<&str>, MsFlags::MS_SLAVE | MsFlags::MS_REC, None::<&str>)
            .op(|| "make the old root rslave".into())?;
        umount2(".", MntFlags::MNT_DETACH).op(|| "detach the old root".into())?;
    }
    chdir("/").op(|| "chdir to \"/\"".into())
}

/// Remount `/` read-only, keeping the flags the kernel may have locked.
pub fn remount_root_readonly() -> Result<(), SysError> {
    let keep = sys::locked_flags(Path::new("/"))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | keep,
        None::<&str>,
    )
    .op(|| "remount \"/\" read-only".into())
}
