//! `/sys/fs/cgroup` inside the container.
//!
//! With a cgroup namespace the container gets real cgroup filesystems (the kernel shows
//! the namespace's root). Without one it gets binds of its own cgroup directories on the
//! host, and always read-only (the CVE-2023-25809 lesson): it must not write the host's
//! cgroup tree.

use super::fd_path;
use super::mount::make_destination;
use crate::plan::MountPlan;
use crate::syserr::{SysError, SysResultExt};
use nix::mount::{mount, MsFlags};
use pathrs::Root;
use std::path::PathBuf;

/// One cgroup hierarchy as the container should see it, prepared by the runtime from
/// the host's layout before clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    /// Directory name under the cgroup mount ("memory", "systemd", "unified"); empty for
    /// a pure cgroup v2 host, where the hierarchy is the mount itself.
    pub name: String,
    /// "cgroup" (v1) or "cgroup2".
    pub fstype: String,
    /// v1 mount data naming the controllers ("cpu,cpuacct", "name=systemd"); empty for v2.
    pub data: String,
    /// The container's cgroup directory on the host, bound when there is no cgroup namespace.
    pub host_dir: PathBuf,
}

/// Mount the cgroup hierarchies at `m.destination`.
pub(super) fn mount_cgroups(
    root: &Root,
    m: &MountPlan,
    cgroups: &[CgroupMount],
    cgroupns: bool,
) -> Result<(), SysError> {
    let base_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let mut flags = (m.options.flags - MsFlags::MS_BIND - MsFlags::MS_REC - MsFlags::MS_REMOUNT) | base_flags;
    if !cgroupns {
        flags |= MsFlags::MS_RDONLY;
    }
    let dest = &m.destination;
    let unified_only = cgroups.len() == 1 && cgroups[0].name.is_empty();
    if !unified_only {
        // v1 or hybrid: a tmpfs holding one directory per hierarchy, as on the host.
        let t = make_destination(root, dest, false)?;
        mount(Some("cgroup"), fd_path(&t).as_str(), Some("tmpfs"), base_flags, Some("mode=755"))
            .op(|| format!("mount tmpfs on {dest:?}"))?;
    }
    for cg in cgroups {
        let sub = if cg.name.is_empty() { dest.clone() } else { dest.join(&cg.name) };
        let t = make_destination(root, &sub, false)?;
        let target = fd_path(&t);
        if cgroupns {
            let data = (!cg.data.is_empty()).then_some(cg.data.as_str());
            mount(Some(cg.fstype.as_str()), target.as_str(), Some(cg.fstype.as_str()), flags, data)
                .op(|| format!("mount {} ({}) on {sub:?}", cg.fstype, cg.data))?;
        } else {
            mount(Some(&cg.host_dir), target.as_str(), None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
                .op(|| format!("bind cgroup {:?} on {sub:?}", cg.host_dir))?;
            let t = root.resolve(&sub).op(|| format!("resolve {sub:?}"))?;
            mount(
                None::<&str>,
                fd_path(&t).as_str(),
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags,
                None::<&str>,
            )
            .op(|| format!("remount cgroup {sub:?} read-only"))?;
        }
    }
    if !unified_only && flags.contains(MsFlags::MS_RDONLY) {
        let t = root.resolve(dest).op(|| format!("resolve {dest:?}"))?;
        mount(None::<&str>, fd_path(&t).as_str(), None::<&str>, MsFlags::MS_REMOUNT | flags, Some("mode=755"))
            .op(|| format!("remount tmpfs {dest:?} read-only"))?;
    }
    Ok(())
}
