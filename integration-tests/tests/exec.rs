//! `exec`: a second process in a running container joins every namespace of its init
//! and its cgroup, takes the identity it is given (inheritable capabilities empty
//! unless asked: CVE-2022-29162), reports exit codes, and fails cleanly.

use integration_tests::*;
use serde_json::json;
use std::fs;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

fn exec(t: &TestEnv, args: &[&str]) -> Out {
    let mut a = vec!["exec"];
    a.extend_from_slice(args);
    t.rt.cmd(&a)
}

#[test]
fn exec_joins_every_namespace_of_init() {
    let (t, pid) = TestEnv::running_sleeper("exec_ns");
    let o = exec(&t, &[&t.id, "/probe", "ns"]);
    o.ok();
    let f = o.facts();
    for ns in ["ipc", "mnt", "net", "pid", "uts", "cgroup"] {
        assert_eq!(f.get(&format!("ns.{ns}")), ns_of(&pid.to_string(), ns), "{ns} namespace of the exec'd process");
    }
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn exec_exit_codes_and_signals() {
    let (t, _) = TestEnv::running_sleeper("exec_exit");
    assert_eq!(exec(&t, &[&t.id, "sh", "-c", "exit 7"]).code(), Some(7));
    assert_eq!(exec(&t, &[&t.id, "sh", "-c", "kill -9 $$"]).code(), Some(137));
    let o = exec(&t, &[&t.id, "sh", "-c", "echo out; echo err >&2"]);
    o.ok();
    assert_eq!(o.stdout_now().trim(), "out");
    assert!(o.stderr_now().contains("err"));
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn exec_user_groups_cwd_env() {
    let (t, _) = TestEnv::running_sleeper("exec_user");
    let o = exec(
        &t,
        &[
            "-u", "1000:100", "-g", "5", "-g", "7", "--cwd", "/tmp", "-e", "FOO=bar", &t.id, "/probe", "ids", "+",
            "cwd", "+", "env",
        ],
    );
    o.ok();
    let f = o.facts();
    assert_eq!(f.get("uid"), "1000");
    assert_eq!(f.get("gid"), "100");
    assert_eq!(f.get("groups"), "5,7");
    assert_eq!(f.get("cwd"), "/tmp");
    assert!(o.stdout_now().contains("FOO=bar"), "{}", o.stdout_now());
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn exec_caps_added_and_inheritable_empty() {
    let (t, _) = TestEnv::running_sleeper("exec_caps");
    let o = exec(&t, &["--cap", "CAP_NET_ADMIN", &t.id, "/probe", "caps"]);
    o.ok();
    let f = o.facts();
    assert_ne!(f.hex("CapEff") & cap_mask(&["NET_ADMIN"]), 0, "CAP_NET_ADMIN added: {:?}", f.0);
    assert_eq!(f.hex("CapInh"), 0, "inheritable must stay empty (CVE-2022-29162)");
    assert_eq!(f.hex("CapAmb"), 0);
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn exec_detach_and_pid_file_in_the_cgroup() {
    let (t, _) = TestEnv::running_sleeper("exec_detach");
    let pidf = t.dir.join("exec.pid");
    exec(&t, &["-d", "--pid-file", &pidf.display().to_string(), &t.id, "sleep", "1000"]).ok();
    let pid: i32 = fs::read_to_string(&pidf).unwrap().trim().parse().unwrap();
    let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cg.contains(&t.cgroups_path), "exec'd process not in the container's cgroup: {cg}");
    t.delete_force().ok();
    assert!(wait_until(T, || !std::path::Path::new(&format!("/proc/{pid}")).exists()
        || proc_stat(pid).is_some_and(|(s, _)| s == 'Z')));
    t.assert_no_leftovers();
}

#[test]
fn exec_missing_command_fails_and_init_is_untouched() {
    let (t, pid) = TestEnv::running_sleeper("exec_missing");
    let o = exec(&t, &[&t.id, "/no/such/program"]);
    o.fails();
    if t.is_berth() {
        assert!(o.stderr_now().contains("/no/such/program"), "{}", o.stderr_now());
    }
    assert_eq!(t.status(), "running");
    assert_eq!(t.pid(), pid);
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn exec_into_paused_or_stopped_fails() {
    let (t, _) = TestEnv::running_sleeper("exec_state");
    t.rt.cmd(&["pause", &t.id]).ok();
    exec(&t, &[&t.id, "true"]).fails();
    t.rt.cmd(&["resume", &t.id]).ok();
    t.kill(Some("KILL")).ok();
    assert!(t.wait_status("stopped", T));
    exec(&t, &[&t.id, "true"]).fails();
    t.delete().ok();
    t.assert_no_leftovers();
}

#[test]
fn exec_gets_the_container_seccomp_filter() {
    let mut t = TestEnv::new("exec_seccomp");
    t.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
    });
    t.mount_shared();
    t.sh("touch /shared/ready; exec sleep 1000");
    t.create_ok();
    t.start().ok();
    wait_for_path(&t.shared.join("ready"), T);
    let o = exec(&t, &[&t.id, "/probe", "mkdir", "/tmp/x"]);
    o.ok();
    assert_eq!(o.facts().get("mkdir:/tmp/x"), "errno=13");
    // The filter is the container's, fixed at create: editing config.json afterwards
    // (here: dropping linux.seccomp) does not change what exec'd processes get.
    t.config["linux"].as_object_mut().unwrap().remove("seccomp");
    t.write_config();
    let o = exec(&t, &[&t.id, "/probe", "mkdir", "/tmp/y"]);
    o.ok();
    assert_eq!(o.facts().get("mkdir:/tmp/y"), "errno=13", "exec took the filter from the edited config.json");
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn exec_bad_user_strings_are_refused() {
    let (t, _) = TestEnv::running_sleeper("exec_baduser");
    // runc takes an empty --user as "not given"; berth refuses it too.
    let bad: &[&str] = if t.is_berth() {
        &["root:", "1000:users", "-1", "1:2:3", ""]
    } else {
        &["root:", "1000:users", "-1", "1:2:3"]
    };
    for bad in bad {
        let o = exec(&t, &["-u", bad, &t.id, "true"]);
        o.fails();
    }
    assert_eq!(t.status(), "running");
    t.delete_force().ok();
    t.assert_no_leftovers();
}

/// Run `berth <args>` with a pipe as fd 3 whose write end the test holds; returns the
/// output and what the process printed.
fn with_pipe_as_fd3(t: &TestEnv, args: &[&str], message: &str) -> std::process::Output {
    with_pipe_as_fd3_via(t, None, args, message)
}

/// The same, started through `sh -c` with a prefix (`exec` keeps sh's pid for berth).
fn with_pipe_as_fd3_via(t: &TestEnv, sh_prefix: Option<&str>, args: &[&str], message: &str) -> std::process::Output {
    use std::io::Write;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array it is given.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: pipe2 returned two new fds that nothing else owns.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let mut w = std::fs::File::from(w);
    w.write_all(message.as_bytes()).unwrap();
    drop(w);
    let raw = r.as_raw_fd();
    let mut cmd = match sh_prefix {
        None => {
            let mut c = std::process::Command::new(&t.rt.bin);
            c.arg("--root").arg(&t.rt.root).args(args);
            c
        }
        Some(prefix) => {
            let mut c = std::process::Command::new("/bin/sh");
            c.arg("-c")
                .arg(format!("{prefix} exec \"$0\" \"$@\""))
                .arg(&t.rt.bin)
                .arg("--root")
                .arg(&t.rt.root)
                .args(args);
            c
        }
    };
    // SAFETY: dup2 and fcntl in the child between fork and exec, both async-signal-safe.
    // dup2 onto the same number keeps O_CLOEXEC (when the pipe itself got fd 3), so the
    // flag is cleared explicitly.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(raw, 3) != 3 || libc::fcntl(3, libc::F_SETFD, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    drop(r);
    out
}

#[test]
fn preserve_fds_passes_a_pipe_to_exec_and_run() {
    let (t, _) = TestEnv::running_sleeper("exec_fds");
    let out = with_pipe_as_fd3(
        &t,
        &["exec", "--preserve-fds", "1", &t.id, "sh", "-c", "cat <&3; ls /proc/self/fd"],
        "via-exec\n",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text} {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("via-exec"), "fd 3 not passed to exec: {text}");
    // Without --preserve-fds the fd does not get in.
    let out = with_pipe_as_fd3(&t, &["exec", &t.id, "sh", "-c", "cat <&3 || echo no-fd3"], "leak\n");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("no-fd3") && !text.contains("leak"), "fd 3 leaked into exec: {text}");
    t.delete_force().ok();

    let mut r = TestEnv::new("run_fds");
    r.sh("cat <&3");
    r.write_config();
    let b = r.bundle_str();
    let out = with_pipe_as_fd3(&r, &["run", "--preserve-fds", "1", "--bundle", &b, &r.id], "via-run\n");
    assert!(String::from_utf8_lossy(&out.stdout).contains("via-run"), "{:?}", out);
    r.assert_no_leftovers();
}

#[test]
fn listen_fds_are_passed_for_socket_activation() {
    let mut r = TestEnv::new("run_listen_fds");
    r.sh("echo fds=$LISTEN_FDS pid=$LISTEN_PID; cat <&3");
    r.write_config();
    let b = r.bundle_str();
    // LISTEN_PID names the runtime itself (sh execs it, keeping its pid).
    let out =
        with_pipe_as_fd3_via(&r, Some("LISTEN_FDS=1 LISTEN_PID=$$"), &["run", "--bundle", &b, &r.id], "activated\n");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text} {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("fds=1 pid=1"), "LISTEN_FDS/LISTEN_PID for the container: {text}");
    assert!(text.contains("activated"), "the listening fd did not reach the container: {text}");
    r.assert_no_leftovers();
    // For another process's LISTEN_PID, the fds are not taken.
    let mut r = TestEnv::new("run_listen_fds_not_ours");
    r.sh("echo fds=$LISTEN_FDS; cat <&3 || echo no-fd3");
    r.write_config();
    let b = r.bundle_str();
    let out = with_pipe_as_fd3_via(&r, Some("LISTEN_FDS=1 LISTEN_PID=1"), &["run", "--bundle", &b, &r.id], "leak\n");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("no-fd3") && !text.contains("leak"), "{text}");
    r.assert_no_leftovers();
}

#[test]
fn exec_joins_user_and_pid_namespaces() {
    if std::fs::read_to_string("/proc/sys/user/max_user_namespaces").map(|s| s.trim() == "0").unwrap_or(true) {
        skip!("user namespaces are not available");
    }
    let mut t = TestEnv::new("exec_userns");
    chown_tree(&t.rootfs, 100000, 100000);
    t.set_namespace("user", None);
    t.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    t.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    t.mount_shared();
    fs::set_permissions(&t.shared, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    t.sh("touch /shared/ready; exec sleep 1000");
    let pid = t.create_ok();
    t.start().ok();
    wait_for_path(&t.shared.join("ready"), T);
    let o = exec(&t, &[&t.id, "/probe", "ns", "+", "ids", "+", "pid"]);
    o.ok();
    let f = o.facts();
    for ns in ["user", "pid", "mnt", "net", "ipc", "uts", "cgroup"] {
        assert_eq!(f.get(&format!("ns.{ns}")), ns_of(&pid.to_string(), ns), "{ns} namespace of the exec'd process");
    }
    assert_eq!(f.get("uid"), "0", "root inside the user namespace");
    assert_ne!(f.get("pid"), "1", "the exec'd process is a new process in the pid namespace");
    // On the host the process runs as the mapped uid.
    let o = exec(&t, &["-d", "--pid-file", &t.dir.join("p").display().to_string(), &t.id, "sleep", "100"]);
    o.ok();
    let p: i32 = fs::read_to_string(t.dir.join("p")).unwrap().trim().parse().unwrap();
    let status = fs::read_to_string(format!("/proc/{p}/status")).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(uid.split_whitespace().skip(1).all(|u| u == "100000"), "{uid}");
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn exec_in_a_sub_cgroup() {
    let (t, _) = TestEnv::running_sleeper("exec_subcg");
    let dirs = container_cgroup_dirs(&t.cgroups_path);
    for d in &dirs {
        fs::create_dir_all(d.join("probe")).unwrap();
        // A v1 cpuset child starts with no CPUs or memory nodes: give it the parent's
        // (on v2 the child has no such file unless the controller is enabled for it).
        for f in ["cpuset.cpus", "cpuset.mems"] {
            if let (Ok(v), true) = (fs::read_to_string(d.join(f)), d.join("probe").join(f).exists()) {
                fs::write(d.join("probe").join(f), v.trim()).unwrap();
            }
        }
    }
    let pidf = t.dir.join("exec.pid");
    exec(&t, &["-d", "--cgroup", "probe", "--pid-file", &pidf.display().to_string(), &t.id, "sleep", "100"]).ok();
    let pid: i32 = fs::read_to_string(&pidf).unwrap().trim().parse().unwrap();
    for d in &dirs {
        let procs = fs::read_to_string(d.join("probe/cgroup.procs")).unwrap();
        assert!(procs.lines().any(|l| l == pid.to_string()), "{pid} not in {}/probe: {procs:?}", d.display());
    }
    // A sub-cgroup that does not exist, or that leaves the container's: clear errors.
    for bad in ["nosuch", "../../escape"] {
        let o = exec(&t, &["--cgroup", bad, &t.id, "true"]);
        o.fails();
        if t.is_berth() {
            assert!(o.stderr_now().contains(bad.trim_start_matches("../")), "{}", o.stderr_now());
        }
    }
    assert_eq!(t.status(), "running");
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn exec_bad_input_is_refused_cleanly() {
    let (t, _) = TestEnv::running_sleeper("exec_badinput");
    let bad_json = t.dir.join("bad.json");
    fs::write(&bad_json, "{ not json").unwrap();
    let wrong = t.dir.join("wrong.json");
    fs::write(&wrong, r#"{"args": "not-a-list", "cwd": "/"}"#).unwrap();
    let relative_cwd = t.dir.join("cwd.json");
    fs::write(&relative_cwd, r#"{"args": ["true"], "cwd": "tmp", "user": {"uid": 0, "gid": 0}}"#).unwrap();
    let mut cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["-p".into(), bad_json.display().to_string()], "bad.json"),
        (vec!["-p".into(), wrong.display().to_string()], "wrong.json"),
        (vec!["-p".into(), relative_cwd.display().to_string()], "cwd"),
        (vec!["-p".into(), t.dir.join("missing.json").display().to_string()], "missing.json"),
    ];
    if t.is_berth() {
        // Debian's runc 1.1.5 takes a negative count silently; berth refuses it.
        cases.push((vec!["--preserve-fds".into(), "-1".into()], "preserve-fds"));
    }
    for (args, named) in cases {
        let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
        a.push(&t.id);
        if !args.contains(&"-p".to_string()) {
            a.push("true");
        }
        let o = exec(&t, &a);
        o.fails();
        let err = o.stderr_now();
        assert!(!err.contains("panicked"), "{err}");
        if t.is_berth() {
            assert!(err.contains(named), "the error for {args:?} does not name {named:?}: {err}");
        }
    }
    if t.is_berth() {
        // Labels berth cannot apply are refused by name, never dropped.
        let o = exec(&t, &["--apparmor", "unconfined-test", &t.id, "true"]);
        o.fails();
        assert!(o.stderr_now().contains("apparmorProfile"), "{}", o.stderr_now());
        let o = exec(&t, &["--process-label", "system_u:system_r:container_t:s0", &t.id, "true"]);
        o.fails();
        assert!(o.stderr_now().contains("selinuxLabel"), "{}", o.stderr_now());
    }
    assert_eq!(t.status(), "running");
    t.delete_force().ok();
    t.assert_no_leftovers();
}
