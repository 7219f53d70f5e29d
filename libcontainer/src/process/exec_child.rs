//! The child side of `exec`: the runtime cloned it inside the container's pid, net, ipc,
//! uts and time namespaces ([`super::nsvisit`]) and placed it in the container's cgroup;
//! it joins the cgroup, mount and user namespaces of the container's init (one `setns`
//! on init's pidfd, Linux 5.8+), takes the container's identity and runs the program.
//! Failures reach the runtime as [`Message::Error`]; a successful `execve` closes the
//! socket (close-on-exec).

use super::{credentials, exec};
use crate::plan::ProcessPlan;
use crate::protocol::{expect, send_msg, InitError, Message};
use crate::syserr::{SysError, SysResultExt};
use nix::sched::CloneFlags;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// What the exec'd process is given.
pub struct ExecArgs<'a> {
    pub process: &'a ProcessPlan,
    pub seccomp: Option<&'a seccomp::Program>,
    /// A pidfd of the container's init.
    pub init: BorrowedFd<'a>,
    /// `CLONE_NEW*` of the container's namespaces the runtime did not visit.
    pub namespaces: CloneFlags,
    pub sync: OwnedFd,
    /// Keep fds 3..3+N open for the program (`--preserve-fds`).
    pub preserve_fds: u32,
    /// Where to send the pty master, when the process has a terminal.
    pub console: Option<OwnedFd>,
    /// The runtime's fds the child must close at once (the state directory's lock: a
    /// host directory, the CVE-2024-21626 lesson).
    pub close: &'a [std::os::fd::RawFd],
}

fn exit(code: i32) -> ! {
    // SAFETY: _exit ends this copy of the runtime without running its destructors.
    unsafe { libc::_exit(code) }
}

fn fail(sync: &OwnedFd, step: &str, error: SysError) -> ! {
    let _ = send_msg(sync.as_fd(), &Message::Error(InitError { step: format!("exec ({step})"), error }));
    exit(127)
}

/// The exec'd process: wait until the runtime placed it in the cgroup, join the rest of
/// the container's namespaces, set up and exec.
pub fn exec_main(a: ExecArgs<'_>) -> ! {
    // SAFETY: PR_SET_DUMPABLE takes plain integers; see init's prologue for why.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    for fd in a.close {
        let _ = nix::unistd::close(*fd);
    }
    if expect(a.sync.as_fd(), |m| *m == Message::Continue, "Continue").is_err() {
        exit(1)
    }
    if !a.namespaces.is_empty() {
        if let Err(e) =
            nix::sched::setns(a.init, a.namespaces).op(|| "setns into the container's namespaces (pidfd)".into())
        {
            fail(&a.sync, "join namespaces", e)
        }
    }
    run(a)
}

fn run(mut a: ExecArgs<'_>) -> ! {
    let p = a.process;
    // setns made the container's root ours: the pty and the cwd are resolved inside it.
    let root = match crate::rootfs::open_root(std::path::Path::new("/")) {
        Ok(r) => r,
        Err(e) => fail(&a.sync, "rootfs", e),
    };
    if let Err(e) = terminal(&root, p, a.console.take()) {
        fail(&a.sync, "console", e)
    }
    let step = |name: &'static str, r: Result<(), SysError>| {
        if let Err(e) = r {
            fail(&a.sync, name, e)
        }
    };
    step("rlimits", credentials::set_rlimits(&p.rlimits));
    if !p.no_new_privileges {
        step("seccomp", load_seccomp(a.seccomp));
    }
    if let Some(c) = &p.caps {
        step("capabilities", credentials::drop_bounding(c));
    }
    step("user", credentials::switch_user(p, true));
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(p.umask.unwrap_or(0o022)));
    if let Some(c) = &p.caps {
        step("capabilities", credentials::apply_caps(c));
    }
    step("cwd", exec::enter_cwd(&root, &p.cwd));
    let mut env = p.env.clone();
    if exec::env_get(&env, "HOME").is_none() {
        env.push(format!("HOME={}", exec::home_of(p.uid)));
    }
    let path = match exec::lookup(&p.args[0], &env) {
        Ok(path) => path,
        Err(e) => fail(&a.sync, "find the program", e),
    };
    if p.no_new_privileges {
        step("no new privileges", credentials::set_no_new_privs());
    }
    step("exec", exec::reset_signals());
    step("exec", exec::cloexec_from(3 + a.preserve_fds));
    if a.preserve_fds > 0 {
        // The runtime's own fds may sit in the preserved range: only the sync socket
        // must still go at exec.
        step("exec", set_cloexec(a.sync.as_raw_fd()));
    }
    if p.no_new_privileges {
        step("seccomp", load_seccomp(a.seccomp));
    }
    let e = exec::execve(&path, &p.args, &env);
    fail(&a.sync, "exec", e)
}

/// A session of its own (as init, and runc's exec), and with a terminal a pty from the
/// container's devpts.
fn terminal(root: &pathrs::Root, p: &ProcessPlan, console: Option<OwnedFd>) -> Result<(), SysError> {
    nix::unistd::setsid().op(|| "setsid".into())?;
    let Some(sock) = console else { return Ok(()) };
    crate::tty::give_terminal(root, &sock, p.console_size, p.uid, false)
}

fn set_cloexec(fd: i32) -> Result<(), SysError> {
    nix::fcntl::fcntl(
        // SAFETY: the fd is our sync socket, open for the whole call.
        unsafe { BorrowedFd::borrow_raw(fd) },
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .map(|_| ())
    .op(|| "mark the sync socket close-on-exec".into())
}

fn load_seccomp(p: Option<&seccomp::Program>) -> Result<(), SysError> {
    let Some(p) = p else { return Ok(()) };
    // A NOTIFY listener for an exec'd process would have no agent: it is closed here, and
    // the kernel then fails the notified calls with ENOSYS.
    p.load().map(drop).map_err(super::seccomp_load::load_error)
}
