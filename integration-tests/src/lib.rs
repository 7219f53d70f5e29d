//! Test harness for berth's integration tests.
//!
//! The tests drive a runtime binary (berth by default, any runc-compatible
//! runtime through `BERTH_RUNTIME`) over real OCI bundles made of a busybox
//! root filesystem plus a small static probe program (`probe/probe.rs`)
//! that reports facts from inside the container.
//!
//! Everything a test creates lives under `/tmp/berth-it-*` and is removed by
//! [`TestEnv`]'s `Drop`, which also force-deletes the container, kills any
//! process it remembered, lazily unmounts anything under its directory and
//! removes the container's cgroup directories, so a failing test leaves no
//! debris behind.

mod artifacts;
mod clients;
mod config;
mod console;
mod env;
mod mounts;
mod procs;
mod runtime;

pub use artifacts::*;
pub use clients::*;
pub use config::*;
pub use console::*;
pub use env::*;
pub use mounts::*;
pub use procs::*;
pub use runtime::*;

use std::collections::BTreeSet;

/// Set of strings helper for assertions.
pub fn set<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().map(String::from).collect()
}

/// chown a tree (without following symlinks), e.g. a rootfs for a user namespace.
pub fn chown_tree(p: &std::path::Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap();
    if std::fs::symlink_metadata(p).unwrap().is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            chown_tree(&e.unwrap().path(), uid, gid);
        }
    }
}
