//! Mount tables (`/proc/<pid>/mountinfo`), host cgroup hierarchies and
//! host-side mounts for test setup.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

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

/// The mount holding `path` (the one with the longest mount point that is a
/// prefix of it), e.g. to know which flags a bind mount of `path` inherits.
pub fn mount_containing<'a>(mounts: &'a [MountInfo], path: &Path) -> Option<&'a MountInfo> {
    // max_by_key keeps the last of equal keys: the top-most of stacked mounts.
    mounts.iter().filter(|m| path.starts_with(&m.mount_point)).max_by_key(|m| m.mount_point.len())
}

/// How the host's cgroups are mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    /// cgroup v1 hierarchies only.
    V1,
    /// v1 controller hierarchies plus a cgroup2 one (usually `/sys/fs/cgroup/unified`).
    Hybrid,
    /// A single cgroup2 hierarchy at `/sys/fs/cgroup` (pure v2, "unified").
    V2,
}

/// The host's cgroup layout (from this process's mount table).
pub fn cgroup_mode() -> CgroupMode {
    let ms = host_mounts();
    let v1 = ms.iter().any(|m| m.fstype == "cgroup" && m.mount_point.starts_with("/sys/fs/cgroup/"));
    let v2_root = mount_at(&ms, "/sys/fs/cgroup").is_some_and(|m| m.fstype == "cgroup2");
    let v2_any = ms.iter().any(|m| m.fstype == "cgroup2" && m.mount_point.starts_with("/sys/fs/cgroup"));
    match (v1, v2_root, v2_any) {
        (false, true, _) => CgroupMode::V2,
        (true, _, true) => CgroupMode::Hybrid,
        _ => CgroupMode::V1,
    }
}

/// The host's cgroup hierarchies: every v1 hierarchy (controllers and named
/// ones such as `name=systemd`) and the cgroup2 one, under `/sys/fs/cgroup`.
/// On a pure v2 host that is just `/sys/fs/cgroup`.
pub fn cgroup_hierarchies() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = Vec::new();
    for m in host_mounts() {
        let p = Path::new(&m.mount_point);
        if (m.fstype == "cgroup" || m.fstype == "cgroup2")
            && p.starts_with("/sys/fs/cgroup")
            && !v.iter().any(|x| x == p)
        {
            v.push(p.to_path_buf());
        }
    }
    v
}

/// The directories a container with `linux.cgroupsPath = cgroups_path` has (or
/// would have) on the host: one per hierarchy, existing or not.
pub fn container_cgroup_dirs(cgroups_path: &str) -> Vec<PathBuf> {
    cgroup_hierarchies().into_iter().map(|h| h.join(cgroups_path.trim_start_matches('/'))).collect()
}

/// The container's directory in the cgroup2 hierarchy (pure v2 or hybrid).
pub fn container_unified_dir(cgroups_path: &str) -> Option<PathBuf> {
    let m = host_mounts()
        .into_iter()
        .filter(|m| m.fstype == "cgroup2" && m.mount_point.starts_with("/sys/fs/cgroup"))
        .min_by_key(|m| m.mount_point.len())?;
    Some(Path::new(&m.mount_point).join(cgroups_path.trim_start_matches('/')))
}

/// Whether the container's cgroup is frozen, as the kernel reports it: the v1
/// freezer hierarchy's `freezer.state` where there is one (`FROZEN` is frozen,
/// `FREEZING` is not yet), otherwise the `frozen` field of v2 `cgroup.events`.
/// None when the cgroup or the file does not exist.
pub fn cgroup_frozen(cgroups_path: &str) -> Option<bool> {
    let rel = cgroups_path.trim_start_matches('/');
    let v1_freezer =
        host_mounts().into_iter().find(|m| m.fstype == "cgroup" && m.super_options.iter().any(|o| o == "freezer"));
    if let Some(m) = v1_freezer {
        let s = fs::read_to_string(Path::new(&m.mount_point).join(rel).join("freezer.state")).ok()?;
        return Some(s.trim() == "FROZEN");
    }
    let events = fs::read_to_string(container_unified_dir(cgroups_path)?.join("cgroup.events")).ok()?;
    events.lines().find_map(|l| l.strip_prefix("frozen ")).map(|v| v.trim() == "1")
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
