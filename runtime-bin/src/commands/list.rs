use crate::cli::List;
use libcontainer::Container;
use std::path::Path;

pub fn run(root: &Path, a: List) -> anyhow::Result<i32> {
    let containers = Container::list(root)?;
    let states: Vec<_> = containers.iter().map(|c| c.state()).collect();
    if a.quiet {
        for s in &states {
            println!("{}", s.id);
        }
    } else if a.format == "json" {
        println!("{}", serde_json::to_string(&states)?);
    } else {
        let rows: Vec<[String; 6]> =
            std::iter::once(["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from))
                .chain(states.iter().map(|s| {
                    [
                        s.id.clone(),
                        s.pid.to_string(),
                        s.status.clone(),
                        s.bundle.display().to_string(),
                        s.created.clone(),
                        s.owner.clone(),
                    ]
                }))
                .collect();
        let widths: Vec<usize> = (0..6).map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0)).collect();
        for r in &rows {
            let line: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            println!("{}", line.join("   ").trim_end());
        }
    }
    Ok(0)
}
