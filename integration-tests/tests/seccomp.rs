//! linux.seccomp on real containers: the default profile of container engines is in
//! force, a custom profile blocks mkdir with its errno, a NOTIFY listener reaches the
//! agent at listenerPath with the container's state, and a bad profile fails create.

use integration_tests::*;
use serde_json::{json, Value};
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

fn default_profile() -> Value {
    let p = workspace_dir().join("seccomp/tests/fixtures/containers-common-x86_64.oci.json");
    serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap()
}

fn status_lines(out: &str) -> (String, String) {
    let get = |k: &str| out.lines().find_map(|l| l.strip_prefix(k)).unwrap_or("").trim().to_string();
    (get("Seccomp:"), get("Seccomp_filters:"))
}

#[test]
fn default_profile_is_in_force() {
    for nnp in [true, false] {
        let mut t = TestEnv::new(if nnp { "sc_default_nnp" } else { "sc_default" });
        t.config["linux"]["seccomp"] = default_profile();
        t.config["process"]["noNewPrivileges"] = json!(nnp);
        t.sh("grep -E '^Seccomp' /proc/self/status; /probe mkdir /tmp/ok");
        let o = t.run();
        o.ok();
        let out = o.stdout_now();
        let (mode, filters) = status_lines(&out);
        assert_eq!(mode, "2", "Seccomp mode (nnp={nnp}): {out}");
        assert_eq!(filters, "1", "one filter (nnp={nnp}): {out}");
        assert!(out.contains("mkdir:/tmp/ok=ok"), "ordinary syscalls still work: {out}");
        t.assert_no_leftovers();
    }
}

#[test]
fn custom_profile_blocks_mkdir_with_its_errno() {
    let mut t = TestEnv::new("sc_mkdir");
    t.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
    });
    let f = t.run_probe(&["mkdir", "/tmp/blocked"]);
    assert_eq!(f.get("mkdir:/tmp/blocked"), "errno=13");
    t.assert_no_leftovers();
}

/// Receive one notification on `listener` and answer it with success; returns its syscall nr.
fn answer_one(listener: &OwnedFd) -> i32 {
    // SAFETY: seccomp_notif(_resp) are plain data the kernel fills in or reads.
    let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: a valid listener fd and a live, zeroed seccomp_notif, as the ioctl requires.
    let r = unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV as _, &mut req) };
    assert_eq!(r, 0, "SECCOMP_IOCTL_NOTIF_RECV: {}", std::io::Error::last_os_error());
    // SAFETY: plain data, zeroed.
    let mut resp: libc::seccomp_notif_resp = unsafe { std::mem::zeroed() };
    resp.id = req.id;
    // SAFETY: a valid listener fd and a live seccomp_notif_resp.
    let r = unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND as _, &mut resp) };
    assert_eq!(r, 0, "SECCOMP_IOCTL_NOTIF_SEND: {}", std::io::Error::last_os_error());
    req.data.nr
}

#[test]
fn notify_listener_reaches_the_agent() {
    let mut t = TestEnv::new("sc_notify");
    let sock_path: PathBuf = t.dir.join("agent.sock");
    let agent = UnixListener::bind(&sock_path).unwrap();
    t.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock_path.display().to_string(),
        "listenerMetadata": "berth-test-metadata",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    });
    t.mount_shared();
    t.sh("while [ ! -e /shared/go ]; do sleep 0.05; done; /probe mkdir /tmp/notified");
    let handle = std::thread::spawn(move || {
        let (conn, _) = agent.accept().unwrap();
        recv_with_fd(&conn)
    });
    let created = t.create();
    created.ok();
    t.start().ok();
    let (text, fd) = handle.join().unwrap();
    let st: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(st["fds"], json!(["seccompFd"]), "{st}");
    assert_eq!(st["metadata"], "berth-test-metadata", "{st}");
    assert_eq!(st["state"]["id"], t.id.as_str(), "{st}");
    assert!(st["pid"].as_i64().unwrap_or(0) > 1, "pid as the runtime sees it: {st}");
    let fd = fd.expect("no listener fd came with the state");
    // Answer the container's mkdir as the agent: a made-up success, errno 0.
    fs::write(t.shared.join("go"), "").unwrap();
    let nr = answer_one(&fd);
    assert_eq!(nr, libc::SYS_mkdir as i32, "the notification is for mkdir");
    assert!(t.wait_status("stopped", std::time::Duration::from_secs(20)));
    let out = created.stdout_now();
    assert!(out.contains("mkdir:/tmp/notified=ok"), "mkdir answered by the agent: {out}");
    assert!(!t.bundle.join("rootfs/tmp/notified").exists(), "the agent's answer, not the kernel, made mkdir succeed");
    t.delete().ok();
    t.assert_no_leftovers();
}

#[test]
fn a_bad_profile_fails_create_naming_the_field() {
    let mut t = TestEnv::new("sc_bad");
    t.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_NOPE"});
    t.args(&["true"]);
    let o = t.create();
    o.fails();
    if t.is_berth() {
        let err = o.stderr_now();
        assert!(err.contains("defaultAction") && err.contains("SCMP_ACT_NOPE"), "{err}");
    }
    t.assert_no_leftovers();
}
