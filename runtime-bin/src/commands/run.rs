//! `run`: create + start, then (unless --detach) forward signals to the container,
//! wait for it, delete it and exit with its status.

use crate::cli::Run;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::path::Path;

pub fn run(root: &Path, a: Run) -> anyhow::Result<i32> {
    if a.detach {
        let mut c = super::create::create(root, &a.id, &a.opts)?;
        return match c.start() {
            Ok(()) => Ok(0),
            Err(e) => {
                let _ = c.delete(true);
                Err(e.into())
            }
        };
    }
    // Signals are blocked and read from a signalfd from here on; init resets its mask.
    let mut mask = SigSet::all();
    mask.remove(Signal::SIGKILL);
    mask.remove(Signal::SIGSTOP);
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None)?;
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC)?;
    let mut c = super::create::create(root, &a.id, &a.opts)?;
    if let Err(e) = c.start() {
        let _ = c.delete(true);
        return Err(e.into());
    }
    let detached = c.detach();
    let pid = Pid::from_raw(detached.pid.unwrap_or(0));
    let code = loop {
        let Some(info) = sfd.read_signal()? else { continue };
        let sig = info.ssi_signo as i32;
        if sig == libc::SIGCHLD {
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, c)) => break c,
                Ok(WaitStatus::Signaled(_, s, _)) => break 128 + s as i32,
                Ok(_) => continue,
                Err(nix::errno::Errno::ECHILD) => break 0,
                Err(e) => return Err(e.into()),
            }
        } else if let Ok(s) = Signal::try_from(sig) {
            let _ = nix::sys::signal::kill(pid, s);
        }
    };
    detached.load()?.delete(true)?;
    Ok(code)
}
