use crate::cli::Id;
use libcontainer::Container;
use std::path::Path;

pub fn pause(root: &Path, a: Id) -> anyhow::Result<i32> {
    Container::load_exclusive(root, &a.id)?.pause()?;
    Ok(0)
}

pub fn resume(root: &Path, a: Id) -> anyhow::Result<i32> {
    Container::load_exclusive(root, &a.id)?.resume()?;
    Ok(0)
}
