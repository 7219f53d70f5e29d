//! The default profile of Docker/Podman, as Debian's containers-common ships it
//! (`/usr/share/containers/seccomp.json`, Docker's format: `archMap`, `includes`,
//! `excludes`). A small converter turns it into OCI form the way Docker and Podman do for
//! x86_64 with Podman's default capabilities; the result is the fixture
//! `fixtures/containers-common-x86_64.oci.json`, which must compile and leave a working
//! container: `/bin/true` runs, while the calls the profile denies are denied.
//!
//! Regenerate the fixture with `BERTH_REGEN_FIXTURES=1 cargo test -p seccomp --test docker_profile`.

mod common;

use common::*;
use serde_json::{json, Map, Value};
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// Podman's default capabilities (containers.conf `default_capabilities`, same package).
const DEFAULT_CAPS: [&str; 11] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// The kernel `includes.minKernel` is compared with (fixed, so the fixture is too).
const KERNEL: (u32, u32) = (6, 1);

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read_json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

fn kernel_at_least(min: &str, kernel: (u32, u32)) -> bool {
    let mut parts = min.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let want = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    kernel >= want
}

/// Docker's format to OCI's `linux.seccomp`, as Docker (`profiles/seccomp`) and Podman do:
/// the architectures are the `archMap` entry of the target and its sub-architectures; a
/// syscall entry is kept when all its `includes` hold (arches contains the Go arch name,
/// caps all granted, minKernel reached) and none of its `excludes` do (arch listed, any
/// cap granted).
fn docker_to_oci(docker: &Value, goarch: &str, caps: &[&str], kernel: (u32, u32)) -> Value {
    let scmp_arch = match goarch {
        "amd64" => "SCMP_ARCH_X86_64",
        "arm64" => "SCMP_ARCH_AARCH64",
        "s390x" => "SCMP_ARCH_S390X",
        "ppc64le" => "SCMP_ARCH_PPC64LE",
        "riscv64" => "SCMP_ARCH_RISCV64",
        other => panic!("no SCMP arch for {other}"),
    };
    let mut architectures = Vec::new();
    for m in docker["archMap"].as_array().into_iter().flatten() {
        if m["architecture"] == scmp_arch {
            architectures.push(json!(scmp_arch));
            architectures.extend(strings(m.get("subArchitectures")).into_iter().map(Value::from));
        }
    }

    let mut syscalls = Vec::new();
    for call in docker["syscalls"].as_array().expect("syscalls") {
        let inc = &call["includes"];
        let exc = &call["excludes"];
        let inc_arches = strings(inc.get("arches"));
        if !inc_arches.is_empty() && !inc_arches.contains(&goarch) {
            continue;
        }
        if !strings(inc.get("caps")).iter().all(|c| caps.contains(c)) {
            continue;
        }
        if let Some(min) = inc.get("minKernel").and_then(Value::as_str) {
            if !kernel_at_least(min, kernel) {
                continue;
            }
        }
        if strings(exc.get("arches")).contains(&goarch) {
            continue;
        }
        if strings(exc.get("caps")).iter().any(|c| caps.contains(c)) {
            continue;
        }

        let mut names: Vec<Value> = strings(call.get("names")).into_iter().map(Value::from).collect();
        if let Some(name) = call.get("name").and_then(Value::as_str) {
            names.push(name.into());
        }
        let mut out = Map::new();
        out.insert("names".into(), names.into());
        out.insert("action".into(), call["action"].clone());
        if let Some(args) = call.get("args").and_then(Value::as_array).filter(|a| !a.is_empty()) {
            let args: Vec<Value> = args
                .iter()
                .map(|a| json!({"index": a["index"], "value": a["value"], "valueTwo": a["valueTwo"], "op": a["op"]}))
                .collect();
            out.insert("args".into(), args.into());
        }
        if let Some(e) = call.get("errnoRet").filter(|e| e.is_u64()) {
            out.insert("errnoRet".into(), e.clone());
        }
        syscalls.push(Value::Object(out));
    }

    let mut oci = Map::new();
    oci.insert("defaultAction".into(), docker["defaultAction"].clone());
    if let Some(e) = docker.get("defaultErrnoRet").filter(|e| e.is_u64()) {
        oci.insert("defaultErrnoRet".into(), e.clone());
    }
    oci.insert("architectures".into(), architectures.into());
    oci.insert("syscalls".into(), syscalls.into());
    Value::Object(oci)
}

fn oci_fixture() -> Value {
    read_json(&fixtures().join("containers-common-x86_64.oci.json"))
}

#[test]
fn fixture_is_the_converted_profile() {
    let source = read_json(&fixtures().join("containers-common-seccomp.json"));
    let converted = docker_to_oci(&source, "amd64", &DEFAULT_CAPS, KERNEL);
    let path = fixtures().join("containers-common-x86_64.oci.json");
    if std::env::var_os("BERTH_REGEN_FIXTURES").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&converted).unwrap() + "\n").unwrap();
    }
    assert_eq!(converted, oci_fixture(), "regenerate with BERTH_REGEN_FIXTURES=1");

    let installed = Path::new("/usr/share/containers/seccomp.json");
    if installed.exists() && read_json(installed) != source {
        eprintln!("note: {} differs from the fixture's copy (another containers-common version)", installed.display());
    }
}

#[test]
fn converter_applies_includes_and_excludes() {
    let oci = oci_fixture();
    assert_eq!(oci["architectures"], json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]));
    assert_eq!(oci["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(oci["defaultErrnoRet"], 38);
    let rules_for = |name: &str| -> Vec<&Value> {
        oci["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["names"].as_array().unwrap().contains(&json!(name)))
            .collect()
    };
    // x86_64 only: arch_prctl is in, the arm and s390 calls are out.
    assert_eq!(rules_for("arch_prctl").len(), 1);
    assert!(rules_for("arm_fadvise64_64").is_empty());
    assert!(rules_for("s390_runtime_instr").is_empty());
    // No CAP_SYS_ADMIN: bpf is denied with EPERM, not allowed.
    let bpf = rules_for("bpf");
    assert_eq!(bpf.len(), 1);
    assert_eq!(bpf[0]["action"], "SCMP_ACT_ERRNO");
    assert_eq!(bpf[0]["errnoRet"], 1);
    // CAP_SYS_CHROOT is a default capability: chroot is allowed.
    assert_eq!(rules_for("chroot").len(), 1);
    assert_eq!(rules_for("chroot")[0]["action"], "SCMP_ACT_ALLOW");
    // No CAP_AUDIT_WRITE: the socket rules with argument conditions.
    assert_eq!(rules_for("socket").len(), 4);
    // With every capability, the other side of each include/exclude pair.
    let source = read_json(&fixtures().join("containers-common-seccomp.json"));
    let all = docker_to_oci(&source, "amd64", &["CAP_SYS_ADMIN", "CAP_AUDIT_WRITE"], KERNEL);
    let n = |v: &Value, name: &str, action: &str| {
        v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["names"].as_array().unwrap().contains(&json!(name)) && s["action"] == action)
            .count()
    };
    assert_eq!(n(&all, "bpf", "SCMP_ACT_ALLOW"), 1);
    assert_eq!(n(&all, "bpf", "SCMP_ACT_ERRNO"), 0);
    assert_eq!(n(&all, "socket", "SCMP_ACT_ERRNO"), 0);
    let arm = docker_to_oci(&source, "arm64", &DEFAULT_CAPS, KERNEL);
    assert_eq!(arm["architectures"], json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]));
    assert_eq!(n(&arm, "arm_fadvise64_64", "SCMP_ACT_ALLOW"), 1);
    assert_eq!(n(&arm, "arch_prctl", "SCMP_ACT_ALLOW"), 0);
    assert!(kernel_at_least("5.8", (6, 1)) && !kernel_at_least("6.2", (6, 1)));
}

#[test]
fn the_default_profile_compiles() {
    let oci = oci_fixture();
    let profile: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(oci.clone()).unwrap();
    seccomp::check_json(&oci).unwrap();
    let p = seccomp::compile(&profile).unwrap();
    assert!(p.len() > 100 && p.len() < seccomp::MAX_INSNS, "{}", p.len());
    assert_eq!(p.flags(), 0);
    assert!(!p.uses_notify());
    // Deterministic: the same profile gives the same program.
    assert_eq!(seccomp::compile(&profile).unwrap(), p);
}

/// execve(path) in a child under the default profile; the child's exit code comes back.
fn exec_under_default_profile(path: &str) -> Outcome {
    let p = compile(oci_fixture());
    let prog = CString::new(path).unwrap();
    let argv = [prog.as_ptr(), std::ptr::null()];
    let envp = [c"PATH=/usr/bin:/bin".as_ptr(), std::ptr::null()];
    run_filtered(&p, |_| {
        // SAFETY: argv and envp are NULL-terminated arrays of C strings made before fork.
        unsafe { libc::execve(prog.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        Err(100 + errno().min(99))
    })
}

#[test]
fn bin_true_runs_under_the_default_profile() {
    assert_eq!(exec_under_default_profile("/bin/true"), Outcome::Exited(0));
    // And the exit code really is the program's.
    assert_eq!(exec_under_default_profile("/bin/false"), Outcome::Exited(1));
}

#[test]
fn the_default_profile_denies_what_it_lists() {
    let p = compile(oci_fixture());
    let path = c"/nonexistent-berth-seccomp-test".as_ptr() as u64;
    let out = run_filtered(&p, |_| {
        // Listed as EPERM (errnoRet 1).
        expect_errno(sys(libc::SYS_kexec_load, &[0, 0, 0, 0]), libc::EPERM, 1)?;
        expect_errno(sys(libc::SYS_swapon, &[path, 0]), libc::EPERM, 2)?;
        expect_errno(sys(libc::SYS_userfaultfd, &[0]), libc::EPERM, 3)?;
        // CAP_SYS_ADMIN-only calls, without CAP_SYS_ADMIN: EPERM.
        expect_errno(sys(libc::SYS_bpf, &[0, 0, 0]), libc::EPERM, 4)?;
        expect_errno(sys(libc::SYS_perf_event_open, &[0, 0, 0, 0, 0]), libc::EPERM, 5)?;
        expect_errno(sys(libc::SYS_open_by_handle_at, &[0, 0, 0]), libc::EPERM, 6)?;
        // Not listed at all: the default, ERRNO(ENOSYS).
        expect_errno(sys(libc::SYS_io_uring_setup, &[1, 0]), libc::ENOSYS, 7)?;
        expect_errno(sys(libc::SYS_add_key, &[0, 0, 0, 0, 0]), libc::ENOSYS, 8)?;
        // A call newer than libseccomp 2.5.4's tables (number 1000, none yet): ENOSYS.
        expect_errno(sys(1000, &[]), libc::ENOSYS, 9)?;
        // NETLINK_AUDIT sockets are refused with EINVAL (no CAP_AUDIT_WRITE); other
        // netlink and unix sockets are allowed.
        let audit = sys(libc::SYS_socket, &[libc::AF_NETLINK as u64, libc::SOCK_RAW as u64, 9]);
        expect_errno(audit, libc::EINVAL, 10)?;
        let route = expect_ok(sys(libc::SYS_socket, &[libc::AF_NETLINK as u64, libc::SOCK_RAW as u64, 0]), 11)?;
        expect_ok(sys(libc::SYS_close, &[route as u64]), 12)?;
        let unix = expect_ok(sys(libc::SYS_socket, &[libc::AF_UNIX as u64, libc::SOCK_STREAM as u64, 0]), 13)?;
        expect_ok(sys(libc::SYS_close, &[unix as u64]), 14)?;
        // personality: the query is allowed, an odd persona falls to the default.
        expect_ok(sys(libc::SYS_personality, &[0xffff_ffff]), 15)?;
        expect_errno(sys(libc::SYS_personality, &[0x1234]), libc::ENOSYS, 16)?;
        // chroot is allowed (CAP_SYS_CHROOT is a default capability): the kernel answers.
        expect_errno(sys(libc::SYS_chroot, &[path]), libc::ENOENT, 17)?;
        Ok(())
    });
    assert_eq!(out, Outcome::Exited(0));
}
