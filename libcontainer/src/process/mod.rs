//! Creating the container's process: the clone seam, the init that runs inside the new
//! namespaces, and the runtime side that drives it.

pub mod clone;
pub mod credentials;
pub mod exec;
pub mod exec_child;
mod init;
mod keyring;
pub mod nsvisit;
mod seccomp_load;
pub mod spawn;

pub use spawn::{spawn, SpawnArgs, SpawnError, Spawned};
