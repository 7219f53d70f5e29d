//! Forked-child harness: a child process sets `no_new_privs`, loads a compiled filter and
//! runs a check made only of raw system calls (no allocation: the test process is
//! multithreaded, and a forked child must not take a lock another thread held), then
//! exits with the check's code. The parent waits and reports how the child ended.

#![allow(dead_code)]

use seccomp::Program;
use std::os::fd::OwnedFd;

/// How a forked child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `_exit(code)`: 0 when every check passed, else the number of the failed check.
    Exited(i32),
    /// Killed by a signal.
    Signaled(i32),
}

/// Exit code of a child whose `Program::load` failed (the errno is added to it).
pub const LOAD_FAILED: i32 = 150;

/// A raw system call: `Ok(return value)` or `Err(errno)`.
pub fn sys(nr: libc::c_long, args: &[u64]) -> Result<i64, i32> {
    let a = |i: usize| args.get(i).copied().unwrap_or(0);
    // SAFETY: the tests only pass integers, or pointers to live NUL-terminated strings
    // and buffers, to the calls they make.
    let r = unsafe { libc::syscall(nr, a(0), a(1), a(2), a(3), a(4), a(5)) };
    if r == -1 {
        Err(errno())
    } else {
        Ok(r)
    }
}

pub fn errno() -> i32 {
    // SAFETY: __errno_location returns this thread's errno slot, always valid.
    unsafe { *libc::__errno_location() }
}

/// Check `cond`, or fail with exit code `code`.
pub fn ensure(cond: bool, code: i32) -> Result<(), i32> {
    if cond {
        Ok(())
    } else {
        Err(code)
    }
}

/// The call must fail with exactly `want` (code `code` if not).
pub fn expect_errno(r: Result<i64, i32>, want: i32, code: i32) -> Result<(), i32> {
    ensure(r == Err(want), code)
}

/// The call must succeed (code `code` if not).
pub fn expect_ok(r: Result<i64, i32>, code: i32) -> Result<i64, i32> {
    r.map_err(|_| code)
}

/// Sets `no_new_privs`, exits with LOAD_FAILED+errno if that or the load fails.
pub fn nnp_and_load(program: &Program) -> Option<OwnedFd> {
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        exit(LOAD_FAILED + 1);
    }
    match program.load() {
        Ok(fd) => fd,
        Err(e) => exit(LOAD_FAILED + e.errno().unwrap_or(99).min(99)),
    }
}

pub fn exit(code: i32) -> ! {
    // SAFETY: _exit ends the process without running atexit handlers or unwinding, as a
    // forked child of a multithreaded process must.
    unsafe { libc::_exit(code) }
}

/// Forks; the child runs `child` (which must use raw system calls only) and `_exit`s with
/// its result (0 for `Ok`). A 20-second alarm kills a child that hangs.
pub fn fork_and(child: impl FnOnce() -> Result<(), i32>) -> Outcome {
    // SAFETY: the child only makes raw system calls (and runs signal-safe code) before it
    // _exit()s; the parent waits for it.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: alarm() and setrlimit() are plain system calls; the rlimit is a local.
        unsafe {
            libc::alarm(20);
            // No core files from the children that die of SIGSYS on purpose.
            let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
        }
        let code = match child() {
            Ok(()) => 0,
            Err(code) => code,
        };
        exit(code);
    }
    wait(pid)
}

/// Forks a child that loads `program` (after setting no_new_privs) and runs `check`.
pub fn run_filtered(program: &Program, check: impl FnOnce(Option<OwnedFd>) -> Result<(), i32>) -> Outcome {
    fork_and(|| {
        let fd = nnp_and_load(program);
        check(fd)
    })
}

pub fn wait(pid: libc::pid_t) -> Outcome {
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes the status into a local int.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        assert!(r == -1 && errno() == libc::EINTR, "waitpid: {}", std::io::Error::last_os_error());
    }
    if libc::WIFEXITED(status) {
        Outcome::Exited(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        Outcome::Signaled(libc::WTERMSIG(status))
    } else {
        panic!("unexpected wait status {status:#x}")
    }
}

/// Parses and compiles a profile, panicking on failure.
pub fn compile(v: serde_json::Value) -> Program {
    let profile: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(v).expect("profile parses");
    seccomp::compile(&profile).expect("profile compiles")
}
