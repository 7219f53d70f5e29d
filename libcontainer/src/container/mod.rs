//! Containers by id: create (through [`ContainerBuilder`]), load, start, kill, delete.
//!
//! ```no_run
//! use libcontainer::{ContainerBuilder, Container};
//!
//! # fn main() -> Result<(), libcontainer::Error> {
//! let root = std::path::Path::new("/run/berth");
//! let mut c = ContainerBuilder::new("demo", root).bundle("/srv/bundles/hello").create()?;
//! c.start()?;
//! println!("{}", serde_json::to_string(&c.state()).unwrap());
//! let c = Container::load(root, "demo")?;
//! c.kill(libc::SIGKILL, false)?;
//! c.delete(true)?;
//! # Ok(())
//! # }
//! ```

mod builder;
mod exec;
mod ops;

pub use exec::{ExecOptions, ExecProcess};

pub use ops::Detached;

pub use builder::{write_pid_file, ContainerBuilder};

use crate::error::{Error, Result};
use crate::state::{self, OciState, Persisted, StateDir, START_SOCKET};
use std::fmt;
use std::path::{Path, PathBuf};

/// The runtime-spec's container statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Being created.
    Creating,
    /// Init is set up and waits for `start`.
    Created,
    /// The program runs.
    Running,
    /// Its processes are frozen (`pause`; runc's addition to the spec's statuses).
    Paused,
    /// The program (or init) has exited.
    Stopped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// A container known to the runtime, with its state directory locked while this
/// value lives.
#[derive(Debug)]
pub struct Container {
    pub(crate) dir: StateDir,
    pub(crate) state: Persisted,
    /// Whether the lock is exclusive (commands that change the container need it).
    pub(crate) exclusive: bool,
}

fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim_end().to_string()
}

impl Container {
    /// Load the container `id` under `root`, taking a shared lock.
    pub fn load(root: &Path, id: &str) -> Result<Container> {
        Self::load_locked(root, id, false)
    }

    pub(crate) fn load_locked(root: &Path, id: &str, exclusive: bool) -> Result<Container> {
        crate::plan::validate_id(id)?;
        let dir = StateDir::open(root, id, exclusive).map_err(|e| match e.errno() {
            nix::errno::Errno::ENOENT => Error::NotFound(id.to_string()),
            _ => Error::Sys { step: "load state", error: e },
        })?;
        let state = dir.read().map_err(Error::sys("load state"))?;
        Ok(Container { dir, state, exclusive })
    }

    /// Load the container `id` under `root` with an exclusive lock, for commands that
    /// change it.
    pub fn load_exclusive(root: &Path, id: &str) -> Result<Container> {
        Self::load_locked(root, id, true)
    }

    /// Remove what a create killed before its first state write left of `id` (see
    /// [`StateDir::remove_if_abandoned`]); `delete --force` of an unknown id calls it.
    pub fn remove_abandoned(root: &Path, id: &str) -> Result<bool> {
        crate::plan::validate_id(id)?;
        StateDir::remove_if_abandoned(root, id).map_err(Error::sys("remove an abandoned create"))
    }

    /// All containers under `root`, in id order (ones that vanish meanwhile are skipped).
    pub fn list(root: &Path) -> Result<Vec<Container>> {
        let ids = state::list_ids(root).map_err(Error::sys("list containers"))?;
        Ok(ids.iter().filter_map(|id| Container::load(root, id).ok()).collect())
    }

    /// The container's id.
    pub fn id(&self) -> &str {
        &self.state.id
    }

    /// Init's pid, once created.
    pub fn pid(&self) -> Option<i32> {
        self.state.pid
    }

    /// The bundle directory.
    pub fn bundle(&self) -> &Path {
        &self.state.bundle
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.dir.path
    }

    /// The user owning the state directory (runc's `list` column).
    pub fn owner(&self) -> String {
        use std::os::unix::fs::MetadataExt;
        let Ok(uid) = std::fs::metadata(&self.dir.path).map(|m| m.uid()) else { return String::new() };
        crate::passwd::lookup_file(uid).map(|e| e.name).unwrap_or_else(|| format!("#{uid}"))
    }

    /// The current status, from the state file and the process itself.
    pub fn status(&self) -> Status {
        let Some(pid) = self.state.pid else {
            // We hold the lock, so no create is under way: it was abandoned.
            return Status::Stopped;
        };
        match state::proc_stat(pid) {
            Some(st) if !matches!(st.state, 'Z' | 'X') && Some(st.start_time) == self.state.pid_start_time => {
                if self.state.cgroup.as_ref().is_some_and(|c| c.is_frozen().unwrap_or(false)) {
                    Status::Paused
                } else if self.dir.path.join(START_SOCKET).exists() && comm(pid) == "berth:[init]" {
                    Status::Created
                } else {
                    Status::Running
                }
            }
            _ => Status::Stopped,
        }
    }

    /// The runtime-spec state (pid 0 once stopped, as runc prints it).
    pub fn state(&self) -> OciState {
        let status = self.status();
        OciState {
            oci_version: self.state.oci_version.clone(),
            id: self.state.id.clone(),
            pid: if status == Status::Stopped { 0 } else { self.state.pid.unwrap_or(0) },
            status: status.to_string(),
            bundle: self.state.bundle.clone(),
            rootfs: self.state.rootfs.clone(),
            created: self.state.created.clone(),
            owner: String::new(),
            annotations: self.state.annotations.clone(),
        }
    }

    /// The state JSON handed to hooks.
    pub(crate) fn hook_state(&self, status: Status) -> String {
        let mut v = serde_json::json!({
            "ociVersion": self.state.oci_version,
            "id": self.state.id,
            "status": status.to_string(),
            "bundle": self.state.bundle,
        });
        if let Some(pid) = self.state.pid.filter(|_| status != Status::Stopped) {
            v["pid"] = pid.into();
        }
        if !self.state.annotations.is_empty() {
            v["annotations"] = serde_json::json!(self.state.annotations);
        }
        v.to_string()
    }

    pub(crate) fn bad_status(&self, action: &'static str, hint: &'static str) -> Error {
        Error::BadStatus { id: self.state.id.clone(), action, status: self.status().to_string(), hint }
    }

    /// Where the start socket lives, as a path short enough for `sockaddr_un` whatever
    /// the root's length: through the procfs link of the locked directory fd.
    pub(crate) fn start_socket_path(dir: &StateDir) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}/{START_SOCKET}", dir.lock_fd()))
    }
}
