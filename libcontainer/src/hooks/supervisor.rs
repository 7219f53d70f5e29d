//! Supervising one running hook: a single `poll(2)` loop that feeds the
//! state to its stdin, captures the tail of its stdout and stderr, and waits
//! for it to exit (through a pidfd when the kernel has `pidfd_open`) or for
//! the timeout to expire.

use super::{Output, CAPTURE_LIMIT};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// Poll granularity when the kernel has no `pidfd_open` (before Linux 5.3).
const FALLBACK_TICK: Duration = Duration::from_millis(10);

/// Most bytes read from a pipe after the hook has exited: a background process
/// that inherited the pipe must not keep berth reading forever.
const DRAIN_LIMIT: usize = 1 << 20;

/// How a supervised hook ended.
pub(super) enum Outcome {
    /// It exited on its own (and was reaped).
    Exited(ExitStatus, Output),
    /// The timeout expired first; it has not been killed yet.
    TimedOut(Output),
}

/// Feed `state` to the child's stdin, collect its output, and wait until it
/// exits or `timeout` expires.
pub(super) fn supervise(
    child: &mut Child,
    pidfd: Option<&OwnedFd>,
    state: &[u8],
    timeout: Option<Duration>,
) -> io::Result<Outcome> {
    // A deadline too far away to represent is no deadline.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let mut stdin = child.stdin.take().filter(|_| !state.is_empty());
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    for fd in
        [stdin.as_ref().map(|p| p.as_fd()), stdout.as_ref().map(|p| p.as_fd()), stderr.as_ref().map(|p| p.as_fd())]
            .into_iter()
            .flatten()
    {
        set_nonblocking(fd)?;
    }
    let mut out = Capture::default();
    let mut err = Capture::default();
    let mut written = 0;

    loop {
        let left = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(Outcome::TimedOut(output(&out, &err)));
                }
                Some(left)
            }
            None => None,
        };
        let wait = match (pidfd, left) {
            (Some(_), left) => left,
            (None, left) => Some(left.map_or(FALLBACK_TICK, |l| l.min(FALLBACK_TICK))),
        };

        // Slots: 0 pidfd, 1 stdin, 2 stdout, 3 stderr; absent ones are skipped.
        let mut slots = [None; 4];
        let mut fds = Vec::with_capacity(4);
        let wanted = [
            (pidfd.map(|f| f.as_fd()), PollFlags::POLLIN),
            (stdin.as_ref().map(|p| p.as_fd()), PollFlags::POLLOUT),
            (stdout.as_ref().map(|p| p.as_fd()), PollFlags::POLLIN),
            (stderr.as_ref().map(|p| p.as_fd()), PollFlags::POLLIN),
        ];
        for (slot, (fd, events)) in wanted.into_iter().enumerate() {
            if let Some(fd) = fd {
                slots[slot] = Some(fds.len());
                fds.push(PollFd::new(fd, events));
            }
        }
        match poll(&mut fds, poll_timeout(wait)) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let ready: [bool; 4] =
            std::array::from_fn(|slot| slots[slot].and_then(|i| fds[i].revents()).is_some_and(|r| !r.is_empty()));
        drop(fds);

        if ready[1] {
            if let Some(pipe) = stdin.as_mut() {
                match pipe.write(&state[written..]) {
                    Ok(n) => written += n,
                    Err(e) if retry(&e) => {}
                    // EPIPE (the hook closed its stdin or exited) or any other
                    // error: it won't get the rest of the state.
                    Err(e) => {
                        if e.raw_os_error() == Some(libc::EPIPE) {
                            discard_own_sigpipe();
                        }
                        written = state.len();
                    }
                }
                if written >= state.len() {
                    stdin = None; // EOF for the hook
                }
            }
        }
        if ready[2] && !read_some(&mut stdout, &mut out)? {
            stdout = None;
        }
        if ready[3] && !read_some(&mut stderr, &mut err)? {
            stderr = None;
        }

        let exited = match pidfd {
            Some(_) => ready[0],
            None => child.try_wait()?.is_some(),
        };
        if exited {
            drop(stdin);
            drain(&mut stdout, &mut out);
            drain(&mut stderr, &mut err);
            let status = child.wait()?;
            return Ok(Outcome::Exited(status, output(&out, &err)));
        }
    }
}

/// One non-blocking read from `pipe` into `cap`. False at end of file.
fn read_some<R: Read>(pipe: &mut Option<R>, cap: &mut Capture) -> io::Result<bool> {
    let Some(r) = pipe.as_mut() else {
        return Ok(true);
    };
    let mut buf = [0u8; 4096];
    match r.read(&mut buf) {
        Ok(0) => Ok(false),
        Ok(n) => {
            cap.push(&buf[..n]);
            Ok(true)
        }
        Err(e) if retry(&e) => Ok(true),
        Err(e) => Err(e),
    }
}

/// Read what is already in `pipe` (without waiting for writers that may
/// outlive the hook), at most [`DRAIN_LIMIT`] bytes.
fn drain<R: Read>(pipe: &mut Option<R>, cap: &mut Capture) {
    let Some(r) = pipe.as_mut() else { return };
    let mut buf = [0u8; 4096];
    let mut total = 0;
    while total < DRAIN_LIMIT {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                cap.push(&buf[..n]);
                total += n;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break, // EAGAIN: nothing more for now
        }
    }
    *pipe = None;
}

/// Whether a non-blocking I/O error just means "try again later".
fn retry(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted)
}

/// The tail of one output stream.
#[derive(Default)]
struct Capture {
    buf: Vec<u8>,
    truncated: bool,
}

impl Capture {
    /// Append, keeping memory bounded by `2 * CAPTURE_LIMIT`.
    fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        if self.buf.len() > 2 * CAPTURE_LIMIT {
            self.trim();
        }
    }

    /// Keep only the last [`CAPTURE_LIMIT`] bytes.
    fn trim(&mut self) {
        if self.buf.len() > CAPTURE_LIMIT {
            let cut = self.buf.len() - CAPTURE_LIMIT;
            self.buf.drain(..cut);
            self.truncated = true;
        }
    }

    fn tail(&self) -> (Vec<u8>, bool) {
        let start = self.buf.len().saturating_sub(CAPTURE_LIMIT);
        (self.buf[start..].to_vec(), self.truncated || start > 0)
    }
}

fn output(out: &Capture, err: &Capture) -> Output {
    let (stdout, stdout_truncated) = out.tail();
    let (stderr, stderr_truncated) = err.tail();
    Output { stdout, stderr, stdout_truncated, stderr_truncated }
}

/// A poll timeout for `wait` (`None`: forever), rounded up to whole milliseconds.
fn poll_timeout(wait: Option<Duration>) -> PollTimeout {
    match wait {
        None => PollTimeout::NONE,
        Some(d) => {
            let ms = d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
        }
    }
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let flags = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// Consume the `SIGPIPE` that a write hitting `EPIPE` just raised, if this
/// thread blocks `SIGPIPE`.
///
/// Ignored signals are normally discarded, but a *blocked* one stays pending:
/// `berth run` blocks every signal to read them from a signalfd and forward
/// them to the container, which would then get our `SIGPIPE`.
fn discard_own_sigpipe() {
    use nix::sys::signal::{SigSet, Signal};
    match SigSet::thread_get_mask() {
        Ok(mask) if mask.contains(Signal::SIGPIPE) => {}
        _ => return,
    }
    let mut set = SigSet::empty();
    set.add(Signal::SIGPIPE);
    let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid signal set and timespec that outlive the call, and a
    // null siginfo pointer, which sigtimedwait allows. With a zero timeout it
    // returns at once (EAGAIN when nothing is pending).
    unsafe { libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), &zero) };
}

/// A pidfd for our (unreaped) child `pid`, or `None` if the kernel has none
/// (the caller then falls back to `try_wait` every [`FALLBACK_TICK`]).
pub(super) fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; it
    // touches no memory of ours. The pid is our unreaped child, so it cannot
    // have been recycled.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        tracing::debug!(error = %Errno::last(), "pidfd_open failed; polling the hook instead");
        return None;
    }
    // SAFETY: the kernel returned a new close-on-exec fd that nothing else owns.
    Some(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}
