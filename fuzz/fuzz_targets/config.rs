//! `config.json` validation: any bytes either fail to parse as a runtime-spec config or
//! are validated into a plan (or refused with a `ConfigError`) without panicking.
#![no_main]

use libcontainer::plan::{Plan, PlanOptions};
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

/// A bundle directory with an empty rootfs (validation canonicalizes the bundle path).
fn bundle() -> &'static PathBuf {
    static B: OnceLock<PathBuf> = OnceLock::new();
    B.get_or_init(|| {
        let b = std::env::temp_dir().join(format!("berth-fuzz-bundle-{}", std::process::id()));
        std::fs::create_dir_all(b.join("rootfs")).expect("make the fuzz bundle");
        b
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = serde_json::from_slice::<oci_spec::runtime::Spec>(data) else { return };
    let _ = Plan::build("fuzz", bundle(), &spec, &PlanOptions::default());
});
