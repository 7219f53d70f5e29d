//! Manager tests on fake hierarchies: plain directories in a temporary directory,
//! where files the test creates play the kernel's role (`cgroup.procs`,
//! `cpuset.cpus`, ...). Only the test's own children are ever signalled.

use super::*;
use nix::sys::wait::{waitid, Id, WaitPidFlag};
use nix::unistd::Pid;
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Above PID_MAX_LIMIT (4194304): no process can have it, kill() gives ESRCH.
const NO_SUCH_PID: i32 = 4_194_305;

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("berth-cg-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// mountinfo text for fake mounts: (fstype, super options, mount dir name).
fn fake_layout(root: &Path, mounts: &[(&str, &str, &str)]) -> Layout {
    let mut text = String::new();
    for (i, (fstype, opts, name)) in mounts.iter().enumerate() {
        let mp = root.join(name);
        fs::create_dir_all(&mp).unwrap();
        let esc = mp.to_str().unwrap().replace(' ', "\\040");
        text += &format!("{} 1 0:{} / {esc} rw,relatime shared:1 - {fstype} x {opts}\n", 100 + i, 50 + i);
    }
    Layout::from_mountinfo(&text).unwrap()
}

/// Hybrid: co-mounted cpu,cpuacct (with a space in its mount point), pids,
/// freezer, name=systemd, and a cgroup2.
fn fake_hybrid(root: &Path) -> Layout {
    let l = fake_layout(
        root,
        &[
            ("cgroup", "rw,cpu,cpuacct", "cpu acct"),
            ("cgroup", "rw,pids", "pids"),
            ("cgroup", "rw,freezer", "freezer"),
            ("cgroup", "rw,xattr,name=systemd", "systemd"),
            ("cgroup2", "rw", "unified"),
        ],
    );
    assert_eq!(l.kind(), LayoutKind::Hybrid);
    l
}

fn fake_v2(root: &Path) -> Layout {
    let l = fake_layout(root, &[("cgroup2", "rw,nsdelegate", "v2")]);
    assert_eq!(l.kind(), LayoutKind::V2);
    l
}

/// Play the kernel: give every container directory an empty `file`.
fn kernel_files(m: &Manager, file: &str) -> Vec<PathBuf> {
    m.dirs()
        .iter()
        .map(|d| {
            let f = d.path.join(file);
            fs::write(&f, "").unwrap();
            f
        })
        .collect()
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap()
}

fn sleeper() -> Child {
    Command::new("sleep").arg("100").spawn().unwrap()
}

/// Wait for `child` to exit without reaping it: it stays a zombie, so its pid
/// cannot be reused by an unrelated process while the test still lists it.
fn wait_zombie(child: &Child) {
    let pid = Pid::from_raw(child.id() as i32);
    waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT).unwrap();
}

#[test]
fn create_destroy_idempotent_and_parents_stay() {
    let t = TempDir::new("create");
    let m = Manager::new(fake_hybrid(t.path()), None, "c1", "").unwrap();
    assert_eq!(m.dirs().len(), 5);
    m.destroy().unwrap(); // never created: fine
    m.create().unwrap();
    m.create().unwrap();
    for d in m.dirs() {
        assert!(d.path.is_dir(), "{:?}", d.path);
        assert!(d.path.starts_with(t.path()));
        assert!(d.path.ends_with("berth/c1"));
    }
    // A child cgroup the container made is removed too.
    fs::create_dir_all(m.dirs()[0].path.join("sub/subsub")).unwrap();
    m.destroy().unwrap();
    for d in m.dirs() {
        assert!(!d.path.exists(), "{:?}", d.path);
        assert!(d.path.parent().unwrap().is_dir(), "parent of {:?} removed", d.path);
    }
    m.destroy().unwrap();
}

#[test]
fn create_does_not_recreate_a_missing_mount() {
    let t = TempDir::new("nomount");
    let m = Manager::new(fake_hybrid(t.path()), None, "c1", "").unwrap();
    fs::remove_dir(t.path().join("pids")).unwrap();
    let e = m.create().unwrap_err();
    let want = format!(
        "mkdir {:?}: No such file or directory (hint: is the cgroup hierarchy still mounted there?)",
        t.path().join("pids/berth")
    );
    assert_eq!(e.to_string(), want);
    assert_eq!(e.errno(), Some(nix::errno::Errno::ENOENT));
    assert!(!t.path().join("pids").exists());
}

#[test]
fn add_task_writes_every_hierarchy() {
    let t = TempDir::new("add");
    let m = Manager::new(fake_hybrid(t.path()), Some(Path::new("/a/b")), "x", "").unwrap();
    m.create().unwrap();
    let e = m.add_task(77).unwrap_err();
    let first = m.dirs()[0].path.join("cgroup.procs");
    assert_eq!(
        e.to_string(),
        format!(
            "write \"77\" to {first:?}: No such file or directory \
             (hint: does the cgroup exist (was it created, or already removed)?)"
        )
    );
    let files = kernel_files(&m, "cgroup.procs");
    // Never signalled: only written and read back.
    m.add_task(4242).unwrap();
    for f in &files {
        assert_eq!(read(f), "4242");
    }
    let e = m.add_task(0).unwrap_err();
    assert!(matches!(e, CgroupError::InvalidPid { pid: 0, .. }), "{e}");
    assert!(m.add_task(-5).is_err());
}

#[test]
fn pids_is_a_sorted_union_with_child_cgroups() {
    let t = TempDir::new("pids");
    let m = Manager::new(fake_hybrid(t.path()), None, "p", "").unwrap();
    assert_eq!(m.pids().unwrap(), Vec::<i32>::new()); // nothing created yet
    m.create().unwrap();
    let files = kernel_files(&m, "cgroup.procs");
    fs::write(&files[0], "7\n5\n").unwrap();
    fs::write(&files[1], "9\n7\n0\n").unwrap(); // 0: outside our pid namespace
    let sub = m.dirs()[2].path.join("sub");
    fs::create_dir(&sub).unwrap();
    fs::write(sub.join("cgroup.procs"), "11\n").unwrap();
    fs::remove_file(&files[3]).unwrap(); // a vanishing cgroup lists nothing
    assert_eq!(m.pids().unwrap(), [5, 7, 9, 11]);
    fs::write(&files[4], "12\nbad\n").unwrap();
    let e = m.pids().unwrap_err();
    assert_eq!(e.to_string(), format!("read {:?}: not a pid: \"bad\"", files[4]));
}

#[test]
fn kill_all_signals_listed_children() {
    let t = TempDir::new("kill");
    let m = Manager::new(fake_hybrid(t.path()), None, "k", "").unwrap();
    m.create().unwrap();
    let mut files = kernel_files(&m, "cgroup.procs");
    let mut a = sleeper();
    let mut b = sleeper();
    fs::write(&files[0], format!("{}\n{NO_SUCH_PID}\n", a.id())).unwrap();
    fs::write(&files[1], format!("{}\n{}\n", a.id(), b.id())).unwrap();
    m.kill_all(libc::SIGTERM).unwrap(); // NO_SUCH_PID: ESRCH, ignored
    assert_eq!(a.wait().unwrap().signal(), Some(libc::SIGTERM));
    assert_eq!(b.wait().unwrap().signal(), Some(libc::SIGTERM));
    // Reaped: never signal those pids again.
    files = kernel_files(&m, "cgroup.procs");
    m.kill_all(0).unwrap();
    let e = m.kill_all(12345).unwrap_err();
    assert_eq!(e.to_string(), "kill processes of \"/berth/k\": invalid signal 12345");
    assert!(m.kill_all(-1).is_err());
    // Realtime signals too (SIGRTMIN+3 stops systemd in a container).
    let mut c = sleeper();
    fs::write(&files[2], format!("{}\n", c.id())).unwrap();
    let rt = libc::SIGRTMIN() + 3;
    m.kill_all(rt).unwrap();
    assert_eq!(c.wait().unwrap().signal(), Some(rt));
}

#[test]
fn tampered_state_cannot_target_a_mount_root() {
    let t = TempDir::new("tamper");
    let m = Manager::new(fake_hybrid(t.path()), None, "t", "").unwrap();
    let mut json: serde_json::Value = serde_json::to_value(&m).unwrap();
    let mp = json["dirs"][1]["mount_point"].clone();
    json["dirs"][1]["path"] = mp;
    let bad: Manager = serde_json::from_value(json).unwrap();
    for e in [
        bad.destroy().unwrap_err(),
        bad.kill_all(libc::SIGKILL).unwrap_err(),
        bad.create().unwrap_err(),
        bad.pids().unwrap_err(),
    ] {
        assert!(e.to_string().contains("not below the mount point"), "{e}");
    }
}

#[test]
fn v2_kill_uses_cgroup_kill_for_sigkill_only() {
    let t = TempDir::new("v2kill");
    let m = Manager::new(fake_v2(t.path()), None, "k", "").unwrap();
    m.create().unwrap();
    let procs = kernel_files(&m, "cgroup.procs");
    let kill = kernel_files(&m, "cgroup.kill");
    fs::write(&procs[0], format!("{NO_SUCH_PID}\n")).unwrap();
    m.kill_all(libc::SIGTERM).unwrap();
    assert_eq!(read(&kill[0]), "");
    m.kill_all(libc::SIGKILL).unwrap();
    assert_eq!(read(&kill[0]), "1");
}

#[test]
fn v2_dir_only_on_pure_v2() {
    let t = TempDir::new("v2dir");
    let m = Manager::new(fake_v2(t.path()), None, "d", "").unwrap();
    assert!(m.v2_dir().is_none()); // not created yet
    let e = m.try_v2_dir().unwrap_err();
    assert!(e.to_string().starts_with("open "), "{e}");
    m.create().unwrap();
    let fd = m.v2_dir().unwrap();
    let link = fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
    assert_eq!(link, m.unified_dir().unwrap());
    let fl = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GETFL).unwrap();
    assert_ne!(fl & libc::O_PATH, 0);
    let fdfl = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GETFD).unwrap();
    assert_ne!(fdfl & libc::FD_CLOEXEC, 0);

    let h = Manager::new(fake_hybrid(t.path()), None, "d", "").unwrap();
    h.create().unwrap();
    assert!(h.unified_dir().is_some());
    assert!(h.v2_dir().is_none());
    assert!(h.try_v2_dir().unwrap().is_none());
}

#[test]
fn destroy_kills_waits_and_removes() {
    let t = TempDir::new("destroy");
    let m = Manager::new(fake_hybrid(t.path()), None, "d", "").unwrap();
    m.create().unwrap();
    let files = kernel_files(&m, "cgroup.procs");
    let mut child = sleeper();
    fs::write(&files[1], format!("{}\n", child.id())).unwrap();
    // The "kernel": once the child is dead (a zombie, so its pid stays taken),
    // it leaves the cgroup, whose files go away on rmdir.
    let kernel = std::thread::spawn(move || {
        wait_zombie(&child);
        for f in &files {
            let _ = fs::remove_file(f);
        }
        child.wait().unwrap()
    });
    m.destroy().unwrap();
    let status = kernel.join().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(m.dirs().iter().all(|d| !d.path.exists()));
}

#[test]
fn destroy_gives_up_after_the_timeout() {
    let t = TempDir::new("timeout");
    let m = Manager::new(fake_hybrid(t.path()), None, "z", "").unwrap();
    m.create().unwrap();
    let files = kernel_files(&m, "cgroup.procs");
    let mut zombie = Command::new("true").spawn().unwrap();
    wait_zombie(&zombie);
    fs::write(&files[0], format!("{}\n", zombie.id())).unwrap();
    let e = m.destroy_timeout(Duration::from_millis(100)).unwrap_err();
    let CgroupError::StillRunning { ref pids, ref path, .. } = e else { panic!("{e}") };
    assert_eq!(pids, &[zombie.id() as i32]);
    assert_eq!(path, &m.dirs()[0].path);
    assert!(e.to_string().contains("still in the cgroup"), "{e}");
    zombie.wait().unwrap();
    assert!(m.dirs()[0].path.exists());
}

#[test]
fn thaw_v1_freezer_and_v2_freeze() {
    let t = TempDir::new("thaw");
    let m = Manager::new(fake_hybrid(t.path()), None, "f", "").unwrap();
    m.create().unwrap();
    let freezer = m.controller_dir("freezer").unwrap().join("freezer.state");
    let freeze = m.unified_dir().unwrap().join("cgroup.freeze");
    fs::write(&freezer, "FROZEN\n").unwrap();
    fs::write(&freeze, "1\n").unwrap();
    m.thaw().unwrap();
    assert_eq!(read(&freezer), "THAWED\n");
    assert_eq!(read(&freeze), "0\n");
    fs::write(&freezer, "THAWED\n").unwrap();
    fs::write(&freeze, "0\n").unwrap();
    m.thaw().unwrap();
    assert_eq!(read(&freezer), "THAWED\n");
    // Processes gone, files gone with rmdir: destroy removes it.
    fs::remove_file(&freezer).unwrap();
    fs::remove_file(&freeze).unwrap();
    m.destroy().unwrap();
}

/// Play the kernel for a cpuset cgroup: a directory with empty cpus and mems.
fn cpuset_dir(dir: &Path, prefix: &str) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join(format!("{prefix}cpus")), "").unwrap();
    fs::write(dir.join(format!("{prefix}mems")), "\n").unwrap();
}

#[test]
fn cpuset_inherits_from_nearest_ancestor() {
    for prefix in ["cpuset.", ""] {
        let t = TempDir::new("cpuset");
        let opts = if prefix.is_empty() { "rw,cpuset,noprefix" } else { "rw,cpuset" };
        let l = fake_layout(t.path(), &[("cgroup", opts, "cpuset")]);
        let mp = t.path().join("cpuset");
        fs::write(mp.join(format!("{prefix}cpus")), "0-3\n").unwrap();
        fs::write(mp.join(format!("{prefix}mems")), "0\n").unwrap();
        for d in ["berth", "berth/mid", "berth/mid/c1"] {
            cpuset_dir(&mp.join(d), prefix);
        }
        fs::write(mp.join(format!("berth/mid/{prefix}cpus")), "2\n").unwrap();
        let m = Manager::new(l.clone(), Some(Path::new("/berth/mid/c1")), "c1", "").unwrap();
        m.create().unwrap();
        let f = |d: &str, n: &str| read(&mp.join(d).join(format!("{prefix}{n}")));
        assert_eq!(f("berth", "cpus"), "0-3");
        assert_eq!(f("berth/mid", "cpus"), "2\n"); // had its own: kept
        assert_eq!(f("berth/mid/c1", "cpus"), "2");
        assert_eq!(f("berth/mid/c1", "mems"), "0");
        // A level the "kernel" did not populate is left alone.
        let m2 = Manager::new(l, Some(Path::new("/other")), "o", "").unwrap();
        m2.create().unwrap();
        assert!(mp.join("other").is_dir());
    }
}

#[test]
fn error_messages_carry_errno_and_hint() {
    let e = CgroupError::Write {
        value: "1".into(),
        path: "/sys/fs/cgroup/pids/x/cgroup.procs".into(),
        source: std::io::Error::from_raw_os_error(libc::EROFS),
    };
    assert_eq!(
        e.to_string(),
        "write \"1\" to \"/sys/fs/cgroup/pids/x/cgroup.procs\": Read-only file system \
         (hint: is /sys/fs/cgroup mounted read-only or are you not root?)"
    );
    assert_eq!(e.errno(), Some(nix::errno::Errno::EROFS));
    let e = CgroupError::Write {
        value: "1234".into(),
        path: "/sys/fs/cgroup/pids/berth/x/cgroup.procs".into(),
        source: std::io::Error::from_raw_os_error(libc::ESRCH),
    };
    assert_eq!(
        e.to_string(),
        "write \"1234\" to \"/sys/fs/cgroup/pids/berth/x/cgroup.procs\": No such process \
         (hint: the process has already exited)"
    );
    let e = CgroupError::Rmdir { path: "/x".into(), source: std::io::Error::from_raw_os_error(libc::EBUSY) };
    assert!(e.to_string().ends_with("(hint: processes or child cgroups are still in it)"));
    assert!(std::error::Error::source(&e).is_some());
}

#[test]
fn sub_cgroups_for_exec() {
    let t = TempDir::new("sub");
    let m = Manager::new(fake_hybrid(t.path()), None, "s", "").unwrap();
    m.create().unwrap();
    let subs = |v: &[(&str, &str)]| v.iter().map(|(c, p)| (c.to_string(), PathBuf::from(p))).collect();
    // Missing, escaping, or for a controller the container has no hierarchy of.
    assert!(m.sub_cgroups(&subs(&[("", "probe")])).is_err());
    assert!(m.sub_cgroups(&subs(&[("", "../../x")])).is_err());
    assert!(m.sub_cgroups(&subs(&[("nosuch", "probe")])).is_err());
    for d in m.dirs() {
        std::fs::create_dir_all(d.path.join("probe")).unwrap();
    }
    std::fs::create_dir_all(m.controller_dir("pids").unwrap().join("pids-only")).unwrap();
    let all = m.sub_cgroups(&subs(&[("", "/probe")])).unwrap();
    assert!(all.dirs().iter().all(|d| d.path.ends_with("s/probe")), "{:?}", all.dirs());
    let mixed = m.sub_cgroups(&subs(&[("", "probe"), ("pids", "pids-only")])).unwrap();
    assert!(mixed.controller_dir("pids").unwrap().ends_with("s/pids-only"));
    assert!(mixed.controller_dir("freezer").unwrap().ends_with("s/probe"));
    m.destroy().unwrap();
}
