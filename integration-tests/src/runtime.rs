//! Invoking the runtime binary under test and reading what it printed.

use crate::artifacts::runtime_bin;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Default time limit for one runtime invocation.
pub const RUNTIME_TIMEOUT: Duration = Duration::from_secs(30);

/// Result of one runtime invocation.
#[derive(Debug, Clone)]
pub struct Out {
    pub args: Vec<String>,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// File the runtime's (and for create / run -d: the container's) stdout went to.
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
    pub elapsed: Duration,
}

impl Out {
    pub fn success(&self) -> bool {
        self.status.success()
    }
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
    /// Assert the invocation succeeded, with a helpful message.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert!(
            self.success(),
            "`{}` failed ({:?})\nstdout: {}\nstderr: {}",
            self.args.join(" "),
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }
    /// Assert the invocation failed with a non-zero exit status and some stderr.
    #[track_caller]
    pub fn fails(&self) -> &Self {
        assert!(
            !self.success(),
            "`{}` unexpectedly succeeded\nstdout: {}\nstderr: {}",
            self.args.join(" "),
            self.stdout,
            self.stderr
        );
        assert!(
            self.code().is_some(),
            "`{}` died from a signal: {:?}\nstderr: {}",
            self.args.join(" "),
            self.status,
            self.stderr
        );
        assert!(!self.stderr.trim().is_empty(), "`{}` failed without saying why on stderr", self.args.join(" "));
        self
    }
    /// Current content of the stdout file (a detached container may still be writing).
    pub fn stdout_now(&self) -> String {
        fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }
    pub fn stderr_now(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
    /// Parse stdout as probe `key=value` facts.
    pub fn facts(&self) -> Facts {
        Facts::parse(&self.stdout)
    }
}

/// The runtime binary plus a private `--root` state directory.
#[derive(Clone)]
pub struct Runtime {
    pub bin: PathBuf,
    pub root: PathBuf,
    /// Extra environment variables for every invocation.
    pub env: Vec<(String, String)>,
    pub(crate) io_dir: PathBuf,
}

static IO_COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Runtime {
    pub fn new(root: PathBuf, io_dir: PathBuf) -> Runtime {
        Runtime { bin: runtime_bin(), root, env: Vec::new(), io_dir }
    }

    /// True when the runtime under test is berth (i.e. not runc / crun).
    pub fn is_berth(&self) -> bool {
        let name = self.bin.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        !(name.starts_with("runc") || name.starts_with("crun"))
    }

    /// Run `<bin> --root <root> <args>` with stdin from /dev/null.
    pub fn cmd(&self, args: &[&str]) -> Out {
        self.cmd_full(args, None, RUNTIME_TIMEOUT)
    }

    /// Run with the given bytes on stdin (None: /dev/null) and a time limit
    /// (times [`crate::time_scale`]).
    pub fn cmd_full(&self, args: &[&str], stdin: Option<&[u8]>, timeout: Duration) -> Out {
        let mut all = vec!["--root".to_string(), self.root.display().to_string()];
        all.extend(args.iter().map(|s| s.to_string()));
        run_program(&self.bin, &all, &self.env, stdin, timeout, &self.io_dir)
    }
}

/// Run `bin args...` with `env` added, the given bytes on stdin (None: /dev/null) and a
/// time limit (times [`crate::time_scale`]); stdout and stderr go to files in `io_dir`.
pub fn run_program(
    bin: &std::path::Path,
    all: &[String],
    env: &[(String, String)],
    stdin: Option<&[u8]>,
    timeout: Duration,
    io_dir: &std::path::Path,
) -> Out {
    let timeout = timeout * crate::time_scale();
    let n = IO_COUNTER.fetch_add(1, Ordering::SeqCst);
    let stdout_path = io_dir.join(format!("rt-{n}.stdout"));
    let stderr_path = io_dir.join(format!("rt-{n}.stderr"));
    let so = fs::File::create(&stdout_path).expect("stdout file");
    let se = fs::File::create(&stderr_path).expect("stderr file");
    let mut c = Command::new(bin);
    c.args(all).stdout(so).stderr(se);
    c.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    c.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let start = Instant::now();
    let mut child = c.spawn().unwrap_or_else(|e| {
        panic!("cannot run runtime {}: {e} (build it with `cargo build -p berth`, or set BERTH_RUNTIME)", bin.display())
    });
    if let Some(data) = stdin {
        let mut w = child.stdin.take().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = w.write_all(&data);
        });
    }
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait runtime") {
            break st;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`{} {}` did not finish within {:?}\nstderr: {}",
                bin.display(),
                all.join(" "),
                timeout,
                fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    Out {
        args: std::iter::once(bin.display().to_string()).chain(all.iter().cloned()).collect(),
        status,
        stdout: fs::read_to_string(&stdout_path).unwrap_or_default(),
        stderr: fs::read_to_string(&stderr_path).unwrap_or_default(),
        stdout_path,
        stderr_path,
        elapsed,
    }
}

// ---------------------------------------------------------------------------
// Probe output
// ---------------------------------------------------------------------------

/// `key=value` facts printed by the probe (first `=` splits).
#[derive(Debug, Default, Clone)]
pub struct Facts(pub BTreeMap<String, String>);

impl Facts {
    pub fn parse(s: &str) -> Facts {
        let mut m = BTreeMap::new();
        for line in s.lines() {
            if let Some((k, v)) = line.split_once('=') {
                m.insert(k.to_string(), v.to_string());
            }
        }
        Facts(m)
    }
    #[track_caller]
    pub fn get(&self, k: &str) -> &str {
        self.0.get(k).map(|s| s.as_str()).unwrap_or_else(|| panic!("probe did not report {k:?}; facts: {:#?}", self.0))
    }
    pub fn opt(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(|s| s.as_str())
    }
    /// Sub-fields of a `k=v k2=v2 ...` value (e.g. a `stat:PATH` line).
    #[track_caller]
    pub fn fields(&self, k: &str) -> BTreeMap<String, String> {
        fields(self.get(k))
    }
    /// Parse a hex capability mask line (CapEff etc.).
    #[track_caller]
    /// The descriptors the probe's `fds` found open, without the probe's own handle on
    /// `/proc/self/fd` that it lists them with.
    pub fn fds_besides_probe(&self) -> Vec<i32> {
        self.get("fds")
            .split(',')
            .filter_map(|s| s.parse().ok())
            .filter(|n| !self.get(&format!("fd{n}")).ends_with("/fd"))
            .collect()
    }
    pub fn hex(&self, k: &str) -> u64 {
        u64::from_str_radix(self.get(k), 16).unwrap_or_else(|e| panic!("{k}: {e}"))
    }
}

/// Split `a=1 b=2` into a map (tokens without `=` map to "").
pub fn fields(s: &str) -> BTreeMap<String, String> {
    s.split_whitespace()
        .map(|t| match t.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (t.to_string(), String::new()),
        })
        .collect()
}
