//! The host's cgroup layout, parsed from `/proc/self/mountinfo`.

use super::CgroupError;
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// Which cgroup versions the host uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LayoutKind {
    /// Only cgroup v1 hierarchies (one per controller or group of co-mounted controllers).
    V1,
    /// Only the cgroup v2 unified hierarchy (typically mounted on `/sys/fs/cgroup`).
    V2,
    /// cgroup v1 hierarchies hold the controllers, and a controller-less cgroup2
    /// (typically on `/sys/fs/cgroup/unified`) tracks processes.
    Hybrid,
}

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hierarchy {
    /// Where the hierarchy is mounted, e.g. `/sys/fs/cgroup/memory`.
    pub mount_point: PathBuf,
    /// The part of the hierarchy the mount shows (mountinfo field 4): `/` normally, a
    /// subpath such as `/docker/<id>` when a parent's cgroup was bind-mounted in.
    pub root: PathBuf,
    /// v1: the controllers of the hierarchy, including named hierarchies
    /// (`name=systemd`), in the order the super options list them. v2: empty.
    pub controllers: Vec<String>,
    /// Whether this is the cgroup v2 (unified) hierarchy.
    pub is_v2: bool,
}

impl Hierarchy {
    /// A cgroup v1 hierarchy with `controllers` (e.g. `["cpu", "cpuacct"]`).
    pub fn v1(mount_point: impl Into<PathBuf>, root: impl Into<PathBuf>, controllers: &[&str]) -> Self {
        Hierarchy {
            mount_point: mount_point.into(),
            root: root.into(),
            controllers: controllers.iter().map(|c| c.to_string()).collect(),
            is_v2: false,
        }
    }

    /// The cgroup v2 hierarchy.
    pub fn v2(mount_point: impl Into<PathBuf>, root: impl Into<PathBuf>) -> Self {
        Hierarchy { mount_point: mount_point.into(), root: root.into(), controllers: Vec::new(), is_v2: true }
    }

    /// Whether this v1 hierarchy carries `controller` (`"cpu"`, `"name=systemd"`).
    pub fn has_controller(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }

    /// The controllers for messages: `cpu,cpuacct`, or `cgroup2`.
    pub fn describe(&self) -> String {
        if self.is_v2 {
            "cgroup2".to_string()
        } else {
            self.controllers.join(",")
        }
    }

    /// A v1 hierarchy with only named pseudo-controllers (`name=systemd`).
    fn named_only(&self) -> bool {
        !self.is_v2 && self.controllers.iter().all(|c| c.starts_with("name="))
    }

    /// Whether `other` is the same hierarchy (a second mount of it).
    fn same_hierarchy(&self, other: &Hierarchy) -> bool {
        if self.is_v2 || other.is_v2 {
            return self.is_v2 && other.is_v2;
        }
        let mut a: Vec<&String> = self.controllers.iter().collect();
        let mut b: Vec<&String> = other.controllers.iter().collect();
        a.sort();
        b.sort();
        a == b
    }
}

/// The cgroup hierarchies mounted on the host and what kind of layout they form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    hierarchies: Vec<Hierarchy>,
    kind: LayoutKind,
}

impl Layout {
    /// Parse the text of `/proc/self/mountinfo`. Pure: nothing is read from the file
    /// system, so mount points may be anywhere (tests use temporary directories).
    pub fn from_mountinfo(mountinfo: &str) -> Result<Layout, CgroupError> {
        let mut found = Vec::new();
        for (i, line) in mountinfo.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |reason| CgroupError::Parse { what: "mountinfo", line: i + 1, text: line.to_string(), reason };
            if let Some(h) = parse_line(line).map_err(bad)? {
                found.push(h);
            }
        }
        Layout::from_hierarchies(found)
    }

    /// Read `/proc/self/mountinfo` and parse it.
    pub fn detect() -> Result<Layout, CgroupError> {
        let path = "/proc/self/mountinfo";
        let text = std::fs::read_to_string(path).map_err(|source| CgroupError::Read { path: path.into(), source })?;
        Layout::from_mountinfo(&text)
    }

    /// Build a layout from hierarchies found some other way. A hierarchy mounted more
    /// than once is kept at its first mount.
    pub fn from_hierarchies(hierarchies: Vec<Hierarchy>) -> Result<Layout, CgroupError> {
        let mut kept: Vec<Hierarchy> = Vec::new();
        for h in hierarchies {
            if !kept.iter().any(|k| k.same_hierarchy(&h)) {
                kept.push(h);
            }
        }
        let has_v2 = kept.iter().any(|h| h.is_v2);
        let has_v1_controllers = kept.iter().any(|h| !h.is_v2 && !h.named_only());
        let has_v1 = kept.iter().any(|h| !h.is_v2);
        let kind = match (has_v1_controllers, has_v2) {
            (true, true) => LayoutKind::Hybrid,
            (true, false) => LayoutKind::V1,
            (false, true) => LayoutKind::V2,
            (false, false) if has_v1 => LayoutKind::V1,
            (false, false) => return Err(CgroupError::NoCgroupMounts),
        };
        Ok(Layout { hierarchies: kept, kind })
    }

    /// All hierarchies found (v1 and v2), in mount order.
    pub fn hierarchies(&self) -> &[Hierarchy] {
        &self.hierarchies
    }

    /// V1, V2 or Hybrid.
    pub fn kind(&self) -> LayoutKind {
        self.kind
    }

    /// The cgroup v2 hierarchy, if mounted (the whole story on V2, the
    /// process-tracking one on Hybrid).
    pub fn unified(&self) -> Option<&Hierarchy> {
        self.hierarchies.iter().find(|h| h.is_v2)
    }

    /// The v1 hierarchy carrying `controller`.
    pub fn v1(&self, controller: &str) -> Option<&Hierarchy> {
        self.hierarchies.iter().find(|h| !h.is_v2 && h.has_controller(controller))
    }

    /// The hierarchies a container joins: V2: the unified one; V1: every v1 one;
    /// Hybrid: every v1 one, then the unified one. (On V2, named v1 hierarchies such
    /// as a leftover `name=systemd` are ignored, as runc does.)
    pub fn members(&self) -> Vec<&Hierarchy> {
        let v1 = self.hierarchies.iter().filter(|h| !h.is_v2);
        match self.kind {
            LayoutKind::V2 => self.unified().into_iter().collect(),
            LayoutKind::V1 => v1.collect(),
            LayoutKind::Hybrid => v1.chain(self.unified()).collect(),
        }
    }
}

/// Super options of a v1 cgroup mount that are not controllers (see the kernel's
/// `cgroup1_show_options`), besides `release_agent=...`.
const V1_NON_CONTROLLER_OPTIONS: &[&str] =
    &["rw", "ro", "none", "all", "noprefix", "xattr", "clone_children", "cpuset_v2_mode", "favordynmods"];

/// One mountinfo line: `Some` for a cgroup or cgroup2 mount, `None` for others.
///
/// `36 35 98:0 /root /mnt/point rw,relatime shared:1 - cgroup cgroup rw,cpu,cpuacct`
fn parse_line(line: &str) -> Result<Option<Hierarchy>, &'static str> {
    let (left, right) = line.split_once(" - ").ok_or("missing the ' - ' separator")?;
    let left: Vec<&str> = left.split(' ').collect();
    let right: Vec<&str> = right.split(' ').collect();
    if left.len() < 6 {
        return Err("fewer than 6 fields before the separator");
    }
    if right.len() < 3 {
        return Err("fewer than 3 fields after the separator");
    }
    let (root, mount_point) = (unescape(left[3]), unescape(left[4]));
    match right[0] {
        "cgroup2" => Ok(Some(Hierarchy::v2(mount_point, root))),
        "cgroup" => {
            let controllers = right[2]
                .split(',')
                .filter(|o| !o.is_empty())
                .filter(|o| o.starts_with("name=") || !o.contains('='))
                .filter(|o| !V1_NON_CONTROLLER_OPTIONS.contains(o))
                .map(str::to_string)
                .collect();
            Ok(Some(Hierarchy { mount_point, root, controllers, is_v2: false }))
        }
        _ => Ok(None),
    }
}

/// Undo mountinfo's octal escapes (`\040` space, `\011` tab, `\012` newline,
/// `\134` backslash).
fn unescape(field: &str) -> PathBuf {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && is_octal(&b[i + 1..i + 4]) {
            let v = (b[i + 1] - b'0') as u32 * 64 + (b[i + 2] - b'0') as u32 * 8 + (b[i + 3] - b'0') as u32;
            if let Ok(byte) = u8::try_from(v) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    PathBuf::from(OsString::from_vec(out))
}

fn is_octal(s: &[u8]) -> bool {
    s.len() == 3 && s.iter().all(|c| (b'0'..=b'7').contains(c))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::Path;

    /// This machine (hybrid, one v1 hierarchy per controller, empty cgroup2).
    pub(crate) const HYBRID: &str = "\
22 1 0:20 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    /// Fedora-style pure v2.
    pub(crate) const PURE_V2: &str = "\
22 95 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw,seclabel
26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,seclabel,nsdelegate,memory_recursiveprot
95 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/root rw
";

    /// CentOS 7-style pure v1 with co-mounted controllers and systemd's options.
    pub(crate) const PURE_V1: &str = "\
25 18 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:22 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
28 25 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,cpu,cpuacct
29 25 0:25 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,net_cls,net_prio
30 25 0:26 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpuset,clone_children
31 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 master:3 - cgroup cgroup rw,memory
32 25 0:28 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,devices
33 25 0:29 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,pids
";

    fn mounts(l: &Layout) -> Vec<&str> {
        l.hierarchies().iter().map(|h| h.mount_point.to_str().unwrap()).collect()
    }

    #[test]
    fn hybrid_machine() {
        let l = Layout::from_mountinfo(HYBRID).unwrap();
        assert_eq!(l.kind(), LayoutKind::Hybrid);
        assert_eq!(l.hierarchies().len(), 10);
        let names = ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"];
        for name in names {
            let h = l.v1(name).unwrap();
            assert_eq!(h.controllers, vec![name.to_string()]);
            assert_eq!(h.mount_point, Path::new("/sys/fs/cgroup").join(name));
            assert_eq!(h.root, Path::new("/"));
        }
        let sd = l.v1("name=systemd").unwrap();
        assert_eq!(sd.mount_point, Path::new("/sys/fs/cgroup/systemd"));
        let u = l.unified().unwrap();
        assert!(u.is_v2 && u.controllers.is_empty());
        assert_eq!(u.mount_point, Path::new("/sys/fs/cgroup/unified"));
        let members = l.members();
        assert_eq!(members.len(), 10);
        assert!(members.last().unwrap().is_v2);
    }

    #[test]
    fn pure_v2() {
        let l = Layout::from_mountinfo(PURE_V2).unwrap();
        assert_eq!(l.kind(), LayoutKind::V2);
        assert_eq!(mounts(&l), ["/sys/fs/cgroup"]);
        assert_eq!(l.members().len(), 1);
    }

    #[test]
    fn pure_v1_comounted() {
        let l = Layout::from_mountinfo(PURE_V1).unwrap();
        assert_eq!(l.kind(), LayoutKind::V1);
        assert!(l.unified().is_none());
        let cpu = l.v1("cpu").unwrap();
        assert_eq!(cpu.controllers, ["cpu", "cpuacct"]);
        assert_eq!(cpu.mount_point, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(l.v1("cpuacct").unwrap(), cpu);
        // Mount options (xattr, release_agent=, clone_children) are not controllers.
        assert_eq!(l.v1("name=systemd").unwrap().controllers, ["name=systemd"]);
        assert_eq!(l.v1("cpuset").unwrap().controllers, ["cpuset"]);
        assert_eq!(l.v1("net_prio").unwrap().controllers, ["net_cls", "net_prio"]);
        assert_eq!(l.hierarchies().len(), 7);
        assert_eq!(l.members().len(), 7);
    }

    #[test]
    fn escaped_names_and_roots() {
        let text = "\
40 31 0:37 /a\\040b /tmp/my\\040cgroups/cpu\\011x rw - cgroup cg\\040src rw,cpu
41 31 0:38 /docker/abc /tmp/back\\134slash rw shared:1 master:2 - cgroup2 cgroup2 rw
";
        let l = Layout::from_mountinfo(text).unwrap();
        let h = &l.hierarchies()[0];
        assert_eq!(h.mount_point, Path::new("/tmp/my cgroups/cpu\tx"));
        assert_eq!(h.root, Path::new("/a b"));
        let u = l.unified().unwrap();
        assert_eq!(u.mount_point, Path::new("/tmp/back\\slash"));
        assert_eq!(u.root, Path::new("/docker/abc"));
        assert_eq!(l.kind(), LayoutKind::Hybrid);
        // Not an escape: left as is.
        assert_eq!(unescape("a\\9b\\"), Path::new("a\\9b\\"));
    }

    #[test]
    fn same_hierarchy_twice_keeps_first() {
        let text = "\
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
50 31 0:29 /sub /mnt/again rw - cgroup cgroup rw,cpuacct,cpu
51 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
52 31 0:38 / /mnt/unified2 rw - cgroup2 cgroup2 rw
";
        let l = Layout::from_mountinfo(text).unwrap();
        assert_eq!(mounts(&l), ["/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/unified"]);
    }

    #[test]
    fn v2_with_named_v1_only_is_v2() {
        let text = "\
26 22 0:23 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate
27 26 0:24 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
";
        let l = Layout::from_mountinfo(text).unwrap();
        assert_eq!(l.kind(), LayoutKind::V2);
        assert_eq!(l.hierarchies().len(), 2);
        assert_eq!(l.members().len(), 1);
        assert!(l.members()[0].is_v2);
    }

    #[test]
    fn errors() {
        let e = Layout::from_mountinfo("22 1 0:20 / /sys rw - sysfs sysfs rw\n").unwrap_err();
        assert!(matches!(e, CgroupError::NoCgroupMounts), "{e}");
        assert!(e.to_string().contains("no cgroup or cgroup2 mount"));
        let e = Layout::from_mountinfo("\n22 1 0:20 / /sys rw sysfs sysfs rw\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "parse mountinfo line 2: missing the ' - ' separator: \"22 1 0:20 / /sys rw sysfs sysfs rw\""
        );
        let e = Layout::from_mountinfo("22 1 / /sys - cgroup2 cgroup2 rw").unwrap_err();
        assert!(e.to_string().contains("fewer than 6 fields"), "{e}");
        let e = Layout::from_mountinfo("22 1 0:3 / /sys rw - cgroup2 x").unwrap_err();
        assert!(e.to_string().contains("fewer than 3 fields"), "{e}");
    }

    #[test]
    fn serde_round_trip() {
        let l = Layout::from_mountinfo(HYBRID).unwrap();
        let json = serde_json::to_string(&l).unwrap();
        assert_eq!(serde_json::from_str::<Layout>(&json).unwrap(), l);
    }
}
