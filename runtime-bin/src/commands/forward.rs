//! Waiting for a child while forwarding our signals to it: `run` and `exec` without
//! `--detach`. Signals are blocked (the child resets its mask) and read from a signalfd.

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

fn forwardable() -> SigSet {
    let mut mask = SigSet::all();
    mask.remove(Signal::SIGKILL);
    mask.remove(Signal::SIGSTOP);
    mask
}

/// Block every signal that can be blocked: call before creating the child, so none is
/// lost or acted on by berth meanwhile.
pub fn block() -> anyhow::Result<()> {
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&forwardable()), None)?;
    Ok(())
}

/// Forward signals to `pid` until it exits; its exit code (128 + signal when killed).
pub fn until_exit(pid: i32) -> anyhow::Result<i32> {
    let sfd = SignalFd::with_flags(&forwardable(), SfdFlags::SFD_CLOEXEC)?;
    let pid = Pid::from_raw(pid);
    loop {
        // Checked before each wait: the child may have exited before the signalfd existed.
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, c)) => return Ok(c),
            Ok(WaitStatus::Signaled(_, s, _)) => return Ok(128 + s as i32),
            Ok(_) => {}
            Err(nix::errno::Errno::ECHILD) => return Ok(0),
            Err(e) => return Err(e.into()),
        }
        let Some(info) = sfd.read_signal()? else { continue };
        let sig = info.ssi_signo as i32;
        if sig != libc::SIGCHLD {
            if let Ok(s) = Signal::try_from(sig) {
                let _ = nix::sys::signal::kill(pid, s);
            }
        }
    }
}
