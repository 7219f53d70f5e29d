//! Where a process's pty master goes, by runc's rules: a detached process (`create`,
//! `run -d`, `exec -d`) sends it to `--console-socket`; a foreground one hands it to
//! berth, which attaches the current terminal to it ([`super::relay`]).

use anyhow::bail;
use libcontainer::tty::{connect_console_socket, Console};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use std::os::fd::OwnedFd;
use std::path::Path;

/// The console for the library, and the end berth reads the master from (foreground).
pub fn console(socket: Option<&Path>, detach: bool) -> anyhow::Result<(Console, Option<OwnedFd>)> {
    match (socket, detach) {
        (Some(_), false) => bail!("cannot use console socket if berth will not detach or allocate tty"),
        (Some(p), true) => Ok((Console::Socket(connect_console_socket(p)?), None)),
        (None, true) => Ok((Console::None, None)),
        (None, false) => {
            let (ours, theirs) = socketpair(AddressFamily::Unix, SockType::Stream, None, SockFlag::SOCK_CLOEXEC)?;
            Ok((Console::IfTerminal(theirs), Some(ours)))
        }
    }
}

/// The current terminal attached to the pty, if the container's process got one (its
/// master is sent before the process is reported ready, so it is there by now or never).
pub fn relay(ours: Option<OwnedFd>) -> anyhow::Result<Option<super::relay::Relay>> {
    let Some(s) = ours else { return Ok(None) };
    let master = libcontainer::tty::recv_fd(std::os::fd::AsFd::as_fd(&s), false)?;
    master.map(super::relay::Relay::new).transpose()
}
