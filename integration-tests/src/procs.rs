//! Host-side views of processes: capability masks, `/proc/<pid>/stat`,
//! namespaces, and polling helpers.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

pub const CAP_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Bit mask of the named capabilities (`CAP_` prefix optional).
pub fn cap_mask(names: &[&str]) -> u64 {
    names.iter().fold(0, |m, n| {
        let full = if n.starts_with("CAP_") { n.to_string() } else { format!("CAP_{n}") };
        let i = CAP_NAMES.iter().position(|c| *c == full).unwrap_or_else(|| panic!("unknown capability {n}"));
        m | (1u64 << i)
    })
}

/// Names of the capabilities in a mask (for readable assertion messages).
pub fn cap_names(mask: u64) -> Vec<String> {
    (0..64)
        .filter(|i| mask & (1u64 << i) != 0)
        .map(|i| CAP_NAMES.get(i).map(|s| s.to_string()).unwrap_or(format!("cap{i}")))
        .collect()
}

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

/// (state char, start time in clock ticks) of a live pid, None if gone.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // After "comm)": field 3 is f[0]; starttime is field 22 -> f[19].
    Some((f[0].chars().next()?, f.get(19)?.parse().ok()?))
}

/// A process we saw, identified by pid + start time so pid reuse is not confused with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcId {
    pub pid: i32,
    pub start: u64,
}

impl ProcId {
    pub fn of(pid: i32) -> Option<ProcId> {
        proc_stat(pid).map(|(_, start)| ProcId { pid, start })
    }
    /// Alive (zombies count as dead).
    pub fn alive(&self) -> bool {
        matches!(proc_stat(self.pid), Some((st, start)) if start == self.start && st != 'Z')
    }
    pub fn kill(&self, sig: i32) {
        if self.alive() {
            // SAFETY: plain kill(2).
            unsafe { libc::kill(self.pid, sig) };
        }
    }
}

/// Factor for the harness's time limits, from `BERTH_IT_TIME_SCALE` (default 1):
/// the cgroup v2 tier runs the tests in an emulated VM, where starting a process
/// is 10-50 times slower, and sets it there. It only lengthens waits for
/// something that should happen (polls in [`wait_until`], the limit of one
/// runtime invocation), so passing tests do not get slower.
pub fn time_scale() -> u32 {
    static SCALE: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *SCALE.get_or_init(|| {
        std::env::var("BERTH_IT_TIME_SCALE").ok().and_then(|s| s.trim().parse().ok()).filter(|n| *n > 0).unwrap_or(1)
    })
}

/// Poll `f` until it returns true or `timeout` (times [`time_scale`]) passes;
/// returns the last result.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let timeout = timeout * time_scale();
    let start = Instant::now();
    loop {
        if f() {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait for a path to exist.
#[track_caller]
pub fn wait_for_path(p: &Path, timeout: Duration) {
    assert!(wait_until(timeout, || p.exists()), "timed out waiting for {}", p.display());
}

/// Wait for a file to exist and be non-empty; returns its content.
#[track_caller]
pub fn wait_for_file(p: &Path, timeout: Duration) -> String {
    let mut content = String::new();
    let ok = wait_until(timeout, || {
        content = fs::read_to_string(p).unwrap_or_default();
        !content.is_empty()
    });
    assert!(ok, "timed out waiting for {}", p.display());
    content
}

/// readlink of /proc/<pid>/ns/<name> ("self" allowed).
pub fn ns_of(pid: &str, name: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{name}")).map(|p| p.display().to_string()).unwrap_or_default()
}
