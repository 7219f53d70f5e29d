//! `run`: create + start, then (unless --detach) forward signals to the container,
//! wait for it, delete it and exit with its status.

use super::forward;
use crate::cli::Run;
use std::path::Path;

pub fn run(root: &Path, a: Run) -> anyhow::Result<i32> {
    if a.detach {
        let (mut c, _) = super::create::create(root, &a.id, &a.opts, true)?;
        return match c.start() {
            Ok(()) => Ok(0),
            Err(e) => {
                let _ = c.delete(true);
                Err(e.into())
            }
        };
    }
    forward::block()?;
    let (mut c, ours) = super::create::create(root, &a.id, &a.opts, false)?;
    // Raw mode and the pty's size before the program runs.
    let relay = match super::console::relay(ours) {
        Ok(r) => r,
        Err(e) => {
            let _ = c.delete(true);
            return Err(e);
        }
    };
    if let Err(e) = c.start() {
        drop(relay);
        let _ = c.delete(true);
        return Err(e.into());
    }
    let detached = c.detach();
    let code = forward::until_exit(detached.pid.unwrap_or(0), relay)?;
    detached.load()?.delete(true)?;
    Ok(code)
}
