//! The device filter in the kernel: load, attach to a cgroup2 directory (on a
//! hybrid host, the controller-less cgroup2 mount works too), and see what a
//! process in the cgroup may open. Skipped, with the reason, without root, a
//! cgroup2 mount, or cgroup BPF support.

use super::prog::{ACC_MKNOD, ACC_READ, ACC_WRITE, DEV_BLOCK, DEV_CHAR};
use super::tests::{self, rules};
use super::*;
use crate::cgroups::Layout;
use nix::sys::stat::{Mode, SFlag};
use std::ffi::CStr;
use std::path::PathBuf;

/// A cgroup2 directory for one test; the processes are killed and the
/// directory removed on drop.
struct TestCgroup {
    dir: PathBuf,
}

impl TestCgroup {
    fn new(tag: &str) -> Result<TestCgroup, String> {
        if !nix::unistd::geteuid().is_root() {
            return Err("needs root".into());
        }
        let layout = Layout::detect().map_err(|e| e.to_string())?;
        let mount = layout.unified().ok_or("no cgroup2 file system is mounted")?.mount_point.clone();
        let dir = mount.join(format!("berth-bpftest-{tag}-{}", std::process::id()));
        std::fs::create_dir(&dir).map_err(|e| format!("mkdir {dir:?}: {e}"))?;
        let cg = TestCgroup { dir };
        // Is cgroup BPF there at all? Without it, skip; with it, failures are failures.
        match attached(std::fs::File::open(&cg.dir).map_err(|e| e.to_string())?.as_fd()) {
            Err(e @ (Errno::ENOSYS | Errno::EINVAL | Errno::EPERM)) => {
                Err(format!("the kernel refuses BPF_PROG_QUERY(BPF_CGROUP_DEVICE): {}", e.desc()))
            }
            _ => Ok(cg),
        }
    }

    fn fd(&self) -> std::fs::File {
        std::fs::File::open(&self.dir).unwrap()
    }

    fn attached(&self) -> Vec<u32> {
        attached(self.fd().as_fd()).unwrap()
    }

    /// Fork a child, move it into the cgroup, and let it try each probe: the
    /// errno of each (0: it worked).
    fn probe(&self, probes: &[Probe<'_>]) -> Vec<i32> {
        let (go_r, go_w) = nix::unistd::pipe().unwrap();
        let (res_r, res_w) = nix::unistd::pipe().unwrap();
        // SAFETY: the child only calls async-signal-safe functions (read, open,
        // mknod, unlink, close, write, _exit) on memory that exists before the
        // fork, and never returns into the test harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", Errno::last());
        if pid == 0 {
            let mut byte = 0u8;
            // SAFETY: plain system calls on fds and buffers made before the fork;
            // the paths are NUL-terminated C strings.
            unsafe {
                libc::read(go_r.as_raw_fd(), (&raw mut byte).cast(), 1);
                for p in probes {
                    let ok = match *p {
                        Probe::Open(path, flags) => {
                            let fd = libc::open(path.as_ptr(), flags | libc::O_CLOEXEC);
                            fd >= 0 && libc::close(fd) == 0
                        }
                        Probe::Mknod(path, mode, dev) => {
                            libc::mknod(path.as_ptr(), mode | 0o600, dev) == 0 && libc::unlink(path.as_ptr()) == 0
                        }
                    };
                    let errno = if ok { 0 } else { *libc::__errno_location() };
                    libc::write(res_w.as_raw_fd(), (&raw const errno).cast(), 4);
                }
                libc::_exit(0);
            }
        }
        drop((go_r, res_w));
        let moved = std::fs::write(self.dir.join("cgroup.procs"), pid.to_string());
        if moved.is_ok() {
            nix::unistd::write(&go_w, &[1]).unwrap();
        } else {
            // SAFETY: kill(2) of our own child, by its (positive) pid.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let mut out = Vec::new();
        let mut buf = [0u8; 4];
        while out.len() < probes.len() && nix::unistd::read(&res_r, &mut buf).unwrap_or(0) == 4 {
            out.push(i32::from_ne_bytes(buf));
        }
        nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).unwrap();
        moved.unwrap();
        out
    }

    fn opens(&self, opens: &[(&CStr, c_int)]) -> Vec<i32> {
        self.probe(&opens.iter().map(|&(path, flags)| Probe::Open(path, flags)).collect::<Vec<_>>())
    }
}

/// What a process in the test cgroup tries.
#[derive(Clone, Copy)]
enum Probe<'a> {
    Open(&'a CStr, c_int),
    Mknod(&'a CStr, libc::mode_t, libc::dev_t),
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir(&self.dir) {
            eprintln!("cleanup: rmdir {:?}: {e}", self.dir);
        }
    }
}

const NULL: &CStr = c"/dev/null"; // c 1:3
const ZERO: &CStr = c"/dev/zero"; // c 1:5
const FULL: &CStr = c"/dev/full"; // c 1:7
const DENY_ALL_ALLOW_NULL: &str =
    r#"[{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]"#;

#[test]
fn host_filter_allows_and_denies_opens() {
    let cg = match TestCgroup::new("open") {
        Ok(cg) => cg,
        Err(why) => return eprintln!("skipped: {why}"),
    };
    let (rd, wr, rw) = (libc::O_RDONLY, libc::O_WRONLY, libc::O_RDWR);
    let eperm = libc::EPERM;
    // Nothing attached yet: everything opens.
    assert_eq!(cg.opens(&[(NULL, rw), (ZERO, rd)]), [0, 0]);

    apply(&cg.dir, &rules(DENY_ALL_ALLOW_NULL)).unwrap();
    let first = cg.attached();
    assert_eq!(first.len(), 1);
    assert_eq!(cg.opens(&[(NULL, rw), (ZERO, rd), (FULL, wr), (NULL, rd)]), [0, eperm, eperm, 0]);

    // Re-applied (update): replaced, not added; read-only /dev/zero now.
    let zero_r = r#"{"allow": true, "type": "c", "major": 1, "minor": 5, "access": "r"}"#;
    let more = DENY_ALL_ALLOW_NULL.replace(']', &format!(", {zero_r}]"));
    apply(&cg.dir, &rules(&more)).unwrap();
    let second = cg.attached();
    assert_eq!(second.len(), 1);
    assert_ne!(second, first);
    assert_eq!(cg.opens(&[(ZERO, rd), (ZERO, wr), (ZERO, rw), (FULL, rd), (NULL, wr)]), [0, eperm, eperm, eperm, 0]);

    // Allow-all: the program goes, nothing is loaded.
    apply(&cg.dir, &rules(r#"[{"allow": true, "access": "rwm"}]"#)).unwrap();
    assert_eq!(cg.attached(), Vec::<u32>::new());
    assert_eq!(cg.opens(&[(ZERO, rw), (FULL, rd)]), [0, 0]);
}

#[test]
fn host_filter_replaces_several_old_programs() {
    let cg = match TestCgroup::new("multi") {
        Ok(cg) => cg,
        Err(why) => return eprintln!("skipped: {why}"),
    };
    // Two programs attached side by side (not through `apply`).
    let deny = Filter::compile(&rules("[]")).unwrap().program();
    let allow = Filter::compile(&rules(r#"[{"allow": true}, {"allow": false, "type": "b"}]"#)).unwrap().program();
    for p in [&deny, &allow] {
        let prog = load(p).unwrap();
        attach(BPF_PROG_ATTACH, cg.fd().as_fd(), prog.as_fd(), None).unwrap();
    }
    let old = cg.attached();
    assert_eq!(old.len(), 2);
    assert_eq!(cg.opens(&[(NULL, libc::O_RDONLY)]), [libc::EPERM]);

    apply(&cg.dir, &rules(DENY_ALL_ALLOW_NULL)).unwrap();
    let now = cg.attached();
    assert_eq!(now.len(), 1);
    assert!(!old.contains(&now[0]));
    assert_eq!(cg.opens(&[(NULL, libc::O_RDONLY), (ZERO, libc::O_RDONLY)]), [0, libc::EPERM]);
    apply(&cg.dir, &rules("[]")).unwrap();
    assert_eq!(cg.opens(&[(NULL, libc::O_RDONLY)]), [libc::EPERM]);
    // Left attached on purpose: rmdir must work with a program on the cgroup.
}

#[test]
fn host_verifier_accepts_big_programs_and_reports_rejections() {
    if !nix::unistd::geteuid().is_root() {
        return eprintln!("skipped: needs root");
    }
    let many: Vec<String> = (0..500)
        .map(|i| format!(r#"{{"allow": true, "type": "c", "major": {}, "minor": {i}, "access": "rw"}}"#, 100 + i % 7))
        .collect();
    let p = Filter::compile(&rules(&format!("[{}]", many.join(",")))).unwrap().program();
    assert_eq!(p.len(), 6 + 500 * 8 + 2);
    match load(&p) {
        Ok(_) => {}
        Err((e @ (Errno::EINVAL | Errno::EPERM | Errno::ENOSYS), log)) if log.is_empty() => {
            return eprintln!("skipped: the kernel does not load cgroup device programs: {}", e.desc());
        }
        Err((e, log)) => panic!("BPF_PROG_LOAD: {}: {log}", e.desc()),
    }
    // An exit with R0 unset: the verifier says so, and the error carries it.
    let bad = [BpfInsn { code: prog::JMP_EXIT, regs: 0, off: 0, imm: 0 }];
    let (errno, log) = load(&bad).map(drop).unwrap_err();
    assert_eq!(errno, Errno::EACCES);
    assert!(log.contains("R0 !read_ok"), "{log}");
    let e = failed("load the device filter (BPF_PROG_LOAD)".into(), errno, &log);
    let text = e.to_string();
    assert!(text.starts_with("load the device filter (BPF_PROG_LOAD): the devices (eBPF) controller is not available: Permission denied; verifier log:\n"), "{text}");
    assert!(
        text.contains("R0 !read_ok")
            && text.ends_with("(hint: the kernel's verifier refused the program (see its log))"),
        "{text}"
    );
}

/// The kernel's verdicts are the interpreter's (and cgroup v1's), for random
/// rule lists, on device numbers no driver can have (majors above 511), so the
/// opens that pass end in ENXIO and touch no device.
#[test]
fn host_kernel_agrees_with_the_interpreter() {
    let cg = match TestCgroup::new("agree") {
        Ok(cg) => cg,
        Err(why) => return eprintln!("skipped: {why}"),
    };
    let nodes = std::env::temp_dir().join(format!("berth-bpftest-nodes-{}", std::process::id()));
    std::fs::create_dir(&nodes).unwrap();
    let _rm = Remove(nodes.clone());
    if nix::sys::statvfs::statvfs(&nodes).unwrap().flags().contains(nix::sys::statvfs::FsFlags::ST_NODEV) {
        return eprintln!("skipped: {nodes:?} is on a nodev mount (set TMPDIR elsewhere)");
    }
    let (majors, minors) = ([1000, 2000, 4095], [0, 1, 1_048_575]);
    let mut devs = Vec::new();
    for (t, mode) in [(DEV_BLOCK, libc::S_IFBLK), (DEV_CHAR, libc::S_IFCHR)] {
        for major in majors {
            for minor in minors {
                let node = nodes.join(format!("{t}-{major}-{minor}"));
                let fresh = nodes.join(format!("new-{t}-{major}-{minor}"));
                let dev = libc::makedev(major, minor);
                let (kind, perm) = (SFlag::from_bits_truncate(mode), Mode::S_IRUSR | Mode::S_IWUSR);
                if let Err(e) = nix::sys::stat::mknod(&node, kind, perm, dev) {
                    return eprintln!("skipped: mknod in {nodes:?}: {} (set TMPDIR elsewhere)", e.desc());
                }
                let c = |p: PathBuf| std::ffi::CString::new(p.into_os_string().into_encoded_bytes()).unwrap();
                devs.push((t, major, minor, mode, dev, c(node), c(fresh)));
            }
        }
    }
    let accesses = [
        (ACC_READ, Some(libc::O_RDONLY)),
        (ACC_WRITE, Some(libc::O_WRONLY)),
        (ACC_READ | ACC_WRITE, Some(libc::O_RDWR)),
        (ACC_MKNOD, None),
    ];
    let mut probes = Vec::new();
    let mut want = Vec::new();
    let mut rng = tests::Rng(0x9e37_79b9_7f4a_7c15);
    let (mut sets, mut allowed_seen, mut denied_seen) = (0, 0, 0);
    while sets < 25 {
        let rs = rng.rules(majors, minors);
        let Ok(filter) = Filter::compile(&rs) else { continue };
        sets += 1;
        let p = filter.program();
        probes.clear();
        want.clear();
        for (t, major, minor, mode, dev, node, fresh) in &devs {
            for (access, flags) in accesses {
                probes.push(match flags {
                    Some(f) => Probe::Open(node, f),
                    None => Probe::Mknod(fresh, *mode, *dev),
                });
                let allowed = tests::run(&p, *t, access, *major, *minor).unwrap() == 1;
                assert_eq!(allowed, tests::v1_allows(&rs, *t, access, *major, *minor));
                want.push((allowed, *t, access, *major, *minor));
            }
        }
        apply(&cg.dir, &rs).unwrap();
        let got = cg.probe(&probes);
        assert_eq!(got.len(), want.len());
        for (errno, (allowed, t, access, major, minor)) in got.into_iter().zip(&want) {
            let what = format!("{rs:?}: type {t} {} {major}:{minor} gave errno {errno}", prog::access_text(*access));
            assert_eq!(errno != libc::EPERM, *allowed, "{what}");
            *(if *allowed { &mut allowed_seen } else { &mut denied_seen }) += 1;
            assert!(matches!(errno, 0 | libc::EPERM | libc::ENXIO | libc::ENODEV), "{what}");
        }
    }
    assert!(allowed_seen > 100 && denied_seen > 100, "allowed {allowed_seen}, denied {denied_seen}");
}

struct Remove(PathBuf);

impl Drop for Remove {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
