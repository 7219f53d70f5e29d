use crate::cli::Kill;
use libcontainer::{signal::parse_signal, Container, Error};
use std::path::Path;

pub fn run(root: &Path, a: Kill) -> anyhow::Result<i32> {
    let sig = parse_signal(&a.signal).ok_or_else(|| Error::Signal(a.signal.clone()))?;
    Container::load(root, &a.id)?.kill(sig, a.all)?;
    Ok(0)
}
