//! Syscall failures as data.
//!
//! Every failing kernel call in berth becomes a [`SysError`]: what was attempted
//! (`mount "proc" on "/proc"`), the errno, and where one helps, a hint for the user.
//! It is serializable so that the container's init can send it to the runtime, and
//! the CLI prints the same line whichever process failed.

use nix::errno::Errno;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A failed system call: the operation with its arguments, the errno, an optional hint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SysError {
    /// What was attempted, with its paths, e.g. `mount "proc" on "/proc"`.
    pub op: String,
    /// The raw errno value.
    pub errno: i32,
    /// Advice for the user, when the errno has a usual cause.
    pub hint: Option<String>,
}

impl SysError {
    /// A failure of `op` with `errno`.
    pub fn new(op: impl Into<String>, errno: Errno) -> Self {
        SysError { op: op.into(), errno: errno as i32, hint: None }
    }

    /// From an `std::io::Error` (its raw errno, EIO when it has none).
    pub fn from_io(op: impl Into<String>, err: &std::io::Error) -> Self {
        Self::new(op, Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO)))
    }

    /// Attach a hint for the user.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The errno as a `nix` value.
    pub fn errno(&self) -> Errno {
        Errno::from_raw(self.errno)
    }
}

impl fmt::Display for SysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.errno();
        write!(f, "{}: {} ({:?})", self.op, e.desc(), e)?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}

impl std::error::Error for SysError {}

/// Turns `nix` and `std::io` results into [`SysError`]s with a lazily built description.
pub trait SysResultExt<T> {
    /// Name the operation that failed.
    fn op(self, op: impl FnOnce() -> String) -> Result<T, SysError>;
}

impl<T> SysResultExt<T> for nix::Result<T> {
    fn op(self, op: impl FnOnce() -> String) -> Result<T, SysError> {
        self.map_err(|e| SysError::new(op(), e))
    }
}

impl<T> SysResultExt<T> for std::io::Result<T> {
    fn op(self, op: impl FnOnce() -> String) -> Result<T, SysError> {
        self.map_err(|e| SysError::from_io(op(), &e))
    }
}

impl<T> SysResultExt<T> for Result<T, pathrs::error::Error> {
    fn op(self, op: impl FnOnce() -> String) -> Result<T, SysError> {
        self.map_err(|e| {
            use pathrs::error::ErrorKind;
            let errno = match e.kind() {
                ErrorKind::OsError(Some(n)) => n,
                ErrorKind::SafetyViolation => libc::EXDEV,
                ErrorKind::NotSupported | ErrorKind::NotImplemented => libc::ENOSYS,
                _ => libc::EINVAL,
            };
            let s = SysError::new(op(), Errno::from_raw(errno));
            match errno {
                libc::EXDEV | libc::ELOOP => {
                    s.hint(format!("the path escapes the container's root or loops through symlinks: {e}"))
                }
                _ => s,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_op_errno_and_hint() {
        let e = SysError::new(r#"mount "proc" on "/proc""#, Errno::EPERM).hint("run as root");
        assert_eq!(e.to_string(), r#"mount "proc" on "/proc": Operation not permitted (EPERM) (hint: run as root)"#);
    }

    #[test]
    fn io_errors_keep_their_errno() {
        let io = std::io::Error::from_raw_os_error(libc::ENOENT);
        let r: std::io::Result<()> = Err(io);
        let e = r.op(|| "open \"/x\"".into()).unwrap_err();
        assert_eq!(e.errno(), Errno::ENOENT);
    }
}
