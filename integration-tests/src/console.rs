//! Terminals for the tests: a console socket that receives the pty master the way
//! containerd's shim and conmon do (SCM_RIGHTS over a unix stream socket), a [`Pty`]
//! handle to write to and read from it, and a pty of the test's own to run the runtime
//! on in the foreground, as a person at a terminal would.

use crate::{Facts, Runtime};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Receive one message with an fd over a unix stream (SCM_RIGHTS).
pub fn recv_with_fd(sock: &UnixStream) -> (String, Option<OwnedFd>) {
    let mut buf = vec![0u8; 65536];
    let mut cmsg = vec![0u8; 256];
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: msghdr is plain data; every pointer in it refers to a live buffer above.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.as_mut_ptr().cast();
    msg.msg_controllen = cmsg.len();
    // SAFETY: the socket fd is valid and msg describes buffers that outlive the call.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    assert!(n > 0, "recvmsg from the runtime: {}", std::io::Error::last_os_error());
    let mut fd = None;
    // SAFETY: the CMSG_* macros walk the control buffer the kernel filled in above.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        if !c.is_null() && (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
            let raw = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const i32);
            fd = Some(OwnedFd::from_raw_fd(raw));
        }
    }
    (String::from_utf8_lossy(&buf[..n as usize]).into_owned(), fd)
}

/// A listening console socket in a test's directory.
pub struct ConsoleSocket {
    pub path: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    pub fn new(dir: &Path) -> ConsoleSocket {
        let path = dir.join("console.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).expect("bind the console socket");
        listener.set_nonblocking(true).unwrap();
        ConsoleSocket { path, listener }
    }

    pub fn path_str(&self) -> String {
        self.path.display().to_string()
    }

    /// Accept the runtime's connection and receive the pty master (the name sent with
    /// it too); panics if none comes within `timeout`.
    pub fn accept_master(&self, timeout: Duration) -> (String, Pty) {
        let end = Instant::now() + timeout * crate::time_scale();
        loop {
            match self.listener.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    s.set_read_timeout(Some(timeout)).unwrap();
                    let (name, fd) = recv_with_fd(&s);
                    return (name, Pty { master: fd.expect("the console socket got a message without an fd") });
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < end => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(e) => panic!("no connection on the console socket: {e}"),
            }
        }
    }
}

/// The master side of a pty.
pub struct Pty {
    pub master: OwnedFd,
}

impl Pty {
    /// A new pty pair on the host (the test's own terminal); returns the slave too.
    pub fn open(rows: u16, cols: u16) -> (Pty, OwnedFd) {
        let (mut m, mut s) = (-1, -1);
        let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: openpty writes two fds through the valid out pointers; the name and
        // termios pointers may be null, the winsize one points to a live struct.
        let r = unsafe { libc::openpty(&mut m, &mut s, std::ptr::null_mut(), std::ptr::null(), &ws) };
        assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: openpty returned two new fds that nothing else owns.
        let (m, s) = unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
        for fd in [&m, &s] {
            // SAFETY: F_SETFD with FD_CLOEXEC on an fd we own.
            unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        (Pty { master: m }, s)
    }

    pub fn write(&self, data: &[u8]) {
        // SAFETY: writes from a live buffer of the given length to an fd we own.
        let n = unsafe { libc::write(self.master.as_raw_fd(), data.as_ptr().cast(), data.len()) };
        assert_eq!(n, data.len() as isize, "write to the pty: {}", std::io::Error::last_os_error());
    }

    /// Set the window size (the kernel signals SIGWINCH to the foreground group).
    pub fn set_size(&self, rows: u16, cols: u16) {
        let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCSWINSZ reads one struct winsize from a live pointer.
        let r = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        assert_eq!(r, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
    }

    /// Read until `pat` has appeared, the other side hung up, or `timeout` passed;
    /// everything read, with the pty's "\r\n" turned back into "\n".
    pub fn read_until(&self, pat: &str, timeout: Duration) -> String {
        let end = Instant::now() + timeout * crate::time_scale();
        let mut out = Vec::new();
        let text = |out: &[u8]| String::from_utf8_lossy(out).replace("\r\n", "\n");
        while !text(&out).contains(pat) {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let mut p = libc::pollfd { fd: self.master.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            // SAFETY: one live pollfd.
            if unsafe { libc::poll(&mut p, 1, left.as_millis().min(200) as i32) } <= 0 {
                continue;
            }
            let mut buf = [0u8; 4096];
            // SAFETY: reads into a live buffer of the given length from an fd we own.
            let n = unsafe { libc::read(self.master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break; // EIO: every fd of the slave is closed.
            }
            out.extend_from_slice(&buf[..n as usize]);
        }
        text(&out)
    }

    /// Read the probe's `tty` report (up to its `tty.end` line) as facts.
    pub fn probe_facts(&self, timeout: Duration) -> Facts {
        let text = self.read_until("tty.end=1", timeout);
        assert!(text.contains("tty.end=1"), "no complete tty report from the probe; read: {text:?}");
        Facts::parse(&text)
    }
}

/// The terminal settings of `fd`.
pub fn termios_of(fd: &OwnedFd) -> libc::termios {
    // SAFETY: termios is plain data that tcgetattr fills in.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: a valid fd and a live termios.
    assert_eq!(unsafe { libc::tcgetattr(fd.as_raw_fd(), &mut t) }, 0, "tcgetattr");
    t
}

/// Start `runtime --root R args...` on the pty `slave` as its controlling terminal and
/// stdio, like a shell would.
pub fn spawn_on_pty(rt: &Runtime, args: &[&str], slave: &OwnedFd) -> Child {
    let mut c = Command::new(&rt.bin);
    c.arg("--root").arg(&rt.root).args(args);
    for (k, v) in &rt.env {
        c.env(k, v);
    }
    spawn_command_on_pty(c, slave)
}

/// Start `c` on the pty `slave` as its controlling terminal and stdio.
pub fn spawn_command_on_pty(mut c: Command, slave: &OwnedFd) -> Child {
    let s = slave.as_raw_fd();
    // SAFETY: between fork and exec the closure only makes async-signal-safe calls
    // (setsid, ioctl, dup2) on fds that stay open in the child.
    unsafe {
        c.pre_exec(move || {
            if libc::setsid() < 0 || libc::ioctl(s, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            for n in 0..3 {
                if libc::dup2(s, n) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    c.spawn().expect("spawn the runtime on a pty")
}
