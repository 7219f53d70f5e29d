//! Visiting a container's namespaces from the runtime, so that `exec` needs one fork.
//!
//! The runtime enters the namespaces whose change touches nothing it does itself
//! afterwards: pid and time (they apply to children only), net, ipc and uts. It clones
//! the exec'd process into them, then goes back to its own. The child joins the rest
//! itself: cgroup (the runtime must stay outside it: writing `cgroup.procs` and
//! `CLONE_INTO_CGROUP` check that the moved process's cgroup is under the writer's
//! cgroup namespace root), mount (it changes the root) and user (it changes the
//! credentials), with one `setns` on init's pidfd.

use crate::syserr::{SysError, SysResultExt};
use nix::sched::{setns, CloneFlags};
use std::os::fd::{BorrowedFd, OwnedFd};

/// The namespaces the runtime visits, and their names under `/proc/thread-self/ns`.
const VISITED: [(CloneFlags, &str); 5] = [
    (CloneFlags::CLONE_NEWNET, "net"),
    (CloneFlags::CLONE_NEWIPC, "ipc"),
    (CloneFlags::CLONE_NEWUTS, "uts"),
    (CloneFlags::CLONE_NEWPID, "pid_for_children"),
    // CLONE_NEWTIME, which nix does not name.
    (CloneFlags::from_bits_retain(libc::CLONE_NEWTIME), "time_for_children"),
];

/// Of `all` (the container's namespaces): those the runtime visits, and those the child joins.
pub fn split(all: CloneFlags) -> (CloneFlags, CloneFlags) {
    let visited = VISITED.iter().fold(CloneFlags::empty(), |f, (t, _)| f | *t) & all;
    (visited, all - visited)
}

/// The runtime's own namespaces while it visits a container's; [`Visit::leave`] goes
/// back. Dropped without `leave` (an error path), it goes back as best it can.
#[must_use]
pub struct Visit {
    saved: Vec<(OwnedFd, CloneFlags)>,
}

/// Enter the namespaces `flags` of the process behind `target` (a pidfd).
pub fn visit(target: BorrowedFd<'_>, flags: CloneFlags) -> Result<Visit, SysError> {
    let mut saved = Vec::new();
    for (t, name) in VISITED {
        if flags.contains(t) {
            let path = format!("/proc/thread-self/ns/{name}");
            let fd = std::fs::File::open(&path).op(|| format!("open {path}"))?;
            saved.push((OwnedFd::from(fd), t));
        }
    }
    let v = Visit { saved };
    if !flags.is_empty() {
        setns(target, flags).op(|| "setns into the container's namespaces (pidfd)".into())?;
    }
    Ok(v)
}

impl Visit {
    /// Go back to the runtime's own namespaces.
    pub fn leave(mut self) -> Result<(), SysError> {
        self.restore()
    }

    /// In the child cloned during the visit: stay, and close the runtime's namespace fds
    /// (they must never reach the container).
    pub fn stay(mut self) {
        self.saved.clear();
    }

    fn restore(&mut self) -> Result<(), SysError> {
        for (fd, t) in self.saved.drain(..) {
            setns(&fd, t).op(|| "setns back to the runtime's own namespaces".into())?;
        }
        Ok(())
    }
}

impl Drop for Visit {
    fn drop(&mut self) {
        if let Err(e) = self.restore() {
            tracing::warn!("{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_never_visits_cgroup_mount_or_user() {
        let all = CloneFlags::CLONE_NEWPID
            | CloneFlags::CLONE_NEWNET
            | CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWUSER
            | CloneFlags::CLONE_NEWCGROUP
            | CloneFlags::CLONE_NEWUTS;
        let (visited, joined) = split(all);
        assert_eq!(visited, CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWUTS);
        assert_eq!(joined, CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWCGROUP);
        assert_eq!(split(CloneFlags::empty()), (CloneFlags::empty(), CloneFlags::empty()));
    }
}
