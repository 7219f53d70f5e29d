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
use oci_spec::runtime::Hook;
use std::fmt;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

mod supervisor;
#[cfg(test)]
mod tests;

use supervisor::{pidfd_open, supervise, Outcome};

/// How much of a hook's stdout and of its stderr is kept for the error: the
/// last `CAPTURE_LIMIT` bytes of each.
pub const CAPTURE_LIMIT: usize = 4096;

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
