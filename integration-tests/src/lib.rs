//! Test harness for berth's integration tests.
//!
//! The tests drive a runtime binary (berth by default, any runc-compatible
//! runtime through `BERTH_RUNTIME`) over real OCI bundles made of a busybox
//! root filesystem plus a small static probe program (`probe/probe.rs`)
//! that reports facts from inside the container.
//!
//! Everything a test creates lives under `/tmp/berth-it-*` and is removed by
//! [`TestEnv`]'s `Drop`, which also force-deletes the container, kills any
//! process it remembered, lazily unmounts anything under its directory and
//! removes the container's cgroup directories, so a failing test leaves no
//! debris behind.

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Default time limit for one runtime invocation.
pub const RUNTIME_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------

/// The cargo workspace directory (parent of this crate).
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("crate has a parent dir").to_path_buf()
}

/// The cargo target directory the test binary was built into
/// (`<target>/debug/deps/<test-binary>`).
pub fn target_dir() -> PathBuf {
    if let Ok(exe) = std::env::current_exe() {
        // <target>/<profile>/deps/<bin>
        if let Some(t) = exe.parent().and_then(|deps| deps.parent()).and_then(|p| p.parent()) {
            if t.is_dir() {
                return t.to_path_buf();
            }
        }
    }
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_dir().join("target"))
}

/// The runtime binary under test: `$BERTH_RUNTIME` or `<workspace>/target/debug/berth`.
pub fn runtime_bin() -> PathBuf {
    match std::env::var_os("BERTH_RUNTIME") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => workspace_dir().join("target/debug/berth"),
    }
}

/// The busybox used for container root filesystems and host-side hooks.
pub const BUSYBOX: &str = "/usr/bin/busybox";

// ---------------------------------------------------------------------------
// Skips
// ---------------------------------------------------------------------------

/// Record a skipped test: prints `SKIPPED <name>: <reason>` to stderr and
/// appends a line to `<target>/integration-skipped.txt`.
pub fn record_skip(test: &str, reason: &str) {
    let line = format!("SKIPPED {test}: {reason}");
    eprintln!("{line}");
    if let Ok(mut f) =
        fs::OpenOptions::new().create(true).append(true).open(target_dir().join("integration-skipped.txt"))
    {
        let _ = writeln!(f, "{line} [runtime {}]", runtime_bin().display());
    }
}

/// Skip the current test: records it (see [`record_skip`]) and returns from
/// the enclosing test function.
#[macro_export]
macro_rules! skip {
    ($($arg:tt)*) => {{
        fn __here() {}
        let name = ::std::any::type_name_of_val(&__here);
        let name = name.strip_suffix("::__here").unwrap_or(name);
        $crate::record_skip(name, &format!($($arg)*));
        return;
    }};
}

// ---------------------------------------------------------------------------
// Cross-process lock (for building shared artifacts once)
// ---------------------------------------------------------------------------

struct FileLock(fs::File);

impl FileLock {
    fn acquire(path: &Path) -> FileLock {
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .unwrap_or_else(|e| panic!("open lock {}: {e}", path.display()));
        use std::os::unix::io::AsRawFd;
        // SAFETY: flock on a valid, owned file descriptor.
        let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(r, 0, "flock {}", path.display());
        FileLock(f)
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        use std::os::unix::io::AsRawFd;
        // SAFETY: unlocking a descriptor we own.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

fn build_lock() -> FileLock {
    let t = target_dir();
    fs::create_dir_all(&t).ok();
    FileLock::acquire(&t.join("berth-it.lock"))
}

// ---------------------------------------------------------------------------
// Probe and rootfs template
// ---------------------------------------------------------------------------

/// Path of the compiled static probe, building it if needed (once across all
/// test processes; rebuilt when probe.rs is newer than the binary).
pub fn probe_bin() -> PathBuf {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("probe/probe.rs");
        let out = target_dir().join("berth-probe");
        let _lock = build_lock();
        let src_m = fs::metadata(&src).and_then(|m| m.modified()).expect("probe.rs");
        let fresh = fs::metadata(&out).and_then(|m| m.modified()).map(|m| m >= src_m).unwrap_or(false);
        if !fresh {
            let tmp = target_dir().join(format!("berth-probe.tmp{}", std::process::id()));
            let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
            let o = Command::new(rustc)
                .args(["-O", "-C", "target-feature=+crt-static", "-C", "strip=debuginfo"])
                .arg(&src)
                .arg("-o")
                .arg(&tmp)
                .output()
                .expect("run rustc for the probe");
            assert!(o.status.success(), "building probe failed:\n{}", String::from_utf8_lossy(&o.stderr));
            fs::rename(&tmp, &out).expect("rename probe");
        }
        out
    })
    .clone()
}

/// Non-root user present in the image's /etc/passwd.
pub const TEST_UID: u32 = 1000;
/// Its primary group.
pub const TEST_GID: u32 = 1000;

/// The busybox rootfs template (built once under the target dir).
pub fn rootfs_template() -> PathBuf {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        // Bump the version when the layout changes so stale templates are not reused.
        let dir = target_dir().join("berth-it-rootfs-v1");
        if dir.join(".complete").exists() {
            return dir.clone();
        }
        let _lock = build_lock();
        if dir.join(".complete").exists() {
            return dir.clone();
        }
        let tmp = target_dir().join(format!("berth-it-rootfs.tmp{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root", "home/tester", "var", "mnt"] {
            fs::create_dir_all(tmp.join(d)).unwrap();
        }
        fs::set_permissions(tmp.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
        fs::copy(BUSYBOX, tmp.join("bin/busybox")).expect("copy busybox");
        fs::set_permissions(tmp.join("bin/busybox"), fs::Permissions::from_mode(0o755)).unwrap();
        let list = Command::new(BUSYBOX).arg("--list").output().expect("busybox --list");
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            let applet = applet.trim();
            if applet.is_empty() || applet == "busybox" {
                continue;
            }
            let _ = std::os::unix::fs::symlink("busybox", tmp.join("bin").join(applet));
        }
        fs::write(
            tmp.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000:tester:/home/tester:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        )
        .unwrap();
        // No member lists: supplementary groups must come from the config only.
        fs::write(
            tmp.join("etc/group"),
            "root:x:0:\ntty:x:5:\ntester:x:1000:\nnogroup:x:65534:\n",
        )
        .unwrap();
        fs::write(tmp.join("etc/hostname"), "template\n").unwrap();
        let _ = fs::remove_dir_all(&dir);
        fs::write(tmp.join(".complete"), "").unwrap();
        fs::rename(&tmp, &dir).expect("rename rootfs template");
        dir.clone()
    })
    .clone()
}

// ---------------------------------------------------------------------------
// Running the runtime
// ---------------------------------------------------------------------------

/// Result of one runtime invocation.
#[derive(Debug, Clone)]
pub struct Out {
    pub args: Vec<String>,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// File the runtime's (and for create / run -d: the container's) stdout went to.
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
    pub elapsed: Duration,
}

impl Out {
    pub fn success(&self) -> bool {
        self.status.success()
    }
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
    /// Assert the invocation succeeded, with a helpful message.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert!(
            self.success(),
            "`{}` failed ({:?})\nstdout: {}\nstderr: {}",
            self.args.join(" "),
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }
    /// Assert the invocation failed with a non-zero exit status and some stderr.
    #[track_caller]
    pub fn fails(&self) -> &Self {
        assert!(
            !self.success(),
            "`{}` unexpectedly succeeded\nstdout: {}\nstderr: {}",
            self.args.join(" "),
            self.stdout,
            self.stderr
        );
        assert!(
            self.code().is_some(),
            "`{}` died from a signal: {:?}\nstderr: {}",
            self.args.join(" "),
            self.status,
            self.stderr
        );
        assert!(!self.stderr.trim().is_empty(), "`{}` failed without saying why on stderr", self.args.join(" "));
        self
    }
    /// Current content of the stdout file (a detached container may still be writing).
    pub fn stdout_now(&self) -> String {
        fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }
    pub fn stderr_now(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
    /// Parse stdout as probe `key=value` facts.
    pub fn facts(&self) -> Facts {
        Facts::parse(&self.stdout)
    }
}

/// The runtime binary plus a private `--root` state directory.
#[derive(Clone)]
pub struct Runtime {
    pub bin: PathBuf,
    pub root: PathBuf,
    /// Extra environment variables for every invocation.
    pub env: Vec<(String, String)>,
    io_dir: PathBuf,
}

static IO_COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Runtime {
    pub fn new(root: PathBuf, io_dir: PathBuf) -> Runtime {
        Runtime { bin: runtime_bin(), root, env: Vec::new(), io_dir }
    }

    /// True when the runtime under test is berth (i.e. not runc / crun).
    pub fn is_berth(&self) -> bool {
        let name = self.bin.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        !(name.starts_with("runc") || name.starts_with("crun"))
    }

    /// Run `<bin> --root <root> <args>` with stdin from /dev/null.
    pub fn cmd(&self, args: &[&str]) -> Out {
        self.cmd_full(args, None, RUNTIME_TIMEOUT)
    }

    /// Run with the given bytes on stdin (None: /dev/null) and a time limit.
    pub fn cmd_full(&self, args: &[&str], stdin: Option<&[u8]>, timeout: Duration) -> Out {
        let n = IO_COUNTER.fetch_add(1, Ordering::SeqCst);
        let stdout_path = self.io_dir.join(format!("rt-{n}.stdout"));
        let stderr_path = self.io_dir.join(format!("rt-{n}.stderr"));
        let so = fs::File::create(&stdout_path).expect("stdout file");
        let se = fs::File::create(&stderr_path).expect("stderr file");
        let mut all = vec!["--root".to_string(), self.root.display().to_string()];
        all.extend(args.iter().map(|s| s.to_string()));
        let mut c = Command::new(&self.bin);
        c.args(&all).stdout(so).stderr(se);
        c.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        c.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        let start = Instant::now();
        let mut child = c.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot run runtime {}: {e} (build it with `cargo build -p berth`, or set BERTH_RUNTIME)",
                self.bin.display()
            )
        });
        if let Some(data) = stdin {
            let mut w = child.stdin.take().unwrap();
            let data = data.to_vec();
            std::thread::spawn(move || {
                let _ = w.write_all(&data);
            });
        }
        let status = loop {
            if let Some(st) = child.try_wait().expect("wait runtime") {
                break st;
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "`{} {}` did not finish within {:?}\nstderr: {}",
                    self.bin.display(),
                    all.join(" "),
                    timeout,
                    fs::read_to_string(&stderr_path).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let elapsed = start.elapsed();
        Out {
            args: std::iter::once(self.bin.display().to_string()).chain(all).collect(),
            status,
            stdout: fs::read_to_string(&stdout_path).unwrap_or_default(),
            stderr: fs::read_to_string(&stderr_path).unwrap_or_default(),
            stdout_path,
            stderr_path,
            elapsed,
        }
    }
}

// ---------------------------------------------------------------------------
// Probe output
// ---------------------------------------------------------------------------

/// `key=value` facts printed by the probe (first `=` splits).
#[derive(Debug, Default, Clone)]
pub struct Facts(pub BTreeMap<String, String>);

impl Facts {
    pub fn parse(s: &str) -> Facts {
        let mut m = BTreeMap::new();
        for line in s.lines() {
            if let Some((k, v)) = line.split_once('=') {
                m.insert(k.to_string(), v.to_string());
            }
        }
        Facts(m)
    }
    #[track_caller]
    pub fn get(&self, k: &str) -> &str {
        self.0.get(k).map(|s| s.as_str()).unwrap_or_else(|| panic!("probe did not report {k:?}; facts: {:#?}", self.0))
    }
    pub fn opt(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(|s| s.as_str())
    }
    /// Sub-fields of a `k=v k2=v2 ...` value (e.g. a `stat:PATH` line).
    #[track_caller]
    pub fn fields(&self, k: &str) -> BTreeMap<String, String> {
        fields(self.get(k))
    }
    /// Parse a hex capability mask line (CapEff etc.).
    #[track_caller]
    pub fn hex(&self, k: &str) -> u64 {
        u64::from_str_radix(self.get(k), 16).unwrap_or_else(|e| panic!("{k}: {e}"))
    }
}

/// Split `a=1 b=2` into a map (tokens without `=` map to "").
pub fn fields(s: &str) -> BTreeMap<String, String> {
    s.split_whitespace()
        .map(|t| match t.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (t.to_string(), String::new()),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// mountinfo
// ---------------------------------------------------------------------------

/// One line of /proc/<pid>/mountinfo.
#[derive(Debug, Clone)]
pub struct MountInfo {
    pub id: u32,
    pub parent: u32,
    pub dev: String,
    pub root: String,
    pub mount_point: String,
    /// Per-mount options (rw/ro, nosuid, nodev, noexec, relatime, ...).
    pub options: Vec<String>,
    /// Optional fields: shared:N, master:N, propagate_from:N, unbindable.
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    /// Per-superblock options (tmpfs size=, mode=, ...).
    pub super_options: Vec<String>,
}

impl MountInfo {
    pub fn has_opt(&self, o: &str) -> bool {
        self.options.iter().any(|x| x == o)
    }
    pub fn has_super(&self, o: &str) -> bool {
        self.super_options.iter().any(|x| x == o)
    }
    pub fn is_shared(&self) -> bool {
        self.optional.iter().any(|x| x.starts_with("shared:"))
    }
    pub fn is_slave(&self) -> bool {
        self.optional.iter().any(|x| x.starts_with("master:"))
    }
}

fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse mountinfo text.
pub fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    let mut v = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        let Some(sep) = parts.iter().position(|p| *p == "-") else { continue };
        if parts.len() < sep + 3 || sep < 6 {
            continue;
        }
        v.push(MountInfo {
            id: parts[0].parse().unwrap_or(0),
            parent: parts[1].parse().unwrap_or(0),
            dev: parts[2].to_string(),
            root: unescape_mount(parts[3]),
            mount_point: unescape_mount(parts[4]),
            options: parts[5].split(',').map(String::from).collect(),
            optional: parts[6..sep].iter().map(|s| s.to_string()).collect(),
            fstype: parts[sep + 1].to_string(),
            source: unescape_mount(parts[sep + 2]),
            super_options: parts.get(sep + 3).map(|s| s.split(',').map(String::from).collect()).unwrap_or_default(),
        });
    }
    v
}

/// Mounts of a process (host view), e.g. a container's init.
pub fn mountinfo_of(pid: i32) -> Vec<MountInfo> {
    parse_mountinfo(&fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default())
}

/// The host's (this test process's) mounts.
pub fn host_mounts() -> Vec<MountInfo> {
    parse_mountinfo(&fs::read_to_string("/proc/self/mountinfo").unwrap_or_default())
}

/// The last (top-most) mount at exactly `path`.
pub fn mount_at<'a>(mounts: &'a [MountInfo], path: &str) -> Option<&'a MountInfo> {
    mounts.iter().rev().find(|m| m.mount_point == path)
}

// ---------------------------------------------------------------------------
// Capabilities
// ---------------------------------------------------------------------------

pub const CAP_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Bit mask of the named capabilities (`CAP_` prefix optional).
pub fn cap_mask(names: &[&str]) -> u64 {
    names.iter().fold(0, |m, n| {
        let full = if n.starts_with("CAP_") { n.to_string() } else { format!("CAP_{n}") };
        let i = CAP_NAMES.iter().position(|c| *c == full).unwrap_or_else(|| panic!("unknown capability {n}"));
        m | (1u64 << i)
    })
}

/// Names of the capabilities in a mask (for readable assertion messages).
pub fn cap_names(mask: u64) -> Vec<String> {
    (0..64)
        .filter(|i| mask & (1u64 << i) != 0)
        .map(|i| CAP_NAMES.get(i).map(|s| s.to_string()).unwrap_or(format!("cap{i}")))
        .collect()
}

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

/// (state char, start time in clock ticks) of a live pid, None if gone.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // After "comm)": field 3 is f[0]; starttime is field 22 -> f[19].
    Some((f[0].chars().next()?, f.get(19)?.parse().ok()?))
}

/// A process we saw, identified by pid + start time so pid reuse is not confused with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcId {
    pub pid: i32,
    pub start: u64,
}

impl ProcId {
    pub fn of(pid: i32) -> Option<ProcId> {
        proc_stat(pid).map(|(_, start)| ProcId { pid, start })
    }
    /// Alive (zombies count as dead).
    pub fn alive(&self) -> bool {
        matches!(proc_stat(self.pid), Some((st, start)) if start == self.start && st != 'Z')
    }
    pub fn kill(&self, sig: i32) {
        if self.alive() {
            // SAFETY: plain kill(2).
            unsafe { libc::kill(self.pid, sig) };
        }
    }
}

/// Poll `f` until it returns true or `timeout` passes; returns the last result.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if f() {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait for a path to exist.
#[track_caller]
pub fn wait_for_path(p: &Path, timeout: Duration) {
    assert!(wait_until(timeout, || p.exists()), "timed out waiting for {}", p.display());
}

/// Wait for a file to exist and be non-empty; returns its content.
#[track_caller]
pub fn wait_for_file(p: &Path, timeout: Duration) -> String {
    let mut content = String::new();
    let ok = wait_until(timeout, || {
        content = fs::read_to_string(p).unwrap_or_default();
        !content.is_empty()
    });
    assert!(ok, "timed out waiting for {}", p.display());
    content
}

/// readlink of /proc/<pid>/ns/<name> ("self" allowed).
pub fn ns_of(pid: &str, name: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{name}")).map(|p| p.display().to_string()).unwrap_or_default()
}

/// Cgroup v1 controller hierarchies (and the unified one) of the host.
pub fn cgroup_hierarchies() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for m in host_mounts() {
        if (m.fstype == "cgroup" || m.fstype == "cgroup2") && m.mount_point.starts_with("/sys/fs/cgroup") {
            v.push(PathBuf::from(m.mount_point));
        }
    }
    v
}

// ---------------------------------------------------------------------------
// Test environment
// ---------------------------------------------------------------------------

static ENV_COUNTER: AtomicUsize = AtomicUsize::new(0);

fn copy_tree(from: &Path, to: &Path) {
    let o = Command::new("cp").arg("-a").arg(from).arg(to).output().expect("cp -a");
    assert!(o.status.success(), "cp -a failed: {}", String::from_utf8_lossy(&o.stderr));
}

fn sanitize(name: &str) -> String {
    let s: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect();
    s.chars().take(40).collect()
}

/// Host-side mount for test setup, unmounted by the owning TestEnv's Drop.
pub fn host_mount(source: &str, target: &Path, fstype: &str, flags: libc::c_ulong, data: &str) {
    let src = std::ffi::CString::new(source).unwrap();
    let tgt = std::ffi::CString::new(target.as_os_str().as_bytes()).unwrap();
    let ty = std::ffi::CString::new(fstype).unwrap();
    let d = std::ffi::CString::new(data).unwrap();
    // SAFETY: all pointers are valid NUL-terminated strings for the call.
    let r = unsafe {
        libc::mount(
            src.as_ptr(),
            tgt.as_ptr(),
            if fstype.is_empty() { std::ptr::null() } else { ty.as_ptr() },
            flags,
            if data.is_empty() { std::ptr::null() } else { d.as_ptr() as *const libc::c_void },
        )
    };
    assert_eq!(r, 0, "mount {source} on {}: {}", target.display(), std::io::Error::last_os_error());
}

/// One test's world: a temp dir with the runtime's `--root`, one bundle
/// (`config` is the default spec, mutate it before `create`), a `shared`
/// host dir for bind mounts / hook records, and a unique container id.
pub struct TestEnv {
    pub name: String,
    /// /tmp/berth-it-<name>-<pid>-<n>
    pub dir: PathBuf,
    pub rt: Runtime,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// Host directory (mode 0777) for files exchanged with the container / hooks.
    pub shared: PathBuf,
    pub id: String,
    /// linux.cgroupsPath of the container (absolute).
    pub cgroups_path: String,
    pub config: Value,
    /// Processes to kill on drop (container inits we saw, host helpers).
    procs: Vec<ProcId>,
    children: Vec<Child>,
    owns_root: bool,
}

impl TestEnv {
    /// New environment with its own runtime root.
    pub fn new(name: &str) -> TestEnv {
        let n = ENV_COUNTER.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}-{}-{}", sanitize(name), std::process::id(), n);
        let dir = PathBuf::from(format!("/tmp/berth-it-{tag}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let root = dir.join("root");
        let io = dir.join("io");
        fs::create_dir_all(&io).unwrap();
        Self::with_runtime(name, dir, Runtime::new(root, io), &tag, true)
    }

    /// Another container sharing this environment's runtime root (for `list`,
    /// duplicate ids, joining namespaces). Has its own dir, bundle and id.
    pub fn sibling(&self, suffix: &str) -> TestEnv {
        let n = ENV_COUNTER.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}-{}-{}-{}", sanitize(&self.name), sanitize(suffix), std::process::id(), n);
        let dir = PathBuf::from(format!("/tmp/berth-it-{tag}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let mut rt = self.rt.clone();
        rt.io_dir = dir.join("io");
        fs::create_dir_all(&rt.io_dir).unwrap();
        Self::with_runtime(&format!("{}-{suffix}", self.name), dir, rt, &tag, false)
    }

    fn with_runtime(name: &str, dir: PathBuf, rt: Runtime, tag: &str, owns_root: bool) -> TestEnv {
        let bundle = dir.join("bundle");
        fs::create_dir_all(&bundle).unwrap();
        let rootfs = bundle.join("rootfs");
        copy_tree(&rootfs_template(), &rootfs);
        let _ = fs::remove_file(rootfs.join(".complete"));
        fs::copy(probe_bin(), rootfs.join("probe")).expect("copy probe");
        fs::set_permissions(rootfs.join("probe"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(rootfs.join("berth-marker"), format!("{tag}\n")).unwrap();
        let shared = dir.join("shared");
        fs::create_dir_all(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
        let id = format!("it-{tag}");
        let cgroups_path = format!("/berth-test/{id}");
        let config = default_config(&cgroups_path);
        TestEnv {
            name: name.to_string(),
            dir,
            rt,
            bundle,
            rootfs,
            shared,
            id,
            cgroups_path,
            config,
            procs: Vec::new(),
            children: Vec::new(),
            owns_root,
        }
    }

    pub fn is_berth(&self) -> bool {
        self.rt.is_berth()
    }

    // ----- config helpers -----

    /// Set process.args.
    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.config["process"]["args"] = json!(args);
        self
    }

    /// Run `sh -c script` as the container process.
    pub fn sh(&mut self, script: &str) -> &mut Self {
        self.args(&["/bin/sh", "-c", script])
    }

    /// Bind-mount the host `shared` dir at /shared (rw).
    pub fn mount_shared(&mut self) -> &mut Self {
        let src = self.shared.display().to_string();
        self.add_mount(json!({
            "destination": "/shared", "type": "bind", "source": src, "options": ["rbind", "rw"]
        }))
    }

    pub fn add_mount(&mut self, m: Value) -> &mut Self {
        self.config["mounts"].as_array_mut().unwrap().push(m);
        self
    }

    /// Add (or replace the path of) a namespace entry.
    pub fn set_namespace(&mut self, ty: &str, path: Option<&str>) -> &mut Self {
        let nss = self.config["linux"]["namespaces"].as_array_mut().unwrap();
        nss.retain(|n| n["type"] != ty);
        let mut e = json!({ "type": ty });
        if let Some(p) = path {
            e["path"] = json!(p);
        }
        nss.push(e);
        self
    }

    pub fn remove_namespace(&mut self, ty: &str) -> &mut Self {
        let nss = self.config["linux"]["namespaces"].as_array_mut().unwrap();
        nss.retain(|n| n["type"] != ty);
        self
    }

    /// Write bundle/config.json from `config`.
    pub fn write_config(&self) {
        fs::write(self.bundle.join("config.json"), serde_json::to_vec_pretty(&self.config).unwrap()).unwrap();
    }

    // ----- lifecycle -----

    pub fn bundle_str(&self) -> String {
        self.bundle.display().to_string()
    }

    /// `create --bundle B ID` (writes config.json first). Does not assert.
    pub fn create(&mut self) -> Out {
        self.write_config();
        let b = self.bundle_str();
        let id = self.id.clone();
        let o = self.rt.cmd(&["create", "--bundle", &b, &id]);
        self.remember_pid();
        o
    }

    /// `create` that must succeed; returns the container's init pid.
    #[track_caller]
    pub fn create_ok(&mut self) -> i32 {
        let o = self.create();
        o.ok();
        let st = self.state();
        assert_eq!(st["status"], "created", "state after create: {st}");
        let pid = st["pid"].as_i64().unwrap_or(0) as i32;
        assert!(pid > 0, "state after create has no pid: {st}");
        pid
    }

    pub fn start(&self) -> Out {
        self.rt.cmd(&["start", &self.id])
    }

    /// `run --bundle B ID` in the foreground (optionally with stdin data).
    pub fn run(&mut self) -> Out {
        self.run_with(&[], None)
    }

    pub fn run_with(&mut self, extra: &[&str], stdin: Option<&[u8]>) -> Out {
        self.write_config();
        let b = self.bundle_str();
        let mut args = vec!["run", "--bundle", b.as_str()];
        args.extend_from_slice(extra);
        args.push(&self.id);
        let o = self.rt.cmd_full(&args, stdin, RUNTIME_TIMEOUT);
        self.remember_pid();
        o
    }

    /// Run the container to completion and return the probe facts (asserts exit 0).
    #[track_caller]
    pub fn run_probe(&mut self, probe_args: &[&str]) -> Facts {
        let mut a = vec!["/probe"];
        a.extend_from_slice(probe_args);
        self.args(&a);
        let o = self.run();
        o.ok();
        self.delete_if_exists();
        o.facts()
    }

    /// Raw `state ID`.
    pub fn state_out(&self) -> Out {
        self.rt.cmd(&["state", &self.id])
    }

    /// Parsed `state ID` (panics if it fails).
    #[track_caller]
    pub fn state(&self) -> Value {
        let o = self.state_out();
        o.ok();
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("state output is not JSON ({e}): {}", o.stdout))
    }

    pub fn status(&self) -> String {
        self.state()["status"].as_str().unwrap_or("").to_string()
    }

    pub fn pid(&self) -> i32 {
        self.state()["pid"].as_i64().unwrap_or(0) as i32
    }

    pub fn kill(&self, sig: Option<&str>) -> Out {
        match sig {
            Some(s) => self.rt.cmd(&["kill", &self.id, s]),
            None => self.rt.cmd(&["kill", &self.id]),
        }
    }

    pub fn delete(&self) -> Out {
        self.rt.cmd(&["delete", &self.id])
    }

    pub fn delete_force(&self) -> Out {
        self.rt.cmd(&["delete", "--force", &self.id])
    }

    /// Force-delete when the container still exists (quietly).
    pub fn delete_if_exists(&self) {
        if self.rt.root.join(&self.id).exists() || self.state_out().success() {
            let _ = self.delete_force();
        }
    }

    /// Wait until `state` reports `status` (true) or time out (false).
    pub fn wait_status(&self, status: &str, timeout: Duration) -> bool {
        wait_until(timeout, || {
            let o = self.state_out();
            o.success() && serde_json::from_str::<Value>(&o.stdout).map(|v| v["status"] == status).unwrap_or(false)
        })
    }

    /// Remember the container's init process (from `state`) for cleanup checks.
    pub fn remember_pid(&mut self) -> Option<ProcId> {
        let o = self.state_out();
        if !o.success() {
            return None;
        }
        let v: Value = serde_json::from_str(&o.stdout).ok()?;
        let pid = v["pid"].as_i64()? as i32;
        if pid <= 0 {
            return None;
        }
        let p = ProcId::of(pid)?;
        if !self.procs.contains(&p) {
            self.procs.push(p);
        }
        Some(p)
    }

    /// Processes seen so far (container inits, helpers).
    pub fn seen_procs(&self) -> Vec<ProcId> {
        self.procs.clone()
    }

    /// Spawn a host helper process killed on drop; returns its pid.
    pub fn spawn_host(&mut self, cmd: &mut Command) -> i32 {
        let c = cmd.stdin(Stdio::null()).spawn().expect("spawn host helper");
        let pid = c.id() as i32;
        self.children.push(c);
        pid
    }

    /// Make a host directory under `dir` (mode 0755).
    pub fn host_dir(&self, rel: &str) -> PathBuf {
        let p = self.dir.join(rel);
        fs::create_dir_all(&p).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    // ----- host-side checks -----

    /// Everything that may be left behind for this container, as messages.
    pub fn leftovers(&self) -> Vec<String> {
        let mut bad = Vec::new();
        let state_dir = self.rt.root.join(&self.id);
        if state_dir.exists() {
            bad.push(format!("state dir {} still exists", state_dir.display()));
        }
        if let Ok(rd) = fs::read_dir(&self.rt.root) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().contains(&self.id) {
                    bad.push(format!("state entry {} still exists", e.path().display()));
                }
            }
        }
        for h in cgroup_hierarchies() {
            let p = h.join(self.cgroups_path.trim_start_matches('/'));
            if p.exists() {
                bad.push(format!("cgroup dir {} still exists", p.display()));
            }
        }
        let dir = self.dir.display().to_string();
        for m in host_mounts() {
            if m.mount_point.contains(&dir) || m.source.contains(&dir) || m.root.contains(&dir) {
                bad.push(format!("host mount left: {} ({})", m.mount_point, m.fstype));
            }
        }
        for p in &self.procs {
            if p.alive() {
                bad.push(format!("process {} still alive", p.pid));
            }
        }
        bad
    }

    /// Assert nothing is left behind (waits briefly for processes to be reaped).
    #[track_caller]
    pub fn assert_no_leftovers(&self) {
        let mut bad = Vec::new();
        wait_until(Duration::from_secs(3), || {
            bad = self.leftovers();
            bad.is_empty()
        });
        assert!(bad.is_empty(), "leftovers for container {}:\n  {}", self.id, bad.join("\n  "));
    }

    /// Like assert_no_leftovers, also checking the given extra processes are gone.
    #[track_caller]
    pub fn assert_no_leftovers_and(&self, procs: &[ProcId]) {
        self.assert_no_leftovers();
        for p in procs {
            assert!(wait_until(Duration::from_secs(3), || !p.alive()), "process {} still alive", p.pid);
        }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let keep = std::env::var_os("BERTH_IT_KEEP").is_some();
        // Force-delete the container (bounded time, never panic in drop).
        if !keep {
            let mut all = vec!["--root".to_string(), self.rt.root.display().to_string()];
            all.extend(["delete", "--force", &self.id].iter().map(|s| s.to_string()));
            if let Ok(mut c) = Command::new(&self.rt.bin)
                .args(&all)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            {
                let start = Instant::now();
                loop {
                    match c.try_wait() {
                        Ok(Some(_)) | Err(_) => break,
                        Ok(None) if start.elapsed() > Duration::from_secs(10) => {
                            let _ = c.kill();
                            let _ = c.wait();
                            break;
                        }
                        Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            }
        }
        for p in &self.procs {
            p.kill(libc::SIGKILL);
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        if keep {
            eprintln!("BERTH_IT_KEEP: leaving {}", self.dir.display());
            return;
        }
        // Processes still in the container's cgroup.
        for h in cgroup_hierarchies() {
            let p = h.join(self.cgroups_path.trim_start_matches('/'));
            if let Ok(s) = fs::read_to_string(p.join("cgroup.procs")) {
                for pid in s.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    // SAFETY: plain kill(2).
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        // Unmount anything under our dir (deepest first).
        let dir = self.dir.display().to_string();
        let mut mps: Vec<String> =
            host_mounts().into_iter().map(|m| m.mount_point).filter(|m| m.starts_with(&dir)).collect();
        mps.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mps {
            if let Ok(c) = std::ffi::CString::new(m) {
                // SAFETY: valid C string.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
        // Remove cgroup dirs (leaf first), processes need a moment to leave.
        for h in cgroup_hierarchies() {
            let p = h.join(self.cgroups_path.trim_start_matches('/'));
            if p.exists() {
                wait_until(Duration::from_secs(2), || fs::remove_dir(&p).is_ok() || !p.exists());
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
        if self.owns_root {
            let _ = fs::remove_dir_all(&self.rt.root);
        }
    }
}

/// The default config, like `runc spec` makes (non-terminal, writable root),
/// with a unique cgroupsPath and a probe invocation as the process.
pub fn default_config(cgroups_path: &str) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": ["/probe", "echo", "hello"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps,
                "effective": caps,
                "permitted": caps
            },
            "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": false },
        "hostname": "berth-it",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
              "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
        ],
        "linux": {
            "cgroupsPath": cgroups_path,
            "resources": { "devices": [ { "allow": false, "access": "rwm" } ] },
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// Set of strings helper for assertions.
pub fn set<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().map(String::from).collect()
}
