//! Unit tests of running hooks.

use super::*;
use oci_spec::runtime::HookBuilder;
use std::fs;

/// A fresh, empty directory for one test.
fn tempdir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("berth-hooks-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// A directory removed when the test ends, passed or failed.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A `/bin/sh -c script` hook.
fn sh(script: &str) -> Hook {
    HookBuilder::default()
        .path("/bin/sh")
        .args(vec!["sh".to_string(), "-c".to_string(), script.to_string()])
        .build()
        .unwrap()
}

fn with_timeout(mut hook: Hook, secs: i64) -> Hook {
    hook.set_timeout(Some(secs));
    hook
}

/// Asserts that the process whose pid the hook wrote to `pidfile` is gone
/// (exited and reaped: no zombie left in /proc).
fn assert_reaped(pidfile: &Path) {
    let pid = fs::read_to_string(pidfile).unwrap();
    let pid = pid.trim();
    assert!(!pid.is_empty());
    let proc = PathBuf::from(format!("/proc/{pid}"));
    assert!(!proc.exists(), "hook {pid} still exists: {:?}", fs::read_to_string(proc.join("stat")));
}

#[test]
fn names_are_config_keys() {
    let names: Vec<_> = [
        HookKind::Prestart,
        HookKind::CreateRuntime,
        HookKind::CreateContainer,
        HookKind::StartContainer,
        HookKind::Poststart,
        HookKind::Poststop,
    ]
    .iter()
    .map(|k| k.name())
    .collect();
    assert_eq!(names, ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]);
}

#[test]
fn empty_list_is_ok() {
    run_hooks(HookKind::Poststop, &[], b"{}").unwrap();
}

#[test]
fn state_is_delivered_on_stdin() {
    let dir = tempdir("stdin");
    let out = dir.join("state.json");
    let hook = sh(&format!("cat > '{}'", out.display()));
    let state = br#"{"ociVersion":"1.0.2","id":"x","status":"creating","pid":1,"bundle":"/b"}"#;
    run_hooks(HookKind::CreateRuntime, &[hook], state).unwrap();
    assert_eq!(fs::read(&out).unwrap(), state);
}

#[test]
fn large_state_is_delivered_whole() {
    let dir = tempdir("large");
    let out = dir.join("state.json");
    let hook = HookBuilder::default()
        .path("/bin/sh")
        .args(vec!["sh".into(), "-c".into(), format!("exec cat > '{}'", out.display())])
        .build()
        .unwrap();
    let state: Vec<u8> = (0..300_000).map(|i| b'a' + (i % 26) as u8).collect();
    run_hooks(HookKind::Prestart, &[hook], &state).unwrap();
    assert_eq!(fs::read(&out).unwrap(), state);
}

#[test]
fn args_and_env_are_honoured_and_env_is_not_inherited() {
    let dir = tempdir("argsenv");
    let out = dir.join("out");
    let cmdline = dir.join("cmdline");
    let script = r#"tr '\0' '|' < /proc/$$/cmdline > "$CMDLINE"
printf '%s|%s|%s|%s\n' "$0" "$1" "$FOO" "${HOME-unset}" > "$OUT""#;
    let hook = HookBuilder::default()
        .path("/bin/sh")
        .args(vec!["my-argv0".into(), "-c".into(), script.into(), "zero".into(), "second arg".into()])
        .env(vec!["FOO=bar=baz".into(), format!("OUT={}", out.display()), format!("CMDLINE={}", cmdline.display())])
        .build()
        .unwrap();
    run_hooks(HookKind::Poststart, &[hook], b"{}").unwrap();
    assert_eq!(fs::read_to_string(&cmdline).unwrap(), format!("my-argv0|-c|{script}|zero|second arg|"));
    assert_eq!(fs::read_to_string(&out).unwrap(), "zero|second arg|bar=baz|unset\n");
}

#[test]
fn env_is_empty_when_absent() {
    let dir = tempdir("noenv");
    let out = dir.join("out");
    // `env` with no environment prints nothing.
    let hook = sh(&format!("/usr/bin/env > '{}'", out.display()));
    run_hooks(HookKind::Poststart, &[hook], b"{}").unwrap();
    let env = fs::read_to_string(&out).unwrap();
    // sh itself may export PWD/SHLVL/_, but nothing from our environment.
    assert!(!env.contains("HOME="), "{env}");
    assert!(!env.contains("PATH=/"), "{env}");
}

#[test]
fn argv0_defaults_to_path() {
    let dir = tempdir("argv0");
    let out = dir.join("out");
    // /bin/sh with no args reads its script from stdin.
    let hook = HookBuilder::default().path("/bin/sh").build().unwrap();
    let script = format!("echo \"$0\" > '{}'\n", out.display());
    run_hooks(HookKind::Poststop, &[hook], script.as_bytes()).unwrap();
    assert_eq!(fs::read_to_string(&out).unwrap(), "/bin/sh\n");
}

#[test]
fn nonzero_exit_reports_status_and_stderr() {
    let dir = tempdir("exit3");
    let pidfile = dir.join("pid");
    let hook = sh(&format!("echo $$ > '{}'; echo to-stdout; echo 'something broke' >&2; exit 3", pidfile.display()));
    let err = run_hooks(HookKind::CreateRuntime, &[hook], b"{}").unwrap_err();
    assert_eq!(err.kind, HookKind::CreateRuntime);
    assert_eq!(err.index, 0);
    let msg = err.to_string();
    assert!(msg.starts_with(r#"createRuntime hook #0 "/bin/sh": exited with status 3"#), "{msg}");
    assert!(msg.contains(r#"stderr: "something broke""#), "{msg}");
    assert!(msg.contains(r#"stdout: "to-stdout""#), "{msg}");
    match err.failure {
        HookFailure::Failed { status, output } => {
            assert_eq!(status.code(), Some(3));
            assert_eq!(output.stderr, b"something broke\n");
        }
        f => panic!("unexpected failure {f:?}"),
    }
    assert_reaped(&pidfile);
}

#[test]
fn killed_by_signal_is_reported() {
    let hook = sh("kill -TERM $$");
    let err = run_hooks(HookKind::Poststop, &[hook], b"").unwrap_err();
    assert!(err.to_string().ends_with("killed by signal 15 (SIGTERM)"), "{err}");
}

#[test]
fn captured_output_is_bounded() {
    let hook = sh("i=0; while [ $i -lt 3000 ]; do echo line-$i >&2; i=$((i+1)); done; exit 1");
    let err = run_hooks(HookKind::Poststart, &[hook], b"{}").unwrap_err();
    let HookFailure::Failed { output, .. } = &err.failure else { panic!("{err}") };
    assert!(output.stderr.len() <= CAPTURE_LIMIT);
    assert!(output.stderr_truncated);
    assert!(output.stderr.ends_with(b"line-2999\n"));
    assert!(err.to_string().contains(r#"stderr: ..."#), "{err}");
}

#[test]
fn timeout_kills_the_hook_quickly() {
    let dir = tempdir("timeout");
    let pidfile = dir.join("pid");
    let hook = with_timeout(sh(&format!("echo $$ > '{}'; echo waiting >&2; exec /bin/sleep 30", pidfile.display())), 1);
    let start = Instant::now();
    let err = run_hooks(HookKind::StartContainer, &[hook], b"{}").unwrap_err();
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(950), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let msg = err.to_string();
    assert!(msg.starts_with(r#"startContainer hook #0 "/bin/sh": timed out after 1s"#), "{msg}");
    assert!(msg.contains(r#"stderr: "waiting""#), "{msg}");
    assert_reaped(&pidfile);
}

#[test]
fn timeout_not_reached_is_fine() {
    let hook = with_timeout(sh("exit 0"), 10);
    let start = Instant::now();
    run_hooks(HookKind::Prestart, &[hook], b"{}").unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn invalid_timeout_is_rejected() {
    let err = run_hooks(HookKind::Prestart, &[with_timeout(sh("exit 0"), 0)], b"{}").unwrap_err();
    assert!(matches!(err.failure, HookFailure::InvalidTimeout(0)), "{err}");
    assert!(err.to_string().contains("must be greater than zero"));
}

#[test]
fn background_child_holding_stdout_does_not_block() {
    // The hook exits at once but leaves a process holding its stdout/stderr.
    let hook = with_timeout(sh("/bin/sleep 5 & exit 0"), 3);
    let start = Instant::now();
    run_hooks(HookKind::Poststart, &[hook], b"{}").unwrap();
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
}

#[test]
fn works_without_a_pidfd() {
    // The path taken on kernels without pidfd_open: try_wait every tick.
    let hook = sh("cat >/dev/null; echo oops >&2; exit 4");
    let mut child = Reaper(command(Path::new("/bin/sh"), &hook).spawn().unwrap());
    match supervise(&mut child.0, None, b"{}", Some(Duration::from_secs(5))).unwrap() {
        Outcome::Exited(status, output) => {
            assert_eq!(status.code(), Some(4));
            assert_eq!(output.stderr, b"oops\n");
        }
        Outcome::TimedOut(_) => panic!("timed out"),
    }
    let hook = sh("exec /bin/sleep 30");
    let mut child = Reaper(command(Path::new("/bin/sh"), &hook).spawn().unwrap());
    let start = Instant::now();
    let outcome = supervise(&mut child.0, None, b"", Some(Duration::from_millis(300)));
    assert!(matches!(outcome, Ok(Outcome::TimedOut(_))));
    assert!(start.elapsed() < Duration::from_secs(2));
    drop(child); // kills and reaps
}

#[test]
fn missing_path_cannot_start() {
    let hook = HookBuilder::default().path("/nonexistent/berth-hook").build().unwrap();
    let err = run_hooks(HookKind::CreateContainer, &[hook], b"{}").unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"createContainer hook #0 "/nonexistent/berth-hook": could not start: No such file or directory"#
    );
}

#[test]
fn relative_path_is_rejected() {
    let hook = HookBuilder::default().path("bin/true").build().unwrap();
    let err = run_hooks(HookKind::Poststop, &[hook], b"{}").unwrap_err();
    assert!(matches!(err.failure, HookFailure::RelativePath), "{err}");
}

#[test]
fn hook_that_ignores_stdin_with_large_state_succeeds() {
    // Larger than a pipe buffer (64 KiB), never read: EPIPE must be ignored.
    let state = vec![b'x'; 1 << 20];
    let hook = with_timeout(sh("exit 0"), 10);
    run_hooks(HookKind::CreateRuntime, &[hook], &state).unwrap();
    // And one that stays alive for a while without reading.
    let hook = with_timeout(sh("/bin/sleep 0.2; exit 0"), 10);
    run_hooks(HookKind::CreateRuntime, &[hook], &state).unwrap();
}

#[test]
fn blocked_sigpipe_is_not_left_pending() {
    use nix::sys::signal::{SigSet, Signal};
    let mut pipe_only = SigSet::empty();
    pipe_only.add(Signal::SIGPIPE);
    pipe_only.thread_block().unwrap();
    let state = vec![b'x'; 1 << 20];
    let result = run_hooks(HookKind::Poststart, &[sh("exit 0")], &state);
    let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid set and timespec, null siginfo; returns at once.
    let got = unsafe { libc::sigtimedwait(pipe_only.as_ref(), std::ptr::null_mut(), &zero) };
    pipe_only.thread_unblock().unwrap();
    result.unwrap();
    assert_eq!(got, -1, "a SIGPIPE was left pending");
}

#[test]
fn stops_at_the_first_failure() {
    let dir = tempdir("order");
    let log = dir.join("log");
    let l = log.display();
    let hooks = [
        sh(&format!("echo one >> '{l}'")),
        sh(&format!("echo two >> '{l}'; exit 7")),
        sh(&format!("echo three >> '{l}'")),
    ];
    let err = run_hooks(HookKind::Poststart, &hooks, b"{}").unwrap_err();
    assert_eq!(err.index, 1);
    assert!(err.to_string().starts_with(r#"poststart hook #1 "/bin/sh": exited with status 7"#), "{err}");
    assert_eq!(fs::read_to_string(&log).unwrap(), "one\ntwo\n");
}

#[test]
fn runs_all_in_order_on_success() {
    let dir = tempdir("allorder");
    let log = dir.join("log");
    let l = log.display();
    let hooks: Vec<_> = (0..4).map(|i| sh(&format!("echo {i} >> '{l}'"))).collect();
    run_hooks(HookKind::Prestart, &hooks, b"{}").unwrap();
    assert_eq!(fs::read_to_string(&log).unwrap(), "0\n1\n2\n3\n");
}
