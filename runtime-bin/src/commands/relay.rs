//! Attaching the current terminal to a container's pty (foreground `run` and `exec` of a
//! process with a terminal): stdin in raw mode, bytes copied both ways, the window size
//! followed on SIGWINCH, and the terminal put back as it was at the end.

use libcontainer::tty::{set_window_size, window_size, RawMode};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// The end of the line, for a stdin that is not a terminal: once it is exhausted the pty
/// reads an end-of-file (VEOF, ^D), so a shell reading a piped script exits.
const EOF_CHAR: u8 = 4;

pub struct Relay {
    master: OwnedFd,
    _raw: Option<RawMode>,
    stdin_tty: bool,
    stdin_open: bool,
    master_open: bool,
}

fn stdin() -> BorrowedFd<'static> {
    // SAFETY: fd 0 stays open for the whole life of the process.
    unsafe { BorrowedFd::borrow_raw(0) }
}

fn write_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> bool {
    while !buf.is_empty() {
        match nix::unistd::write(fd, buf) {
            Ok(n) => buf = &buf[n..],
            Err(Errno::EINTR) => {}
            Err(_) => return false,
        }
    }
    true
}

impl Relay {
    pub fn new(master: OwnedFd) -> anyhow::Result<Relay> {
        let raw = RawMode::enter(stdin())?;
        let r = Relay { master, stdin_tty: raw.is_some(), _raw: raw, stdin_open: true, master_open: true };
        r.resize();
        Ok(r)
    }

    /// Give the pty the current terminal's size.
    pub fn resize(&self) {
        if let Some((rows, cols)) = window_size(stdin()) {
            let _ = set_window_size(self.master.as_fd(), rows, cols);
        }
    }

    /// The fds to poll (the ones still open: a hung-up fd would wake poll forever).
    pub fn poll_fds(&self) -> Vec<PollFd<'_>> {
        let mut v = Vec::with_capacity(2);
        if self.master_open {
            v.push(PollFd::new(self.master.as_fd(), PollFlags::POLLIN));
        }
        if self.stdin_open {
            v.push(PollFd::new(stdin(), PollFlags::POLLIN));
        }
        v
    }

    /// Copy what is ready; `revents` are those of the fds [`Self::poll_fds`] returned.
    pub fn pump(&mut self, revents: &[PollFlags]) {
        let mut ev = revents.iter().copied();
        let master = if self.master_open { ev.next().unwrap_or(PollFlags::empty()) } else { PollFlags::empty() };
        let stdin_ev = if self.stdin_open { ev.next().unwrap_or(PollFlags::empty()) } else { PollFlags::empty() };
        if !master.is_empty() {
            self.copy_out();
        }
        if !stdin_ev.is_empty() {
            let mut buf = [0u8; 8192];
            match nix::unistd::read(stdin(), &mut buf) {
                Ok(0) | Err(Errno::EIO) => {
                    self.stdin_open = false;
                    if !self.stdin_tty {
                        write_all(self.master.as_fd(), &[EOF_CHAR]);
                    }
                }
                Ok(n) => {
                    if !write_all(self.master.as_fd(), &buf[..n]) {
                        self.stdin_open = false;
                    }
                }
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                Err(_) => self.stdin_open = false,
            }
        }
    }

    fn copy_out(&mut self) -> bool {
        let mut buf = [0u8; 16384];
        match nix::unistd::read(&self.master, &mut buf) {
            // EIO: every fd of the slave is closed.
            Ok(0) | Err(Errno::EIO) => self.master_open = false,
            Ok(n) => {
                // SAFETY: fd 1 stays open for the whole life of the process.
                write_all(unsafe { BorrowedFd::borrow_raw(1) }, &buf[..n]);
                return true;
            }
            Err(_) => {}
        }
        false
    }

    /// After the process exited: copy what is left in the pty without waiting for more.
    pub fn drain(&mut self) {
        while self.master_open {
            let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
            match nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO) {
                Ok(n) if n > 0 => {
                    if !self.copy_out() {
                        break;
                    }
                }
                _ => break,
            }
        }
    }
}
