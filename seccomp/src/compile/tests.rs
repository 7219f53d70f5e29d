use super::*;
use crate::enosys::RET_ENOSYS;
use crate::program::{FLAG_LOG, FLAG_SPEC_ALLOW};
use crate::{check_json, parse_json, KNOWN_FLAGS};
use serde_json::{json, Value};

fn profile(v: Value) -> LinuxSeccomp {
    serde_json::from_value(v).expect("profile parses")
}

fn compile_json(v: Value) -> Result<Program, SeccompError> {
    compile(&profile(v))
}

fn err(v: Value) -> String {
    compile_json(v).expect_err("compile fails").to_string()
}

/// Whether `p` starts with the -ENOSYS stub for x86_64 with `exit_group` as the largest call.
fn has_enosys_stub(p: &Program) -> bool {
    let max = libc::SYS_exit_group as u32;
    let stub = enosys::stub(&[ArchMax { audit: enosys::AUDIT_ARCH_X86_64, abi: Abi::X8664, max }]).unwrap();
    assert!(stub.iter().any(|i| i.code == 0x06 && i.k == RET_ENOSYS));
    p.len() > stub.len() && p.insns().iter().zip(&stub).all(|(a, b)| crate::program::insn_eq(a, b))
}

#[test]
fn allow_profile_compiles() {
    let p = compile_json(json!({"defaultAction": "SCMP_ACT_ALLOW"})).unwrap();
    assert!(!p.is_empty());
    assert!(!p.is_empty());
    assert_eq!(p.flags(), 0);
    assert!(!p.uses_notify());
    let fprog = p.sock_fprog();
    assert_eq!(usize::from(fprog.len), p.len());
    assert_eq!(fprog.filter.cast_const(), p.insns().as_ptr());
}

#[test]
fn every_action_compiles() {
    for a in crate::KNOWN_ACTIONS.iter().filter(|a| **a != "SCMP_ACT_NOTIFY") {
        let p = compile_json(json!({"defaultAction": a})).unwrap_or_else(|e| panic!("default {a}: {e}"));
        assert!(!p.is_empty(), "{a}");
        let p = compile_json(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getppid"], "action": a, "errnoRet": 5}]
        }))
        .unwrap_or_else(|e| panic!("rule {a}: {e}"));
        assert!(!p.is_empty(), "{a}");
    }
}

#[test]
fn rules_make_the_program_longer() {
    let base = compile_json(json!({"defaultAction": "SCMP_ACT_ALLOW"})).unwrap();
    let more = compile_json(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "rmdir", "chroot"], "action": "SCMP_ACT_ERRNO"}]
    }))
    .unwrap();
    assert!(more.len() > base.len(), "{} > {}", more.len(), base.len());
}

#[test]
fn errno_ret_is_in_the_program() {
    let p = compile_json(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    }))
    .unwrap();
    assert!(p.insns().iter().any(|i| i.code == 0x06 && i.k == 0x0005_0000 | 38));
    // Without errnoRet: EPERM, as runc.
    let p = compile_json(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
    }))
    .unwrap();
    assert!(p.insns().iter().any(|i| i.code == 0x06 && i.k == 0x0005_0001));
    // TRACE uses errnoRet as its message.
    let p = compile_json(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_TRACE", "errnoRet": 77}]
    }))
    .unwrap();
    assert!(p.insns().iter().any(|i| i.code == 0x06 && i.k == 0x7ff0_0000 | 77));
    // defaultErrnoRet.
    let p = compile_json(json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 13})).unwrap();
    assert!(p.insns().iter().any(|i| i.code == 0x06 && i.k == 0x0005_0000 | 13));
}

#[test]
fn notify_is_detected() {
    let p = compile_json(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    }))
    .unwrap();
    assert!(p.uses_notify());
    assert_eq!(p.flags(), FLAG_NEW_LISTENER);
}

#[test]
fn notify_default_is_refused() {
    assert_eq!(
        err(json!({"defaultAction": "SCMP_ACT_NOTIFY"})),
        "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action (the runtime-spec forbids \
         it: the runtime itself could not make a system call)"
    );
}

#[test]
fn notify_write_is_refused() {
    let e = err(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_NOTIFY"}]
    }));
    assert!(e.starts_with("linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for the write"), "{e}");
}

#[test]
fn flags_are_passed() {
    let p = compile_json(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"]
    }))
    .unwrap();
    assert_eq!(p.flags(), FLAG_LOG | FLAG_SPEC_ALLOW | FLAG_TSYNC);
    assert!(!p.uses_notify());
}

#[test]
fn tsync_with_notify_adds_tsync_esrch() {
    let p = compile_json(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    }))
    .unwrap();
    assert_eq!(p.flags(), FLAG_TSYNC | FLAG_TSYNC_ESRCH | FLAG_NEW_LISTENER);
}

#[test]
fn wait_killable_recv() {
    let p = compile_json(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    }));
    // Linux 5.19; this machine's kernel is newer, but stay honest on an old one.
    match p {
        Ok(p) => assert_eq!(p.flags(), FLAG_WAIT_KILLABLE_RECV | FLAG_NEW_LISTENER),
        Err(e) => assert!(e.to_string().ends_with("is not supported by this kernel"), "{e}"),
    }
    let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}));
    assert_eq!(
        e,
        "linux.seccomp.flags[0]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV only applies to a filter with \
         SCMP_ACT_NOTIFY rules, and this one has none"
    );
}

#[test]
fn a_flag_the_kernel_lacks_is_an_error() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]
    }));
    // A kernel from before 4.17: no SPEC_ALLOW.
    let mut old_kernel = |bits: u32| Ok(bits & FLAG_SPEC_ALLOW == 0);
    let e = compile_with(&p, &mut old_kernel).unwrap_err();
    assert_eq!(e.to_string(), "linux.seccomp.flags[1]: SECCOMP_FILTER_FLAG_SPEC_ALLOW is not supported by this kernel");
    assert_eq!(e.field(), Some("linux.seccomp.flags[1]"));

    // A kernel without user notification.
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    }));
    let mut no_notify = |bits: u32| Ok(bits & FLAG_NEW_LISTENER == 0);
    let e = compile_with(&p, &mut no_notify).unwrap_err().to_string();
    assert!(e.contains("SCMP_ACT_NOTIFY needs seccomp user notification"), "{e}");

    // A kernel with TSYNC and notify but not TSYNC_ESRCH (5.0 to 5.6).
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    }));
    let mut no_esrch = |bits: u32| Ok(bits & FLAG_TSYNC_ESRCH == 0);
    let e = compile_with(&p, &mut no_esrch).unwrap_err().to_string();
    assert!(e.starts_with("linux.seccomp.flags[0]: SECCOMP_FILTER_FLAG_TSYNC together with SCMP_ACT_NOTIFY"), "{e}");
}

#[test]
fn supported_flags_are_known() {
    let flags = crate::supported_flags();
    assert!(flags.iter().all(|f| KNOWN_FLAGS.contains(f)));
    // Linux 4.14+.
    assert!(flags.contains(&"SECCOMP_FILTER_FLAG_LOG"), "{flags:?}");
}

#[test]
fn unknown_syscall_names_are_skipped() {
    let without = compile_json(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
    }))
    .unwrap();
    let with = compile_json(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["no_such_syscall_in_any_kernel", "mkdir"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["future_syscall_2077"], "action": "SCMP_ACT_KILL"}
        ]
    }))
    .unwrap();
    assert_eq!(with, without);
}

#[test]
fn rules_with_the_default_action_are_skipped() {
    let base = compile_json(json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38})).unwrap();
    let redundant = compile_json(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    }))
    .unwrap();
    assert_eq!(base, redundant);
}

#[test]
fn empty_syscall_name_is_an_error() {
    assert_eq!(
        err(
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", ""], "action": "SCMP_ACT_KILL"}]})
        ),
        "linux.seccomp.syscalls[0].names[1]: an empty string is not a syscall name"
    );
}

#[test]
fn every_operator_compiles() {
    for op in crate::KNOWN_OPERATORS {
        let p = compile_json(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                          "args": [{"index": 0, "value": 8, "valueTwo": 8, "op": op}]}]
        }))
        .unwrap_or_else(|e| panic!("{op}: {e}"));
        assert!(!p.is_empty());
    }
}

#[test]
fn several_conditions_on_one_argument_compile() {
    let p = compile_json(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [
            {"index": 0, "value": 10, "op": "SCMP_CMP_GT"},
            {"index": 0, "value": 5, "op": "SCMP_CMP_LT"},
            {"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}
        ]}]
    }))
    .unwrap();
    assert!(!p.is_empty());
}

#[test]
fn argument_index_past_five_is_an_error() {
    let e = compile_json(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [
                {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                {"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}
            ]}
        ]
    }))
    .unwrap_err();
    assert_eq!(e.to_string(), "linux.seccomp.syscalls[1].args[1].index: 6 is past the last syscall argument (0 to 5)");
    assert_eq!(e.field(), Some("linux.seccomp.syscalls[1].args[1].index"));
}

#[test]
fn errno_ret_too_large_is_an_error() {
    assert_eq!(
        err(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}]
        })),
        "linux.seccomp.syscalls[0].errnoRet: 70000 does not fit the 16 bits of SECCOMP_RET_DATA"
    );
    assert_eq!(
        err(json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 65536})),
        "linux.seccomp.defaultErrnoRet: 65536 does not fit the 16 bits of SECCOMP_RET_DATA"
    );
}

#[test]
fn architectures() {
    let p = compile_json(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_NATIVE"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
    }))
    .unwrap();
    let native = compile_json(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
    }))
    .unwrap();
    assert!(p.len() > native.len(), "three ABIs check more than one");

    // Every architecture of the spec either compiles or fails naming itself.
    for a in crate::known_arches() {
        let r = compile_json(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": [a],
            "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]
        }));
        if let Err(e) = r {
            let e = e.to_string();
            assert!(
                e.starts_with(&format!("linux.seccomp.architectures[0]: {a} is not supported by libseccomp")),
                "{e}"
            );
        }
    }
}

#[test]
fn architectures_libseccomp_2_5_lacks() {
    if !crate::libseccomp_version().starts_with("2.5.") {
        return;
    }
    let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_SH"]}));
    assert!(e.starts_with("linux.seccomp.architectures[1]: SCMP_ARCH_SH is not supported by libseccomp 2.5."), "{e}");
}

#[test]
fn enosys_stub_follows_runc() {
    let deny = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]
    });
    assert!(has_enosys_stub(&compile_json(deny.clone()).unwrap()));

    // Not for permissive defaults.
    for a in ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"] {
        let mut v = deny.clone();
        v["defaultAction"] = json!(a);
        v["syscalls"][0]["action"] = json!("SCMP_ACT_KILL");
        assert!(!has_enosys_stub(&compile_json(v).unwrap()), "{a}");
    }
    // Not when the default already answers ENOSYS.
    let mut v = deny.clone();
    v["defaultErrnoRet"] = json!(libc::ENOSYS);
    assert!(!has_enosys_stub(&compile_json(v).unwrap()));
    // Only for the listed architectures (runc): none listed, no stub.
    let mut v = deny.clone();
    v.as_object_mut().unwrap().remove("architectures");
    assert!(!has_enosys_stub(&compile_json(v).unwrap()));
    // Kill defaults get it too.
    let mut v = deny;
    v["defaultAction"] = json!("SCMP_ACT_KILL_PROCESS");
    assert!(has_enosys_stub(&compile_json(v).unwrap()));
}

#[test]
fn large_profiles_are_optimized() {
    // More than 32 names: libseccomp's binary tree (as runc). It must still compile and
    // stay well under the kernel's limit.
    let names: Vec<&str> = "read write open close stat fstat lstat poll lseek mmap mprotect munmap brk \
        rt_sigaction rt_sigprocmask rt_sigreturn ioctl pread64 pwrite64 readv writev access pipe select \
        sched_yield mremap msync mincore madvise shmget shmat shmctl dup dup2 pause nanosleep getitimer \
        alarm setitimer getpid"
        .split_whitespace()
        .collect();
    assert!(names.len() > OPTIMIZE_ABOVE);
    let p = compile_json(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]
    }))
    .unwrap();
    assert!(p.len() > names.len() && p.len() < MAX_INSNS, "{}", p.len());
}

#[test]
fn from_parts_checks() {
    let p = compile_json(json!({"defaultAction": "SCMP_ACT_ALLOW"})).unwrap();
    let again = Program::from_parts(p.insns().to_vec(), p.flags(), p.uses_notify()).unwrap();
    assert_eq!(again, p);
    assert!(Program::from_parts(Vec::new(), 0, false).is_err());
    assert!(Program::from_parts(p.insns().to_vec(), 1 << 20, false).is_err());
    assert!(Program::from_parts(p.insns().to_vec(), FLAG_NEW_LISTENER, false).is_err());
    assert!(Program::from_parts(p.insns().to_vec(), 0, true).is_err());
    let long = vec![p.insns()[0]; MAX_INSNS + 1];
    assert!(Program::from_parts(long, 0, false).is_err());
}

#[test]
fn parse_bpf_rejects_partial_instructions() {
    assert!(parse_bpf(&[0; 12]).is_err());
    assert!(parse_bpf(&[]).is_err());
    let one = parse_bpf(&[0x06, 0, 1, 2, 0, 0, 0xff, 0x7f]).unwrap();
    assert_eq!((one[0].code, one[0].jt, one[0].jf, one[0].k), (6, 1, 2, 0x7fff_0000));
}

#[test]
fn json_names_are_checked_with_their_field() {
    let v = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["a"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["b"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["c"], "action": "SCMP_ACT_LOG"},
            {"names": ["d"], "action": "SCMP_ACT_FOO"}
        ]
    });
    let e = check_json(&v).unwrap_err();
    assert_eq!(e.to_string(), r#"linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO""#);
    assert!(matches!(e, SeccompError::Unknown { kind: "action", .. }));
    assert!(serde_json::from_value::<LinuxSeccomp>(v.clone()).is_err(), "oci-spec refuses it too");
    assert_eq!(parse_json(&v).unwrap_err().to_string(), e.to_string());

    let cases = [
        (json!({"defaultAction": "SCMP_ACT_NOPE"}), r#"linux.seccomp.defaultAction: unknown action "SCMP_ACT_NOPE""#),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"]}),
            r#"linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_VAX""#,
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]}),
            r#"linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_BOGUS""#,
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 1, "op": "SCMP_CMP_APPROX"}]}]}),
            r#"linux.seccomp.syscalls[0].args[1].op: unknown operator "SCMP_CMP_APPROX""#,
        ),
        (json!({"syscalls": []}), "linux.seccomp.defaultAction: missing"),
        (json!([]), "linux.seccomp: must be an object"),
    ];
    for (v, want) in cases {
        assert_eq!(check_json(&v).unwrap_err().to_string(), want);
    }
}

#[test]
fn parse_json_accepts_a_valid_profile() {
    let v = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": 3, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}]
    });
    let s = parse_json(&v).unwrap();
    assert_eq!(s, profile(v));
    // Known names with a wrong shape still come back as a field error.
    let bad = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "read", "action": "SCMP_ACT_ALLOW"}]});
    assert!(parse_json(&bad).unwrap_err().to_string().starts_with("linux.seccomp: "));
}
