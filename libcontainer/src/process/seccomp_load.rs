//! Loading the container's seccomp filter in init, and handing a notify listener to the
//! agent at `listenerPath` (runtime-spec: the fd goes with the container process state,
//! `{"ociVersion", "fds": ["seccompFd"], "pid", "metadata", "state"}`, over SCM_RIGHTS).

use crate::plan::{Plan, SeccompPlan};
use crate::syserr::{SysError, SysResultExt};
use nix::errno::Errno;
use nix::sys::socket::{
    connect, sendmsg, socket, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr,
};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};

/// Connect to the agent's socket while its path is still reachable (before pivot_root).
pub fn connect_listener(s: &SeccompPlan) -> Result<Option<OwnedFd>, SysError> {
    let Some(path) = s.listener_path.as_ref().filter(|_| s.program.uses_notify()) else { return Ok(None) };
    let fd = socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)
        .op(|| "socket(AF_UNIX) for the seccomp listener".into())?;
    let addr = UnixAddr::new(path).op(|| format!("seccomp listenerPath {path:?}"))?;
    connect(fd.as_raw_fd(), &addr)
        .op(|| format!("connect to seccomp listenerPath {path:?}"))
        .map_err(|e| e.hint("the seccomp agent must listen on listenerPath before the container is created"))?;
    Ok(Some(fd))
}

/// A failed `seccomp(2)` load as a [`SysError`] (init and exec report it the same way).
pub fn load_error(e: seccomp::SeccompError) -> SysError {
    SysError::new(format!("load the seccomp filter: {e}"), Errno::from_raw(e.errno().unwrap_or(libc::EINVAL)))
}

/// Load the filter; send the listener (if any) to the agent, then close our copy so the
/// container can never answer its own notifications.
pub fn load(plan: &Plan, s: &SeccompPlan, agent: Option<&OwnedFd>, host_pid: i32) -> Result<(), SysError> {
    let listener = s.program.load().map_err(load_error)?;
    let (Some(listener), Some(agent)) = (listener, agent) else { return Ok(()) };
    let state: serde_json::Value =
        serde_json::from_str(&crate::state::oci_state_json(plan, "creating", host_pid)).unwrap_or_default();
    let msg = serde_json::json!({
        "ociVersion": crate::state::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": host_pid,
        "metadata": s.listener_metadata,
        "state": state,
    })
    .to_string();
    let fds = [listener.as_raw_fd()];
    sendmsg::<()>(
        agent.as_raw_fd(),
        &[IoSlice::new(msg.as_bytes())],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .op(|| format!("send the seccomp listener to {:?}", s.listener_path))?;
    drop(listener);
    Ok(())
}
