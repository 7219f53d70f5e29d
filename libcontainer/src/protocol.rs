//! The protocol between the runtime and the container's init.
//!
//! Both ends hold one end of a `SOCK_SEQPACKET` socketpair (close-on-exec, so it never
//! reaches the container's program). Each packet is one [`Message`], JSON-encoded, at
//! most [`MAX_MESSAGE`] bytes; anything larger, truncated or malformed is rejected
//! (the CVE-2021-43784 lesson: no hand-rolled length arithmetic).
//!
//! ```text
//!  runtime (berth create)                     init (cloned into the new namespaces)
//!  ──────────────────────                     ─────────────────────────────────────
//!  clone3(CLONE_NEW*) ───────────────────────▶ waits for Continue
//!   [two-step: the first child joins/unshares,
//!    forks init and sends InitPid{pid}] ◀──── (only when namespaces are joined or
//!                                              a time namespace is created)
//!  write uid_map/gid_map
//!        ── Continue ──────────────────────▶ hostname, rootfs, mounts...
//!  join cgroups, oom_score_adj                (in parallel: a v1 cgroup move can
//!        ── Joined{pid} ───────────────────▶  wait an RCU grace period)
//!                                            ...cgroup ns and cgroup mounts, devices
//!        ◀────────────────── RuntimeHooks   (only when prestart/createRuntime hooks exist)
//!  run prestart + createRuntime hooks
//!        ── Continue ──────────────────────▶ createContainer hooks, pivot_root, devices,
//!                                            masked/read-only paths, sysctl, rlimits,
//!                                            user, capabilities, look up args[0]
//!        ◀────────────────────────── Ready
//!  write state "created", exit                accept() on the start socket
//!
//!  berth start ── connect(start.sock) ─────▶ (the start socket is a separate listener
//!        ── Start{state} ──────────────────▶  inherited from the runtime)
//!                                            startContainer hooks, execve(args)
//!        ◀──── EOF (exec closed the socket), or Error{..} if anything failed
//! ```
//!
//! Any step of init that fails sends [`Message::Error`] with the step, the syscall and the
//! path, and exits; the CLI prints that, never just "channel closed". A runtime that dies
//! mid-create closes its end: init reads EOF and exits, so nothing is left waiting.

use crate::syserr::SysError;
use nix::sys::socket::{recv, send, MsgFlags};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::os::fd::{AsRawFd, BorrowedFd};

/// The largest message either side sends or accepts.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// An error in the container's init, sent to the runtime as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitError {
    /// Who failed at which named step, e.g. "container init (mounts)".
    pub step: String,
    /// The failing system call and its errno.
    pub error: SysError,
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.step, self.error)
    }
}

impl std::error::Error for InitError {}

/// One message between the runtime and init.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    /// Runtime → init: what init waited for is done; go on.
    Continue,
    /// Runtime → init: init is in its cgroup (and its oom_score_adj is set). Sent right
    /// after the first `Continue`: init sets up mounts meanwhile and waits for this only
    /// where the cgroup matters (cgroup namespace, cgroup mounts).
    Joined {
        /// Init's pid in the runtime's pid namespace (init sees itself as 1).
        pid: i32,
    },
    /// First child → runtime (two-step creation): the pid of init, in the runtime's pid namespace.
    InitPid { pid: i32 },
    /// First child → runtime (two-step creation): a user namespace was unshared; write its maps.
    MapUserNs,
    /// Init → runtime: mounts are done; run the prestart and createRuntime hooks.
    RuntimeHooks,
    /// Init → runtime: set up, waiting for start.
    Ready,
    /// `berth start` → init: run; `state` is the OCI state JSON for the startContainer hooks.
    Start { state: String },
    /// Init → runtime: a step failed.
    Error(InitError),
}

/// Why a message could not be exchanged.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The peer closed its end (exited, or exec'd).
    #[error("the container's init closed the connection")]
    Closed,
    /// A kernel error on the socket.
    #[error("{0}")]
    Sys(#[from] SysError),
    /// A message that did not decode.
    #[error("malformed message from the container's init: {0}")]
    Malformed(String),
    /// A message that was not expected at this point.
    #[error("unexpected message {got:?} (expected {expected})")]
    Unexpected { got: Box<Message>, expected: &'static str },
}

impl Message {
    /// Decode one packet. Rejects empty, oversized and malformed input.
    pub fn decode(buf: &[u8]) -> Result<Message, ProtocolError> {
        if buf.len() > MAX_MESSAGE {
            return Err(ProtocolError::Malformed(format!("{} bytes is above the limit", buf.len())));
        }
        serde_json::from_slice(buf).map_err(|e| ProtocolError::Malformed(e.to_string()))
    }

    /// Encode for sending.
    pub fn encode(&self) -> Result<Vec<u8>, ProtocolError> {
        let v = serde_json::to_vec(self).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
        if v.len() > MAX_MESSAGE {
            return Err(ProtocolError::Malformed(format!("{} bytes is above the limit", v.len())));
        }
        Ok(v)
    }
}

/// Send one message on a `SOCK_SEQPACKET` socket.
pub fn send_msg(fd: BorrowedFd<'_>, msg: &Message) -> Result<(), ProtocolError> {
    let buf = msg.encode()?;
    loop {
        match send(fd.as_raw_fd(), &buf, MsgFlags::MSG_NOSIGNAL) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::EPIPE | nix::errno::Errno::ECONNRESET) => return Err(ProtocolError::Closed),
            Err(e) => return Err(SysError::new("send to init socket", e).into()),
        }
    }
}

/// Receive one message; EOF is [`ProtocolError::Closed`].
pub fn recv_msg(fd: BorrowedFd<'_>) -> Result<Message, ProtocolError> {
    let mut buf = vec![0u8; MAX_MESSAGE + 1];
    loop {
        match recv(fd.as_raw_fd(), &mut buf, MsgFlags::MSG_CMSG_CLOEXEC) {
            Ok(0) => return Err(ProtocolError::Closed),
            Ok(n) => return Message::decode(&buf[..n]),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::ECONNRESET) => return Err(ProtocolError::Closed),
            Err(e) => return Err(SysError::new("receive from init socket", e).into()),
        }
    }
}

/// Receive and require [`Message::Continue`], turning an [`Message::Error`] into an error.
pub fn expect(
    fd: BorrowedFd<'_>,
    want: fn(&Message) -> bool,
    expected: &'static str,
) -> Result<Message, ProtocolError> {
    let m = recv_msg(fd)?;
    if want(&m) {
        Ok(m)
    } else {
        Err(ProtocolError::Unexpected { got: Box::new(m), expected })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    use std::os::fd::AsFd;

    fn pair() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
        socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC).unwrap()
    }

    #[test]
    fn round_trip_every_message() {
        let (a, b) = pair();
        let msgs = [
            Message::Continue,
            Message::Joined { pid: 7 },
            Message::InitPid { pid: 42 },
            Message::MapUserNs,
            Message::RuntimeHooks,
            Message::Ready,
            Message::Start { state: "{}".into() },
            Message::Error(InitError {
                step: "mounts".into(),
                error: SysError::new("mount \"proc\" on \"/proc\"", nix::errno::Errno::EPERM),
            }),
        ];
        for m in &msgs {
            send_msg(a.as_fd(), m).unwrap();
            assert_eq!(&recv_msg(b.as_fd()).unwrap(), m);
        }
    }

    #[test]
    fn eof_is_closed() {
        let (a, b) = pair();
        drop(a);
        assert!(matches!(recv_msg(b.as_fd()), Err(ProtocolError::Closed)));
    }

    #[test]
    fn rejects_malformed_and_oversized() {
        assert!(matches!(Message::decode(b"{\"type\":\"nope\"}"), Err(ProtocolError::Malformed(_))));
        assert!(matches!(Message::decode(b""), Err(ProtocolError::Malformed(_))));
        assert!(matches!(Message::decode(&[b' '; MAX_MESSAGE + 1]), Err(ProtocolError::Malformed(_))));
        let big = Message::Start { state: "x".repeat(MAX_MESSAGE) };
        assert!(big.encode().is_err());
    }

    /// A deterministic fuzz smoke of the decoder (CVE-2021-43784: the bootstrap message
    /// is attacker-adjacent): random bytes, and valid messages truncated, bit-flipped and
    /// spliced, must decode or fail cleanly; whatever decodes must re-encode.
    #[test]
    fn decoder_survives_random_and_mutated_input() {
        let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15);
        let seeds: Vec<Vec<u8>> = [
            Message::Continue,
            Message::Joined { pid: 7 },
            Message::Start { state: "{\"id\":\"x\"}".into() },
            Message::Error(InitError { step: "s".into(), error: SysError::new("mount", nix::errno::Errno::EPERM) }),
        ]
        .iter()
        .map(|m| m.encode().unwrap())
        .collect();
        for i in 0..20_000 {
            let mut buf = if i % 2 == 0 {
                (0..next() % 300).map(|_| next() as u8).collect::<Vec<u8>>()
            } else {
                seeds[next() as usize % seeds.len()].clone()
            };
            for _ in 0..next() % 4 {
                if buf.is_empty() {
                    break;
                }
                let at = next() as usize % buf.len();
                match next() % 3 {
                    0 => buf[at] ^= 1 << (next() % 8),
                    1 => buf.truncate(at),
                    _ => {
                        let alphabet = b"{}[]\":,0-9e";
                        buf.insert(at, alphabet[next() as usize % alphabet.len()])
                    }
                }
            }
            if let Ok(m) = Message::decode(&buf) {
                assert!(m.encode().is_ok(), "{m:?} decoded but does not encode");
            }
        }
    }

    #[test]
    fn init_error_renders_step_and_syscall() {
        let e = InitError {
            step: "container init (mounts)".into(),
            error: SysError::new("mount \"proc\" on \"/proc\"", nix::errno::Errno::EPERM),
        };
        assert_eq!(
            e.to_string(),
            "container init (mounts): mount \"proc\" on \"/proc\": Operation not permitted (EPERM)"
        );
    }
}
