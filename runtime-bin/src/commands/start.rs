use crate::cli::Id;
use libcontainer::Container;
use std::path::Path;

pub fn run(root: &Path, a: Id) -> anyhow::Result<i32> {
    Container::load_exclusive(root, &a.id)?.start()?;
    Ok(0)
}
