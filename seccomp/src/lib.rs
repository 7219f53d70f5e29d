//! seccomp: turns `linux.seccomp` of an OCI `config.json` into a kernel filter.
//!
//! Two phases, as in crun:
//!
//! - [`compile`] runs in the runtime, before any fork. It builds the filter with
//!   libseccomp (linked statically), exports the BPF and returns a [`Program`]: the
//!   instructions and the `seccomp(2)` flags, plain data with no libseccomp state.
//! - [`Program::load`] runs in the container's init right before `execve`. It makes one
//!   raw `seccomp(SECCOMP_SET_MODE_FILTER)` call and allocates nothing; when a rule uses
//!   `SCMP_ACT_NOTIFY` it returns the user-notification listener fd. The calling process
//!   needs `no_new_privs` (or `CAP_SYS_ADMIN`).
//!
//! ```no_run
//! use oci_spec::runtime::LinuxSeccomp;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let profile: LinuxSeccomp = serde_json::from_str(
//!     r#"{
//!         "defaultAction": "SCMP_ACT_ALLOW",
//!         "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
//!         "syscalls": [
//!             {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
//!             {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
//!              "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_NE"}]}
//!         ]
//!     }"#,
//! )?;
//! // In the runtime:
//! let program = seccomp::compile(&profile)?;
//! assert!(program.len() > 0 && !program.uses_notify());
//! // In the container's init, after prctl(PR_SET_NO_NEW_PRIVS, 1), right before execve:
//! let listener = program.load()?;
//! assert!(listener.is_none());
//! # Ok(())
//! # }
//! ```
//!
//! Errors name the field at fault (`linux.seccomp.syscalls[3].args[0].index: ...`), or
//! the system call and errno. oci-spec refuses unknown action, operator, architecture and
//! flag names while parsing `config.json`; [`check_json`] finds the same names in the raw
//! JSON and reports them with their field.

mod compile;
mod enosys;
mod error;
mod json;
mod names;
mod program;

pub use compile::compile;
pub use error::SeccompError;
pub use json::{check_json, parse_json};
pub use names::{known_arches, ARCH_NATIVE, KNOWN_ACTIONS, KNOWN_FLAGS, KNOWN_OPERATORS};
pub use program::{
    Program, FLAG_LOG, FLAG_NEW_LISTENER, FLAG_SPEC_ALLOW, FLAG_TSYNC, FLAG_TSYNC_ESRCH, FLAG_WAIT_KILLABLE_RECV,
    MAX_INSNS,
};

/// The filter flags of [`KNOWN_FLAGS`] this kernel supports (for `berth features`).
/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` is probed together with NEW_LISTENER, which it needs.
pub fn supported_flags() -> Vec<&'static str> {
    let flags = [
        ("SECCOMP_FILTER_FLAG_TSYNC", FLAG_TSYNC),
        ("SECCOMP_FILTER_FLAG_LOG", FLAG_LOG),
        ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", FLAG_SPEC_ALLOW),
        ("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", FLAG_WAIT_KILLABLE_RECV | FLAG_NEW_LISTENER),
    ];
    flags.into_iter().filter(|&(_, bits)| program::kernel_knows_flags(bits).unwrap_or(false)).map(|(n, _)| n).collect()
}

/// The version of the libseccomp linked in, as `major.minor.micro`.
pub fn libseccomp_version() -> String {
    libseccomp::ScmpVersion::current()
        .map_or_else(|_| "unknown".to_string(), |v| format!("{}.{}.{}", v.major, v.minor, v.micro))
}
