//! Running the OCI lifecycle hooks (`config.json` → `hooks`).
//!
//! Each hook is a program started with exactly the argv and environment the
//! config gives it (nothing is inherited), the container's state JSON on its
//! stdin, and its stdout and stderr captured: they are never shown on berth's
//! own terminal, only reported (the last few KiB) when the hook fails.
//!
//! One hook is supervised by a single `poll(2)` loop over a pidfd of the hook,
//! the write end of its stdin and the read ends of its stdout and stderr, so no
//! threads are needed (hooks may run inside a freshly cloned container init).
//! The timeout is enforced with `SIGKILL`, and the hook is always reaped, on
//! every path.
//!
//! Writing the state to a hook that does not read it is not an error: once the
//! hook has exited or closed its stdin the rest of the state is dropped. This
//! relies on `SIGPIPE` being ignored in the calling process, which the Rust
//! runtime arranges for every Rust binary before `main`.

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use oci_spec::runtime::Hook;
use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How much of a hook's stdout and of its stderr is kept for the error: the
/// last `CAPTURE_LIMIT` bytes of each.
pub const CAPTURE_LIMIT: usize = 4096;

/// Poll granularity when the kernel has no `pidfd_open` (before Linux 5.3).
const FALLBACK_TICK: Duration = Duration::from_millis(10);

/// Most bytes read from a pipe after the hook has exited: a background process
/// that inherited the pipe must not keep berth reading forever.
const DRAIN_LIMIT: usize = 1 << 20;

/// The six hook points of the runtime-spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    /// `prestart` (deprecated by the spec, still run, right before `createRuntime`).
    Prestart,
    /// `createRuntime`: in the runtime's namespaces, after the container's were made.
    CreateRuntime,
    /// `createContainer`: in the container's namespaces, before `pivot_root`.
    CreateContainer,
    /// `startContainer`: in the container, right before the user process is executed.
    StartContainer,
    /// `poststart`: in the runtime's namespaces, after the user process started.
    Poststart,
    /// `poststop`: in the runtime's namespaces, after the container was deleted.
    Poststop,
}

impl HookKind {
    /// The key of this hook point in `config.json` (`"createRuntime"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::CreateContainer => "createContainer",
            HookKind::StartContainer => "startContainer",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        }
    }
}

impl fmt::Display for HookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A hook that could not be run or did not succeed.
///
/// Displays as `createRuntime hook #0 "/usr/bin/foo": exited with status 3; stderr: "..."`.
#[derive(Debug, thiserror::Error)]
#[error("{kind} hook #{index} {path:?}: {failure}")]
pub struct HookError {
    /// The hook point.
    pub kind: HookKind,
    /// The hook's index in its list in `config.json`.
    pub index: usize,
    /// The hook's `path`.
    pub path: PathBuf,
    /// What went wrong.
    pub failure: HookFailure,
}

/// What went wrong with one hook.
#[derive(Debug)]
pub enum HookFailure {
    /// `path` is not absolute (the spec requires it to be).
    RelativePath,
    /// `timeout` is present but not greater than zero.
    InvalidTimeout(i64),
    /// The program could not be executed.
    Spawn(io::Error),
    /// Supervising the running hook failed (it was killed and reaped).
    Wait(io::Error),
    /// The hook ran and exited unsuccessfully (non-zero status or a signal).
    Failed {
        /// How it ended.
        status: ExitStatus,
        /// Output captured from it.
        output: Output,
    },
    /// The hook outlived its timeout and was killed.
    TimedOut {
        /// The timeout, in seconds.
        secs: i64,
        /// Output captured from it before it was killed.
        output: Output,
    },
}

impl fmt::Display for HookFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HookFailure::RelativePath => f.write_str("path is not absolute"),
            HookFailure::InvalidTimeout(t) => {
                write!(f, "invalid timeout {t}: must be greater than zero")
            }
            HookFailure::Spawn(e) => write!(f, "could not start: {}", describe(e)),
            HookFailure::Wait(e) => write!(f, "waiting for it: {}", describe(e)),
            HookFailure::Failed { status, output } => {
                match (status.code(), status.signal()) {
                    (Some(code), _) => write!(f, "exited with status {code}")?,
                    (None, Some(sig)) => write!(f, "killed by signal {sig}{}", signal_name(sig))?,
                    (None, None) => write!(f, "ended with {status}")?,
                }
                write!(f, "{output}")
            }
            HookFailure::TimedOut { secs, output } => write!(f, "timed out after {secs}s{output}"),
        }
    }
}

/// The tail of a hook's stdout and stderr (at most [`CAPTURE_LIMIT`] bytes each).
///
/// Displays as `; stdout: "..."; stderr: "..."`, leaving out empty streams.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Output {
    /// The end of what the hook wrote on stdout.
    pub stdout: Vec<u8>,
    /// The end of what the hook wrote on stderr.
    pub stderr: Vec<u8>,
    /// Whether the start of stdout was dropped to respect the limit.
    pub stdout_truncated: bool,
    /// Whether the start of stderr was dropped to respect the limit.
    pub stderr_truncated: bool,
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, data, cut) in
            [("stdout", &self.stdout, self.stdout_truncated), ("stderr", &self.stderr, self.stderr_truncated)]
        {
            let text = String::from_utf8_lossy(data);
            let text = text.trim_end();
            if !text.is_empty() {
                let dots = if cut { "..." } else { "" };
                write!(f, "; {name}: {dots}{text:?}")?;
            }
        }
        Ok(())
    }
}

/// Run `hooks` in order; stop at the first failure. `state_json` is written to each hook's stdin.
///
/// Every hook started is reaped before this returns, whatever the outcome.
pub fn run_hooks(kind: HookKind, hooks: &[Hook], state_json: &[u8]) -> Result<(), HookError> {
    for (index, hook) in hooks.iter().enumerate() {
        let started = Instant::now();
        run_one(hook, state_json).map_err(|failure| HookError { kind, index, path: hook.path().clone(), failure })?;
        tracing::debug!(
            hook = kind.name(),
            index,
            path = %hook.path().display(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "hook succeeded"
        );
    }
    Ok(())
}

/// Run one hook to completion.
fn run_one(hook: &Hook, state: &[u8]) -> Result<(), HookFailure> {
    let path = hook.path();
    if !path.is_absolute() {
        return Err(HookFailure::RelativePath);
    }
    let timeout = match hook.timeout() {
        Some(t) if t <= 0 => return Err(HookFailure::InvalidTimeout(t)),
        Some(t) => Some((t, Duration::from_secs(t.unsigned_abs()))),
        None => None,
    };
    let child = command(path, hook).spawn().map_err(HookFailure::Spawn)?;
    let mut child = Reaper(child);
    let pidfd = pidfd_open(child.0.id());
    let outcome = supervise(&mut child.0, pidfd.as_ref(), state, timeout.map(|t| t.1));
    match outcome {
        Ok(Outcome::Exited(status, _)) if status.success() => Ok(()),
        Ok(Outcome::Exited(status, output)) => Err(HookFailure::Failed { status, output }),
        Ok(Outcome::TimedOut(output)) => Err(HookFailure::TimedOut { secs: timeout.map_or(0, |t| t.0), output }),
        Err(e) => Err(HookFailure::Wait(e)),
    }
    // `child` is dropped here: a hook still running (timeout, poll error) is
    // killed and reaped.
}

/// The `Command` for `hook`: its own argv and environment, piped stdio.
fn command(path: &Path, hook: &Hook) -> Command {
    let mut cmd = Command::new(path);
    if let Some((argv0, rest)) = hook.args().as_deref().and_then(|a| a.split_first()) {
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear();
    for entry in hook.env().as_deref().unwrap_or_default() {
        match entry.split_once('=') {
            Some((key, value)) if !key.is_empty() => {
                cmd.env(key, value);
            }
            _ => tracing::warn!(entry, "ignoring a hook environment entry that is not KEY=value"),
        }
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// Kills and reaps the child on drop unless it has already been reaped.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        // `try_wait` remembers a status it collected, so this never touches a
        // reaped (and possibly recycled) pid.
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// How a supervised hook ended.
enum Outcome {
    /// It exited on its own (and was reaped).
    Exited(ExitStatus, Output),
    /// The timeout expired first; it has not been killed yet.
    TimedOut(Output),
}

/// Feed `state` to the child's stdin, collect its output, and wait until it
/// exits or `timeout` expires.
fn supervise(
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
fn pidfd_open(pid: u32) -> Option<OwnedFd> {
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

/// `e` as the C library describes it ("No such file or directory").
fn describe(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => Errno::from_raw(code).desc().to_string(),
        None => e.to_string(),
    }
}

/// `" (SIGKILL)"` for 9, empty for unknown signals.
fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig).map(|s| format!(" ({})", s.as_str())).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::HookBuilder;
    use std::fs;

    /// A fresh, empty directory for one test.
    fn tempdir(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("berth-hooks-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// A directory removed when the test ends, passed or failed.
    struct TempDir(PathBuf);

    impl std::ops::Deref for TempDir {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// A `/bin/sh -c script` hook.
    fn sh(script: &str) -> Hook {
        HookBuilder::default()
            .path("/bin/sh")
            .args(vec!["sh".to_string(), "-c".to_string(), script.to_string()])
            .build()
            .unwrap()
    }

    fn with_timeout(mut hook: Hook, secs: i64) -> Hook {
        hook.set_timeout(Some(secs));
        hook
    }

    /// Asserts that the process whose pid the hook wrote to `pidfile` is gone
    /// (exited and reaped: no zombie left in /proc).
    fn assert_reaped(pidfile: &Path) {
        let pid = fs::read_to_string(pidfile).unwrap();
        let pid = pid.trim();
        assert!(!pid.is_empty());
        let proc = PathBuf::from(format!("/proc/{pid}"));
        assert!(!proc.exists(), "hook {pid} still exists: {:?}", fs::read_to_string(proc.join("stat")));
    }

    #[test]
    fn names_are_config_keys() {
        let names: Vec<_> = [
            HookKind::Prestart,
            HookKind::CreateRuntime,
            HookKind::CreateContainer,
            HookKind::StartContainer,
            HookKind::Poststart,
            HookKind::Poststop,
        ]
        .iter()
        .map(|k| k.name())
        .collect();
        assert_eq!(names, ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]);
    }

    #[test]
    fn empty_list_is_ok() {
        run_hooks(HookKind::Poststop, &[], b"{}").unwrap();
    }

    #[test]
    fn state_is_delivered_on_stdin() {
        let dir = tempdir("stdin");
        let out = dir.join("state.json");
        let hook = sh(&format!("cat > '{}'", out.display()));
        let state = br#"{"ociVersion":"1.0.2","id":"x","status":"creating","pid":1,"bundle":"/b"}"#;
        run_hooks(HookKind::CreateRuntime, &[hook], state).unwrap();
        assert_eq!(fs::read(&out).unwrap(), state);
    }

    #[test]
    fn large_state_is_delivered_whole() {
        let dir = tempdir("large");
        let out = dir.join("state.json");
        let hook = HookBuilder::default()
            .path("/bin/sh")
            .args(vec!["sh".into(), "-c".into(), format!("exec cat > '{}'", out.display())])
            .build()
            .unwrap();
        let state: Vec<u8> = (0..300_000).map(|i| b'a' + (i % 26) as u8).collect();
        run_hooks(HookKind::Prestart, &[hook], &state).unwrap();
        assert_eq!(fs::read(&out).unwrap(), state);
    }

    #[test]
    fn args_and_env_are_honoured_and_env_is_not_inherited() {
        let dir = tempdir("argsenv");
        let out = dir.join("out");
        let cmdline = dir.join("cmdline");
        let script = r#"tr '\0' '|' < /proc/$$/cmdline > "$CMDLINE"
printf '%s|%s|%s|%s\n' "$0" "$1" "$FOO" "${HOME-unset}" > "$OUT""#;
        let hook = HookBuilder::default()
            .path("/bin/sh")
            .args(vec!["my-argv0".into(), "-c".into(), script.into(), "zero".into(), "second arg".into()])
            .env(vec!["FOO=bar=baz".into(), format!("OUT={}", out.display()), format!("CMDLINE={}", cmdline.display())])
            .build()
            .unwrap();
        run_hooks(HookKind::Poststart, &[hook], b"{}").unwrap();
        assert_eq!(fs::read_to_string(&cmdline).unwrap(), format!("my-argv0|-c|{script}|zero|second arg|"));
        assert_eq!(fs::read_to_string(&out).unwrap(), "zero|second arg|bar=baz|unset\n");
    }

    #[test]
    fn env_is_empty_when_absent() {
        let dir = tempdir("noenv");
        let out = dir.join("out");
        // `env` with no environment prints nothing.
        let hook = sh(&format!("/usr/bin/env > '{}'", out.display()));
        run_hooks(HookKind::Poststart, &[hook], b"{}").unwrap();
        let env = fs::read_to_string(&out).unwrap();
        // sh itself may export PWD/SHLVL/_, but nothing from our environment.
        assert!(!env.contains("HOME="), "{env}");
        assert!(!env.contains("PATH=/"), "{env}");
    }

    #[test]
    fn argv0_defaults_to_path() {
        let dir = tempdir("argv0");
        let out = dir.join("out");
        // /bin/sh with no args reads its script from stdin.
        let hook = HookBuilder::default().path("/bin/sh").build().unwrap();
        let script = format!("echo \"$0\" > '{}'\n", out.display());
        run_hooks(HookKind::Poststop, &[hook], script.as_bytes()).unwrap();
        assert_eq!(fs::read_to_string(&out).unwrap(), "/bin/sh\n");
    }

    #[test]
    fn nonzero_exit_reports_status_and_stderr() {
        let dir = tempdir("exit3");
        let pidfile = dir.join("pid");
        let hook =
            sh(&format!("echo $$ > '{}'; echo to-stdout; echo 'something broke' >&2; exit 3", pidfile.display()));
        let err = run_hooks(HookKind::CreateRuntime, &[hook], b"{}").unwrap_err();
        assert_eq!(err.kind, HookKind::CreateRuntime);
        assert_eq!(err.index, 0);
        let msg = err.to_string();
        assert!(msg.starts_with(r#"createRuntime hook #0 "/bin/sh": exited with status 3"#), "{msg}");
        assert!(msg.contains(r#"stderr: "something broke""#), "{msg}");
        assert!(msg.contains(r#"stdout: "to-stdout""#), "{msg}");
        match err.failure {
            HookFailure::Failed { status, output } => {
                assert_eq!(status.code(), Some(3));
                assert_eq!(output.stderr, b"something broke\n");
            }
            f => panic!("unexpected failure {f:?}"),
        }
        assert_reaped(&pidfile);
    }

    #[test]
    fn killed_by_signal_is_reported() {
        let hook = sh("kill -TERM $$");
        let err = run_hooks(HookKind::Poststop, &[hook], b"").unwrap_err();
        assert!(err.to_string().ends_with("killed by signal 15 (SIGTERM)"), "{err}");
    }

    #[test]
    fn captured_output_is_bounded() {
        let hook = sh("i=0; while [ $i -lt 3000 ]; do echo line-$i >&2; i=$((i+1)); done; exit 1");
        let err = run_hooks(HookKind::Poststart, &[hook], b"{}").unwrap_err();
        let HookFailure::Failed { output, .. } = &err.failure else { panic!("{err}") };
        assert!(output.stderr.len() <= CAPTURE_LIMIT);
        assert!(output.stderr_truncated);
        assert!(output.stderr.ends_with(b"line-2999\n"));
        assert!(err.to_string().contains(r#"stderr: ..."#), "{err}");
    }

    #[test]
    fn timeout_kills_the_hook_quickly() {
        let dir = tempdir("timeout");
        let pidfile = dir.join("pid");
        let hook =
            with_timeout(sh(&format!("echo $$ > '{}'; echo waiting >&2; exec /bin/sleep 30", pidfile.display())), 1);
        let start = Instant::now();
        let err = run_hooks(HookKind::StartContainer, &[hook], b"{}").unwrap_err();
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(950), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        let msg = err.to_string();
        assert!(msg.starts_with(r#"startContainer hook #0 "/bin/sh": timed out after 1s"#), "{msg}");
        assert!(msg.contains(r#"stderr: "waiting""#), "{msg}");
        assert_reaped(&pidfile);
    }

    #[test]
    fn timeout_not_reached_is_fine() {
        let hook = with_timeout(sh("exit 0"), 10);
        let start = Instant::now();
        run_hooks(HookKind::Prestart, &[hook], b"{}").unwrap();
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn invalid_timeout_is_rejected() {
        let err = run_hooks(HookKind::Prestart, &[with_timeout(sh("exit 0"), 0)], b"{}").unwrap_err();
        assert!(matches!(err.failure, HookFailure::InvalidTimeout(0)), "{err}");
        assert!(err.to_string().contains("must be greater than zero"));
    }

    #[test]
    fn background_child_holding_stdout_does_not_block() {
        // The hook exits at once but leaves a process holding its stdout/stderr.
        let hook = with_timeout(sh("/bin/sleep 5 & exit 0"), 3);
        let start = Instant::now();
        run_hooks(HookKind::Poststart, &[hook], b"{}").unwrap();
        assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    }

    #[test]
    fn works_without_a_pidfd() {
        // The path taken on kernels without pidfd_open: try_wait every tick.
        let hook = sh("cat >/dev/null; echo oops >&2; exit 4");
        let mut child = Reaper(command(Path::new("/bin/sh"), &hook).spawn().unwrap());
        match supervise(&mut child.0, None, b"{}", Some(Duration::from_secs(5))).unwrap() {
            Outcome::Exited(status, output) => {
                assert_eq!(status.code(), Some(4));
                assert_eq!(output.stderr, b"oops\n");
            }
            Outcome::TimedOut(_) => panic!("timed out"),
        }
        let hook = sh("exec /bin/sleep 30");
        let mut child = Reaper(command(Path::new("/bin/sh"), &hook).spawn().unwrap());
        let start = Instant::now();
        let outcome = supervise(&mut child.0, None, b"", Some(Duration::from_millis(300)));
        assert!(matches!(outcome, Ok(Outcome::TimedOut(_))));
        assert!(start.elapsed() < Duration::from_secs(2));
        drop(child); // kills and reaps
    }

    #[test]
    fn missing_path_cannot_start() {
        let hook = HookBuilder::default().path("/nonexistent/berth-hook").build().unwrap();
        let err = run_hooks(HookKind::CreateContainer, &[hook], b"{}").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"createContainer hook #0 "/nonexistent/berth-hook": could not start: No such file or directory"#
        );
    }

    #[test]
    fn relative_path_is_rejected() {
        let hook = HookBuilder::default().path("bin/true").build().unwrap();
        let err = run_hooks(HookKind::Poststop, &[hook], b"{}").unwrap_err();
        assert!(matches!(err.failure, HookFailure::RelativePath), "{err}");
    }

    #[test]
    fn hook_that_ignores_stdin_with_large_state_succeeds() {
        // Larger than a pipe buffer (64 KiB), never read: EPIPE must be ignored.
        let state = vec![b'x'; 1 << 20];
        let hook = with_timeout(sh("exit 0"), 10);
        run_hooks(HookKind::CreateRuntime, &[hook], &state).unwrap();
        // And one that stays alive for a while without reading.
        let hook = with_timeout(sh("/bin/sleep 0.2; exit 0"), 10);
        run_hooks(HookKind::CreateRuntime, &[hook], &state).unwrap();
    }

    #[test]
    fn blocked_sigpipe_is_not_left_pending() {
        use nix::sys::signal::{SigSet, Signal};
        let mut pipe_only = SigSet::empty();
        pipe_only.add(Signal::SIGPIPE);
        pipe_only.thread_block().unwrap();
        let state = vec![b'x'; 1 << 20];
        let result = run_hooks(HookKind::Poststart, &[sh("exit 0")], &state);
        let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: valid set and timespec, null siginfo; returns at once.
        let got = unsafe { libc::sigtimedwait(pipe_only.as_ref(), std::ptr::null_mut(), &zero) };
        pipe_only.thread_unblock().unwrap();
        result.unwrap();
        assert_eq!(got, -1, "a SIGPIPE was left pending");
    }

    #[test]
    fn stops_at_the_first_failure() {
        let dir = tempdir("order");
        let log = dir.join("log");
        let l = log.display();
        let hooks = [
            sh(&format!("echo one >> '{l}'")),
            sh(&format!("echo two >> '{l}'; exit 7")),
            sh(&format!("echo three >> '{l}'")),
        ];
        let err = run_hooks(HookKind::Poststart, &hooks, b"{}").unwrap_err();
        assert_eq!(err.index, 1);
        assert!(err.to_string().starts_with(r#"poststart hook #1 "/bin/sh": exited with status 7"#), "{err}");
        assert_eq!(fs::read_to_string(&log).unwrap(), "one\ntwo\n");
    }

    #[test]
    fn runs_all_in_order_on_success() {
        let dir = tempdir("allorder");
        let log = dir.join("log");
        let l = log.display();
        let hooks: Vec<_> = (0..4).map(|i| sh(&format!("echo {i} >> '{l}'"))).collect();
        run_hooks(HookKind::Prestart, &hooks, b"{}").unwrap();
        assert_eq!(fs::read_to_string(&log).unwrap(), "0\n1\n2\n3\n");
    }
}
