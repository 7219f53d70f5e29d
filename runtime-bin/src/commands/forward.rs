//! Waiting for a child while forwarding our signals to it: `run` and `exec` without
//! `--detach`. Signals are blocked (the child resets its mask) and read from a signalfd.
//! With a terminal, the same loop relays the pty ([`Relay`]); SIGWINCH resizes it and
//! is not forwarded (runc does the same).

use super::relay::Relay;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::AsFd;

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

/// Forward signals to `pid` until it exits (relaying its terminal, if any); its exit
/// code (128 + signal when killed).
pub fn until_exit(pid: i32, mut relay: Option<Relay>) -> anyhow::Result<i32> {
    let sfd = SignalFd::with_flags(&forwardable(), SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
    let pid = Pid::from_raw(pid);
    loop {
        // Checked before each wait: the child may have exited before the signalfd existed.
        let code = match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, c)) => Some(c),
            Ok(WaitStatus::Signaled(_, s, _)) => Some(128 + s as i32),
            Ok(_) => None,
            Err(nix::errno::Errno::ECHILD) => Some(0),
            Err(e) => return Err(e.into()),
        };
        if let Some(code) = code {
            if let Some(r) = relay.as_mut() {
                r.drain();
            }
            return Ok(code);
        }
        let (sig_ready, revents) = {
            let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
            if let Some(r) = &relay {
                fds.extend(r.poll_fds());
            }
            match nix::poll::poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
            let ev: Vec<PollFlags> = fds.iter().map(|f| f.revents().unwrap_or(PollFlags::empty())).collect();
            (!ev[0].is_empty(), ev)
        };
        if let Some(r) = relay.as_mut() {
            r.pump(&revents[1..]);
        }
        if !sig_ready {
            continue;
        }
        while let Some(info) = sfd.read_signal()? {
            match info.ssi_signo as i32 {
                libc::SIGCHLD => {}
                libc::SIGWINCH => {
                    if let Some(r) = &relay {
                        r.resize();
                    }
                }
                sig => {
                    if let Ok(s) = Signal::try_from(sig) {
                        let _ = nix::sys::signal::kill(pid, s);
                    }
                }
            }
        }
    }
}
