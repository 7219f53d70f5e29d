//! Device nodes and the standard `/dev` links.
//!
//! Nodes are created with `mknodat` relative to an `O_PATH` handle of their directory,
//! resolved inside the rootfs, so an image whose `/dev` is a symlink to a host path can
//! only ever redirect them within the rootfs (CVE-2026-41579, CVE-2026-47766). In a user
//! namespace `mknod` is not allowed: the host's node is bind-mounted instead, as the
//! runtime-spec says.

use super::fd_path;
use super::mount::make_destination;
use crate::plan::DevicePlan;
use crate::syserr::{SysError, SysResultExt};
use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstatat, makedev, mknodat, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use pathrs::Root;
use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn split(path: &Path) -> (&Path, &std::ffi::OsStr) {
    (path.parent().unwrap_or(Path::new("/")), path.file_name().unwrap_or_default())
}

/// Create every planned device: `mknod` normally, a bind of the host node in a user namespace.
pub fn create_devices(root: &Root, devices: &[DevicePlan], bind: bool) -> Result<(), SysError> {
    for d in devices {
        if bind {
            bind_device(root, d)?;
        } else {
            mknod_device(root, d)?;
        }
    }
    Ok(())
}

fn mknod_device(root: &Root, d: &DevicePlan) -> Result<(), SysError> {
    let (parent, name) = split(&d.path);
    let dir =
        root.mkdir_all(parent, &Permissions::from_mode(0o755)).op(|| format!("create {parent:?} in the rootfs"))?;
    let kind = SFlag::from_bits_truncate(d.kind);
    let dev = makedev(d.major, d.minor);
    let what = || format!("mknod {:?} ({}:{})", d.path, d.major, d.minor);
    match mknodat(&dir, name, kind, Mode::from_bits_truncate(d.mode), dev) {
        Ok(()) => {}
        Err(Errno::EEXIST) => {
            // Something is already there (an image's own /dev): keep it only if it is
            // exactly this node, otherwise replace it (it may be a symlink planted to
            // redirect a later bind of this path).
            let st = fstatat(&dir, name, AtFlags::AT_SYMLINK_NOFOLLOW).op(|| format!("stat {:?}", d.path))?;
            if st.st_mode & libc::S_IFMT != d.kind || st.st_rdev != dev {
                unlinkat(&dir, name, UnlinkatFlags::NoRemoveDir).op(|| format!("remove {:?}", d.path))?;
                mknodat(&dir, name, kind, Mode::from_bits_truncate(d.mode), dev).op(what)?;
            }
        }
        Err(e) => return Err(SysError::new(what(), e)),
    }
    fchownat(&dir, name, Some(Uid::from_raw(d.uid)), Some(Gid::from_raw(d.gid)), AtFlags::AT_SYMLINK_NOFOLLOW)
        .op(|| format!("chown {:?} to {}:{}", d.path, d.uid, d.gid))?;
    // mknod applies the umask; set the exact mode.
    nix::sys::stat::fchmodat(&dir, name, Mode::from_bits_truncate(d.mode), nix::sys::stat::FchmodatFlags::FollowSymlink)
        .op(|| format!("chmod {:?}", d.path))
}

fn bind_device(root: &Root, d: &DevicePlan) -> Result<(), SysError> {
    let target = make_destination(root, &d.path, true)?;
    mount(Some(&d.path), fd_path(&target).as_str(), None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .op(|| format!("bind host device {:?} into the container", d.path))
}

/// `/dev/fd`, `/dev/std{in,out,err}`, `/dev/core` and `/dev/ptmx -> pts/ptmx`.
pub fn setup_dev_links(root: &Root) -> Result<(), SysError> {
    let dev = root.mkdir_all("/dev", &Permissions::from_mode(0o755)).op(|| "create /dev in the rootfs".into())?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    for (target, name) in links {
        match symlinkat(target, &dev, name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(SysError::new(format!("symlink /dev/{name} -> {target}"), e)),
        }
    }
    match unlinkat(&dev, "ptmx", UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(SysError::new("remove /dev/ptmx", e)),
    }
    symlinkat("pts/ptmx", &dev, "ptmx").op(|| "symlink /dev/ptmx -> pts/ptmx".into())
}
