use crate::cli::Delete;
use libcontainer::{Container, Error};
use std::path::Path;

pub fn run(root: &Path, a: Delete) -> anyhow::Result<i32> {
    match Container::load_exclusive(root, &a.id) {
        Ok(c) => c.delete(a.force)?,
        // Like runc: deleting what is already gone is not an error when forced (shims
        // delete, then delete --force). A create killed before its first state write
        // left only its directory: that goes too.
        Err(Error::NotFound(_)) if a.force => {
            Container::remove_abandoned(root, &a.id)?;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(0)
}
