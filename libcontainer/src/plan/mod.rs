//! The pure stage: `config.json` → a validated [`Plan`], before any process is created.
//!
//! Everything the container's init will do is decided here, from the spec alone (plus
//! the bundle's paths): namespaces to create or join, mounts with parsed options, devices,
//! capabilities, rlimits. A bad config fails here with a [`ConfigError`] naming the field,
//! so nothing is forked, mounted or written for a config that could never work.

mod devices;
pub mod options;
mod process;
pub(crate) mod seccomp_cache;
mod validate;

pub use options::MountOptions;
pub use validate::validate_id;

use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use oci_spec::runtime::{Hooks, LinuxNamespaceType, Spec};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A config that cannot be run, with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConfigError {
    /// The config.json field, e.g. `process.cwd` or `mounts[3].destination`.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError { field: field.into(), reason: reason.into() }
    }
}

/// Namespace kinds in the order they must be joined: user first (it grants the
/// capabilities the others need), mount last among the joins that change paths.
pub const NS_ORDER: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::User,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Time,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Mount,
];

/// The name `/proc/<pid>/ns/` uses for a namespace kind.
pub fn ns_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Time => "time",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Mount => "mnt",
    }
}

/// Namespaces to create and to join.
#[derive(Debug, Clone)]
pub struct Namespaces {
    /// `CLONE_NEW*` flags of the namespaces to create.
    pub new: CloneFlags,
    /// Namespaces to join, in [`NS_ORDER`].
    pub join: Vec<(LinuxNamespaceType, PathBuf)>,
}

impl Default for Namespaces {
    fn default() -> Self {
        Namespaces { new: CloneFlags::empty(), join: Vec::new() }
    }
}

impl Namespaces {
    /// Whether a namespace of this kind is created or joined.
    pub fn has(&self, t: LinuxNamespaceType) -> bool {
        self.new.contains(clone_flag(t)) || self.join.iter().any(|(k, _)| *k == t)
    }

    /// `CLONE_NEW*` of every namespace the container has, created or joined.
    pub fn flags(&self) -> CloneFlags {
        self.join.iter().fold(self.new, |f, (t, _)| f | clone_flag(*t))
    }

    /// Whether a namespace of this kind is created.
    pub fn creates(&self, t: LinuxNamespaceType) -> bool {
        self.new.contains(clone_flag(t))
    }
}

/// The clone flag of a namespace kind.
pub fn clone_flag(t: LinuxNamespaceType) -> CloneFlags {
    CloneFlags::from_bits_retain(t as libc::c_int)
}

/// One id mapping line of `/proc/<pid>/{uid,gid}_map`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

/// One mount, validated.
#[derive(Debug, Clone)]
pub struct MountPlan {
    /// Absolute path inside the container.
    pub destination: PathBuf,
    /// Filesystem type; "bind" for bind mounts.
    pub typ: String,
    /// The source; for binds an absolute host path (relative ones are made bundle-relative).
    pub source: Option<PathBuf>,
    pub options: MountOptions,
}

/// One device node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePlan {
    /// Absolute path under `/dev`.
    pub path: PathBuf,
    /// `S_IFCHR`, `S_IFBLK` or `S_IFIFO`.
    pub kind: libc::mode_t,
    pub major: u64,
    pub minor: u64,
    /// Permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The five capability sets.
#[derive(Debug, Clone, Default)]
pub struct CapsPlan {
    pub bounding: caps::CapsHashSet,
    pub effective: caps::CapsHashSet,
    pub permitted: caps::CapsHashSet,
    pub inheritable: caps::CapsHashSet,
    pub ambient: caps::CapsHashSet,
}

/// A resource limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: libc::__rlimit_resource_t,
    pub name: &'static str,
    pub soft: u64,
    pub hard: u64,
}

/// The container's process.
#[derive(Debug, Clone, Default)]
pub struct ProcessPlan {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub umask: Option<u32>,
    /// None: leave the capabilities as they are (no `capabilities` in the config).
    pub caps: Option<CapsPlan>,
    pub rlimits: Vec<Rlimit>,
    pub no_new_privileges: bool,
    pub oom_score_adj: Option<i32>,
    /// Give the process a pty (its master goes to the console socket).
    pub terminal: bool,
    /// `consoleSize` as (rows, columns), applied to the pty.
    pub console_size: Option<(u16, u16)>,
}

/// Clock offsets for a new time namespace (`/proc/self/timens_offsets`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeOffset {
    pub clock: &'static str,
    pub secs: i64,
    pub nanos: u32,
}

/// Everything needed to create the container, validated.
#[derive(Debug, Clone)]
pub struct Plan {
    pub id: String,
    /// Absolute, canonical bundle directory.
    pub bundle: PathBuf,
    /// Absolute, canonical root filesystem.
    pub rootfs: PathBuf,
    pub rootfs_readonly: bool,
    /// Propagation of `/` in the new mount namespace (default `MS_SLAVE|MS_REC`, as runc).
    pub rootfs_propagation: MsFlags,
    pub no_pivot: bool,
    /// Join a new session keyring named after the container (runc's default).
    pub new_keyring: bool,
    pub namespaces: Namespaces,
    pub uid_map: Vec<IdMap>,
    pub gid_map: Vec<IdMap>,
    pub time_offsets: Vec<TimeOffset>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub mounts: Vec<MountPlan>,
    /// Whether `/dev` is ours to populate (it is not when `/dev` is bind-mounted).
    pub setup_dev: bool,
    pub devices: Vec<DevicePlan>,
    pub masked_paths: Vec<PathBuf>,
    pub readonly_paths: Vec<PathBuf>,
    pub sysctl: Vec<(String, String)>,
    pub process: ProcessPlan,
    pub hooks: Hooks,
    pub cgroups_path: Option<PathBuf>,
    /// `linux.resources` as configured (limits are applied to the cgroup before clone).
    pub resources: Option<oci_spec::runtime::LinuxResources>,
    /// The devices cgroup rules, in order (last match wins): the config's, then an allow
    /// rule for each `linux.devices` entry, then the devices every container needs, as
    /// runc builds them.
    pub device_rules: Vec<oci_spec::runtime::LinuxDeviceCgroup>,
    /// The compiled seccomp filter, loaded by init as late as possible.
    pub seccomp: Option<SeccompPlan>,
    pub annotations: HashMap<String, String>,
}

/// `linux.seccomp`, compiled.
#[derive(Debug, Clone)]
pub struct SeccompPlan {
    pub program: seccomp::Program,
    /// Where the program is cached (when a cache is in use and holds it).
    pub cached: Option<PathBuf>,
    /// Where to send the notify listener fd (`listenerPath`), when a rule uses NOTIFY.
    pub listener_path: Option<PathBuf>,
    /// `listenerMetadata`, passed along with the fd.
    pub listener_metadata: String,
}

/// Inputs besides the spec that shape the plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// `--no-pivot`: move the rootfs onto `/` with `MS_MOVE` + chroot instead of pivot_root.
    pub no_pivot: bool,
    /// `--no-new-keyring`: keep the caller's session keyring.
    pub no_new_keyring: bool,
    /// Where compiled seccomp programs are cached (None: always compile).
    pub seccomp_cache: Option<PathBuf>,
}

impl Plan {
    /// Validate `spec` (loaded from `bundle`) and plan the container `id`.
    ///
    /// Pure except for reading the bundle's paths (canonicalizing the rootfs).
    pub fn build(id: &str, bundle: &Path, spec: &Spec, opts: &PlanOptions) -> Result<Plan, ConfigError> {
        validate_id(id)?;
        validate::build(id, bundle, spec, opts)
    }

    /// Compile (or take from `cache`) the seccomp filter of a config on its own, for
    /// `exec`, which needs nothing else of the plan.
    pub fn seccomp_plan(
        s: Option<&oci_spec::runtime::LinuxSeccomp>,
        cache: Option<&Path>,
    ) -> Result<Option<SeccompPlan>, ConfigError> {
        validate::seccomp_plan(s, cache)
    }

    /// Validate a process (the container's, or one for `exec`) on its own.
    pub fn process_plan(p: &oci_spec::runtime::Process) -> Result<ProcessPlan, ConfigError> {
        process::process(Some(p))
    }

    /// Whether the init must be created in two steps (a first child that joins or
    /// unshares, then forks the init): joined namespaces (setns into a pid namespace
    /// only applies to children) and time namespaces (offsets are written before any
    /// process is inside) need it. Otherwise one clone creates everything at once.
    pub fn needs_two_step(&self) -> bool {
        !self.namespaces.join.is_empty() || self.namespaces.creates(LinuxNamespaceType::Time)
    }
}

#[cfg(test)]
mod tests;
