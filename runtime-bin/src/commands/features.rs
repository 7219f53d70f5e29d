//! `features`: what berth supports, as the runtime-spec's features JSON (containerd
//! reads it to learn what it may ask for).

pub fn run() -> anyhow::Result<i32> {
    println!("{}", serde_json::to_string_pretty(&libcontainer::features::features())?);
    Ok(0)
}
