//! Logs and the final error line: text on stderr by default, or runc's JSON lines
//! (`{"level":"error","msg":...,"time":...}`) in the `--log` file, which shims read.

use crate::cli::Global;
use std::io::Write;
use std::path::PathBuf;

pub struct Log {
    file: Option<PathBuf>,
    json: bool,
}

pub fn init(g: &Global) -> Log {
    // A plain level, no env-filter directives: the filter's regex engine would cost
    // startup time and resident memory on every invocation.
    let level = if g.debug { tracing::Level::DEBUG } else { tracing::Level::WARN };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_timer(tracing_subscriber::fmt::time::uptime());
    let file = g.log.as_ref().and_then(|p| std::fs::OpenOptions::new().create(true).append(true).open(p).ok());
    match (file, g.log_format.as_str()) {
        (Some(f), "json") => builder.json().with_writer(std::sync::Mutex::new(f)).init(),
        (Some(f), _) => builder.with_ansi(false).with_writer(std::sync::Mutex::new(f)).init(),
        (None, _) => builder.with_writer(std::io::stderr).init(),
    }
    Log { file: g.log.clone(), json: g.log_format == "json" }
}

impl Log {
    /// Report the error that ends the command: one line on stderr, and in the log file.
    pub fn error(&self, e: &anyhow::Error) {
        // Library errors carry their whole story in Display; `{:#}` would repeat it.
        let msg = e.to_string();
        eprintln!("berth: {msg}");
        if let Some(p) = &self.file {
            let line = if self.json {
                serde_json::json!({"level": "error", "msg": msg, "time": libcontainer::time::now_rfc3339()}).to_string()
            } else {
                format!("level=error msg={msg:?}")
            };
            if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(p) {
                let _ = writeln!(f, "{line}");
            }
        }
    }
}
