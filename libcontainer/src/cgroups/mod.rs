//! Cgroup membership for containers: layout detection (v1, v2, hybrid), creating the
//! container's cgroup, placing processes in it, listing and killing them, and removal.
//!
//! INTERFACE CONTRACT (used by the rest of libcontainer; keep these signatures):
//!
//! ```ignore
//! // Pure: parse /proc/self/mountinfo text into the host's cgroup layout.
//! pub fn Layout::from_mountinfo(mountinfo: &str) -> Result<Layout, CgroupError>;
//! pub fn Layout::detect() -> Result<Layout, CgroupError>;     // reads /proc/self/mountinfo
//! pub fn Layout::hierarchies(&self) -> &[Hierarchy];          // v1 and v2 mounts found
//! pub fn Layout::kind(&self) -> LayoutKind;                   // V1 | V2 | Hybrid
//!
//! // The container's cgroup, given the layout, the (validated) cgroupsPath from config
//! // (None = default "/berth/<id>") and the calling process's /proc/self/cgroup text
//! // (relative paths are relative to the caller's own cgroup, as runc does).
//! pub fn Manager::new(layout: Layout, cgroups_path: Option<&Path>, id: &str,
//!                     self_cgroup: &str) -> Result<Manager, CgroupError>;
//! pub fn Manager::create(&self) -> Result<(), CgroupError>;               // mkdir -p everywhere
//! pub fn Manager::v2_dir(&self) -> Option<OwnedFd>;  // O_PATH|O_DIRECTORY fd for CLONE_INTO_CGROUP (pure v2 only)
//! pub fn Manager::add_task(&self, pid: i32) -> Result<(), CgroupError>;   // every hierarchy
//! pub fn Manager::pids(&self) -> Result<Vec<i32>, CgroupError>;
//! pub fn Manager::kill_all(&self, signal: i32) -> Result<(), CgroupError>;
//! pub fn Manager::destroy(&self) -> Result<(), CgroupError>; // kill what is left, rmdir; idempotent
//! pub fn Manager::container_path(&self) -> &Path;    // e.g. "/berth/abc" (absolute, in-hierarchy)
//! // Serializable so the state file can reload the same manager for kill/delete:
//! // Manager: Serialize + Deserialize.
//!
//! // linux.resources (resources/mod.rs): write them (create, update), read files back.
//! pub fn Manager::apply(&self, r: &LinuxResources) -> Result<(), CgroupError>;
//! pub fn Manager::apply_device_rules(&self, rules: &[LinuxDeviceCgroup]) -> Result<(), CgroupError>; // v1
//! pub fn Manager::read_file(&self, controller: &str, file: &str) -> Result<String, CgroupError>;
//! ```
//!
//! # Layouts
//!
//! [`Layout`] is parsed from `/proc/self/mountinfo` (fstype `cgroup` for v1,
//! `cgroup2` for v2); nothing assumes `/sys/fs/cgroup`, every directory comes from
//! the mount points found, so tests can point a layout at temporary directories.
//!
//! - **V2** ([`LayoutKind::V2`]): one unified hierarchy, usually on `/sys/fs/cgroup`.
//!   The container's cgroup is one directory there.
//! - **V1**: one hierarchy per controller or group of co-mounted controllers
//!   (`/sys/fs/cgroup/cpu,cpuacct`), plus named ones such as `name=systemd`. The
//!   container gets a directory in every v1 hierarchy (runc joins every one it knows,
//!   `name=systemd` included).
//! - **Hybrid**: v1 hierarchies hold the controllers, and a controller-less cgroup2
//!   (usually `/sys/fs/cgroup/unified`, systemd's process tracking) is mounted too.
//!   Membership uses every v1 hierarchy *and* the cgroup2 one, at the same path.
//!   This is what runc does: its v1 manager adds the unified hierarchy as one more
//!   subsystem when it detects hybrid mode (`IsCgroup2HybridMode`), and a failure to
//!   create or join it is as fatal as for any v1 controller (runc only forgives
//!   permission errors for rootless containers without an explicit path; berth is
//!   rootful, so it forgives nothing). The reason to join it: tools that look at
//!   the v2 tree (systemd, `systemd-cgls`, later `berth exec`) find the container's
//!   processes together, not in the caller's cgroup. On hybrid [`Manager::v2_dir`]
//!   is `None`: `CLONE_INTO_CGROUP` would only cover the v2 tree, so the caller must
//!   use [`Manager::add_task`].
//!
//! # Cgroups path
//!
//! - none (or empty): `/berth/<id>`; the id must be one path component.
//! - absolute, e.g. `/a/b`: a path in each hierarchy. It maps to
//!   `mount_point/(path - root)`, where `root` is the mountinfo root field (the part
//!   of the hierarchy the mount shows, `/` except when a parent cgroup was
//!   bind-mounted in, as in a container). A path not below `root` goes below the
//!   mount as if `root` were `/` (runc's behaviour: nest inside what we can see).
//! - relative, e.g. `a/b`: below the caller's own cgroup in each hierarchy, read
//!   from `/proc/self/cgroup` (`id:controllers:path`, `0::/path` for v2), minus the
//!   mount's root. So the directories can differ per hierarchy.
//! - `..` may cancel a preceding component; a path that climbs above its start, or
//!   that names its start (the hierarchy root, the caller's own cgroup, a mount's
//!   root), is refused: [`Manager::destroy`] would kill everything in it.
//!
//! The resolved per-hierarchy directories are stored in the [`Manager`], which is
//! serializable: `kill` and `delete` reload it from the state file and act on the
//! same directories even if the mounts or the caller's cgroup changed since.

mod devices_bpf;
mod error;
pub mod freezer;
mod fs;
mod layout;
mod path;
mod resources;
pub mod stats;
mod v1;
mod v2;

#[cfg(test)]
mod host_tests;
#[cfg(test)]
mod tests;

pub use error::CgroupError;
pub use layout::{Hierarchy, Layout, LayoutKind};
pub use resources::{blkio_weight_to_io_weight, memory_swap_to_v2, shares_to_weight};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long [`Manager::destroy`] waits for the cgroup's processes to die.
pub const DESTROY_TIMEOUT: Duration = Duration::from_secs(5);

/// Read `/proc/self/cgroup`, the `self_cgroup` argument of [`Manager::new`].
pub fn read_self_cgroup() -> Result<String, CgroupError> {
    let path = "/proc/self/cgroup";
    std::fs::read_to_string(path).map_err(|source| CgroupError::Read { path: path.into(), source })
}

/// The container's directory in one hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupDir {
    /// The hierarchy's v1 controllers (`["cpu", "cpuacct"]`, `["name=systemd"]`);
    /// empty for v2.
    pub controllers: Vec<String>,
    /// Whether this is the cgroup v2 hierarchy.
    pub is_v2: bool,
    /// Where the hierarchy is mounted; directories are created below it, never it.
    pub mount_point: PathBuf,
    /// The container's cgroup directory on the host,
    /// e.g. `/sys/fs/cgroup/memory/berth/abc`.
    pub path: PathBuf,
}

/// The cgroup of one container, in every hierarchy it joins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manager {
    kind: LayoutKind,
    container_path: PathBuf,
    dirs: Vec<CgroupDir>,
}

impl Manager {
    /// Resolve the container's cgroup: `cgroups_path` from the config (`None` for
    /// `/berth/<id>`), `self_cgroup` the text of `/proc/self/cgroup` (only used for
    /// relative paths). Nothing is created yet; see the module docs for the rules.
    pub fn new(
        layout: Layout,
        cgroups_path: Option<&Path>,
        id: &str,
        self_cgroup: &str,
    ) -> Result<Manager, CgroupError> {
        let requested = path::requested(cgroups_path, id)?;
        let (container_path, dirs) = path::resolve(&layout, &requested, self_cgroup)?;
        Ok(Manager { kind: layout.kind(), container_path, dirs })
    }

    /// The container's cgroup path inside the hierarchies, e.g. `/berth/abc`. For a
    /// relative cgroups path this is the path in the first hierarchy joined.
    pub fn container_path(&self) -> &Path {
        &self.container_path
    }

    /// The layout kind the manager was made for.
    pub fn kind(&self) -> LayoutKind {
        self.kind
    }

    /// The container's directory in every hierarchy it joins.
    pub fn dirs(&self) -> &[CgroupDir] {
        &self.dirs
    }

    /// The directory holding `controller`'s files (`"memory"`, `"pids"`): on V2 the
    /// unified directory, otherwise the v1 hierarchy carrying the controller.
    pub fn controller_dir(&self, controller: &str) -> Option<&Path> {
        let found = match self.kind {
            LayoutKind::V2 => self.dirs.iter().find(|d| d.is_v2),
            _ => self.dirs.iter().find(|d| !d.is_v2 && d.controllers.iter().any(|c| c == controller)),
        };
        found.map(|d| d.path.as_path())
    }

    /// The container's directory in the cgroup v2 hierarchy (on V2 and Hybrid).
    pub fn unified_dir(&self) -> Option<&Path> {
        self.dirs.iter().find(|d| d.is_v2).map(|d| d.path.as_path())
    }

    /// The directories, after checking that each is strictly below its mount point
    /// (a state file edited by hand must not make `destroy` kill a whole hierarchy).
    fn checked_dirs(&self) -> Result<&[CgroupDir], CgroupError> {
        for d in &self.dirs {
            if d.path == d.mount_point || !d.path.starts_with(&d.mount_point) {
                return Err(CgroupError::InvalidPath {
                    path: d.path.clone(),
                    reason: "it is not below the mount point of its hierarchy",
                });
            }
        }
        Ok(&self.dirs)
    }

    /// Create the container's directory (and missing parents) in every hierarchy.
    /// Existing directories are fine. In the v1 cpuset hierarchy, empty
    /// `cpuset.cpus`/`cpuset.mems` are filled from the parent. On v2 this only
    /// creates directories (enabling controllers for children is resource work).
    pub fn create(&self) -> Result<(), CgroupError> {
        for d in self.checked_dirs()? {
            if !d.is_v2 && d.controllers.iter().any(|c| c == "cpuset") {
                v1::create_cpuset(&d.mount_point, &d.path)?;
            } else {
                fs::mkdir_all(&d.mount_point, &d.path)?;
            }
            if d.is_v2 && self.kind == LayoutKind::V2 {
                v2::enable_available(&d.mount_point, &d.path);
            }
        }
        tracing::debug!(path = ?self.container_path, "cgroup created");
        Ok(())
    }

    /// On a pure V2 layout, an `O_PATH | O_DIRECTORY | O_CLOEXEC` fd of the
    /// container's cgroup, for `clone3(CLONE_INTO_CGROUP)`. `None` on V1 and Hybrid,
    /// or when it cannot be opened (logged; the caller then uses
    /// [`Manager::add_task`]). See [`Manager::try_v2_dir`] for the error.
    pub fn v2_dir(&self) -> Option<OwnedFd> {
        match self.try_v2_dir() {
            Ok(fd) => fd,
            Err(e) => {
                tracing::warn!("{e}");
                None
            }
        }
    }

    /// Like [`Manager::v2_dir`], but an open failure is an error.
    pub fn try_v2_dir(&self) -> Result<Option<OwnedFd>, CgroupError> {
        if self.kind != LayoutKind::V2 {
            return Ok(None);
        }
        self.unified_dir().map(v2::open_dir).transpose()
    }

    /// Move process `pid` (and its threads) into the container's cgroup in every
    /// hierarchy. EINVAL (the task is still being forked) is retried briefly.
    pub fn add_task(&self, pid: i32) -> Result<(), CgroupError> {
        for d in self.checked_dirs()? {
            let file = d.path.join(fs::PROCS);
            if pid <= 0 {
                return Err(CgroupError::InvalidPid { pid, path: file });
            }
            let value = pid.to_string();
            let mut tries = 0;
            loop {
                match fs::write(&file, &value) {
                    Err(e) if e.errno() == Some(Errno::EINVAL) && tries < 5 => {
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(30));
                    }
                    other => break other?,
                }
            }
        }
        tracing::debug!(pid, path = ?self.container_path, "process added to cgroup");
        Ok(())
    }

    /// The container's existing sub-cgroups for `exec --cgroup`, as runc takes them:
    /// `subs` maps a v1 controller (`"memory"`) to a path below the container's cgroup
    /// in the hierarchy carrying it; the key `""` applies to every other hierarchy (and
    /// is the only one cgroup v2 knows). Each path must exist and stay inside.
    pub fn sub_cgroups(&self, subs: &std::collections::BTreeMap<String, PathBuf>) -> Result<Manager, CgroupError> {
        let mut m = self.clone();
        for (ctrl, p) in subs {
            let known =
                ctrl.is_empty() || self.dirs.iter().any(|d| !d.is_v2 && d.controllers.iter().any(|c| c == ctrl));
            if !known {
                return Err(CgroupError::InvalidPath {
                    path: p.clone(),
                    reason: "no cgroup v1 hierarchy of the container carries that controller",
                });
            }
            let clean =
                p.components().all(|c| matches!(c, std::path::Component::Normal(_) | std::path::Component::RootDir));
            if !clean || p.as_os_str().is_empty() {
                return Err(CgroupError::InvalidPath {
                    path: p.clone(),
                    reason: "a sub-cgroup must be a path inside the container's cgroup",
                });
            }
        }
        for d in &mut m.dirs {
            let sub = d.controllers.iter().find_map(|c| subs.get(c)).or_else(|| subs.get(""));
            let Some(sub) = sub else { continue };
            let path = d.path.join(sub.strip_prefix("/").unwrap_or(sub));
            if !path.is_dir() {
                return Err(CgroupError::InvalidPath { path, reason: "the sub-cgroup does not exist" });
            }
            d.path = path;
        }
        Ok(m)
    }

    /// The processes in the container's cgroup and its child cgroups, in any
    /// hierarchy (a union, so a process that joined only some is not missed),
    /// sorted and without duplicates. Missing directories contribute nothing.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        Ok(self.pid_map()?.into_keys().collect())
    }

    fn pid_map(&self) -> Result<BTreeMap<i32, PathBuf>, CgroupError> {
        let mut out = BTreeMap::new();
        for d in self.checked_dirs()? {
            fs::collect_pids(&d.path, &mut out)?;
        }
        Ok(out)
    }

    /// Send `signal` (a number, realtime signals included; 0 only checks) to every
    /// process of the cgroup. For SIGKILL, `cgroup.kill` is used where the v2
    /// directory has one (on V2 that is enough; on Hybrid the v1 lists are still
    /// walked). Processes that exit meanwhile (ESRCH) are ignored; other failures
    /// are reported after every process was tried.
    pub fn kill_all(&self, signal: i32) -> Result<(), CgroupError> {
        let dirs = self.checked_dirs()?;
        if !(0..=libc::SIGRTMAX()).contains(&signal) {
            return Err(CgroupError::InvalidSignal { signal, path: self.container_path.clone() });
        }
        if signal == libc::SIGKILL {
            let mut killed = false;
            for d in dirs.iter().filter(|d| d.is_v2) {
                killed |= v2::kill(&d.path)?;
            }
            if killed && self.kind == LayoutKind::V2 {
                return Ok(());
            }
        }
        let mut first_err = None;
        for (pid, dir) in self.pid_map()? {
            // read_procs never yields pid <= 0; kill() would broadcast to a group.
            if pid <= 0 {
                continue;
            }
            // SAFETY: kill(2) takes two integers and touches no memory of ours; pid
            // is positive, so it names one process (nix's `kill` cannot take
            // realtime signals, which `berth kill` must be able to send).
            let ret = unsafe { libc::kill(pid, signal) };
            match Errno::result(ret) {
                Ok(_) | Err(Errno::ESRCH) => {}
                Err(errno) => {
                    first_err.get_or_insert(CgroupError::Kill { pid, signal, path: dir, source: error::io_err(errno) });
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Thaw the cgroup if frozen: v1 `freezer.state`, v2 `cgroup.freeze`.
    pub(crate) fn thaw(&self) -> Result<(), CgroupError> {
        for d in &self.dirs {
            let thawed = if d.is_v2 {
                v2::thaw(&d.path)?
            } else if d.controllers.iter().any(|c| c == "freezer") {
                v1::thaw(&d.path)?
            } else {
                false
            };
            if thawed {
                tracing::debug!(dir = ?d.path, "thawed cgroup to let killed processes die");
            }
        }
        Ok(())
    }

    /// Remove the container's cgroup: SIGKILL what is left, thaw it if frozen (so
    /// the signal is acted on), wait up to [`DESTROY_TIMEOUT`] for it to empty, then
    /// rmdir the container's directory (child cgroups first) in every hierarchy.
    /// Parents (such as `/berth`) stay. Idempotent: missing directories are fine.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        self.destroy_timeout(DESTROY_TIMEOUT)
    }

    /// [`Manager::destroy`] with a chosen wait for the processes to die.
    pub fn destroy_timeout(&self, timeout: Duration) -> Result<(), CgroupError> {
        let dirs = self.checked_dirs()?;
        if !dirs.iter().any(|d| d.path.exists()) {
            return Ok(());
        }
        let start = Instant::now();
        let mut delay = Duration::from_millis(2);
        loop {
            let pids = self.pids()?;
            if pids.is_empty() {
                break;
            }
            if start.elapsed() >= timeout {
                return Err(CgroupError::StillRunning {
                    path: dirs.first().map(|d| d.path.clone()).unwrap_or_default(),
                    pids,
                    waited_ms: start.elapsed().as_millis() as u64,
                });
            }
            // Kill again every round: a process may have forked before it died.
            if let Err(e) = self.kill_all(libc::SIGKILL) {
                tracing::warn!("{e}");
            }
            self.thaw()?;
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(100));
        }
        let mut first_err = None;
        for d in dirs {
            if let Err(e) = fs::remove_tree(&d.path) {
                first_err.get_or_insert(e);
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => {
                tracing::debug!(path = ?self.container_path, "cgroup removed");
                Ok(())
            }
        }
    }
}
