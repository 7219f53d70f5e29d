//! Small kernel helpers for mounts: flags a mount already has, `mount_setattr(2)`,
//! filesystem magic checks.

use crate::syserr::{SysError, SysResultExt};
use nix::mount::MsFlags;
use nix::sys::statfs::{fstatfs, FsType};
use nix::sys::statvfs::{statvfs, FsFlags};
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

/// The per-mount flags a bind remount must repeat (in a user namespace the kernel locks
/// them and refuses a remount that would clear them).
pub fn locked_flags(path: &Path) -> Result<MsFlags, SysError> {
    let st = statvfs(path).op(|| format!("statvfs {path:?}"))?;
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (vfs, ms) in [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(vfs) {
            out |= ms;
        }
    }
    Ok(out)
}

/// `struct mount_attr` of `<linux/mount.h>`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Apply mount attributes recursively to the mount tree rooted at `fd`.
pub fn mount_setattr_recursive(fd: impl AsFd, set: u64, clr: u64, what: &str) -> Result<(), SysError> {
    mount_setattr(fd, true, set, clr, what)
}

/// `mount_setattr(2)` on the mount `fd` refers to (attached or detached), and with
/// `recursive` on every mount below it.
pub fn mount_setattr(fd: impl AsFd, recursive: bool, set: u64, clr: u64, what: &str) -> Result<(), SysError> {
    let attr = MountAttr { attr_set: set, attr_clr: clr, propagation: 0, userns_fd: 0 };
    let flags = libc::AT_EMPTY_PATH | if recursive { libc::AT_RECURSIVE } else { 0 };
    // SAFETY: the path is a valid NUL-terminated empty string, `attr` is a live
    // `struct mount_attr` and its exact size is passed; the fd is borrowed for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_fd().as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        let e = nix::errno::Errno::last();
        let err = SysError::new(format!("mount_setattr {what}{}", if recursive { " (recursive)" } else { "" }), e);
        return Err(match e {
            nix::errno::Errno::ENOSYS if recursive => {
                err.hint("recursive mount options (rro, rnosuid, ...) need Linux 5.12")
            }
            nix::errno::Errno::ENOSYS => err.hint("mount_setattr(2) needs Linux 5.12"),
            _ => err,
        });
    }
    Ok(())
}

/// Whether `fd` is on a filesystem with the given magic (`PROC_SUPER_MAGIC`...).
pub fn is_fs(fd: impl AsFd, magic: FsType) -> Result<bool, SysError> {
    let st = fstatfs(fd).op(|| "fstatfs".into())?;
    Ok(st.filesystem_type() == magic)
}
