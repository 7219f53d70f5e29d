//! The crate's error type: every failure names the `config.json` field at fault, or the
//! system call and errno that failed.

use std::fmt;

/// Everything that can go wrong turning `linux.seccomp` into a filter and loading it.
///
/// Profile errors name the field the way `config.json` spells it, e.g.
/// `linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"`.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// A name this crate does not know: an action, operator, architecture or flag.
    #[error("{field}: unknown {kind} {name:?}")]
    Unknown {
        /// The field, e.g. `linux.seccomp.syscalls[3].action`.
        field: String,
        /// What the name should have been: `action`, `operator`, `architecture`, `flag`.
        kind: &'static str,
        /// The name as written.
        name: String,
    },
    /// A known value that cannot be used as given (NOTIFY as the default action, an
    /// argument index past 5, an errno that does not fit, a flag the kernel lacks...).
    #[error("{field}: {reason}")]
    Invalid {
        /// The field, e.g. `linux.seccomp.defaultAction`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// libseccomp refused a step of building the filter.
    #[error("{field}: {what}: libseccomp: {source}")]
    Libseccomp {
        /// The field whose value libseccomp refused.
        field: String,
        /// The step, e.g. `add rule for "mkdir"`.
        what: String,
        /// libseccomp's error.
        #[source]
        source: libseccomp::error::SeccompError,
    },
    /// A system call failed while compiling (exporting the BPF, probing the kernel).
    #[error("{call}: {}", ErrnoText(*errno))]
    Sys {
        /// The call, e.g. `memfd_create`.
        call: &'static str,
        /// The raw errno.
        errno: i32,
    },
    /// `seccomp(SECCOMP_SET_MODE_FILTER)` refused the filter in [`Program::load`](crate::Program::load).
    #[error("seccomp(SECCOMP_SET_MODE_FILTER, flags {flags:#x}): {}{}", ErrnoText(*errno), load_hint(*errno))]
    Load {
        /// The `SECCOMP_FILTER_FLAG_*` bits passed.
        flags: u32,
        /// The raw errno.
        errno: i32,
    },
    /// `SECCOMP_FILTER_FLAG_TSYNC` could not synchronize a thread of the process.
    #[error("seccomp(SECCOMP_SET_MODE_FILTER, flags {flags:#x}): thread {tid} could not be synchronized (TSYNC)")]
    Tsync {
        /// The `SECCOMP_FILTER_FLAG_*` bits passed.
        flags: u32,
        /// The thread the kernel reported.
        tid: i64,
    },
}

impl SeccompError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        SeccompError::Invalid { field: field.into(), reason: reason.into() }
    }

    pub(crate) fn unknown(field: impl Into<String>, kind: &'static str, name: impl Into<String>) -> Self {
        SeccompError::Unknown { field: field.into(), kind, name: name.into() }
    }

    pub(crate) fn libseccomp(
        field: impl Into<String>,
        what: impl Into<String>,
    ) -> impl FnOnce(libseccomp::error::SeccompError) -> Self {
        let (field, what) = (field.into(), what.into());
        move |source| SeccompError::Libseccomp { field, what, source }
    }

    /// The field at fault, for the profile errors (`None` for system call failures).
    pub fn field(&self) -> Option<&str> {
        match self {
            SeccompError::Unknown { field, .. }
            | SeccompError::Invalid { field, .. }
            | SeccompError::Libseccomp { field, .. } => Some(field),
            SeccompError::Sys { .. } | SeccompError::Load { .. } | SeccompError::Tsync { .. } => None,
        }
    }

    /// The errno of a failed system call, if that is what this is.
    pub fn errno(&self) -> Option<i32> {
        match self {
            SeccompError::Sys { errno, .. } | SeccompError::Load { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

/// Formats an errno as `Permission denied (EACCES)`.
struct ErrnoText(i32);

impl fmt::Display for ErrnoText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = nix::errno::Errno::from_raw(self.0);
        write!(f, "{} ({e:?})", e.desc())
    }
}

fn load_hint(errno: i32) -> &'static str {
    match errno {
        libc::EACCES => " (hint: the process needs no_new_privs or CAP_SYS_ADMIN to load a filter)",
        libc::EINVAL => " (hint: the kernel refused the filter or one of its flags)",
        libc::ENOMEM => " (hint: the filter is too large for the kernel)",
        _ => "",
    }
}
