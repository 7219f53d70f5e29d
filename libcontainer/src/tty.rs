//! Terminals: the pty of a process whose `process.terminal` is true, the console socket
//! its master is sent to, and the host-side helpers to attach a terminal to it.
//!
//! The pty is made inside the container, from the container's own devpts instance
//! (`/dev/pts/ptmx`, resolved inside the root and checked to be devpts), so the slave
//! lives in the container's `/dev/pts`. The slave is opened from the master with
//! `TIOCGPTPEER` (no path lookup the image could redirect), bound onto `/dev/console`
//! from its fd (never a path: the CVE-2025-52565 class), made the controlling terminal
//! and the process's stdin, stdout and stderr. The master goes to the console socket
//! with `SCM_RIGHTS`, the way runc sends it (containerd's shim and conmon receive it so);
//! the process keeps none of it.

use crate::syserr::{SysError, SysResultExt};
use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::socket::{
    connect, recvmsg, sendmsg, socket, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag,
    SockType, UnixAddr,
};
use nix::sys::stat::{fstat, fstatat, mknodat, Mode, SFlag};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use nix::unistd::{unlinkat, UnlinkatFlags};
use pathrs::Root;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Where the pty master of a process that asks for a terminal goes.
#[derive(Debug, Default)]
pub enum Console {
    /// No console socket: the process must not ask for a terminal (runc's rule for
    /// `create` and detached runs).
    #[default]
    None,
    /// A connected console socket (`--console-socket`): the process must ask for one.
    Socket(OwnedFd),
    /// A socket the caller reads the master from, if the process asks for a terminal
    /// (a foreground `run`, which attaches its own terminal).
    IfTerminal(OwnedFd),
}

/// A console socket that does not fit the process's `terminal` setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsoleError {
    /// `terminal: true` with nowhere to send the master (runc's message).
    #[error("cannot allocate tty if berth will detach without setting console socket (hint: process.terminal is true: pass --console-socket, or run in the foreground)")]
    NoSocket,
    /// A console socket for a process that has no terminal (runc's message).
    #[error("cannot use console socket if berth will not detach or allocate tty (hint: process.terminal is false)")]
    NotTerminal,
}

impl Console {
    /// The socket init is to send the master to, checked against `terminal`.
    pub fn for_process(self, terminal: bool) -> Result<Option<OwnedFd>, ConsoleError> {
        match (self, terminal) {
            (Console::None, false) => Ok(None),
            (Console::None, true) => Err(ConsoleError::NoSocket),
            (Console::Socket(_), false) => Err(ConsoleError::NotTerminal),
            (Console::Socket(s) | Console::IfTerminal(s), true) => Ok(Some(s)),
            (Console::IfTerminal(_), false) => Ok(None),
        }
    }
}

/// Connect to a console socket (a listening `AF_UNIX` stream socket, as containerd's shim
/// and conmon make them).
pub fn connect_console_socket(path: &Path) -> Result<OwnedFd, SysError> {
    let fd = socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)
        .op(|| "socket(AF_UNIX) for the console socket".into())?;
    let addr = UnixAddr::new(path).op(|| format!("console socket {path:?}"))?;
    connect(fd.as_raw_fd(), &addr).op(|| format!("connect to console socket {path:?}")).map_err(|e| {
        match e.errno() {
            Errno::ECONNREFUSED | Errno::ENOTSOCK | Errno::EPROTOTYPE => {
                e.hint("--console-socket must name a unix stream socket something listens on")
            }
            _ => e,
        }
    })?;
    Ok(fd)
}

/// A pty pair made in the container's devpts.
#[derive(Debug)]
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    /// N of `/dev/pts/N`.
    pub index: u32,
}

fn ioctl_ptr<T>(fd: BorrowedFd<'_>, req: libc::Ioctl, arg: *mut T, what: &str) -> Result<libc::c_int, SysError> {
    // SAFETY: every caller passes a request whose argument is a pointer to `T`, and `arg`
    // points to a live `T` for the duration of the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), req, arg) };
    if r < 0 {
        return Err(SysError::new(what.to_string(), Errno::last()));
    }
    Ok(r)
}

/// Open a new pty from `/dev/pts/ptmx` inside `root`.
pub fn open_pty(root: &Root) -> Result<Pty, SysError> {
    let h =
        root.resolve_nofollow("/dev/pts/ptmx").op(|| "resolve /dev/pts/ptmx in the container".into()).map_err(|e| {
            match e.errno() {
                Errno::ENOENT | Errno::ENOTDIR => e.hint(
                    "a terminal needs a devpts mount at /dev/pts (type devpts, options newinstance,ptmxmode=0666)",
                ),
                _ => e,
            }
        })?;
    if !crate::rootfs::sys::is_fs(&h, nix::sys::statfs::DEVPTS_SUPER_MAGIC)? {
        return Err(SysError::new("open /dev/pts/ptmx", Errno::EXDEV)
            .hint("/dev/pts in the container is not a devpts filesystem; refusing to use it"));
    }
    let flags = pathrs::flags::OpenFlags::O_RDWR | pathrs::flags::OpenFlags::O_NOCTTY;
    let master: OwnedFd = h.reopen(flags).op(|| "open /dev/pts/ptmx".into())?.into();
    let mut unlock: libc::c_int = 0;
    ioctl_ptr(master.as_fd(), libc::TIOCSPTLCK, &mut unlock, "unlock the pty (TIOCSPTLCK)")?;
    let mut index: libc::c_uint = 0;
    ioctl_ptr(master.as_fd(), libc::TIOCGPTN, &mut index, "get the pty number (TIOCGPTN)")?;
    // SAFETY: TIOCGPTPEER takes its open flags as a plain integer argument.
    let slave =
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if slave < 0 {
        return Err(SysError::new(format!("open the slave of /dev/pts/{index} (TIOCGPTPEER)"), Errno::last()));
    }
    // SAFETY: TIOCGPTPEER returned a new fd that nothing else owns.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    Ok(Pty { master, slave, index })
}

/// The window size of the terminal `fd` as (rows, columns), if it is one.
pub fn window_size(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    ioctl_ptr(fd, libc::TIOCGWINSZ, &mut ws, "TIOCGWINSZ").ok()?;
    Some((ws.ws_row, ws.ws_col))
}

/// Set the window size of the terminal `fd` (the kernel signals SIGWINCH to its
/// foreground process group when it changes).
pub fn set_window_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> Result<(), SysError> {
    let mut ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    ioctl_ptr(fd, libc::TIOCSWINSZ, &mut ws, &format!("set the console size to {rows}x{cols} (TIOCSWINSZ)")).map(drop)
}

/// Bind the slave onto `/dev/console` in `root`. The target is made a plain file if it is
/// missing or a symlink, opened without following anything, and the bind goes from fd to
/// fd, so nothing in the image can redirect it.
pub fn bind_console(root: &Root, slave: &OwnedFd) -> Result<(), SysError> {
    let dev =
        root.mkdir_all("/dev", &std::fs::Permissions::from_mode(0o755)).op(|| "create /dev in the container".into())?;
    let open = || {
        openat(&dev, "console", OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
            .op(|| "open /dev/console".into())
    };
    let usable = match fstatat(&dev, "console", AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => !matches!(st.st_mode & libc::S_IFMT, libc::S_IFLNK | libc::S_IFDIR),
        Err(Errno::ENOENT) => false,
        Err(e) => return Err(SysError::new("stat /dev/console", e)),
    };
    if !usable {
        match unlinkat(&dev, "console", UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(SysError::new("remove /dev/console", e).hint("it must not be a directory")),
        }
        mknodat(&dev, "console", SFlag::S_IFREG, Mode::from_bits_truncate(0o666), 0)
            .op(|| "create /dev/console".into())?;
    }
    let target = open()?;
    if fstat(&target).op(|| "stat /dev/console".into())?.st_mode & libc::S_IFMT == libc::S_IFLNK {
        return Err(SysError::new("open /dev/console", Errno::ELOOP).hint("it was replaced by a symlink meanwhile"));
    }
    let (src, dst) = (crate::rootfs::fd_path(slave), crate::rootfs::fd_path(&target));
    nix::mount::mount(Some(src.as_str()), dst.as_str(), None::<&str>, nix::mount::MsFlags::MS_BIND, None::<&str>)
        .op(|| "bind the pty onto /dev/console".into())
}

/// Make the slave our controlling terminal (we must be a session leader without one) and
/// our stdin, stdout and stderr.
pub fn attach_stdio(slave: OwnedFd) -> Result<(), SysError> {
    // SAFETY: TIOCSCTTY takes a plain integer (0: don't steal it from another session).
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
        return Err(SysError::new("make the pty the controlling terminal (TIOCSCTTY)", Errno::last()));
    }
    for n in 0..3 {
        // SAFETY: dup2 onto the standard fds replaces them; nothing else owns 0..2 as OwnedFd.
        if unsafe { libc::dup2(slave.as_raw_fd(), n) } < 0 {
            return Err(SysError::new(format!("dup the pty onto fd {n}"), Errno::last()));
        }
    }
    if slave.as_raw_fd() <= 2 {
        // Now one of the standard fds: it must stay open.
        std::mem::forget(slave);
    }
    Ok(())
}

/// Send `fd` over a unix socket with `name` as the message, as runc sends the pty master.
pub fn send_fd(sock: BorrowedFd<'_>, name: &str, fd: BorrowedFd<'_>) -> Result<(), SysError> {
    let fds = [fd.as_raw_fd()];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(name.as_bytes())],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .op(|| "send the pty master to the console socket".into())
    .map(drop)
}

/// Receive one fd sent by [`send_fd`]. With `wait` false, `Ok(None)` when nothing is queued.
pub fn recv_fd(sock: BorrowedFd<'_>, wait: bool) -> Result<Option<OwnedFd>, SysError> {
    let mut name = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut name)];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let mut flags = MsgFlags::MSG_CMSG_CLOEXEC;
    if !wait {
        flags |= MsgFlags::MSG_DONTWAIT;
    }
    let msg = match recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut cmsg), flags) {
        Ok(m) => m,
        Err(Errno::EAGAIN) if !wait => return Ok(None),
        Err(e) => return Err(SysError::new("receive the pty master", e)),
    };
    let mut got = None;
    for c in msg.cmsgs().op(|| "receive the pty master".into())? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for fd in fds {
                // SAFETY: the kernel installed this fd for us with the message; we own it.
                let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                got.get_or_insert(fd);
            }
        }
    }
    Ok(got)
}

/// Give the calling process a terminal: a pty in `root`'s devpts sized `size` (rows,
/// columns), bound on `/dev/console` when `console` is set (init; not exec, as runc), its
/// master sent to `sock`, the slave owned by `uid` (runc does the same, so the user can
/// control its terminal) and made the controlling terminal and stdio. The caller must be
/// a session leader without a controlling terminal.
pub fn give_terminal(
    root: &Root,
    sock: &OwnedFd,
    size: Option<(u16, u16)>,
    uid: u32,
    console: bool,
) -> Result<(), SysError> {
    let pty = open_pty(root)?;
    if let Some((rows, cols)) = size {
        set_window_size(pty.master.as_fd(), rows, cols)?;
    }
    if console {
        bind_console(root, &pty.slave)?;
    }
    send_fd(sock.as_fd(), &format!("/dev/pts/{}", pty.index), pty.master.as_fd())?;
    drop(pty.master);
    match nix::unistd::fchown(&pty.slave, Some(nix::unistd::Uid::from_raw(uid)), None) {
        // An unmapped id or a read-only /dev: leave the owner as it is (runc too).
        Ok(()) | Err(Errno::EINVAL | Errno::EPERM | Errno::EROFS) => {}
        Err(e) => return Err(SysError::new(format!("chown /dev/pts/{} to {uid}", pty.index), e)),
    }
    attach_stdio(pty.slave)
}

/// A terminal in raw mode, put back as it was when dropped.
pub struct RawMode {
    fd: RawFd,
    saved: Termios,
}

impl RawMode {
    /// Put the terminal `fd` in raw mode; `None` if `fd` is not a terminal.
    pub fn enter(fd: BorrowedFd<'_>) -> Result<Option<RawMode>, SysError> {
        let saved = match tcgetattr(fd) {
            Ok(t) => t,
            Err(Errno::ENOTTY | Errno::EINVAL) => return Ok(None),
            Err(e) => return Err(SysError::new("read the terminal's settings", e)),
        };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(fd, SetArg::TCSANOW, &raw).op(|| "put the terminal in raw mode".into())?;
        Ok(Some(RawMode { fd: fd.as_raw_fd(), saved }))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: the fd is the caller's terminal (stdin), open for the whole process.
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
        let _ = tcsetattr(fd, SetArg::TCSADRAIN, &self.saved);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_socket_must_match_terminal() {
        let (a, b) =
            nix::sys::socket::socketpair(AddressFamily::Unix, SockType::Stream, None, SockFlag::SOCK_CLOEXEC).unwrap();
        assert_eq!(Console::None.for_process(true).unwrap_err(), ConsoleError::NoSocket);
        assert!(Console::None.for_process(false).unwrap().is_none());
        assert_eq!(Console::Socket(a).for_process(false).unwrap_err(), ConsoleError::NotTerminal);
        assert!(Console::IfTerminal(b).for_process(false).unwrap().is_none());
    }

    #[test]
    fn fds_pass_with_their_name() {
        let (a, b) =
            nix::sys::socket::socketpair(AddressFamily::Unix, SockType::Stream, None, SockFlag::SOCK_CLOEXEC).unwrap();
        assert!(recv_fd(b.as_fd(), false).unwrap().is_none());
        let (r, w) = nix::unistd::pipe().unwrap();
        send_fd(a.as_fd(), "/dev/pts/7", w.as_fd()).unwrap();
        let got = recv_fd(b.as_fd(), true).unwrap().unwrap();
        nix::unistd::write(&got, b"x").unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(nix::unistd::read(&r, &mut buf).unwrap(), 1);
    }

    #[test]
    fn host_pty_round_trip() {
        // The host's own devpts stands in for a container's: open a pty the way init
        // does, size it, and pass bytes from master to slave.
        if !Path::new("/dev/pts/ptmx").exists() {
            eprintln!("skipped: no /dev/pts/ptmx");
            return;
        }
        let root = Root::open("/").unwrap();
        let pty = match open_pty(&root) {
            Ok(p) => p,
            Err(e) if e.errno() == Errno::EACCES => return eprintln!("skipped: {e}"),
            Err(e) => panic!("{e}"),
        };
        set_window_size(pty.slave.as_fd(), 33, 101).unwrap();
        assert_eq!(window_size(pty.master.as_fd()), Some((33, 101)));
        assert!(Path::new(&format!("/dev/pts/{}", pty.index)).exists());
        nix::unistd::write(&pty.master, b"hi\n").unwrap();
        let mut buf = [0u8; 16];
        let n = nix::unistd::read(&pty.slave, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"hi\n");
    }
}
