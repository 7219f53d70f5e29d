use crate::cli::{Create, CreateOpts};
use libcontainer::{Container, ContainerBuilder};
use std::os::fd::OwnedFd;
use std::path::Path;

pub fn builder(root: &Path, id: &str, o: &CreateOpts) -> ContainerBuilder {
    let mut b = ContainerBuilder::new(id, root)
        .bundle(&o.bundle)
        .no_pivot(o.no_pivot)
        .no_new_keyring(o.no_new_keyring)
        .preserve_fds(o.preserve_fds);
    // Socket activation (systemd's sd_listen_fds rules, as runc follows them): the fds
    // are ours only when LISTEN_PID names this process.
    let ours = std::env::var("LISTEN_PID").ok().and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id());
    if let Some(n) = std::env::var("LISTEN_FDS").ok().and_then(|v| v.parse::<u32>().ok()).filter(|n| ours && *n > 0) {
        b = b.listen_fds(n);
    }
    if let Some(p) = &o.pid_file {
        b = b.pid_file(p);
    }
    b
}

/// Create the container; `detach`: nobody stays to attach a terminal (create, run -d).
/// Returns our end of the console socket too, for a foreground run ([`super::console::relay`]).
pub fn create(root: &Path, id: &str, o: &CreateOpts, detach: bool) -> anyhow::Result<(Container, Option<OwnedFd>)> {
    let (console, ours) = super::console::console(o.console_socket.as_deref(), detach)?;
    let c = builder(root, id, o).console(console).create()?;
    Ok((c, ours))
}

pub fn run(root: &Path, a: Create) -> anyhow::Result<i32> {
    create(root, &a.id, &a.opts, true)?;
    Ok(0)
}
