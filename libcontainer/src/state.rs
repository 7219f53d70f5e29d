//! Container state on disk: one directory per container under the runtime's root.
//!
//! ```text
//! <root>/<id>/            0700, created atomically by mkdir (a second create gets EEXIST)
//!            state.json   written atomically (temp file + rename)
//!            start.sock   init's start socket while the container is "created"
//! ```
//! Every command takes an `flock` on the directory: exclusive for commands that change
//! the container, shared for readers, so concurrent commands on one id are serialized.

use crate::cgroups::Manager;
use crate::plan::Plan;
use crate::syserr::{SysError, SysResultExt};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::sys::stat::Mode;
use oci_spec::runtime::Hooks;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file name of the persisted state.
pub const STATE_FILE: &str = "state.json";
/// The file name of init's start socket.
pub const START_SOCKET: &str = "start.sock";

/// What berth remembers about a container between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Persisted {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// Init's pid; None while creating, before clone.
    pub pid: Option<i32>,
    /// Init's start time in clock ticks (field 22 of `/proc/<pid>/stat`), against pid reuse.
    pub pid_start_time: Option<u64>,
    pub created: String,
    /// The config's `ociVersion`, reported back in the state (as runc does).
    pub oci_version: String,
    pub annotations: HashMap<String, String>,
    pub hooks: Hooks,
    pub cgroup: Option<Manager>,
    /// The resources in force: the config's, with every `update` merged in.
    #[serde(default)]
    pub resources: Option<oci_spec::runtime::LinuxResources>,
    /// What `exec` needs of the container, fixed at create (absent in states written by
    /// an older berth: exec then reads config.json).
    #[serde(default)]
    pub exec: Option<ExecInfo>,
}

/// The parts of the container `exec` joins: what its init has, not what the bundle's
/// config.json may say by now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecInfo {
    /// `CLONE_NEW*` bits of every namespace the container has (created or joined).
    pub namespaces: u64,
    /// Whether init loads a seccomp filter.
    pub seccomp: bool,
    /// Where the compiled filter is cached, when it is.
    #[serde(default)]
    pub seccomp_file: Option<PathBuf>,
}

/// The state JSON of the runtime-spec, as `berth state` prints it (with runc's extras).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OciState {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "HashMap::is_empty", default)]
    pub annotations: HashMap<String, String>,
}

/// The OCI version berth implements.
pub const OCI_VERSION: &str = "1.2.1";

/// The state JSON for hooks run while creating (the runtime-spec's shape).
pub fn oci_state_json(plan: &Plan, status: &str, pid: i32) -> String {
    let mut v = serde_json::json!({
        "ociVersion": OCI_VERSION,
        "id": plan.id,
        "status": status,
        "pid": pid,
        "bundle": plan.bundle,
    });
    if !plan.annotations.is_empty() {
        v["annotations"] = serde_json::json!(plan.annotations);
    }
    v.to_string()
}

/// The directory of one container, locked for the lifetime of this value.
#[derive(Debug)]
pub struct StateDir {
    pub path: PathBuf,
    lock: Flock<File>,
}

fn open_dir(path: &Path) -> nix::Result<File> {
    let fd = nix::fcntl::open(path, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
    Ok(File::from(fd))
}

fn lock(path: &Path, f: File, exclusive: bool) -> Result<Flock<File>, SysError> {
    let arg = if exclusive { FlockArg::LockExclusive } else { FlockArg::LockShared };
    Flock::lock(f, arg).map_err(|(_, e)| SysError::new(format!("flock {path:?}"), e))
}

impl StateDir {
    /// Create `<root>/<id>` (the root too if missing) and lock it. EEXIST means the id is taken.
    pub fn create(root: &Path, id: &str) -> Result<StateDir, SysError> {
        std::fs::create_dir_all(root).op(|| format!("create state root {root:?}"))?;
        let path = root.join(id);
        nix::unistd::mkdir(&path, Mode::from_bits_truncate(0o700)).op(|| format!("create state directory {path:?}"))?;
        let f = open_dir(&path).op(|| format!("open {path:?}"))?;
        Ok(StateDir { lock: lock(&path, f, true)?, path })
    }

    /// Open and lock an existing container's directory; ENOENT when there is none.
    pub fn open(root: &Path, id: &str, exclusive: bool) -> Result<StateDir, SysError> {
        let path = root.join(id);
        let f = open_dir(&path).op(|| format!("open {path:?}"))?;
        let lock = lock(&path, f, exclusive)?;
        // Deleted while we waited for the lock: as if it never existed.
        let st = nix::sys::stat::fstat(&*lock).op(|| format!("stat {path:?}"))?;
        if st.st_nlink == 0 || !path.join(STATE_FILE).exists() {
            return Err(SysError::new(format!("open {path:?}"), Errno::ENOENT));
        }
        Ok(StateDir { lock, path })
    }

    /// Remove `<root>/<id>` if it is what a create killed before its first state write
    /// leaves: a directory without a state file (then nothing else exists yet: the state
    /// is written before the cgroup and the clone). The exclusive lock is taken first,
    /// so a create still under way (it holds the lock) is waited for, never touched.
    /// Whether something was removed.
    pub fn remove_if_abandoned(root: &Path, id: &str) -> Result<bool, SysError> {
        let path = root.join(id);
        let f = match open_dir(&path) {
            Ok(f) => f,
            Err(Errno::ENOENT) => return Ok(false),
            Err(e) => return Err(SysError::new(format!("open {path:?}"), e)),
        };
        let lock = lock(&path, f, true)?;
        let st = nix::sys::stat::fstat(&*lock).op(|| format!("stat {path:?}"))?;
        if st.st_nlink == 0 || path.join(STATE_FILE).exists() {
            return Ok(false);
        }
        StateDir { lock, path }.remove().map(|()| true)
    }

    /// Convert the lock to exclusive (not atomic: re-read the state after).
    pub fn relock_exclusive(&mut self) -> Result<(), SysError> {
        self.lock.relock(FlockArg::LockExclusive).op(|| format!("flock {:?}", self.path))
    }

    /// The raw fd of the lock (a cloned child must close it so it does not hold the lock).
    pub fn lock_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.lock.as_raw_fd()
    }

    /// Read the persisted state.
    pub fn read(&self) -> Result<Persisted, SysError> {
        let p = self.path.join(STATE_FILE);
        let text = std::fs::read(&p).op(|| format!("read {p:?}"))?;
        serde_json::from_slice(&text).map_err(|e| {
            SysError::new(format!("parse {p:?}: {e}"), Errno::EINVAL)
                .hint("the state file is corrupt; `berth delete --force` removes the container")
        })
    }

    /// Write the persisted state atomically.
    pub fn write(&self, s: &Persisted) -> Result<(), SysError> {
        let p = self.path.join(STATE_FILE);
        let tmp = self.path.join(".state.json.tmp");
        let data = serde_json::to_vec(s).map_err(|e| SysError::new(format!("serialize state: {e}"), Errno::EINVAL))?;
        let mut f = File::create(&tmp).op(|| format!("create {tmp:?}"))?;
        // No fsync: the root is a tmpfs (/run) whose content does not outlive a reboot,
        // and rename already makes the update atomic for concurrent readers.
        f.write_all(&data).op(|| format!("write {tmp:?}"))?;
        std::fs::rename(&tmp, &p).op(|| format!("rename {tmp:?} to {p:?}"))
    }

    /// Remove the directory and everything in it; the lock is released after.
    pub fn remove(self) -> Result<(), SysError> {
        std::fs::remove_dir_all(&self.path).op(|| format!("remove {:?}", self.path))
    }
}

/// List the ids under the root (directories with a state file).
pub fn list_ids(root: &Path) -> Result<Vec<String>, SysError> {
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(SysError::from_io(format!("read {root:?}"), &e)),
    };
    let mut ids: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(STATE_FILE).exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    Ok(ids)
}

/// What /proc says about a pid: its state letter and start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub state: char,
    pub start_time: u64,
}

/// Parse `/proc/<pid>/stat` text (the command may contain spaces and parentheses).
pub fn parse_proc_stat(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the comm: field 3 (state) is f[0], field 22 (starttime) is f[19].
    Some(ProcStat { state: f.first()?.chars().next()?, start_time: f.get(19)?.parse().ok()? })
}

/// Read `/proc/<pid>/stat`.
pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    parse_proc_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_survives_odd_names() {
        let t = "42 (a) b) (c) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 123456 1000 10";
        assert_eq!(parse_proc_stat(t), Some(ProcStat { state: 'S', start_time: 123456 }));
        assert_eq!(parse_proc_stat("garbage"), None);
    }

    #[test]
    fn state_dir_is_exclusive_and_atomic() {
        let root = std::env::temp_dir().join(format!("berth-state-test-{}", std::process::id()));
        let d = StateDir::create(&root, "c1").unwrap();
        assert_eq!(StateDir::create(&root, "c1").unwrap_err().errno(), Errno::EEXIST);
        let s = Persisted {
            id: "c1".into(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            pid: Some(7),
            pid_start_time: Some(9),
            created: crate::time::now_rfc3339(),
            oci_version: "1.0.2".into(),
            annotations: HashMap::new(),
            hooks: Hooks::default(),
            cgroup: None,
            resources: None,
            exec: Some(ExecInfo { namespaces: 0x2000_0000, seccomp: true, seccomp_file: Some("/r/x.json".into()) }),
        };
        d.write(&s).unwrap();
        assert_eq!(d.read().unwrap().pid, Some(7));
        assert_eq!(d.read().unwrap().exec, s.exec);
        // A state written before `exec` existed still reads.
        let mut v = serde_json::to_value(&s).unwrap();
        v.as_object_mut().unwrap().remove("exec");
        assert_eq!(serde_json::from_value::<Persisted>(v).unwrap().exec, None);
        assert_eq!(list_ids(&root).unwrap(), vec!["c1".to_string()]);
        // A container with a state file is not abandoned (the lock is ours no longer).
        drop(d);
        assert!(!StateDir::remove_if_abandoned(&root, "c1").unwrap());
        let d = StateDir::open(&root, "c1", true).unwrap();
        d.remove().unwrap();
        assert_eq!(StateDir::open(&root, "c1", false).unwrap_err().errno(), Errno::ENOENT);
        // A create killed between mkdir and its first state write leaves this behind.
        drop(StateDir::create(&root, "c2").unwrap());
        assert_eq!(StateDir::open(&root, "c2", false).unwrap_err().errno(), Errno::ENOENT);
        assert!(StateDir::remove_if_abandoned(&root, "c2").unwrap());
        assert!(!root.join("c2").exists());
        assert!(!StateDir::remove_if_abandoned(&root, "c2").unwrap());
        let _ = std::fs::remove_dir_all(&root);
    }
}
