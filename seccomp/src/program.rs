//! [`Program`]: a compiled filter as plain data, and its loading with one raw system call.

use crate::error::SeccompError;
use libc::{sock_filter, sock_fprog};
use std::fmt;
use std::os::fd::{FromRawFd, OwnedFd};

/// `SECCOMP_FILTER_FLAG_TSYNC`: synchronize all threads of the process to the filter.
pub const FLAG_TSYNC: u32 = 1 << 0;
/// `SECCOMP_FILTER_FLAG_LOG`: log every action but `SECCOMP_RET_ALLOW` (Linux 4.14).
pub const FLAG_LOG: u32 = 1 << 1;
/// `SECCOMP_FILTER_FLAG_SPEC_ALLOW`: disable the Speculative Store Bypass mitigation (Linux 4.17).
pub const FLAG_SPEC_ALLOW: u32 = 1 << 2;
/// `SECCOMP_FILTER_FLAG_NEW_LISTENER`: return a user-notification listener fd (Linux 5.0).
pub const FLAG_NEW_LISTENER: u32 = 1 << 3;
/// `SECCOMP_FILTER_FLAG_TSYNC_ESRCH`: report a TSYNC failure as `ESRCH`, so TSYNC and
/// NEW_LISTENER can be combined (Linux 5.7).
pub const FLAG_TSYNC_ESRCH: u32 = 1 << 4;
/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`: a notified task waits killably (Linux 5.19).
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

/// Every flag bit this crate may pass to the kernel.
const KNOWN_FLAGS: u32 =
    FLAG_TSYNC | FLAG_LOG | FLAG_SPEC_ALLOW | FLAG_NEW_LISTENER | FLAG_TSYNC_ESRCH | FLAG_WAIT_KILLABLE_RECV;

/// The kernel's limit on the length of a classic BPF program (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;

/// A compiled seccomp filter: the BPF instructions and the `seccomp(2)` flags to load
/// them with. Pure data: no libseccomp state, cheap to clone, cacheable.
///
/// Made by [`compile`](crate::compile) in the runtime; loaded by [`Program::load`] in the
/// container's init, right before `execve`.
#[derive(Clone)]
pub struct Program {
    insns: Vec<sock_filter>,
    flags: u32,
    uses_notify: bool,
}

impl Program {
    /// A program from its parts, e.g. a cached one. Checks what the kernel would refuse
    /// anyway: an empty or too long program, an unknown flag bit, and that
    /// `uses_notify` agrees with `SECCOMP_FILTER_FLAG_NEW_LISTENER`.
    pub fn from_parts(insns: Vec<sock_filter>, flags: u32, uses_notify: bool) -> Result<Self, SeccompError> {
        if insns.is_empty() || insns.len() > MAX_INSNS {
            return Err(SeccompError::invalid(
                "linux.seccomp",
                format!("the filter has {} instructions; the kernel takes 1 to {MAX_INSNS}", insns.len()),
            ));
        }
        if flags & !KNOWN_FLAGS != 0 {
            return Err(SeccompError::invalid("linux.seccomp.flags", format!("unknown flag bits {flags:#x}")));
        }
        if uses_notify != (flags & FLAG_NEW_LISTENER != 0) {
            return Err(SeccompError::invalid(
                "linux.seccomp.flags",
                "SECCOMP_FILTER_FLAG_NEW_LISTENER must be set exactly when a rule uses SCMP_ACT_NOTIFY",
            ));
        }
        Ok(Program { insns, flags, uses_notify })
    }

    /// The BPF instructions, in the host's byte order.
    pub fn insns(&self) -> &[sock_filter] {
        &self.insns
    }

    /// The number of BPF instructions.
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// Never true for a program made by [`compile`](crate::compile) or [`Program::from_parts`].
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// The `SECCOMP_FILTER_FLAG_*` bits [`Program::load`] passes (see the `FLAG_*` constants).
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Whether a rule uses `SCMP_ACT_NOTIFY`: [`Program::load`] then returns the listener fd.
    pub fn uses_notify(&self) -> bool {
        self.uses_notify
    }

    /// The `struct sock_fprog` that [`Program::load`] hands to the kernel. Its pointer
    /// borrows this program's instructions: it is valid while `self` is alive and unmoved
    /// in memory (the `Vec`'s buffer does not move when the `Program` does).
    pub fn sock_fprog(&self) -> sock_fprog {
        sock_fprog {
            // `from_parts` and `compile` keep the length within MAX_INSNS (4096), so it fits.
            len: self.insns.len() as u16,
            filter: self.insns.as_ptr().cast_mut(),
        }
    }

    /// Installs the filter on the calling thread (and, with TSYNC, on all threads of the
    /// process): `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`. Returns the user
    /// notification listener when the program [uses notify](Program::uses_notify).
    ///
    /// Meant for the container's init right before `execve`: it makes one raw system call
    /// and allocates nothing, so it is safe after `fork` in a multithreaded process.
    ///
    /// The caller must have set `no_new_privs` (`prctl(PR_SET_NO_NEW_PRIVS, 1)`) or hold
    /// `CAP_SYS_ADMIN` in its user namespace; otherwise the kernel answers `EACCES`.
    /// Once loaded, a filter cannot be removed: every later system call of this process
    /// and its children goes through it.
    pub fn load(&self) -> Result<Option<OwnedFd>, SeccompError> {
        let prog = self.sock_fprog();
        // SAFETY: `prog` points at `self.insns`, `prog.len` instructions long, alive for
        // the whole call; the kernel only reads it. The flags are plain bits.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                SECCOMP_SET_MODE_FILTER,
                libc::c_ulong::from(self.flags),
                &prog as *const sock_fprog,
            )
        };
        if ret < 0 {
            let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EINVAL);
            return Err(SeccompError::Load { flags: self.flags, errno });
        }
        if self.flags & FLAG_NEW_LISTENER != 0 {
            // The kernel returns the listener fd; it fits an int (fds are ints).
            let fd = ret as libc::c_int;
            // SAFETY: with NEW_LISTENER, a successful seccomp() returns a new fd that
            // nothing else owns.
            return Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }));
        }
        if ret > 0 {
            // TSYNC without TSYNC_ESRCH: the id of a thread that could not be synchronized.
            return Err(SeccompError::Tsync { flags: self.flags, tid: ret });
        }
        Ok(None)
    }
}

impl fmt::Debug for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Program")
            .field("len", &self.insns.len())
            .field("flags", &format_args!("{:#x}", self.flags))
            .field("uses_notify", &self.uses_notify)
            .finish()
    }
}

impl PartialEq for Program {
    fn eq(&self, other: &Self) -> bool {
        self.flags == other.flags
            && self.uses_notify == other.uses_notify
            && self.insns.len() == other.insns.len()
            && self.insns.iter().zip(&other.insns).all(|(a, b)| insn_eq(a, b))
    }
}

impl Eq for Program {}

pub(crate) fn insn_eq(a: &sock_filter, b: &sock_filter) -> bool {
    a.code == b.code && a.jt == b.jt && a.jf == b.jf && a.k == b.k
}

/// Probes whether the kernel knows `flags`: `seccomp(SECCOMP_SET_MODE_FILTER, flags, NULL)`
/// fails with `EFAULT` (the NULL program) when it does, `EINVAL` when it doesn't. Nothing
/// is loaded either way.
pub(crate) fn kernel_knows_flags(flags: u32) -> Result<bool, SeccompError> {
    // SAFETY: a NULL program pointer makes the kernel fail with EFAULT before it installs
    // anything; no memory of ours is read or written.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            libc::c_ulong::from(flags),
            std::ptr::null::<sock_fprog>(),
        )
    };
    let errno = if ret < 0 { std::io::Error::last_os_error().raw_os_error().unwrap_or(0) } else { 0 };
    match errno {
        libc::EFAULT => Ok(true),
        libc::EINVAL => Ok(false),
        errno => Err(SeccompError::Sys { call: "seccomp(SECCOMP_SET_MODE_FILTER) flag probe", errno }),
    }
}
