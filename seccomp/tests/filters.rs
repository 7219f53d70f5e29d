//! Filters loaded for real, in forked children: each child sets no_new_privs, loads a
//! compiled profile, makes the system calls under test and reports through its exit code.

mod common;

use common::*;
use serde_json::json;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI32, Ordering};

const PATH: &std::ffi::CStr = c"/nonexistent-berth-seccomp-test/dir";

fn path() -> u64 {
    PATH.as_ptr() as u64
}

#[test]
fn errno_action_returns_the_configured_errno() {
    let p = compile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
        ]
    }));
    let out = run_filtered(&p, |_| {
        expect_errno(sys(libc::SYS_mkdir, &[path(), 0o700]), libc::EPERM, 1)?;
        expect_errno(sys(libc::SYS_rmdir, &[path()]), 38, 2)?;
        // Not filtered: the kernel's own answer.
        expect_errno(sys(libc::SYS_unlink, &[path()]), libc::ENOENT, 3)?;
        expect_ok(sys(libc::SYS_getpid, &[]), 4)?;
        Ok(())
    });
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
fn the_same_filter_unloaded_does_nothing() {
    // Control for the test above: without the filter the kernel answers ENOENT.
    let out = fork_and(|| {
        expect_errno(sys(libc::SYS_mkdir, &[path(), 0o700]), libc::ENOENT, 1)?;
        expect_errno(sys(libc::SYS_rmdir, &[path()]), libc::ENOENT, 2)
    });
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
fn default_errno_ret() {
    let p = compile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 13,
        "syscalls": [{"names": ["exit_group", "exit", "getpid"], "action": "SCMP_ACT_ALLOW"}]
    }));
    let out = run_filtered(&p, |_| {
        expect_errno(sys(libc::SYS_getppid, &[]), libc::EACCES, 1)?;
        expect_errno(sys(libc::SYS_mkdir, &[path(), 0o700]), libc::EACCES, 2)?;
        expect_ok(sys(libc::SYS_getpid, &[]), 3)?;
        Ok(())
    });
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
fn kill_kills_with_sigsys() {
    for action in ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS"] {
        let p = compile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getppid"], "action": action}]
        }));
        let out = run_filtered(&p, |_| {
            expect_ok(sys(libc::SYS_getpid, &[]), 1)?;
            let _ = sys(libc::SYS_getppid, &[]);
            Err(2) // not reached
        });
        assert_eq!(out, Outcome::Signaled(libc::SIGSYS), "{action}");
    }
}

#[test]
fn kill_as_default_action() {
    let p = compile(json!({
        "defaultAction": "SCMP_ACT_KILL_PROCESS",
        "syscalls": [{"names": ["exit_group", "getpid"], "action": "SCMP_ACT_ALLOW"}]
    }));
    let ok = run_filtered(&p, |_| expect_ok(sys(libc::SYS_getpid, &[]), 1).map(|_| ()));
    assert_eq!(ok, Outcome::Exited(0));
    let killed = run_filtered(&p, |_| {
        let _ = sys(libc::SYS_getppid, &[]);
        Err(2)
    });
    assert_eq!(killed, Outcome::Signaled(libc::SIGSYS));
}

static TRAPPED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_sigsys(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let code = unsafe { (*info).si_code };
    TRAPPED.store(code, Ordering::SeqCst);
}

#[test]
fn trap_raises_sigsys() {
    let p = compile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_TRAP"}]
    }));
    let out = run_filtered(&p, |_| {
        // SAFETY: a zeroed sigaction with an SA_SIGINFO handler that only stores an int.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigsys as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO;
            libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut())
        };
        ensure(rc == 0, 1)?;
        let _ = sys(libc::SYS_getppid, &[]);
        // si_code SYS_SECCOMP (1): the signal came from the filter.
        ensure(TRAPPED.load(Ordering::SeqCst) == 1, 2)
    });
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
fn trace_without_tracer_is_enosys() {
    let p = compile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_TRACE", "errnoRet": 5}]
    }));
    let out = run_filtered(&p, |_| expect_errno(sys(libc::SYS_getppid, &[]), libc::ENOSYS, 1));
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
fn log_lets_the_call_through() {
    let p = compile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "syscalls": [{"names": ["getppid", "mkdir"], "action": "SCMP_ACT_LOG"}]
    }));
    let parent = std::process::id() as i64;
    let out = run_filtered(&p, |_| {
        ensure(expect_ok(sys(libc::SYS_getppid, &[]), 1)? == parent, 2)?;
        expect_errno(sys(libc::SYS_mkdir, &[path(), 0o700]), libc::ENOENT, 3)
    });
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
fn log_as_default_action() {
    let p = compile(json!({
        "defaultAction": "SCMP_ACT_LOG",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
    }));
    let out = run_filtered(&p, |_| {
        expect_ok(sys(libc::SYS_getppid, &[]), 1)?;
        expect_errno(sys(libc::SYS_mkdir, &[path(), 0o700]), libc::EPERM, 2)
    });
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
fn personality_argument_condition() {
    // Docker's profile allows only some personalities; here the query (0xffffffff) is
    // blocked and setting PER_LINUX (0) passes.
    let p = compile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                      "args": [{"index": 0, "value": 4294967295u64, "op": "SCMP_CMP_EQ"}]}]
    }));
    let out = run_filtered(&p, |_| {
        expect_errno(sys(libc::SYS_personality, &[0xffff_ffff]), libc::EPERM, 1)?;
        expect_ok(sys(libc::SYS_personality, &[0]), 2)?;
        Ok(())
    });
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
fn socket_family_condition() {
    let p = compile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EAFNOSUPPORT,
                      "args": [{"index": 0, "value": libc::AF_INET, "op": "SCMP_CMP_EQ"}]}]
    }));
    let out = run_filtered(&p, |_| {
        let inet = sys(libc::SYS_socket, &[libc::AF_INET as u64, libc::SOCK_STREAM as u64, 0]);
        expect_errno(inet, libc::EAFNOSUPPORT, 1)?;
        let unix = expect_ok(sys(libc::SYS_socket, &[libc::AF_UNIX as u64, libc::SOCK_STREAM as u64, 0]), 2)?;
        expect_ok(sys(libc::SYS_close, &[unix as u64]), 3)?;
        let inet6 = expect_ok(sys(libc::SYS_socket, &[libc::AF_INET6 as u64, libc::SOCK_DGRAM as u64, 0]), 4);
        if let Ok(fd) = inet6 {
            let _ = sys(libc::SYS_close, &[fd as u64]);
        }
        Ok(())
    });
    assert_eq!(out, Outcome::Exited(0));
}

/// Loads a filter that makes getppid fail with EPERM when `args` match, then calls
/// getppid (which ignores its arguments; the filter still sees them) with each of
/// `blocked` (must fail) and `allowed` (must pass) as arguments.
fn check_args(args: serde_json::Value, blocked: &[[u64; 2]], allowed: &[[u64; 2]]) {
    let p = compile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "args": args}]
    }));
    let out = run_filtered(&p, |_| {
        for (i, a) in blocked.iter().enumerate() {
            expect_errno(sys(libc::SYS_getppid, a), libc::EPERM, 1 + i as i32)?;
        }
        for (i, a) in allowed.iter().enumerate() {
            expect_ok(sys(libc::SYS_getppid, a), 64 + i as i32)?;
        }
        Ok(())
    });
    assert_eq!(out, Outcome::Exited(0), "args {args}; exit codes 1.. are blocked[i-1], 64.. allowed[i-64]");
}

#[test]
fn operators() {
    let op = |op: &str, value: u64| json!([{"index": 0, "value": value, "op": op}]);
    check_args(op("SCMP_CMP_EQ", 7), &[[7, 0]], &[[6, 0], [8, 0], [7 << 32, 0]]);
    check_args(op("SCMP_CMP_NE", 7), &[[6, 0], [8, 0], [u64::MAX, 0]], &[[7, 0]]);
    check_args(op("SCMP_CMP_LT", 7), &[[0, 0], [6, 0]], &[[7, 0], [8, 0], [1 << 40, 0]]);
    check_args(op("SCMP_CMP_LE", 7), &[[0, 0], [7, 0]], &[[8, 0], [1 << 40, 0]]);
    check_args(op("SCMP_CMP_GE", 7), &[[7, 0], [8, 0], [1 << 40, 0]], &[[0, 0], [6, 0]]);
    check_args(op("SCMP_CMP_GT", 7), &[[8, 0], [u64::MAX, 0]], &[[0, 0], [7, 0]]);
    // 64-bit comparisons: values above 32 bits are told apart.
    check_args(op("SCMP_CMP_EQ", 0x1_0000_0007), &[[0x1_0000_0007, 0]], &[[7, 0], [0x2_0000_0007, 0]]);
}

#[test]
fn masked_eq() {
    // (arg & value) == valueTwo: value is the mask.
    check_args(
        json!([{"index": 1, "value": 0xf0, "valueTwo": 0x30, "op": "SCMP_CMP_MASKED_EQ"}]),
        &[[0, 0x30], [0, 0x3f], [0, 0x130], [9, 0xff3f]],
        &[[0, 0], [0, 0x20], [0, 0x40], [0x30, 0]],
    );
    // Docker's clone rule: no namespace flag set (mask 0x7e020000, expect 0).
    check_args(
        json!([{"index": 0, "value": 0x7e02_0000u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]),
        &[[libc::SIGCHLD as u64, 0]],
        &[[libc::CLONE_NEWNS as u64, 0], [libc::CLONE_NEWUSER as u64 | libc::SIGCHLD as u64, 0]],
    );
}

#[test]
fn conditions_on_different_arguments_are_anded() {
    check_args(
        json!([{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]),
        &[[1, 2]],
        &[[1, 0], [0, 2], [2, 1]],
    );
}

#[test]
fn several_conditions_on_one_argument_are_ored_like_runc() {
    // runc: when an argument has several conditions, each condition is a rule of its own.
    check_args(
        json!([{"index": 0, "value": 10, "op": "SCMP_CMP_GT"}, {"index": 0, "value": 5, "op": "SCMP_CMP_LT"}]),
        &[[0, 0], [4, 0], [11, 0], [1000, 0]],
        &[[5, 0], [7, 0], [10, 0]],
    );
    // ...including the conditions on other arguments of the same entry: arg1 == 2 alone blocks.
    check_args(
        json!([
            {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
            {"index": 0, "value": 3, "op": "SCMP_CMP_EQ"},
            {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}
        ]),
        &[[1, 0], [3, 0], [0, 2], [3, 2]],
        &[[0, 0], [2, 0], [0, 3]],
    );
}

#[test]
fn several_names_and_rules() {
    let p = compile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir", "rmdir", "no_such_syscall_xyz"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["unlink"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18}
        ]
    }));
    let out = run_filtered(&p, |_| {
        expect_errno(sys(libc::SYS_mkdir, &[path(), 0o700]), libc::EPERM, 1)?;
        expect_errno(sys(libc::SYS_rmdir, &[path()]), libc::EPERM, 2)?;
        expect_errno(sys(libc::SYS_unlink, &[path()]), 18, 3)
    });
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
fn enosys_for_calls_newer_than_the_profile() {
    // An allowlist for x86_64 whose largest call is exit_group (231): getppid (110), not
    // listed, gets the default EPERM; openat (257) is "newer than the profile" and gets
    // ENOSYS, as runc's patched filters answer.
    let profile = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["exit_group", "getpid"], "action": "SCMP_ACT_ALLOW"}]
    });
    let p = compile(profile.clone());
    let out = run_filtered(&p, |_| {
        expect_ok(sys(libc::SYS_getpid, &[]), 1)?;
        expect_errno(sys(libc::SYS_getppid, &[]), libc::EPERM, 2)?;
        expect_errno(sys(libc::SYS_openat, &[libc::AT_FDCWD as u64, path(), 0]), libc::ENOSYS, 3)?;
        expect_errno(sys(1000, &[]), libc::ENOSYS, 4)
    });
    assert_eq!(out, Outcome::Exited(0));

    // Without `architectures` (runc adds no stub then), the default answers everything.
    let mut v = profile;
    v.as_object_mut().unwrap().remove("architectures");
    let p = compile(v);
    let out = run_filtered(&p, |_| {
        expect_errno(sys(libc::SYS_openat, &[libc::AT_FDCWD as u64, path(), 0]), libc::EPERM, 1)?;
        expect_errno(sys(1000, &[]), libc::EPERM, 2)
    });
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
fn flags_load() {
    for flags in [
        json!(["SECCOMP_FILTER_FLAG_LOG"]),
        json!(["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]),
        json!(["SECCOMP_FILTER_FLAG_TSYNC"]),
        json!(["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"]),
    ] {
        let p = compile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "flags": flags,
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        }));
        assert_ne!(p.flags(), 0);
        let out = run_filtered(&p, |fd| {
            ensure(fd.is_none(), 1)?;
            expect_errno(sys(libc::SYS_mkdir, &[path(), 0o700]), libc::EPERM, 2)
        });
        assert_eq!(out, Outcome::Exited(0), "{flags}");
    }
}

#[test]
fn load_needs_no_new_privs_or_cap_sys_admin() {
    let p = compile(json!({"defaultAction": "SCMP_ACT_ALLOW"}));
    let out = fork_and(|| {
        // Drop every privilege (as root, changing all uids to nobody clears the
        // capabilities); no_new_privs stays unset.
        // SAFETY: geteuid is a plain query.
        if unsafe { libc::geteuid() } == 0 {
            expect_ok(sys(libc::SYS_setresuid, &[65534, 65534, 65534]), 1)?;
        }
        match p.load() {
            Ok(_) => Err(2),
            Err(e) => ensure(e.errno() == Some(libc::EACCES), 3),
        }
    });
    assert_eq!(out, Outcome::Exited(0));
    let e = seccomp::SeccompError::Load { flags: 0, errno: libc::EACCES };
    assert!(e.to_string().contains("no_new_privs or CAP_SYS_ADMIN"), "{e}");
}

#[test]
fn notify_returns_a_listener_that_can_answer() {
    let p = compile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    }));
    assert!(p.uses_notify());
    // The child loads the filter and keeps the listener; a grandchild (which inherits the
    // filter) calls mkdir twice; the child answers as a seccomp agent would: first an
    // error (ENOTCONN), then a fake success.
    let out = run_filtered(&p, |fd| {
        let listener = fd.ok_or(1)?;
        let lfd = listener.as_raw_fd();
        ensure(sys(libc::SYS_fcntl, &[lfd as u64, libc::F_GETFD as u64]).is_ok(), 2)?;
        // SAFETY: fork in a single-threaded child.
        let pid = unsafe { libc::fork() };
        ensure(pid >= 0, 3)?;
        if pid == 0 {
            // SAFETY: alarm is a plain system call.
            unsafe { libc::alarm(20) };
            let first = sys(libc::SYS_mkdir, &[path(), 0o700]);
            let second = sys(libc::SYS_mkdir, &[path(), 0o700]);
            let code = if first != Err(libc::ENOTCONN) {
                1
            } else if second != Ok(0) {
                2
            } else {
                0
            };
            exit(code);
        }
        for (round, error) in [(0, -libc::ENOTCONN), (1, 0)] {
            let mut pfd = libc::pollfd { fd: lfd, events: libc::POLLIN, revents: 0 };
            ensure(sys(libc::SYS_poll, &[&mut pfd as *mut _ as u64, 1, 10_000]) == Ok(1), 10 + round)?;
            // SAFETY: an all-zero seccomp_notif is valid (and the kernel requires it zeroed).
            let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
            let recv = sys(libc::SYS_ioctl, &[lfd as u64, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req as *mut _ as u64]);
            ensure(recv.is_ok(), 20 + round)?;
            ensure(req.data.nr == libc::SYS_mkdir as i32 && req.pid as i32 == pid, 30 + round)?;
            ensure(req.data.args[0] == path() && req.data.args[1] == 0o700, 40 + round)?;
            let mut resp = libc::seccomp_notif_resp { id: req.id, val: 0, error, flags: 0 };
            let send = sys(libc::SYS_ioctl, &[lfd as u64, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp as *mut _ as u64]);
            ensure(send.is_ok(), 50 + round)?;
        }
        match wait(pid) {
            Outcome::Exited(0) => Ok(()),
            Outcome::Exited(c) => Err(60 + c),
            Outcome::Signaled(_) => Err(70),
        }
    });
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
fn notify_listener_with_wait_killable_recv() {
    let p = compile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    }));
    assert_eq!(
        p.flags(),
        seccomp::FLAG_WAIT_KILLABLE_RECV | seccomp::FLAG_NEW_LISTENER | seccomp::FLAG_TSYNC | seccomp::FLAG_TSYNC_ESRCH
    );
    let out = run_filtered(&p, |fd| {
        let listener = fd.ok_or(1)?;
        ensure(sys(libc::SYS_fcntl, &[listener.as_raw_fd() as u64, libc::F_GETFD as u64]).is_ok(), 2)
    });
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
fn no_listener_without_notify() {
    let p = compile(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_LOG"}]}),
    );
    let out = run_filtered(&p, |fd| ensure(fd.is_none(), 1));
    assert_eq!(out, Outcome::Exited(0));
}
