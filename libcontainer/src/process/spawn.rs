//! The runtime's side of creating the container's init (see [`crate::protocol`]).

use super::clone::{clone3, Forked};
use super::init::{init_main, stage1_main, InitArgs};
use crate::cgroups::Manager;
use crate::hooks::{run_hooks, HookKind};
use crate::plan::{IdMap, Plan};
use crate::protocol::{recv_msg, send_msg, InitError, Message, ProtocolError};
use crate::rootfs::CgroupMount;
use crate::syserr::{SysError, SysResultExt};
use nix::sched::CloneFlags;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, OwnedFd, RawFd};

/// Why the container's init could not be created.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// A step in the runtime failed.
    #[error("{step}: {error}")]
    Runtime { step: &'static str, error: SysError },
    /// A step in init failed and said so.
    #[error("{0}")]
    Init(InitError),
    /// A hook run by the runtime failed.
    #[error("{0}")]
    Hook(#[from] crate::hooks::HookError),
    /// Init went away without saying why.
    #[error("the container's init {0}")]
    Died(String),
    /// The exchange with init broke.
    #[error("talking to the container's init: {0}")]
    Protocol(ProtocolError),
}

/// The created init.
#[derive(Debug)]
pub struct Spawned {
    /// Its pid in the runtime's pid namespace.
    pub pid: Pid,
    /// A pidfd for it, when it is our child (one-step creation or CLONE_PARENT).
    pub pidfd: Option<OwnedFd>,
}

/// What the runtime hands to [`spawn`].
pub struct SpawnArgs<'a> {
    pub plan: &'a Plan,
    pub cgroup: &'a Manager,
    pub cgroup_mounts: &'a [CgroupMount],
    pub start_listener: OwnedFd,
    /// Raw fds the child must close at once (e.g. the state directory's lock).
    pub close_in_child: &'a [RawFd],
    /// Keep fds 3..3+N open for the container's program (`--preserve-fds`).
    pub preserve_fds: u32,
    /// The console socket init sends the pty master to (`process.terminal`).
    pub console: Option<OwnedFd>,
}

fn rt(step: &'static str) -> impl FnOnce(SysError) -> SpawnError {
    move |error| SpawnError::Runtime { step, error }
}

/// Create the container's init and drive it until it is ready for `start`.
/// On error, whatever was cloned is killed and reaped; the caller removes the cgroup.
pub fn spawn(args: SpawnArgs<'_>) -> Result<Spawned, SpawnError> {
    let plan = args.plan;
    let (parent_end, child_end) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
        .op(|| "socketpair for init".into())
        .map_err(rt("init socket"))?;
    let two_step = plan.needs_two_step();
    let cg_fd = args.cgroup.v2_dir();
    let mut flags = if two_step { CloneFlags::empty() } else { plan.namespaces.new };
    // Born in its cgroup (v2) the cgroup namespace can be created by clone; on v1 the
    // process is moved after clone, so init unshares the namespace once it is placed.
    let unshare_cgroupns = !two_step && cg_fd.is_none() && flags.contains(CloneFlags::CLONE_NEWCGROUP);
    if unshare_cgroupns {
        flags.remove(CloneFlags::CLONE_NEWCGROUP);
    }
    let forked = clone3(flags.bits() as u64, cg_fd.as_ref().map(|f| f.as_fd())).map_err(rt("clone"))?;
    let (first, pidfd) = match forked {
        Forked::Child => {
            drop(parent_end);
            for fd in args.close_in_child {
                let _ = nix::unistd::close(*fd);
            }
            let init = InitArgs {
                plan,
                sync: child_end,
                start_listener: args.start_listener,
                cgroup_mounts: args.cgroup_mounts,
                unshare_cgroupns,
                preserve_fds: args.preserve_fds,
                console: args.console,
            };
            if two_step {
                stage1_main(init)
            } else {
                init_main(init)
            }
        }
        Forked::Parent { pid, pidfd } => (pid, pidfd),
    };
    tracing::debug!(pid = first.as_raw(), two_step, "cloned");
    drop(child_end);
    drop(args.start_listener);
    drop(args.console);
    let guard = KillGuard(vec![first]);
    // Should this process die from here on, init reads EOF on its socket and exits: no
    // pid needs recording for cleanup before it is ready.
    let r = drive(plan, args.cgroup, &parent_end, first, two_step, cg_fd.is_some());
    match r {
        Ok(init) => {
            std::mem::forget(guard);
            Ok(Spawned { pid: init, pidfd: if two_step { None } else { Some(pidfd) } })
        }
        Err(e) => {
            drop(guard);
            Err(e)
        }
    }
}

/// Kills and reaps the processes it holds when dropped (on every error path).
struct KillGuard(Vec<Pid>);

impl Drop for KillGuard {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = nix::sys::signal::kill(*p, nix::sys::signal::Signal::SIGKILL);
            let _ = waitpid(*p, None);
        }
    }
}

fn died(pid: Pid) -> SpawnError {
    match waitpid(pid, None) {
        Ok(WaitStatus::Exited(_, c)) => SpawnError::Died(format!("exited with status {c} during setup")),
        Ok(WaitStatus::Signaled(_, s, _)) => SpawnError::Died(format!("was killed by {s} during setup")),
        _ => SpawnError::Died("closed its connection during setup".into()),
    }
}

fn recv(sock: &OwnedFd, pid: Pid) -> Result<Message, SpawnError> {
    match recv_msg(sock.as_fd()) {
        Ok(Message::Error(e)) => Err(SpawnError::Init(e)),
        Ok(m) => Ok(m),
        Err(ProtocolError::Closed) => Err(died(pid)),
        Err(e) => Err(SpawnError::Protocol(e)),
    }
}

/// Send to `pid`'s end. If it is gone, what it said before leaving (its error, most
/// often: init reports a failed step and exits without waiting for us) is the answer.
fn send(sock: &OwnedFd, pid: Pid, m: &Message) -> Result<(), SpawnError> {
    match send_msg(sock.as_fd(), m) {
        Err(ProtocolError::Closed) => {
            let said = recv(sock, pid)?;
            Err(SpawnError::Protocol(ProtocolError::Unexpected { got: Box::new(said), expected: "an open connection" }))
        }
        r => r.map_err(SpawnError::Protocol),
    }
}

fn drive(
    plan: &Plan,
    cgroup: &Manager,
    sock: &OwnedFd,
    first: Pid,
    two_step: bool,
    born_in_cgroup: bool,
) -> Result<Pid, SpawnError> {
    let join = |pid: Pid| {
        cgroup.add_task(pid.as_raw()).map_err(|e| SpawnError::Runtime {
            step: "cgroup",
            error: SysError::new(e.to_string(), nix::errno::Errno::EIO),
        })
    };
    if two_step && !born_in_cgroup {
        // The first child unshares the cgroup namespace and forks init: it must be placed first.
        join(first)?;
    }
    let init = if two_step {
        send(sock, first, &Message::Continue)?;
        loop {
            match recv(sock, first)? {
                Message::MapUserNs => {
                    write_id_maps(first, &plan.uid_map, &plan.gid_map).map_err(rt("user namespace"))?;
                    send(sock, first, &Message::Continue)?;
                }
                Message::InitPid { pid } => break Pid::from_raw(pid),
                m => {
                    return Err(SpawnError::Protocol(ProtocolError::Unexpected {
                        got: Box::new(m),
                        expected: "InitPid",
                    }))
                }
            }
        }
    } else {
        if plan.namespaces.creates(oci_spec::runtime::LinuxNamespaceType::User) {
            write_id_maps(first, &plan.uid_map, &plan.gid_map).map_err(rt("user namespace"))?;
        }
        first
    };
    if two_step {
        // The first child exits once it has reported init; init is our child (CLONE_PARENT).
        match waitpid(first, None) {
            Ok(WaitStatus::Exited(_, 0)) => {}
            other => return Err(SpawnError::Died(format!("first stage ended with {other:?}"))),
        }
    }
    let guard = KillGuard(if two_step { vec![init] } else { vec![] });
    if let Some(adj) = plan.process.oom_score_adj {
        std::fs::write(format!("/proc/{init}/oom_score_adj"), adj.to_string())
            .op(|| format!("write {adj} to /proc/{init}/oom_score_adj"))
            .map_err(rt("oom_score_adj"))?;
    }
    send(sock, init, &Message::Continue)?;
    if !two_step && !born_in_cgroup {
        join(init)?;
    }
    send(sock, init, &Message::Joined { pid: init.as_raw() })?;
    loop {
        match recv(sock, init)? {
            Message::RuntimeHooks => {
                let state = crate::state::oci_state_json(plan, "creating", init.as_raw());
                #[allow(deprecated)]
                if let Some(h) = plan.hooks.prestart() {
                    run_hooks(HookKind::Prestart, h, state.as_bytes())?;
                }
                if let Some(h) = plan.hooks.create_runtime() {
                    run_hooks(HookKind::CreateRuntime, h, state.as_bytes())?;
                }
                send(sock, init, &Message::Continue)?;
            }
            Message::Ready => break,
            m => return Err(SpawnError::Protocol(ProtocolError::Unexpected { got: Box::new(m), expected: "Ready" })),
        }
    }
    std::mem::forget(guard);
    Ok(init)
}

fn map_text(maps: &[IdMap]) -> String {
    maps.iter().map(|m| format!("{} {} {}\n", m.container, m.host, m.size)).collect()
}

/// Write `/proc/<pid>/uid_map` and `gid_map` for a process in a new user namespace.
pub fn write_id_maps(pid: Pid, uid: &[IdMap], gid: &[IdMap]) -> Result<(), SysError> {
    for (file, maps) in [("uid_map", uid), ("gid_map", gid)] {
        let path = format!("/proc/{pid}/{file}");
        let text = map_text(maps);
        std::fs::write(&path, text.as_bytes()).op(|| format!("write {text:?} to {path}")).map_err(|e| {
            if e.errno() == nix::errno::Errno::EPERM {
                e.hint("the host ids must exist and be mapped only once; writing maps needs CAP_SETUID/CAP_SETGID")
            } else {
                e
            }
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_maps_render_one_line_each() {
        let m = [IdMap { container: 0, host: 100000, size: 65536 }, IdMap { container: 65536, host: 1, size: 1 }];
        assert_eq!(map_text(&m), "0 100000 65536\n65536 1 1\n");
    }
}
