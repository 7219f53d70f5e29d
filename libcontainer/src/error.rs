//! The library's error type: one variant per kind of failure a caller may act on.

use crate::plan::ConfigError;
use crate::process::SpawnError;
use crate::syserr::SysError;
use std::path::PathBuf;

/// Everything that can go wrong in a container operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No container with this id under the root.
    #[error("container {0:?} does not exist")]
    NotFound(String),
    /// The id is taken.
    #[error("container {0:?} already exists")]
    Exists(String),
    /// The operation is not valid in the container's current status.
    #[error("cannot {action} container {id:?}: it is {status}{hint}")]
    BadStatus { id: String, action: &'static str, status: String, hint: &'static str },
    /// `config.json` could not be read or parsed.
    #[error("{path}: {reason}")]
    ConfigLoad { path: PathBuf, reason: String },
    /// `config.json` was read but describes a container that can't be run.
    #[error("invalid config: {0}")]
    Config(#[from] ConfigError),
    /// A console socket that does not fit `process.terminal`.
    #[error(transparent)]
    Console(#[from] crate::tty::ConsoleError),
    /// An unknown signal name or number.
    #[error("unknown signal {0:?}")]
    Signal(String),
    /// Creating the container's process failed (in the runtime or inside init).
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// A cgroup operation failed.
    #[error("cgroup: {0}")]
    Cgroup(#[from] crate::cgroups::CgroupError),
    /// A hook failed.
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
    /// A named step of the runtime failed in a system call.
    #[error("{step}: {error}")]
    Sys { step: &'static str, error: SysError },
}

impl Error {
    pub(crate) fn sys(step: &'static str) -> impl FnOnce(SysError) -> Error {
        move |error| Error::Sys { step, error }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
