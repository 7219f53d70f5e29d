//! Tests on this machine's real cgroup hierarchies. They create cgroups named
//! `/berth-cgtest-*` at the root of each hierarchy and remove them. Tests needing
//! root, or a layout they can use, skip with a message otherwise.

use super::path::{parse_self_cgroup, self_path};
use super::*;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};

fn host_layout(needs_root: bool) -> Option<Layout> {
    if needs_root && !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to create cgroups");
        return None;
    }
    match Layout::detect() {
        Ok(l) => Some(l),
        Err(e) => {
            eprintln!("skipped: no usable cgroup layout: {e}");
            None
        }
    }
}

fn unique(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    PathBuf::from(format!("/berth-cgtest-{tag}-{}-{nanos}", std::process::id()))
}

/// Destroys the manager (killing what is in it) even when an assertion fails.
pub(crate) struct Cleanup<'a>(pub(crate) &'a Manager, pub(crate) Option<Child>);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.destroy() {
            eprintln!("cleanup: {e}");
        }
        if let Some(mut c) = self.1.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Where `/proc/<pid>/cgroup` should show a process in `cg` (absolute) for `h`.
fn expected_in(h: &Hierarchy, cg: &Path) -> PathBuf {
    if cg.starts_with(&h.root) {
        cg.to_path_buf()
    } else {
        h.root.join(cg.strip_prefix("/").unwrap())
    }
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(5), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn host_create_join_list_destroy() {
    let Some(layout) = host_layout(true) else {
        return;
    };
    let cg = unique("life");
    let own = read_self_cgroup().unwrap();
    let m = Manager::new(layout.clone(), Some(&cg), "unused", &own).unwrap();
    let mut guard = Cleanup(&m, None);
    m.create().unwrap();
    for d in m.dirs() {
        assert!(d.path.is_dir(), "{:?}", d.path);
    }
    if let (false, Some(dir)) = (m.kind() == LayoutKind::V2, m.controller_dir("cpuset")) {
        let cpus = std::fs::read_to_string(dir.join("cpuset.cpus")).unwrap();
        assert!(!cpus.trim().is_empty(), "cpuset.cpus not inherited");
    }
    assert_eq!(m.v2_dir().is_some(), m.kind() == LayoutKind::V2);

    let child = Command::new("sleep").arg("100").spawn().unwrap();
    let pid = child.id() as i32;
    guard.1 = Some(child);
    m.add_task(pid).unwrap();

    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let entries = parse_self_cgroup(&text).unwrap();
    for h in layout.members() {
        let got = self_path(&entries, h).unwrap();
        assert_eq!(got, expected_in(h, &cg), "in {} ({text})", h.describe());
    }
    assert_eq!(m.pids().unwrap(), [pid]);

    m.destroy().unwrap();
    let status = guard.1.take().unwrap().wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    for d in m.dirs() {
        assert!(!d.path.exists(), "{:?} left", d.path);
    }
    m.destroy().unwrap();
}

/// Forked processes, a child cgroup, and a frozen cgroup: destroy still wins.
#[test]
fn host_destroy_frozen_with_children() {
    let Some(layout) = host_layout(true) else {
        return;
    };
    let cg = unique("frozen");
    let own = read_self_cgroup().unwrap();
    let m = Manager::new(layout.clone(), Some(&cg), "unused", &own).unwrap();
    let freeze_file = match m.kind() {
        LayoutKind::V2 => m.unified_dir().map(|d| d.join("cgroup.freeze")),
        _ => m.controller_dir("freezer").map(|d| d.join("freezer.state")),
    };
    let Some(freeze_file) = freeze_file else {
        eprintln!("skipped: no freezer in this layout");
        return;
    };
    let mut guard = Cleanup(&m, None);
    m.create().unwrap();

    // The shell forks only once it is in the cgroup.
    let mut sh =
        Command::new("sh").args(["-c", "read x; sleep 100 & sleep 100 & wait"]).stdin(Stdio::piped()).spawn().unwrap();
    let pid = sh.id() as i32;
    let mut stdin = sh.stdin.take().unwrap();
    guard.1 = Some(sh);
    m.add_task(pid).unwrap();
    stdin.write_all(b"go\n").unwrap();
    wait_for("3 processes", || m.pids().unwrap().len() == 3);

    // Move one sleep into a child cgroup.
    let sub = Manager::new(layout, Some(&cg.join("sub")), "unused", &own).unwrap();
    sub.create().unwrap();
    let grandchild = *m.pids().unwrap().iter().find(|&&p| p != pid).unwrap();
    sub.add_task(grandchild).unwrap();
    assert_eq!(sub.pids().unwrap(), [grandchild]);
    assert_eq!(m.pids().unwrap().len(), 3);

    let (freeze, frozen) = match m.kind() {
        LayoutKind::V2 => ("1", "1"),
        _ => ("FROZEN", "FROZEN"),
    };
    std::fs::write(&freeze_file, freeze).unwrap();
    wait_for("frozen", || std::fs::read_to_string(&freeze_file).unwrap().trim() == frozen);

    m.destroy().unwrap();
    let status = guard.1.take().unwrap().wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    for d in m.dirs().iter().chain(sub.dirs()) {
        assert!(!d.path.exists(), "{:?} left", d.path);
    }
}

/// Relative paths resolve below this process's own cgroups (no cgroup is created).
#[test]
fn host_relative_resolution() {
    let Some(layout) = host_layout(false) else {
        return;
    };
    let own = read_self_cgroup().unwrap();
    let entries = parse_self_cgroup(&own).unwrap();
    let m = match Manager::new(layout.clone(), Some(Path::new("rel/c")), "unused", &own) {
        Ok(m) => m,
        Err(e @ CgroupError::NotVisible { .. }) => {
            eprintln!("skipped: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    for (h, d) in layout.members().into_iter().zip(m.dirs()) {
        let base = self_path(&entries, h).unwrap();
        let rest = base.strip_prefix(&h.root).unwrap();
        assert_eq!(d.path, h.mount_point.join(rest).join("rel/c"));
        assert_eq!(d.is_v2, h.is_v2);
    }
}
