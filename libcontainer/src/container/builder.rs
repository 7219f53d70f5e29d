//! `create`: from a bundle to an init waiting for `start`.

use super::Container;
use crate::cgroups::{Layout, Manager};
use crate::error::{Error, Result};
use crate::plan::{Plan, PlanOptions};
use crate::process::{spawn, SpawnArgs};
use crate::rootfs::CgroupMount;
use crate::state::{Persisted, StateDir};
use crate::syserr::{SysError, SysResultExt};
use crate::tty::Console;
use nix::sys::socket::{bind, listen, socket, AddressFamily, Backlog, SockFlag, SockType, UnixAddr};
use oci_spec::runtime::Spec;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// Creates a container from a bundle.
///
/// ```no_run
/// let c = libcontainer::ContainerBuilder::new("web", "/run/berth")
///     .bundle("/srv/bundles/web")
///     .pid_file("/run/web.pid")
///     .create()?;
/// # Ok::<(), libcontainer::Error>(())
/// ```
#[derive(Debug)]
pub struct ContainerBuilder {
    id: String,
    root: PathBuf,
    bundle: PathBuf,
    pid_file: Option<PathBuf>,
    preserve_fds: u32,
    listen_fds: u32,
    console: Console,
    opts: PlanOptions,
}

impl ContainerBuilder {
    /// A container `id` whose state lives under `root` (`/run/berth` for the CLI).
    pub fn new(id: impl Into<String>, root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let opts = PlanOptions { seccomp_cache: Some(root.join(".seccomp-cache")), ..PlanOptions::default() };
        ContainerBuilder {
            id: id.into(),
            root,
            bundle: PathBuf::from("."),
            pid_file: None,
            preserve_fds: 0,
            listen_fds: 0,
            console: Console::None,
            opts,
        }
    }

    /// The bundle directory (holding `config.json`); the current directory by default.
    pub fn bundle(mut self, dir: impl Into<PathBuf>) -> Self {
        self.bundle = dir.into();
        self
    }

    /// Write init's pid to this file once created.
    pub fn pid_file(mut self, f: impl Into<PathBuf>) -> Self {
        self.pid_file = Some(f.into());
        self
    }

    /// Pass the caller's fds 3..3+N on to the container's program.
    pub fn preserve_fds(mut self, n: u32) -> Self {
        self.preserve_fds = n;
        self
    }

    /// Socket activation, as runc does when it is started with `LISTEN_FDS=N`: the caller's
    /// fds 3..3+N go to the program (before any `preserve_fds`), which gets
    /// `LISTEN_FDS=N` and `LISTEN_PID=1` in its environment.
    pub fn listen_fds(mut self, n: u32) -> Self {
        self.listen_fds = n;
        self
    }

    /// Where the pty master goes when `process.terminal` is true (see [`Console`]); a
    /// terminal without a console socket, or a socket without a terminal, fails `create`.
    pub fn console(mut self, c: Console) -> Self {
        self.console = c;
        self
    }

    /// Keep the caller's session keyring instead of joining a new one named after the
    /// container (`--no-new-keyring`).
    pub fn no_new_keyring(mut self, yes: bool) -> Self {
        self.opts.no_new_keyring = yes;
        self
    }

    /// Use `MS_MOVE` + `chroot` instead of `pivot_root` (rootfs on ramfs).
    pub fn no_pivot(mut self, yes: bool) -> Self {
        self.opts.no_pivot = yes;
        self
    }

    /// Validate the bundle, create the container's init and wait until it is ready.
    /// Nothing is left behind on failure.
    pub fn create(self) -> Result<Container> {
        let spec = load_spec(&self.bundle)?;
        let mut plan = Plan::build(&self.id, &self.bundle, &spec, &self.opts)?;
        if self.listen_fds > 0 {
            plan.process.env.push(format!("LISTEN_FDS={}", self.listen_fds));
            plan.process.env.push("LISTEN_PID=1".into());
        }
        let console = self.console.for_process(plan.process.terminal)?;
        tracing::debug!(id = %self.id, "config validated");
        let dir = StateDir::create(&self.root, &self.id).map_err(|e| match e.errno() {
            nix::errno::Errno::EEXIST => Error::Exists(self.id.clone()),
            _ => Error::Sys { step: "create state directory", error: e },
        })?;
        let mut persisted = Persisted {
            id: plan.id.clone(),
            bundle: plan.bundle.clone(),
            rootfs: plan.rootfs.clone(),
            pid: None,
            pid_start_time: None,
            created: crate::time::now_rfc3339(),
            oci_version: spec.version().clone(),
            annotations: plan.annotations.clone(),
            hooks: plan.hooks.clone(),
            cgroup: None,
            resources: plan.resources.clone(),
            exec: Some(crate::state::ExecInfo {
                namespaces: plan.namespaces.flags().bits() as u64,
                seccomp: plan.seccomp.is_some(),
                seccomp_file: plan.seccomp.as_ref().and_then(|s| s.cached.clone()),
            }),
        };
        let fds = self.listen_fds + self.preserve_fds;
        match create_in(&plan, &dir, &mut persisted, self.pid_file.as_deref(), fds, console) {
            Ok(()) => Ok(Container { dir, state: persisted, exclusive: true }),
            Err(e) => {
                if let Some(cg) = &persisted.cgroup {
                    if let Err(ce) = cg.destroy() {
                        tracing::warn!("cleaning up after a failed create: {ce}");
                    }
                }
                if let Err(re) = dir.remove() {
                    tracing::warn!("cleaning up after a failed create: {re}");
                }
                Err(e)
            }
        }
    }
}

/// Read and parse `<bundle>/config.json`, with an error that says where it is wrong.
pub fn load_spec(bundle: &Path) -> Result<Spec> {
    let path = bundle.join("config.json");
    let text = std::fs::read(&path).map_err(|e| Error::ConfigLoad { path: path.clone(), reason: e.to_string() })?;
    let value: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| Error::ConfigLoad { path: path.clone(), reason: format!("invalid: {e}") })?;
    // oci-spec would reject a bad seccomp action or operator with serde's bare "unknown
    // variant"; this names the field instead.
    if let Some(s) = value.get("linux").and_then(|l| l.get("seccomp")) {
        seccomp::check_json(s).map_err(|e| {
            crate::plan::ConfigError::new(e.field().unwrap_or("linux.seccomp").to_string(), e.to_string())
        })?;
    }
    serde_json::from_value(value).map_err(|e| Error::ConfigLoad { path, reason: format!("invalid: {e}") })
}

fn create_in(
    plan: &Plan,
    dir: &StateDir,
    st: &mut Persisted,
    pid_file: Option<&Path>,
    preserve_fds: u32,
    console: Option<OwnedFd>,
) -> Result<()> {
    let layout = Layout::detect()?;
    let self_cgroup = crate::cgroups::read_self_cgroup()?;
    let cg = Manager::new(layout, plan.cgroups_path.as_deref(), &plan.id, &self_cgroup)?;
    st.cgroup = Some(cg.clone());
    dir.write(st).map_err(Error::sys("write state"))?;
    cg.create()?;
    // Limits are in place before the container's init exists, so it is born limited.
    if let Some(r) = &plan.resources {
        // The device rules go in once, complete (with runc's defaults), just below.
        let mut r = r.clone();
        r.set_devices(None);
        cg.apply(&r)?;
    }
    cg.apply_device_rules(&plan.device_rules)?;
    tracing::debug!(path = ?cg.container_path(), "cgroup created");
    let cgroup_mounts = cgroup_mounts(&cg);
    let listener = start_listener(dir).map_err(Error::sys("start socket"))?;
    let spawned = spawn(SpawnArgs {
        plan,
        cgroup: &cg,
        cgroup_mounts: &cgroup_mounts,
        start_listener: listener,
        close_in_child: &[dir.lock_fd()],
        preserve_fds,
        console,
    })?;
    tracing::debug!(pid = spawned.pid.as_raw(), "init ready");
    st.pid = Some(spawned.pid.as_raw());
    st.pid_start_time = crate::state::proc_stat(spawned.pid.as_raw()).map(|s| s.start_time);
    dir.write(st).map_err(Error::sys("write state"))?;
    if let Some(f) = pid_file {
        write_pid_file(f, spawned.pid.as_raw()).map_err(Error::sys("pid file"))?;
    }
    Ok(())
}

/// The listening socket init waits on for `start`, bound in the state directory.
fn start_listener(dir: &StateDir) -> Result<OwnedFd, SysError> {
    let fd = socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None)
        .op(|| "socket(AF_UNIX, SOCK_SEQPACKET)".into())?;
    let path = Container::start_socket_path(dir);
    let addr = UnixAddr::new(&path).op(|| format!("socket address {path:?}"))?;
    bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &addr)
        .op(|| format!("bind {:?}", dir.path.join(crate::state::START_SOCKET)))?;
    listen(&fd, Backlog::new(4).unwrap_or(Backlog::MAXCONN)).op(|| "listen on the start socket".into())?;
    Ok(fd)
}

/// Write `pid` to `path` atomically (a temp file in the same directory, then rename),
/// since shims read it while berth may still run.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<(), SysError> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = parent.join(format!(".{name}.{}", std::process::id()));
    std::fs::write(&tmp, pid.to_string()).op(|| format!("write pid file {tmp:?}"))?;
    std::fs::rename(&tmp, path).op(|| format!("rename {tmp:?} to {path:?}"))
}

/// What the container's cgroup mount should show: one entry per hierarchy the container
/// is a member of, named like its mount point on the host.
fn cgroup_mounts(cg: &Manager) -> Vec<CgroupMount> {
    let pure_v2 = cg.kind() == crate::cgroups::LayoutKind::V2;
    cg.dirs()
        .iter()
        .map(|d| CgroupMount {
            name: if pure_v2 {
                String::new()
            } else {
                d.mount_point.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
            },
            fstype: if d.is_v2 { "cgroup2".into() } else { "cgroup".into() },
            data: if d.is_v2 { String::new() } else { d.controllers.join(",") },
            host_dir: d.path.clone(),
        })
        .collect()
}
