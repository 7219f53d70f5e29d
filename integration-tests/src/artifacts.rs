//! Shared test artifacts: where the workspace, the target dir and the runtime
//! under test are, the static probe and the busybox rootfs template (each
//! built once across all test processes), and recording skipped tests.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// How many rounds a repeated test makes: `host` on the host, `vm` in the emulated
/// cgroup-v2 VM tier (`BERTH_IT_TIER` set), where each round costs ten times more.
pub fn rounds(host: usize, vm: usize) -> usize {
    if std::env::var_os("BERTH_IT_TIER").is_some() {
        vm
    } else {
        host
    }
}

// ---------------------------------------------------------------------------
// Skips
// ---------------------------------------------------------------------------

/// Record a skipped test: prints `SKIPPED <name>: <reason>` to stderr and
/// appends a line to `<target>/integration-skipped.txt` (or to
/// `$BERTH_IT_SKIP_FILE`). The line ends with the runtime under test and, when
/// `BERTH_IT_TIER` is set (the cgroup v2 tier sets it), the tier's name.
pub fn record_skip(test: &str, reason: &str) {
    let line = format!("SKIPPED {test}: {reason}");
    eprintln!("{line}");
    let file = match std::env::var_os("BERTH_IT_SKIP_FILE") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => target_dir().join("integration-skipped.txt"),
    };
    let tier = match std::env::var("BERTH_IT_TIER") {
        Ok(t) if !t.is_empty() => format!(", tier {t}"),
        _ => String::new(),
    };
    if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(file) {
        let _ = writeln!(f, "{line} [runtime {}{tier}]", runtime_bin().display());
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

pub(crate) struct FileLock(fs::File);

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

pub(crate) fn build_lock() -> FileLock {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds the shared artifacts (`v2vm/run-tests.sh` runs this one on the
    /// host first, so that the cgroup v2 VM does not compile the probe).
    #[test]
    fn probe_and_rootfs_template_are_built() {
        let probe = probe_bin();
        let o = Command::new(&probe).args(["echo", "hi"]).output().expect("run the probe");
        assert!(o.status.success(), "{} echo hi: {o:?}", probe.display());
        let rootfs = rootfs_template();
        assert!(rootfs.join(".complete").exists() && rootfs.join("bin/busybox").exists(), "{}", rootfs.display());
    }
}
