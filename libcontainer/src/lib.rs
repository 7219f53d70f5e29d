//! libcontainer: turns an OCI bundle into a running container.
//!
//! The pipeline: `config.json` is parsed and validated into a [`plan::Plan`] (pure, no
//! side effects); the runtime makes the state directory and cgroup, clones the container's
//! init into all its new namespaces at once ([`process`]), and drives it over a typed
//! protocol ([`protocol`]) until it waits for `start`. Nothing of the runtime stays
//! running: `start`, `kill`, `delete` are separate invocations that find the container
//! through its state directory ([`state`]).
//!
//! ```no_run
//! use libcontainer::{Container, ContainerBuilder};
//!
//! # fn main() -> Result<(), libcontainer::Error> {
//! let mut c = ContainerBuilder::new("hello", "/run/berth").bundle("bundles/hello").create()?;
//! c.start()?;
//! let c = c.detach();
//! let code = c.wait()?;
//! c.load()?.delete(false)?;
//! println!("exited with {code}");
//! # Ok(())
//! # }
//! ```
//!
//! The process that calls [`ContainerBuilder::create`] must be single-threaded: the
//! container's init is a clone of it (no re-exec), and a clone of a multithreaded process
//! may inherit a lock another thread held. For the same reason, until their last
//! `execve` the container's processes run the caller's own binary: call
//! [`sealed_exe::ensure`] first thing in `main`, so that nothing in a container can write
//! that binary through `/proc/<pid>/exe` (CVE-2019-5736).

pub mod cgroups;
pub mod container;
pub mod error;
pub mod features;
pub mod hooks;
pub mod passwd;
pub mod pidfd;
pub mod plan;
pub mod process;
pub mod protocol;
pub mod rootfs;
pub mod sealed_exe;
pub mod signal;
pub mod state;
pub mod syserr;
#[cfg(test)]
mod test_rng;
pub mod time;
pub mod tty;

pub use container::{Container, ContainerBuilder, Detached, ExecOptions, ExecProcess, Status};
pub use error::{Error, Result};
pub use state::OciState;
