//! Terminals: `process.terminal` with a console socket (create, exec -t -d), and a
//! foreground run/exec attached to the caller's terminal. The pty master is received
//! the way containerd's shim and conmon receive it; the checks come from the probe
//! inside (its `tty` report) and from the host.

use integration_tests::*;
use serde_json::json;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

fn terminal_env(name: &str) -> TestEnv {
    let mut t = TestEnv::new(name);
    t.config["process"]["terminal"] = json!(true);
    t
}

/// The container's pty as its controlling terminal and stdio, seen from the probe.
fn assert_controlling_pty(f: &Facts, size: &str) {
    for fd in 0..3 {
        assert_eq!(f.get(&format!("tty.isatty{fd}")), "1", "fd {fd} is not a terminal: {:?}", f.0);
    }
    assert!(f.get("tty.name").starts_with("/dev/pts/"), "stdin is {}", f.get("tty.name"));
    assert_eq!(f.get("tty.size"), size, "window size");
    assert_ne!(f.get("tty.tty_nr"), "0", "no controlling terminal");
    assert_eq!(f.get("tty.tpgid"), f.get("tty.pgrp"), "the process is not the terminal's foreground group");
}

#[test]
fn create_with_console_socket_gives_a_pty_and_dev_console() {
    let mut t = terminal_env("tty_create");
    t.config["process"]["consoleSize"] = json!({ "height": 31, "width": 101 });
    t.args(&["/probe", "pid", "+", "tty"]);
    let cs = ConsoleSocket::new(&t.dir);
    t.write_config();
    let (b, id) = (t.bundle_str(), t.id.clone());
    t.rt.cmd(&["create", "--bundle", &b, "--console-socket", &cs.path_str(), &id]).ok();
    t.remember_pid();
    let (name, pty) = cs.accept_master(T);
    assert!(name.contains("pts") || name.contains("ptmx"), "name sent with the master: {name:?}");
    t.start().ok();
    let f = pty.probe_facts(T);
    assert_controlling_pty(&f, "31x101");
    assert_eq!(f.get("pid"), "1");
    assert_eq!(f.get("tty.sid"), "1", "init is not a session leader");
    assert_eq!(f.get("tty.console_rdev"), f.get("tty.stdin_rdev"), "/dev/console is not the pty");
    assert!(wait_until(T, || t.status() == "stopped"));
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn terminal_is_interactive() {
    let mut t = terminal_env("tty_interactive");
    t.args(&["/bin/sh"]);
    let cs = ConsoleSocket::new(&t.dir);
    t.write_config();
    let (b, id) = (t.bundle_str(), t.id.clone());
    t.rt.cmd(&["create", "--bundle", &b, "--console-socket", &cs.path_str(), &id]).ok();
    t.remember_pid();
    let (_, pty) = cs.accept_master(T);
    t.start().ok();
    pty.write(b"echo $((6*7))x; exit 3\n");
    let out = pty.read_until("42x", T);
    assert!(out.contains("42x"), "the shell did not answer through the pty: {out:?}");
    assert!(wait_until(T, || t.status() == "stopped"));
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn dev_console_symlink_in_the_image_is_not_followed() {
    // CVE-2025-52565: /dev/console replaced by a symlink must not redirect the console
    // bind. Without a /dev tmpfs the image's own /dev is used, with the planted link
    // (to a file of the test's own rootfs copy: harmless). Debian's runc 1.1.5 fails
    // this test: it binds the pty onto /berth-marker through the link.
    let mut t = terminal_env("tty_console_link");
    t.config["mounts"].as_array_mut().unwrap().retain(|m| m["destination"] != "/dev");
    t.args(&["/probe", "tty"]);
    std::fs::create_dir_all(t.rootfs.join("dev/pts")).unwrap();
    let _ = std::fs::remove_file(t.rootfs.join("dev/console"));
    std::os::unix::fs::symlink("/berth-marker", t.rootfs.join("dev/console")).unwrap();
    let cs = ConsoleSocket::new(&t.dir);
    t.write_config();
    let (b, id) = (t.bundle_str(), t.id.clone());
    t.rt.cmd(&["create", "--bundle", &b, "--console-socket", &cs.path_str(), &id]).ok();
    let pid = t.state()["pid"].as_i64().unwrap() as i32;
    t.remember_pid();
    let (_, pty) = cs.accept_master(T);
    let mounts = mountinfo_of(pid);
    assert!(mount_at(&mounts, "/berth-marker").is_none(), "the console was bound through the image's symlink");
    let console = mount_at(&mounts, "/dev/console").expect("/dev/console is not a mount");
    assert_eq!(console.fstype, "devpts", "/dev/console is not a pty: {console:?}");
    t.start().ok();
    let f = pty.probe_facts(T);
    assert_eq!(f.get("tty.console_rdev"), f.get("tty.stdin_rdev"));
    assert_eq!(std::fs::read_link(t.rootfs.join("dev/console")).ok(), None, "the planted link is still there");
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn console_socket_and_terminal_must_fit() {
    // terminal true without a socket on create; a socket with terminal false; a socket
    // path that is not a socket; a socket with a foreground run. Nothing is left.
    let mut t = terminal_env("tty_misfit");
    t.args(&["/probe", "tty"]);
    let o = t.create();
    o.fails();
    assert!(o.stderr_now().contains("cannot allocate tty"), "{}", o.stderr_now());
    t.assert_no_leftovers();

    t.config["process"]["terminal"] = json!(false);
    let cs = ConsoleSocket::new(&t.dir);
    t.write_config();
    let (b, id) = (t.bundle_str(), t.id.clone());
    let o = t.rt.cmd(&["create", "--bundle", &b, "--console-socket", &cs.path_str(), &id]);
    o.fails();
    assert!(o.stderr_now().contains("cannot use console socket"), "{}", o.stderr_now());
    t.assert_no_leftovers();

    let o = t.rt.cmd(&["run", "--bundle", &b, "--console-socket", &cs.path_str(), &id]);
    o.fails();
    assert!(o.stderr_now().contains("cannot use console socket"), "{}", o.stderr_now());
    t.assert_no_leftovers();

    t.config["process"]["terminal"] = json!(true);
    t.write_config();
    let not_a_socket = t.dir.join("not-a-socket");
    std::fs::write(&not_a_socket, "").unwrap();
    let o = t.rt.cmd(&["create", "--bundle", &b, "--console-socket", &not_a_socket.display().to_string(), &id]);
    o.fails();
    if t.is_berth() {
        assert!(o.stderr_now().contains("not-a-socket"), "the error does not name the path: {}", o.stderr_now());
    }
    t.assert_no_leftovers();
}

#[test]
fn exec_tty_detached_with_console_socket_and_user() {
    let (t, pid) = TestEnv::running_sleeper("tty_exec_detach");
    let cs = ConsoleSocket::new(&t.dir);
    let pidf = t.dir.join("exec.pid");
    let (p, c) = (pidf.display().to_string(), cs.path_str());
    t.rt.cmd(&["exec", "-t", "-d", "--console-socket", &c, "--pid-file", &p, "-u", "1000", &t.id, "/probe", "tty"])
        .ok();
    let (_, pty) = cs.accept_master(T);
    let f = pty.probe_facts(T);
    assert_controlling_pty(&f, f.get("tty.size"));
    assert_eq!(f.get("tty.stdin_uid"), "1000", "the exec'd user does not own its terminal");
    let exec_pid: i32 = std::fs::read_to_string(&pidf).unwrap().trim().parse().unwrap();
    assert!(exec_pid > 0 && exec_pid != pid);
    // The container's own stdio is untouched: init still has no terminal.
    let init_fd0 = std::fs::read_link(format!("/proc/{pid}/fd/0")).unwrap();
    assert!(!init_fd0.display().to_string().contains("pts"), "init's stdin became {init_fd0:?}");
    t.delete_force().ok();
    t.assert_no_leftovers();
}

#[test]
fn exec_tty_without_socket_when_detached_fails() {
    let (t, _) = TestEnv::running_sleeper("tty_exec_nosock");
    let o = t.rt.cmd(&["exec", "-t", "-d", &t.id, "true"]);
    o.fails();
    assert!(o.stderr_now().contains("cannot allocate tty"), "{}", o.stderr_now());
    assert_eq!(t.status(), "running");
    t.delete_force().ok();
    t.assert_no_leftovers();
}

/// Wait for a child with a time limit; its exit code.
fn wait_child(c: &mut std::process::Child) -> i32 {
    let end = std::time::Instant::now() + T * time_scale();
    loop {
        if let Some(st) = c.try_wait().unwrap() {
            return st.code().unwrap_or(-1);
        }
        if std::time::Instant::now() > end {
            let _ = c.kill();
            panic!("the runtime did not exit");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn foreground_run_attaches_the_terminal_and_restores_it() {
    let mut t = terminal_env("tty_fg_run");
    t.args(&["/bin/sh", "-c", "/probe tty; read line; echo got:$line; exit 5"]);
    t.write_config();
    let (pty, slave) = Pty::open(24, 77);
    let before = termios_of(&slave);
    let b = t.bundle_str();
    let mut child = spawn_on_pty(&t.rt, &["run", "--bundle", &b, &t.id], &slave);
    let f = pty.probe_facts(T);
    // The container's pty takes the size of the terminal it is attached to.
    assert_controlling_pty(&f, "24x77");
    pty.write(b"hello\n");
    let out = pty.read_until("got:hello", T);
    assert!(out.contains("got:hello"), "input did not reach the container: {out:?}");
    assert_eq!(wait_child(&mut child), 5);
    let after = termios_of(&slave);
    assert_eq!(
        (after.c_lflag, after.c_iflag, after.c_oflag),
        (before.c_lflag, before.c_iflag, before.c_oflag),
        "the terminal was not restored"
    );
    t.assert_no_leftovers();
}

#[test]
fn foreground_exec_tty_follows_window_size() {
    let (t, _) = TestEnv::running_sleeper("tty_fg_exec");
    let (pty, slave) = Pty::open(20, 60);
    let mut child = spawn_on_pty(&t.rt, &["exec", "-t", &t.id, "/bin/sh"], &slave);
    // $((1)) so that the echo of the typed line does not match.
    pty.write(b"stty size; echo mark$((1))\n");
    let out = pty.read_until("mark1\n", T);
    assert!(out.contains("20 60"), "initial size: {out:?}");
    // Resizing the outer terminal signals SIGWINCH to the runtime, which resizes the pty.
    pty.set_size(45, 132);
    std::thread::sleep(Duration::from_millis(200));
    pty.write(b"stty size; echo mark$((2)); exit 9\n");
    let out = pty.read_until("mark2\n", T);
    assert!(out.contains("45 132"), "size after the resize: {out:?}");
    assert_eq!(wait_child(&mut child), 9);
    assert_eq!(t.status(), "running");
    t.delete_force().ok();
    t.assert_no_leftovers();
}
