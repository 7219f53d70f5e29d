//! The single error type of the cgroups module.
//!
//! Every variant says what was attempted and on which path, and when the kernel
//! refused, the errno (printed as its description, e.g. `No such process`) and a
//! hint when the errno has a usual cause.

use nix::errno::Errno;
use std::io;
use std::path::PathBuf;

/// A cgroup operation that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CgroupError {
    /// Reading a cgroup file failed.
    #[error("read {path:?}: {}", describe(.source, generic_hint))]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// Writing a value to a cgroup file failed.
    #[error("write {value:?} to {path:?}: {}", describe_write(.source, .path))]
    Write {
        /// What was written.
        value: String,
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// Opening a cgroup directory failed.
    #[error("open {path:?}: {}", describe(.source, generic_hint))]
    Open {
        /// The directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// Creating a cgroup directory failed.
    #[error("mkdir {path:?}: {}", describe(.source, mkdir_hint))]
    Mkdir {
        /// The directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// Listing a cgroup directory (to find child cgroups) failed.
    #[error("list {path:?}: {}", describe(.source, generic_hint))]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// Removing a cgroup directory failed.
    #[error("rmdir {path:?}: {}", describe(.source, rmdir_hint))]
    Rmdir {
        /// The directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// Signalling a process of the cgroup failed.
    #[error("kill {pid} with signal {signal} (listed in {path:?}): {}", describe(.source, generic_hint))]
    Kill {
        /// The process.
        pid: i32,
        /// The signal number.
        signal: i32,
        /// The cgroup directory that listed the process.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A line of `/proc/self/mountinfo` or `/proc/self/cgroup` text is malformed.
    #[error("parse {what} line {line}: {reason}: {text:?}")]
    Parse {
        /// Which file the text came from (`mountinfo`, `/proc/self/cgroup`).
        what: &'static str,
        /// The 1-based line number.
        line: usize,
        /// The offending line.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No cgroup v1 or cgroup2 file system is mounted.
    #[error("parse mountinfo: no cgroup or cgroup2 mount found (hint: is cgroupfs mounted on /sys/fs/cgroup?)")]
    NoCgroupMounts,
    /// The cgroups path (or the container id it is derived from) is not acceptable.
    #[error("invalid cgroups path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given (or derived from the id).
        path: PathBuf,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A relative cgroups path needs the caller's cgroup in a hierarchy that
    /// `/proc/self/cgroup` does not list.
    #[error(
        "resolve cgroups path {path:?} in the {controllers} hierarchy at {mount_point:?}: \
         the caller's cgroup in it is not listed in /proc/self/cgroup"
    )]
    NotInHierarchy {
        /// The relative cgroups path.
        path: PathBuf,
        /// The hierarchy's controllers (`cgroup2` for the v2 hierarchy).
        controllers: String,
        /// Where the hierarchy is mounted.
        mount_point: PathBuf,
    },
    /// A relative cgroups path is below the caller's cgroup, but that cgroup is not
    /// inside the part of the hierarchy the mount shows (mountinfo root field).
    #[error(
        "resolve cgroups path {path:?}: the caller's cgroup {cgroup:?} is outside {root:?}, \
         the part of the hierarchy mounted at {mount_point:?} (hint: use an absolute cgroupsPath)"
    )]
    NotVisible {
        /// The relative cgroups path.
        path: PathBuf,
        /// The caller's cgroup in that hierarchy, from `/proc/self/cgroup`.
        cgroup: PathBuf,
        /// The mount's root within the hierarchy (mountinfo field 4).
        root: PathBuf,
        /// Where the hierarchy is mounted.
        mount_point: PathBuf,
    },
    /// A pid that cannot be placed in a cgroup (0 would move the caller itself).
    #[error("write pid {pid} to {path:?}: invalid pid")]
    InvalidPid {
        /// The pid.
        pid: i32,
        /// The `cgroup.procs` file.
        path: PathBuf,
    },
    /// A signal number that is not a signal.
    #[error("kill processes of {path:?}: invalid signal {signal}")]
    InvalidSignal {
        /// The signal number.
        signal: i32,
        /// The container's cgroup path (in-hierarchy).
        path: PathBuf,
    },
    /// A value of `linux.resources` that cannot be right on any host (out of range,
    /// malformed, or inconsistent with another value).
    #[error("invalid linux.resources.{field} = {value}: {reason}")]
    InvalidResource {
        /// The field, e.g. `memory.swappiness`, `unified["memory.max"]`.
        field: String,
        /// The value as given (strings quoted).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Something berth cannot do on this host or cgroup version.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A resource needs a controller that the container's cgroup does not have.
    #[error("{what}: the {controller} controller is not available: {reason} (hint: {hint})")]
    ControllerUnavailable {
        /// What was attempted, e.g. `apply linux.resources.memory`.
        what: String,
        /// The controller (`memory`, `io`, `net_cls`).
        controller: String,
        /// Why it is not available (not mounted, not in `cgroup.controllers`).
        reason: String,
        /// What to do about it.
        hint: String,
    },
    /// A value was to be written to a cgroup file that does not exist, in a cgroup
    /// that does: the kernel lacks the feature (or it is turned off).
    #[error("write {value:?} to {path:?}: the file does not exist (hint: {hint})")]
    MissingFile {
        /// What was to be written.
        value: String,
        /// The file.
        path: PathBuf,
        /// Which kernel feature provides the file.
        hint: &'static str,
    },
    /// The kernel refused a memory limit (EBUSY) because the cgroup uses more than
    /// that and could not reclaim enough.
    #[error(
        "write {value:?} to {path:?}: {} (hint: the limit is below what the cgroup uses: \
         {usage} bytes now, {} at peak, and the kernel could not reclaim enough)",
        describe(.source, |_| None),
        .peak.map_or_else(|| "unknown".to_string(), |p| format!("{p} bytes"))
    )]
    MemoryBelowUsage {
        /// What was written.
        value: String,
        /// The limit file.
        path: PathBuf,
        /// The cgroup's current usage (`memory.usage_in_bytes` or
        /// `memory.memsw.usage_in_bytes`).
        usage: u64,
        /// The peak usage, where the kernel reports one.
        peak: Option<u64>,
        /// The error (EBUSY).
        #[source]
        source: io::Error,
    },
    /// Resources were to be applied to a cgroup that does not exist.
    #[error("apply linux.resources: the cgroup {path:?} does not exist (hint: it is made by create, before apply)")]
    NotCreated {
        /// The container's cgroup directory.
        path: PathBuf,
    },
    /// `memory.checkBeforeUpdate` is set and a new limit is not above the usage.
    #[error(
        "refuse to set the {what} limit to {limit} bytes: it is not above the current usage of \
         {usage} bytes (read from {path:?}; linux.resources.memory.checkBeforeUpdate is set)"
    )]
    LimitBelowUsage {
        /// `memory` or `memory+swap`.
        what: &'static str,
        /// The requested limit.
        limit: i64,
        /// The current usage.
        usage: u64,
        /// Where the usage was read.
        path: PathBuf,
    },
    /// Processes were still in the cgroup when the wait for them ran out.
    #[error(
        "destroy {path:?}: processes {pids:?} still in the cgroup {waited_ms} ms after SIGKILL \
         (hint: a process in uninterruptible sleep (D state) cannot die until its I/O ends)"
    )]
    StillRunning {
        /// The cgroup directory.
        path: PathBuf,
        /// The processes left.
        pids: Vec<i32>,
        /// How long destroy waited.
        waited_ms: u64,
    },
    /// The freezer did not reach the wanted state in time.
    #[error(
        "{action} {path:?}: the cgroup is still {state:?} after {waited_ms} ms \
         (hint: a process in uninterruptible sleep (D state) delays freezing)"
    )]
    FreezeTimeout {
        /// "freeze" or "thaw".
        action: &'static str,
        /// The freezer file.
        path: PathBuf,
        /// The last state read.
        state: String,
        /// How long it waited.
        waited_ms: u64,
    },
    /// No freezer is available for the container's cgroup.
    #[error("pause: no freezer (hint: cgroup v1 needs the freezer controller mounted; cgroup v2 needs Linux 5.2)")]
    NoFreezer,
}

impl CgroupError {
    /// The errno of the failed system call, if the error comes from one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            CgroupError::Read { source, .. }
            | CgroupError::Write { source, .. }
            | CgroupError::Open { source, .. }
            | CgroupError::Mkdir { source, .. }
            | CgroupError::ReadDir { source, .. }
            | CgroupError::Rmdir { source, .. }
            | CgroupError::Kill { source, .. }
            | CgroupError::MemoryBelowUsage { source, .. } => source.raw_os_error().map(Errno::from_raw),
            CgroupError::MissingFile { .. } => Some(Errno::ENOENT),
            _ => None,
        }
    }
}

/// The errno's description (without Rust's " (os error N)" suffix), then the hint.
fn describe(err: &io::Error, hint: impl Fn(Errno) -> Option<&'static str>) -> String {
    match err.raw_os_error().map(Errno::from_raw) {
        Some(errno) => match hint(errno) {
            Some(h) => format!("{} (hint: {h})", errno.desc()),
            None => errno.desc().to_string(),
        },
        None => err.to_string(),
    }
}

fn generic_hint(errno: Errno) -> Option<&'static str> {
    match errno {
        Errno::EROFS | Errno::EACCES | Errno::EPERM => Some("is /sys/fs/cgroup mounted read-only or are you not root?"),
        _ => None,
    }
}

fn write_hint(errno: Errno) -> Option<&'static str> {
    match errno {
        Errno::ESRCH => Some("the process has already exited"),
        Errno::ENOSPC => Some("the cpuset cgroup has no CPUs or memory nodes (empty cpuset.cpus or cpuset.mems?)"),
        Errno::EBUSY => Some("cgroup v2 allows no processes in a cgroup that delegates controllers to children"),
        Errno::ENOENT => Some("does the cgroup exist (was it created, or already removed)?"),
        e => generic_hint(e),
    }
}

/// [`write_hint`], more precise where the file tells what the errno means.
fn describe_write(err: &io::Error, path: &std::path::Path) -> String {
    let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
    describe(err, |errno| file_write_hint(file, errno).or_else(|| write_hint(errno)))
}

fn file_write_hint(file: &str, errno: Errno) -> Option<&'static str> {
    Some(match (errno, file) {
        (Errno::EBUSY, "cgroup.subtree_control") => {
            "the cgroup has processes of its own, and cgroup v2 lets only a cgroup without \
             processes enable controllers for its children"
        }
        (Errno::EBUSY, "memory.limit_in_bytes" | "memory.memsw.limit_in_bytes" | "memory.max") => {
            "the limit is below the cgroup's memory usage"
        }
        (Errno::EBUSY, "memory.use_hierarchy") => "the cgroup already has child cgroups",
        (Errno::EINVAL, "memory.memsw.limit_in_bytes") => {
            "memory+swap (memory.memsw.limit_in_bytes) must not be below memory.limit_in_bytes"
        }
        (Errno::EINVAL, "memory.limit_in_bytes") => {
            "memory.limit_in_bytes must not be above memory+swap (memory.memsw.limit_in_bytes)"
        }
        (Errno::EINVAL, "memory.use_hierarchy") => "recent kernels are always hierarchical and refuse 0",
        (
            Errno::EINVAL,
            "cpu.cfs_quota_us" | "cpu.cfs_period_us" | "cpu.cfs_burst_us" | "cpu.max" | "cpu.max.burst",
        ) => {
            "the period must be 1000-1000000 us, the quota at least 1000 us, burst at most the quota, \
             and the parent's quota must leave room for it"
        }
        (Errno::EINVAL, "cpu.rt_runtime_us" | "cpu.rt_period_us") => {
            "the runtime must fit in the period and in what the parent cgroup has left"
        }
        (Errno::EINVAL | Errno::ENOSPC, "cpuset.cpus" | "cpuset.mems" | "cpus" | "mems") => {
            "the CPUs or memory nodes must exist and be a subset of the parent cgroup's"
        }
        (Errno::EPERM, "devices.allow") => "the parent cgroup does not allow that device access",
        (Errno::EINVAL, "cgroup.subtree_control") => "a controller name is unknown or not in cgroup.controllers",
        (Errno::EOPNOTSUPP, _) => "this kernel does not support the setting any more",
        _ => return None,
    })
}

fn mkdir_hint(errno: Errno) -> Option<&'static str> {
    match errno {
        Errno::ENOENT => Some("is the cgroup hierarchy still mounted there?"),
        e => generic_hint(e),
    }
}

fn rmdir_hint(errno: Errno) -> Option<&'static str> {
    match errno {
        Errno::EBUSY => Some("processes or child cgroups are still in it"),
        e => generic_hint(e),
    }
}

/// Build an [`io::Error`] from an errno.
pub(crate) fn io_err(errno: Errno) -> io::Error {
    io::Error::from_raw_os_error(errno as i32)
}
