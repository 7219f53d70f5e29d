use crate::cli::Id;
use libcontainer::Container;
use std::path::Path;

pub fn run(root: &Path, a: Id) -> anyhow::Result<i32> {
    let c = Container::load(root, &a.id)?;
    println!("{}", serde_json::to_string_pretty(&c.state())?);
    Ok(0)
}
