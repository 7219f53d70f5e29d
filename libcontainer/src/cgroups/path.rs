//! Cgroups path rules: checking the requested path, reading the caller's cgroups
//! from `/proc/self/cgroup`, and mapping in-hierarchy paths to host directories.

use super::{CgroupDir, CgroupError, Hierarchy, Layout};
use std::path::{Component, Path, PathBuf};

/// Parent of the default cgroups path `/berth/<id>`.
pub(crate) const DEFAULT_PARENT: &str = "/berth";

/// A checked, normalized cgroups path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Requested {
    /// In-hierarchy path, starting with `/`, never `/` itself.
    Absolute(PathBuf),
    /// Relative to the caller's cgroup, non-empty, without `.` or `..`.
    Relative(PathBuf),
}

/// The cgroups path to use: the given one, or `/berth/<id>` when there is none (or
/// it is empty). `..` may only cancel a component it follows; a path that climbs
/// above its start, or that names the start itself (the hierarchy root, the caller's
/// own cgroup), is refused: destroying it would kill and remove the wrong processes.
pub(crate) fn requested(cgroups_path: Option<&Path>, id: &str) -> Result<Requested, CgroupError> {
    let given = match cgroups_path {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => {
            let p = Path::new(DEFAULT_PARENT).join(id);
            if id.is_empty() || id.contains('/') || id == "." || id == ".." {
                return Err(CgroupError::InvalidPath {
                    path: p,
                    reason: "the container id must be one non-empty path component",
                });
            }
            p
        }
    };
    let absolute = given.is_absolute();
    let invalid = |reason| CgroupError::InvalidPath { path: given.clone(), reason };
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in given.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(s) => parts.push(s),
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(invalid(if absolute {
                        "'..' climbs above the root of the cgroup hierarchy"
                    } else {
                        "'..' climbs above the caller's cgroup"
                    }));
                }
            }
            Component::Prefix(_) => return Err(invalid("path prefixes do not exist on Linux")),
        }
    }
    if parts.is_empty() {
        return Err(invalid(if absolute {
            "it names the root cgroup of the hierarchy"
        } else {
            "it names the caller's own cgroup"
        }));
    }
    let clean: PathBuf = parts.iter().collect();
    Ok(if absolute { Requested::Absolute(Path::new("/").join(clean)) } else { Requested::Relative(clean) })
}

/// One line of `/proc/self/cgroup`: `hierarchy-id:controllers:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SelfEntry {
    /// v1 controllers (`cpu`, `name=systemd`); empty for the v2 line `0::/path`.
    pub controllers: Vec<String>,
    /// The cgroup, relative to the hierarchy root (as seen from the cgroup namespace).
    pub path: PathBuf,
    /// Whether this is the v2 line.
    pub is_v2: bool,
}

/// Parse the text of `/proc/self/cgroup`.
pub(crate) fn parse_self_cgroup(text: &str) -> Result<Vec<SelfEntry>, CgroupError> {
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad =
            |reason| CgroupError::Parse { what: "/proc/self/cgroup", line: i + 1, text: line.to_string(), reason };
        let mut fields = line.splitn(3, ':');
        let (Some(id), Some(ctrls), Some(path)) = (fields.next(), fields.next(), fields.next()) else {
            return Err(bad("expected hierarchy-id:controllers:path"));
        };
        if !path.starts_with('/') {
            return Err(bad("the cgroup path is not absolute"));
        }
        entries.push(SelfEntry {
            controllers: ctrls.split(',').filter(|c| !c.is_empty()).map(str::to_string).collect(),
            path: PathBuf::from(path),
            is_v2: id == "0" && ctrls.is_empty(),
        });
    }
    Ok(entries)
}

/// The caller's cgroup in hierarchy `h`: the v2 line for v2; for v1 the line with the
/// same controller set (in any order), else one sharing a controller.
pub(crate) fn self_path<'a>(entries: &'a [SelfEntry], h: &Hierarchy) -> Option<&'a Path> {
    if h.is_v2 {
        return entries.iter().find(|e| e.is_v2).map(|e| e.path.as_path());
    }
    let v1 = || entries.iter().filter(|e| !e.is_v2);
    let same =
        v1().find(|e| e.controllers.len() == h.controllers.len() && e.controllers.iter().all(|c| h.has_controller(c)));
    same.or_else(|| v1().find(|e| e.controllers.iter().any(|c| h.has_controller(c)))).map(|e| e.path.as_path())
}

/// Resolve the requested path in every hierarchy the container joins. Returns the
/// in-hierarchy container path (for a relative path: as seen in the first hierarchy)
/// and the per-hierarchy directories.
///
/// An in-hierarchy path `P` maps to `mount_point/(P - root)` where `root` is the
/// mount's root (mountinfo field 4). An absolute path that is not below `root`
/// is placed below the mount as if `root` were `/` (what runc does: the container
/// nests inside the part of the hierarchy we can see). A relative path whose base
/// (the caller's cgroup) is not below `root` cannot be placed and is an error.
pub(crate) fn resolve(
    layout: &Layout,
    requested: &Requested,
    self_cgroup: &str,
) -> Result<(PathBuf, Vec<CgroupDir>), CgroupError> {
    let entries = match requested {
        Requested::Relative(_) => parse_self_cgroup(self_cgroup)?,
        Requested::Absolute(_) => Vec::new(),
    };
    let mut container_path = None;
    let mut dirs = Vec::new();
    for h in layout.members() {
        let (in_hierarchy, host) = match requested {
            Requested::Absolute(p) => {
                let host = match p.strip_prefix(&h.root) {
                    Ok(rest) => h.mount_point.join(rest),
                    Err(_) => h.mount_point.join(p.strip_prefix("/").unwrap_or(p)),
                };
                (p.clone(), host)
            }
            Requested::Relative(rel) => {
                let base = self_path(&entries, h).ok_or_else(|| CgroupError::NotInHierarchy {
                    path: rel.clone(),
                    controllers: h.describe(),
                    mount_point: h.mount_point.clone(),
                })?;
                let Ok(rest) = base.strip_prefix(&h.root) else {
                    return Err(CgroupError::NotVisible {
                        path: rel.clone(),
                        cgroup: base.to_path_buf(),
                        root: h.root.clone(),
                        mount_point: h.mount_point.clone(),
                    });
                };
                (base.join(rel), h.mount_point.join(rest.join(rel)))
            }
        };
        if host == h.mount_point {
            return Err(CgroupError::InvalidPath {
                path: in_hierarchy,
                reason: "it names the root of a cgroup mount (mountinfo root field)",
            });
        }
        container_path.get_or_insert(in_hierarchy);
        dirs.push(CgroupDir {
            controllers: h.controllers.clone(),
            is_v2: h.is_v2,
            mount_point: h.mount_point.clone(),
            path: host,
        });
    }
    let container_path = match (container_path, requested) {
        (Some(p), _) => p,
        (None, Requested::Absolute(p)) => p.clone(),
        (None, Requested::Relative(r)) => Path::new("/").join(r),
    };
    Ok((container_path, dirs))
}

#[cfg(test)]
mod tests {
    use super::super::layout::tests as samples;
    use super::super::{LayoutKind, Manager};
    use super::*;

    const HYBRID_SELF: &str = "\
9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/faac6605cb9216371c1f3b86d0a44984
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
";

    fn hybrid() -> Layout {
        Layout::from_mountinfo(samples::HYBRID).unwrap()
    }

    fn dir_of<'a>(m: &'a Manager, controller: &str) -> &'a Path {
        m.controller_dir(controller).unwrap()
    }

    #[test]
    fn default_path_everywhere() {
        let m = Manager::new(hybrid(), None, "abc", HYBRID_SELF).unwrap();
        assert_eq!(m.container_path(), Path::new("/berth/abc"));
        assert_eq!(m.kind(), LayoutKind::Hybrid);
        assert_eq!(m.dirs().len(), 10);
        assert_eq!(dir_of(&m, "memory"), Path::new("/sys/fs/cgroup/memory/berth/abc"));
        assert_eq!(dir_of(&m, "name=systemd"), Path::new("/sys/fs/cgroup/systemd/berth/abc"));
        assert_eq!(m.unified_dir().unwrap(), Path::new("/sys/fs/cgroup/unified/berth/abc"));
        // Empty path = default.
        let m2 = Manager::new(hybrid(), Some(Path::new("")), "abc", "").unwrap();
        assert_eq!(m2, m);
    }

    #[test]
    fn absolute_path() {
        let p = Path::new("/a/./b/../c/");
        let m = Manager::new(hybrid(), Some(p), "x", "garbage").unwrap();
        assert_eq!(m.container_path(), Path::new("/a/c"));
        assert_eq!(dir_of(&m, "cpu"), Path::new("/sys/fs/cgroup/cpu/a/c"));
        assert_eq!(dir_of(&m, "memory"), Path::new("/sys/fs/cgroup/memory/a/c"));
    }

    #[test]
    fn relative_path_follows_own_cgroup() {
        let m = Manager::new(hybrid(), Some(Path::new("ctr/x")), "id", HYBRID_SELF).unwrap();
        assert_eq!(
            dir_of(&m, "memory"),
            Path::new("/sys/fs/cgroup/memory/process_api/faac6605cb9216371c1f3b86d0a44984/ctr/x")
        );
        assert_eq!(dir_of(&m, "cpu"), Path::new("/sys/fs/cgroup/cpu/ctr/x"));
        assert_eq!(m.unified_dir().unwrap(), Path::new("/sys/fs/cgroup/unified/ctr/x"));
        // The first hierarchy joined is cpu.
        assert_eq!(m.container_path(), Path::new("/ctr/x"));
    }

    #[test]
    fn relative_path_comounted_v1_any_order() {
        let l = Layout::from_mountinfo(samples::PURE_V1).unwrap();
        let own = "\
11:cpuacct,cpu:/user.slice
10:name=systemd:/user.slice/session-1.scope
9:net_prio,net_cls:/
8:cpuset:/
7:memory:/user.slice
6:devices:/user.slice
5:pids:/user.slice/user-0.slice
";
        let m = Manager::new(l, Some(Path::new("c1")), "c1", own).unwrap();
        assert_eq!(dir_of(&m, "cpu"), Path::new("/sys/fs/cgroup/cpu,cpuacct/user.slice/c1"));
        assert_eq!(dir_of(&m, "name=systemd"), Path::new("/sys/fs/cgroup/systemd/user.slice/session-1.scope/c1"));
        assert_eq!(dir_of(&m, "net_cls"), Path::new("/sys/fs/cgroup/net_cls,net_prio/c1"));
        assert_eq!(m.container_path(), Path::new("/user.slice/session-1.scope/c1"));
        assert!(m.unified_dir().is_none());
    }

    #[test]
    fn pure_v2_paths() {
        let l = Layout::from_mountinfo(samples::PURE_V2).unwrap();
        let own = "0::/user.slice/user-1000.slice/session-2.scope\n";
        let m = Manager::new(l.clone(), None, "abc", own).unwrap();
        assert_eq!(m.dirs().len(), 1);
        assert_eq!(dir_of(&m, "memory"), Path::new("/sys/fs/cgroup/berth/abc"));
        let m = Manager::new(l, Some(Path::new("sub")), "abc", own).unwrap();
        assert_eq!(
            m.unified_dir().unwrap(),
            Path::new("/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope/sub")
        );
        assert_eq!(m.container_path(), Path::new("/user.slice/user-1000.slice/session-2.scope/sub"));
    }

    /// Inside a container whose cgroup (`/docker/abc`) is bind-mounted as the root.
    #[test]
    fn mountinfo_root_subpath() {
        let text = "\
100 99 0:29 /docker/abc /sys/fs/cgroup/cpu ro - cgroup cgroup rw,cpu
101 99 0:30 /docker/abc /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
";
        let l = Layout::from_mountinfo(text).unwrap();
        let own = "2:pids:/docker/abc\n1:cpu:/docker/abc/inner\n";
        let m = Manager::new(l.clone(), Some(Path::new("ctr")), "i", own).unwrap();
        assert_eq!(dir_of(&m, "pids"), Path::new("/sys/fs/cgroup/pids/ctr"));
        assert_eq!(dir_of(&m, "cpu"), Path::new("/sys/fs/cgroup/cpu/inner/ctr"));
        // Absolute below the root: the root part is what the mount already shows.
        let m = Manager::new(l.clone(), Some(Path::new("/docker/abc/x")), "i", "").unwrap();
        assert_eq!(dir_of(&m, "pids"), Path::new("/sys/fs/cgroup/pids/x"));
        // Absolute elsewhere: nested below the mount, like runc.
        let m = Manager::new(l.clone(), None, "i", "").unwrap();
        assert_eq!(dir_of(&m, "pids"), Path::new("/sys/fs/cgroup/pids/berth/i"));
        assert_eq!(m.container_path(), Path::new("/berth/i"));
        // Naming the mount's root itself is refused.
        let e = Manager::new(l.clone(), Some(Path::new("/docker/abc")), "i", "").unwrap_err();
        assert!(e.to_string().contains("root of a cgroup mount"), "{e}");
        // A caller outside the mount's root cannot use relative paths.
        let e = Manager::new(l, Some(Path::new("ctr")), "i", "2:pids:/\n1:cpu:/docker/abc\n").unwrap_err();
        assert!(matches!(e, CgroupError::NotVisible { .. }), "{e}");
        assert!(e.to_string().contains("\"/docker/abc\""), "{e}");
    }

    #[test]
    fn escaping_paths_are_refused() {
        for (p, what) in [
            ("/../x", "climbs above the root"),
            ("/a/../../x", "climbs above the root"),
            ("../x", "climbs above the caller's cgroup"),
            ("a/../../b", "climbs above the caller's cgroup"),
            ("/", "names the root cgroup"),
            ("/a/..", "names the root cgroup"),
            (".", "names the caller's own cgroup"),
            ("a/./..", "names the caller's own cgroup"),
        ] {
            let e = Manager::new(hybrid(), Some(Path::new(p)), "id", HYBRID_SELF).unwrap_err();
            let msg = e.to_string();
            assert!(msg.starts_with(&format!("invalid cgroups path {p:?}")), "{msg}");
            assert!(msg.contains(what), "{msg}");
        }
        for id in ["", "..", ".", "a/b"] {
            let e = Manager::new(hybrid(), None, id, "").unwrap_err();
            assert!(e.to_string().contains("container id"), "{e}");
        }
    }

    #[test]
    fn missing_self_entries() {
        let e = Manager::new(hybrid(), Some(Path::new("r")), "i", "1:cpu:/\n").unwrap_err();
        assert!(matches!(e, CgroupError::NotInHierarchy { .. }), "{e}");
        assert!(e.to_string().contains("cpuacct hierarchy at \"/sys/fs/cgroup/cpuacct\""), "{e}");
        let e = Manager::new(hybrid(), Some(Path::new("r")), "i", "1:cpu\n").unwrap_err();
        assert_eq!(e.to_string(), "parse /proc/self/cgroup line 1: expected hierarchy-id:controllers:path: \"1:cpu\"");
        let e = Manager::new(hybrid(), Some(Path::new("r")), "i", "1:cpu:x\n").unwrap_err();
        assert!(e.to_string().contains("not absolute"), "{e}");
    }

    #[test]
    fn self_cgroup_parse() {
        let e = parse_self_cgroup("12:cpu,cpuacct:/a:b\n0::/x y\n").unwrap();
        assert_eq!(e[0].controllers, ["cpu", "cpuacct"]);
        assert_eq!(e[0].path, Path::new("/a:b"));
        assert!(!e[0].is_v2 && e[1].is_v2);
        assert_eq!(e[1].path, Path::new("/x y"));
    }

    #[test]
    fn manager_serde_round_trip() {
        let m = Manager::new(hybrid(), Some(Path::new("r/s")), "i", HYBRID_SELF).unwrap();
        let json = serde_json::to_string(&m).unwrap();
        let back: Manager = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.dirs().len(), 10);
    }
}
