//! `exec`: run another process in a running container: same namespaces, cgroup,
//! seccomp filter, and the identity the process description gives.

use super::ops::wait_child;
use super::{Container, Status};
use crate::error::{Error, Result};
use crate::plan::{clone_flag, Plan};
use crate::process::clone::{clone3, Forked};
use crate::process::exec_child::{exec_main, ExecArgs};
use crate::protocol::{recv_msg, send_msg, Message, ProtocolError};
use crate::syserr::{SysError, SysResultExt};
use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use std::os::fd::AsFd;

/// What to run and how.
#[derive(Debug, Default)]
pub struct ExecOptions {
    /// The process, as in config.json (`berth exec` builds it from the container's own
    /// process and its flags, or takes `--process FILE`).
    pub process: oci_spec::runtime::Process,
    /// Keep fds 3..3+N open for the program.
    pub preserve_fds: u32,
    /// Allow exec into a paused container (the process starts frozen).
    pub ignore_paused: bool,
    /// Where the pty master goes when `process.terminal` is true.
    pub console: crate::tty::Console,
    /// Existing sub-cgroups to run in (`--cgroup`): v1 controller (or `""` for every
    /// hierarchy) → path below the container's cgroup; see [`crate::cgroups::Manager::sub_cgroups`].
    pub sub_cgroups: std::collections::BTreeMap<String, std::path::PathBuf>,
}

/// A process started by [`Container::exec`]: a child of the caller.
#[derive(Debug, Clone, Copy)]
pub struct ExecProcess {
    /// Its pid in the caller's pid namespace.
    pub pid: i32,
}

impl ExecProcess {
    /// Wait for it and return its exit code (128 + signal when killed).
    pub fn wait(&self) -> Result<i32> {
        wait_child(self.pid)
    }
}

fn step(step: &'static str) -> impl FnOnce(SysError) -> Error {
    move |error| Error::Sys { step, error }
}

impl Container {
    /// Start `opts.process` inside the container. Returns once the program runs (or
    /// with the error of the step that failed, the program's path and errno included).
    pub fn exec(&self, opts: ExecOptions) -> Result<ExecProcess> {
        match self.status() {
            Status::Running | Status::Created => {}
            Status::Paused if opts.ignore_paused => {}
            Status::Paused => return Err(self.bad_status("exec into", " (hint: resume it, or use --ignore-paused)")),
            _ => return Err(self.bad_status("exec into", " (container not running)")),
        }
        let process = Plan::process_plan(&opts.process)?;
        let console = opts.console.for_process(process.terminal)?;
        let (namespaces, seccomp) = self.namespaces_and_filter()?;
        let init_pid = self.state.pid.ok_or_else(|| self.bad_status("exec into", ""))?;
        let init = crate::pidfd::open(nix::unistd::Pid::from_raw(init_pid)).map_err(step("exec"))?;
        if crate::state::proc_stat(init_pid).map(|s| s.start_time) != self.state.pid_start_time {
            return Err(self.bad_status("exec into", " (container not running)"));
        }
        let sub;
        let cgroup = match self.state.cgroup.as_ref() {
            Some(c) if !opts.sub_cgroups.is_empty() => {
                sub = c.sub_cgroups(&opts.sub_cgroups)?;
                Some(&sub)
            }
            c => c,
        };
        let cg_fd = cgroup.and_then(|c| c.v2_dir());
        let (parent_end, child_end) =
            socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
                .op(|| "socketpair for exec".into())
                .map_err(step("exec"))?;
        // One fork: the runtime visits the namespaces that only its children feel, clones
        // the process into them and goes back; the child joins cgroup, mount and user.
        let (visited, joined) = crate::process::nsvisit::split(namespaces);
        let visit = crate::process::nsvisit::visit(init.as_fd(), visited).map_err(step("exec"))?;
        let pid = match clone3(0, cg_fd.as_ref().map(|f| f.as_fd())).map_err(step("exec"))? {
            Forked::Child => {
                drop(parent_end);
                visit.stay();
                exec_main(ExecArgs {
                    process: &process,
                    seccomp: seccomp.as_ref(),
                    init: init.as_fd(),
                    namespaces: joined,
                    sync: child_end,
                    preserve_fds: opts.preserve_fds,
                    console,
                    close: &[self.dir.lock_fd()],
                })
            }
            Forked::Parent { pid, .. } => pid,
        };
        drop(child_end);
        drop(console);
        let result = (|| -> Result<()> {
            visit.leave().map_err(step("exec"))?;
            if let (Some(cg), None) = (cgroup, &cg_fd) {
                cg.add_task(pid.as_raw())?;
            }
            send_msg(parent_end.as_fd(), &Message::Continue).map_err(protocol)?;
            match recv_msg(parent_end.as_fd()) {
                Err(ProtocolError::Closed) => Ok(()),
                Ok(Message::Error(e)) => Err(Error::Spawn(crate::process::SpawnError::Init(e))),
                Ok(m) => Err(protocol(ProtocolError::Unexpected { got: Box::new(m), expected: "EOF" })),
                Err(e) => Err(protocol(e)),
            }
        })();
        if let Err(e) = result {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = wait_child(pid.as_raw());
            return Err(e);
        }
        Ok(ExecProcess { pid: pid.as_raw() })
    }
}

impl Container {
    /// The container's namespaces and seccomp filter, from its state (the filter from
    /// the cache file named there); from config.json for a state without them, or when
    /// the cached file is gone.
    fn namespaces_and_filter(&self) -> Result<(CloneFlags, Option<seccomp::Program>)> {
        let info = self.state.exec.as_ref();
        let recorded = info.map(|i| CloneFlags::from_bits_retain(i.namespaces as libc::c_int));
        // Some(filter) when the state says all: no filter, or one whose cache file loads.
        let filter = info.and_then(|i| match i.seccomp {
            false => Some(None),
            true => i.seccomp_file.as_deref().and_then(crate::plan::seccomp_cache::load_file).map(Some),
        });
        if let (Some(ns), Some(filter)) = (recorded, filter) {
            return Ok((ns, filter));
        }
        let spec = super::builder::load_spec(&self.state.bundle)?;
        let linux = spec.linux().clone().unwrap_or_default();
        let cache = self.dir.path.parent().map(|r| r.join(".seccomp-cache"));
        let seccomp = Plan::seccomp_plan(linux.seccomp().as_ref(), cache.as_deref())?.map(|s| s.program);
        let namespaces = recorded.unwrap_or_else(|| {
            linux.namespaces().iter().flatten().fold(CloneFlags::empty(), |f, n| f | clone_flag(n.typ()))
        });
        Ok((namespaces, seccomp))
    }
}

fn protocol(e: ProtocolError) -> Error {
    Error::Sys { step: "exec", error: SysError::new(e.to_string(), Errno::EPIPE) }
}
