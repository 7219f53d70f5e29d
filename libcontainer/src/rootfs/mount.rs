//! One config.json mount at a time, in order, each destination resolved inside the rootfs.

use super::cgroupfs::{mount_cgroups, CgroupMount};
use super::fd_path;
use super::sys::{is_fs, locked_flags, mount_setattr_recursive};
use crate::plan::options::flags_to_string;
use crate::plan::{MountPlan, Plan};
use crate::syserr::{SysError, SysResultExt};
use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::fstat;
use nix::sys::statfs::PROC_SUPER_MAGIC;
use pathrs::{flags::OpenFlags, Handle, InodeType, Root};
use std::fs::Permissions;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Flags that only make sense on the first `mount(2)` of a bind, not on the remount.
const BIND_ONLY: MsFlags = MsFlags::MS_BIND.union(MsFlags::MS_REC);

/// Mount every entry of the plan, in config order. `before_cgroup` runs before each
/// cgroup mount (the process must be in its cgroup and namespace by then).
pub fn mount_all(
    plan: &Plan,
    root: &Root,
    cgroups: &[CgroupMount],
    before_cgroup: &mut dyn FnMut() -> Result<(), SysError>,
) -> Result<(), SysError> {
    let userns = plan.namespaces.has(oci_spec::runtime::LinuxNamespaceType::User);
    let cgroupns = plan.namespaces.has(oci_spec::runtime::LinuxNamespaceType::Cgroup);
    for m in &plan.mounts {
        match m.typ.as_str() {
            "cgroup" | "cgroup2" => {
                before_cgroup()?;
                mount_cgroups(root, m, cgroups, cgroupns)?
            }
            _ => mount_one(root, m, userns)?,
        }
    }
    // The process's cwd is created if missing, as runc does.
    root.mkdir_all(&plan.process.cwd, &Permissions::from_mode(0o755))
        .op(|| format!("create cwd {:?} in the rootfs", plan.process.cwd))?;
    Ok(())
}

/// Create the destination (a directory, or a file when binding a file) and resolve it.
pub(super) fn make_destination(root: &Root, dest: &Path, file: bool) -> Result<Handle, SysError> {
    if file {
        if let Some(parent) = dest.parent() {
            root.mkdir_all(parent, &Permissions::from_mode(0o755)).op(|| format!("create {parent:?} in the rootfs"))?;
        }
        match root.create(dest, &InodeType::File(Permissions::from_mode(0o644))) {
            Ok(()) => {}
            Err(e) if matches!(e.kind(), pathrs::error::ErrorKind::OsError(Some(libc::EEXIST))) => {}
            Err(e) => return Err(e).op(|| format!("create mount point {dest:?} in the rootfs")),
        }
        root.resolve(dest).op(|| format!("resolve {dest:?} in the rootfs"))
    } else {
        root.mkdir_all(dest, &Permissions::from_mode(0o755)).op(|| format!("create mount point {dest:?} in the rootfs"))
    }
}

fn is_symlink(root: &Root, dest: &Path) -> Result<bool, SysError> {
    match root.resolve_nofollow(dest) {
        Ok(h) => Ok(fstat(&h).op(|| format!("stat {dest:?}"))?.st_mode & libc::S_IFMT == libc::S_IFLNK),
        Err(e) if matches!(e.kind(), pathrs::error::ErrorKind::OsError(Some(libc::ENOENT))) => Ok(false),
        Err(e) => Err(e).op(|| format!("resolve {dest:?} in the rootfs")),
    }
}

fn describe(m: &MountPlan) -> String {
    let src = m.source.as_ref().map(|s| s.display().to_string()).unwrap_or_else(|| m.typ.clone());
    format!("mount {:?} ({}) on {:?}", src, m.typ, m.destination)
}

fn mount_one(root: &Root, m: &MountPlan, userns: bool) -> Result<(), SysError> {
    let dest = &m.destination;
    let o = &m.options;
    if m.typ == "proc" && is_symlink(root, dest)? {
        return Err(SysError::new(format!("mount proc on {dest:?}"), Errno::ELOOP)
            .hint("the image's /proc is a symlink; refusing to mount procfs through it"));
    }
    let bind = o.is_bind();
    let file_dest =
        bind && m.source.as_ref().is_some_and(|s| std::fs::metadata(s).map(|md| !md.is_dir()).unwrap_or(false));
    let target = make_destination(root, dest, file_dest)?;
    let data = (!o.data.is_empty()).then_some(o.data.as_str());

    if bind {
        let src = m.source.as_deref().unwrap_or(Path::new(""));
        mount(Some(src), fd_path(&target).as_str(), None::<&str>, o.flags & BIND_ONLY, None::<&str>)
            .op(|| format!("{} with {}", describe(m), flags_to_string(o.flags & BIND_ONLY)))
            .map_err(|e| match e.errno() {
                Errno::ENOENT => e.hint(format!("the source {src:?} does not exist on the host")),
                _ => e,
            })?;
        let mounted = root.resolve(dest).op(|| format!("resolve {dest:?} after mounting"))?;
        let extra = o.flags - BIND_ONLY - MsFlags::MS_REMOUNT;
        if !extra.is_empty() || data.is_some() {
            let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra;
            if userns {
                flags |= locked_flags(Path::new(&fd_path(&mounted)))? - o.cleared;
            }
            mount(None::<&str>, fd_path(&mounted).as_str(), None::<&str>, flags, data)
                .op(|| format!("remount {dest:?} with {}", flags_to_string(flags)))?;
        }
        return finish(root, m, mounted);
    }

    let source = m.source.as_ref().map(|s| s.display().to_string()).unwrap_or_else(|| m.typ.clone());
    // tmpcopyup: an fd of the directory, taken before the tmpfs covers it, still reads it.
    let covered = match o.tmpcopyup {
        true => Some(target.reopen(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY).op(|| format!("open {dest:?}"))?),
        false => None,
    };
    let flags = o.flags - MsFlags::MS_REMOUNT;
    let r = mount(Some(source.as_str()), fd_path(&target).as_str(), Some(m.typ.as_str()), flags, data);
    match r {
        Ok(()) => {}
        // sysfs needs a network namespace owned by our user namespace; runc falls back to
        // a recursive bind of the host's /sys, read-only per the options.
        Err(Errno::EPERM) if m.typ == "sysfs" && userns => {
            mount(
                Some("/sys"),
                fd_path(&target).as_str(),
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .op(|| format!("bind /sys on {dest:?} (sysfs fallback in a user namespace)"))?;
        }
        Err(e) => {
            let err = SysError::new(format!("{} with {} data {:?}", describe(m), flags_to_string(flags), o.data), e);
            return Err(match (e, m.typ.as_str()) {
                (Errno::EPERM, "proc") => {
                    err.hint("procfs needs a new pid namespace, or privileges over the current one")
                }
                (Errno::ENODEV, t) => err.hint(format!("the kernel has no {t:?} filesystem")),
                (Errno::EINVAL, _) if !o.data.is_empty() => err.hint("check the filesystem-specific options"),
                _ => err,
            });
        }
    }
    let mounted = root.resolve(dest).op(|| format!("resolve {dest:?} after mounting"))?;
    if let Some(covered) = covered {
        let fresh = mounted.reopen(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY).op(|| format!("open {dest:?}"))?;
        super::copyup::copy_tree(covered.as_fd(), fresh.as_fd(), dest)?;
    }
    if m.typ == "proc" && !is_fs(&mounted, PROC_SUPER_MAGIC)? {
        return Err(SysError::new(format!("check procfs on {dest:?}"), Errno::EXDEV)
            .hint("the mount point did not end up on procfs; refusing to use it"));
    }
    finish(root, m, mounted)
}

/// Propagation flags and recursive attributes, applied to the new mount.
fn finish(_root: &Root, m: &MountPlan, mounted: Handle) -> Result<(), SysError> {
    let o = &m.options;
    for p in &o.propagation {
        mount(None::<&str>, fd_path(&mounted).as_str(), None::<&str>, *p, None::<&str>)
            .op(|| format!("set propagation {} on {:?}", flags_to_string(*p), m.destination))?;
    }
    if o.rec_attr_set != 0 || o.rec_attr_clr != 0 {
        // mount_setattr wants a real (not O_PATH-of-a-symlink) fd of the mount's root.
        let dir =
            mounted.reopen(OpenFlags::O_PATH | OpenFlags::O_CLOEXEC).op(|| format!("reopen {:?}", m.destination))?;
        mount_setattr_recursive(&dir, o.rec_attr_set, o.rec_attr_clr, &format!("{:?}", m.destination))?;
    }
    Ok(())
}
