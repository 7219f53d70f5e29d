//! Processes by pidfd: signals and waits that can't hit a recycled pid.

use crate::syserr::{SysError, SysResultExt};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// `pidfd_open(pid, 0)`; ESRCH when the process is gone.
pub fn open(pid: Pid) -> Result<OwnedFd, SysError> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(SysError::new(format!("pidfd_open {pid}"), Errno::last()));
    }
    // SAFETY: the kernel returned a new fd (close-on-exec) that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Send `sig` to the process behind `fd`.
pub fn send_signal(fd: impl AsFd, sig: i32) -> Result<(), SysError> {
    // SAFETY: a valid pidfd, a signal number, no siginfo, no flags.
    let r = unsafe {
        libc::syscall(libc::SYS_pidfd_send_signal, fd.as_fd().as_raw_fd(), sig, std::ptr::null::<libc::siginfo_t>(), 0)
    };
    if r < 0 {
        return Err(SysError::new(format!("pidfd_send_signal {sig}"), Errno::last()));
    }
    Ok(())
}

/// Wait until the process has exited (zombie or reaped), up to `timeout`. True if it did.
pub fn wait_exited(fd: impl AsFd, timeout: Duration) -> Result<bool, SysError> {
    let end = Instant::now() + timeout;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let ms = PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, ms) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e).op(|| "poll pidfd".into()),
        }
    }
}
