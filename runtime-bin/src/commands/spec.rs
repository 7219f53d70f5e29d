//! `spec`: write a default config.json into the bundle directory, like `runc spec`
//! (refusing to overwrite one that exists, as runc does).

use crate::cli::Spec;
use anyhow::bail;

pub fn run(a: Spec) -> anyhow::Result<i32> {
    let path = a.bundle.join("config.json");
    if path.exists() {
        bail!("File {} exists. Remove it first", path.display());
    }
    let text = serde_json::to_string_pretty(&libcontainer::features::default_spec(a.rootless))?;
    std::fs::write(&path, text + "\n").map_err(|e| anyhow::anyhow!("write {}: {e}", path.display()))?;
    Ok(0)
}
