//! `clone3(2)` with fork semantics: the seam through which berth creates processes.

use crate::syserr::SysError;
use nix::unistd::Pid;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `struct clone_args` of `<linux/sched.h>` (version 2, with `cgroup`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Which side of the clone we are on.
pub enum Forked {
    /// The new process.
    Child,
    /// The caller, with the child's pid and a pidfd for it.
    Parent { pid: Pid, pidfd: OwnedFd },
}

/// Clone the calling process like `fork(2)`, into new namespaces given by `flags`
/// (`CLONE_NEW*`, `CLONE_PARENT`), and with `cgroup` into that cgroup v2 directory.
///
/// The calling process must be single-threaded: the child continues on a copy of this
/// thread only, and a lock held by another thread (the allocator's) would never be
/// released in it.
pub fn clone3(flags: u64, cgroup: Option<BorrowedFd<'_>>) -> Result<Forked, SysError> {
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        // With CLONE_PARENT the child inherits our exit signal; clone3 wants 0 here.
        exit_signal: if flags & libc::CLONE_PARENT as u64 != 0 { 0 } else { libc::SIGCHLD as u64 },
        ..Default::default()
    };
    if let Some(cg) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = cg.as_raw_fd() as u64;
    }
    // SAFETY: `args` is a valid clone_args whose size is passed; stack 0 gives fork
    // semantics (the child runs on a copy-on-write copy of this stack). `pidfd` outlives
    // the call. The child only returns into code that ends in `_exit`/`execve`.
    let r = unsafe { libc::syscall(libc::SYS_clone3, &mut args as *mut CloneArgs, std::mem::size_of::<CloneArgs>()) };
    match r {
        0 => Ok(Forked::Child),
        r if r > 0 => Ok(Forked::Parent {
            pid: Pid::from_raw(r as i32),
            // SAFETY: with CLONE_PIDFD the kernel stored a new fd (O_CLOEXEC) we now own.
            pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
        }),
        _ => {
            let e = nix::errno::Errno::last();
            let err = SysError::new(format!("clone3 with flags {}", clone_flags_to_string(flags)), e);
            Err(match e {
                nix::errno::Errno::EINVAL if flags & libc::CLONE_NEWTIME as u64 != 0 => {
                    err.hint("time namespaces need Linux 5.6")
                }
                nix::errno::Errno::ENOSPC | nix::errno::Errno::EUSERS => {
                    err.hint("the namespace limit in /proc/sys/user/max_*_namespaces is reached")
                }
                nix::errno::Errno::EPERM => err.hint("creating namespaces needs CAP_SYS_ADMIN (run as root)"),
                _ => err,
            })
        }
    }
}

/// Namespace flags as `CLONE_NEWPID|CLONE_NEWNS`, for errors.
pub fn clone_flags_to_string(flags: u64) -> String {
    let names = [
        (libc::CLONE_NEWNS, "CLONE_NEWNS"),
        (libc::CLONE_NEWUTS, "CLONE_NEWUTS"),
        (libc::CLONE_NEWIPC, "CLONE_NEWIPC"),
        (libc::CLONE_NEWUSER, "CLONE_NEWUSER"),
        (libc::CLONE_NEWPID, "CLONE_NEWPID"),
        (libc::CLONE_NEWNET, "CLONE_NEWNET"),
        (libc::CLONE_NEWCGROUP, "CLONE_NEWCGROUP"),
        (libc::CLONE_NEWTIME, "CLONE_NEWTIME"),
        (libc::CLONE_PARENT, "CLONE_PARENT"),
    ];
    let v: Vec<&str> = names.iter().filter(|(f, _)| flags & *f as u64 != 0).map(|(_, n)| *n).collect();
    if v.is_empty() {
        "0".into()
    } else {
        v.join("|")
    }
}
