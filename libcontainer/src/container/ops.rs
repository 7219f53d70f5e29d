//! start, kill, delete and wait.

use super::{Container, Status};
use crate::error::{Error, Result};
use crate::hooks::{run_hooks, HookKind};
use crate::protocol::{recv_msg, send_msg, Message, ProtocolError};
use crate::state::START_SOCKET;
use crate::syserr::{SysError, SysResultExt};
use nix::errno::Errno;
use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, UnixAddr};
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;
use std::time::Duration;

impl Container {
    /// Start a created container: run its program. Poststart hooks follow (their failure
    /// only warns, as the runtime-spec says).
    pub fn start(&mut self) -> Result<()> {
        self.make_exclusive()?;
        if self.status() != Status::Created {
            return Err(self.bad_status("start", ""));
        }
        let sock = socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None)
            .op(|| "socket(AF_UNIX, SOCK_SEQPACKET)".into())
            .map_err(Error::sys("start"))?;
        let path = Container::start_socket_path(&self.dir);
        let addr = UnixAddr::new(&path).op(|| format!("socket address {path:?}")).map_err(Error::sys("start"))?;
        // Init may have died since the check above (killed, say): then say so, rather
        // than ECONNREFUSED or EPIPE.
        let stopped_or = |e: Error| if self.status() != Status::Created { self.bad_status("start", "") } else { e };
        connect(sock.as_raw_fd(), &addr)
            .op(|| format!("connect to {:?}", self.dir.path.join(START_SOCKET)))
            .map_err(|e| stopped_or(Error::sys("start")(e)))?;
        let state = self.hook_state(Status::Created);
        send_msg(sock.as_fd(), &Message::Start { state }).map_err(|e| stopped_or(protocol("start", e)))?;
        match recv_msg(sock.as_fd()) {
            // exec closed init's end: the program runs.
            Err(ProtocolError::Closed) => {}
            Ok(Message::Error(e)) => return Err(Error::Spawn(crate::process::SpawnError::Init(e))),
            Ok(m) => return Err(protocol("start", ProtocolError::Unexpected { got: Box::new(m), expected: "EOF" })),
            Err(e) => return Err(protocol("start", e)),
        }
        tracing::debug!(id = %self.state.id, "program started");
        // The socket's absence is what marks the container as started.
        std::fs::remove_file(self.dir.path.join(START_SOCKET))
            .op(|| format!("remove {:?}", self.dir.path.join(START_SOCKET)))
            .map_err(Error::sys("start"))?;
        if let Some(h) = self.state.hooks.poststart() {
            run_hooks_warning(HookKind::Poststart, h, &self.hook_state(Status::Running));
        }
        Ok(())
    }

    /// Send `signal` to init, or with `all` to every process in the container's cgroup.
    /// A paused container is thawed after SIGKILL, so that the processes can die.
    pub fn kill(&self, signal: i32, all: bool) -> Result<()> {
        let status = self.status();
        if status == Status::Stopped {
            return Err(self.bad_status("kill", " (container not running)"));
        }
        match (all, &self.state.cgroup) {
            (true, Some(cg)) => cg.kill_all(signal)?,
            _ => self.signal_init(signal)?,
        }
        if status == Status::Paused && signal == libc::SIGKILL {
            if let Some(cg) = &self.state.cgroup {
                cg.resume()?;
            }
        }
        Ok(())
    }

    /// Freeze every process of a created or running container.
    pub fn pause(&mut self) -> Result<()> {
        self.make_exclusive()?;
        if !matches!(self.status(), Status::Running | Status::Created) {
            return Err(self.bad_status("pause", ""));
        }
        self.cgroup_or_err("pause")?.freeze()?;
        Ok(())
    }

    /// Thaw a paused container.
    pub fn resume(&mut self) -> Result<()> {
        self.make_exclusive()?;
        if self.status() != Status::Paused {
            return Err(self.bad_status("resume", ""));
        }
        self.cgroup_or_err("resume")?.resume()?;
        Ok(())
    }

    /// Apply `resources` to the container's cgroup (only the values given change) and keep
    /// the merged result in the state.
    pub fn update(&mut self, resources: &oci_spec::runtime::LinuxResources) -> Result<()> {
        self.make_exclusive()?;
        if self.status() == Status::Stopped {
            return Err(self.bad_status("update", ""));
        }
        self.cgroup_or_err("update")?.apply(resources)?;
        let mut merged = serde_json::to_value(&self.state.resources).unwrap_or_default();
        merge_json(&mut merged, serde_json::to_value(resources).unwrap_or_default());
        self.state.resources = serde_json::from_value(merged).ok();
        self.dir.write(&self.state).map_err(Error::sys("write state"))
    }

    /// The resources in force (the config's with updates merged in).
    pub fn resources(&self) -> Option<&oci_spec::runtime::LinuxResources> {
        self.state.resources.as_ref()
    }

    /// The pids (in the runtime's pid namespace) of every process in the container's cgroup.
    pub fn pids(&self) -> Result<Vec<i32>> {
        if self.status() == Status::Stopped {
            return Err(self.bad_status("list the processes of", ""));
        }
        Ok(self.cgroup_or_err("ps")?.pids()?)
    }

    /// Resource usage for `events --stats`: the cgroup's, plus the network interfaces of
    /// the container's network namespace (read through init's `/proc/<pid>/net/dev`).
    pub fn stats(&self) -> Result<serde_json::Value> {
        if self.status() == Status::Stopped {
            return Err(self.bad_status("read the stats of", ""));
        }
        let stats = self.cgroup_or_err("stats")?.stats()?;
        let mut v = serde_json::to_value(&stats).unwrap_or_default();
        let net = self
            .state
            .pid
            .and_then(|p| std::fs::read_to_string(format!("/proc/{p}/net/dev")).ok())
            .map(|t| parse_net_dev(&t))
            .unwrap_or_default();
        v["network_interfaces"] = serde_json::Value::Array(net);
        Ok(v)
    }

    /// The number of OOM kills in the container's cgroup so far.
    pub fn oom_kills(&self) -> Result<u64> {
        Ok(crate::cgroups::stats::oom_kills(self.cgroup_or_err("events")?)?)
    }

    fn cgroup_or_err(&self, action: &'static str) -> Result<&crate::cgroups::Manager> {
        self.state.cgroup.as_ref().ok_or_else(|| Error::Sys {
            step: action,
            error: SysError::new("the container has no cgroup recorded in its state", Errno::ENOENT),
        })
    }

    fn signal_init(&self, signal: i32) -> Result<()> {
        let Some(pid) = self.state.pid else { return Ok(()) };
        let fd = match crate::pidfd::open(nix::unistd::Pid::from_raw(pid)) {
            Ok(fd) => fd,
            Err(e) if e.errno() == Errno::ESRCH => return Ok(()),
            Err(e) => return Err(Error::Sys { step: "kill", error: e }),
        };
        // The pidfd is of the process that has this pid now: make sure it is still ours.
        if crate::state::proc_stat(pid).map(|s| s.start_time) != self.state.pid_start_time {
            return Ok(());
        }
        match crate::pidfd::send_signal(&fd, signal) {
            Ok(()) => Ok(()),
            Err(e) if e.errno() == Errno::ESRCH => Ok(()),
            Err(e) => Err(Error::Sys { step: "kill", error: e }),
        }
    }

    /// Delete the container: its cgroup, its state; then the poststop hooks (which only
    /// warn on failure). A container that is not stopped is refused unless `force`,
    /// which kills everything in it first.
    pub fn delete(mut self, force: bool) -> Result<()> {
        self.make_exclusive()?;
        let me = self;
        let status = me.status();
        if status != Status::Stopped {
            if !force {
                return Err(me.bad_status("delete", " (hint: stop it first, or use --force)"));
            }
            me.kill_everything()?;
        }
        if let Some(cg) = &me.state.cgroup {
            cg.destroy()?;
            tracing::debug!("cgroup removed");
        }
        let hooks = me.state.hooks.clone();
        let state = me.hook_state(Status::Stopped);
        me.dir.remove().map_err(Error::sys("remove state"))?;
        if let Some(h) = hooks.poststop() {
            run_hooks_warning(HookKind::Poststop, h, &state);
        }
        Ok(())
    }

    /// SIGKILL init and the cgroup, and wait (bounded) for init to be gone.
    fn kill_everything(&self) -> Result<()> {
        let pidfd = self.state.pid.and_then(|p| crate::pidfd::open(nix::unistd::Pid::from_raw(p)).ok());
        if let Some(cg) = &self.state.cgroup {
            cg.kill_all(libc::SIGKILL)?;
        }
        self.signal_init(libc::SIGKILL)?;
        // Frozen (v1) processes act on SIGKILL only once thawed.
        if let Some(cg) = self.state.cgroup.as_ref().filter(|c| c.is_frozen().unwrap_or(false)) {
            cg.resume()?;
        }
        if let Some(fd) = pidfd {
            if !crate::pidfd::wait_exited(&fd, Duration::from_secs(10)).map_err(Error::sys("delete"))? {
                return Err(Error::Sys {
                    step: "delete",
                    error: SysError::new(format!("wait for init {:?} to exit", self.state.pid), Errno::ETIMEDOUT),
                });
            }
        }
        Ok(())
    }

    /// Turn a shared lock into an exclusive one; the state is re-read after, since
    /// flock conversion is not atomic.
    fn make_exclusive(&mut self) -> Result<()> {
        if self.exclusive {
            return Ok(());
        }
        self.dir.relock_exclusive().map_err(Error::sys("lock state"))?;
        if !self.dir.path.join(crate::state::STATE_FILE).exists() {
            return Err(Error::NotFound(self.state.id.clone()));
        }
        self.state = self.dir.read().map_err(Error::sys("load state"))?;
        self.exclusive = true;
        Ok(())
    }

    /// Give up the state lock and keep what is needed to wait for init (for `run`,
    /// which must not block `state` or `kill` while the container runs).
    pub fn detach(self) -> Detached {
        Detached {
            root: self.dir.path.parent().map(Path::to_path_buf).unwrap_or_default(),
            id: self.state.id.clone(),
            pid: self.state.pid,
        }
    }
}

/// A container created by this process, without the state lock.
#[derive(Debug, Clone)]
pub struct Detached {
    /// The state root.
    pub root: std::path::PathBuf,
    /// The container's id.
    pub id: String,
    /// Init's pid (our child).
    pub pid: Option<i32>,
}

impl Detached {
    /// Wait for init (our child) to exit and return its exit code, 128 + signal when
    /// killed, as shells report it.
    pub fn wait(&self) -> Result<i32> {
        match self.pid {
            Some(pid) => wait_child(pid),
            None => Ok(0),
        }
    }

    /// Load the container again (with the lock), e.g. to delete it.
    pub fn load(&self) -> Result<Container> {
        Container::load_locked(&self.root, &self.id, true)
    }
}

/// Wait for our child `pid` and return its exit code (128 + signal when killed).
pub(crate) fn wait_child(pid: i32) -> Result<i32> {
    loop {
        match nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => return Ok(c),
            Ok(nix::sys::wait::WaitStatus::Signaled(_, s, _)) => return Ok(128 + s as i32),
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::Sys { step: "wait", error: SysError::new(format!("waitpid {pid}"), e) }),
        }
    }
}

/// Poststart and poststop hooks: a failure is a warning and the next hook still runs
/// (runtime-spec). Each hook is run on its own so the index in messages stays right.
fn run_hooks_warning(kind: HookKind, hooks: &[oci_spec::runtime::Hook], state: &str) {
    for (i, h) in hooks.iter().enumerate() {
        if let Err(mut e) = run_hooks(kind, std::slice::from_ref(h), state.as_bytes()) {
            e.index = i;
            tracing::warn!("{e}");
        }
    }
}

/// `/proc/net/dev` → runc's `NetworkInterface` objects (loopback left out, as runc's
/// configured interfaces never include it).
fn parse_net_dev(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let name = name.trim();
            let f: Vec<u64> = rest.split_whitespace().filter_map(|v| v.parse().ok()).collect();
            (name != "lo" && f.len() >= 12).then(|| {
                serde_json::json!({
                    "Name": name, "RxBytes": f[0], "RxPackets": f[1], "RxErrors": f[2], "RxDropped": f[3],
                    "TxBytes": f[8], "TxPackets": f[9], "TxErrors": f[10], "TxDropped": f[11],
                })
            })
        })
        .collect()
}

/// Deep-merge `new` into `base`: objects key by key, anything else replaced (null is "not given").
fn merge_json(base: &mut serde_json::Value, new: serde_json::Value) {
    match (base, new) {
        (serde_json::Value::Object(b), serde_json::Value::Object(n)) => {
            for (k, v) in n {
                if !v.is_null() {
                    merge_json(b.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
        }
        (b, n) if !n.is_null() => *b = n,
        _ => {}
    }
}

fn protocol(step: &'static str, e: ProtocolError) -> Error {
    Error::Sys { step, error: SysError::new(e.to_string(), Errno::EPIPE) }
}
