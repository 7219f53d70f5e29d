//! What a [`TestEnv`] may leave behind, and removing it all on drop.

use super::TestEnv;
use crate::{container_cgroup_dirs, host_mounts, wait_until, ProcId};
use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

impl TestEnv {
    /// Everything that may be left behind for this container, as messages.
    pub fn leftovers(&self) -> Vec<String> {
        let mut bad = Vec::new();
        let state_dir = self.rt.root.join(&self.id);
        if state_dir.exists() {
            bad.push(format!("state dir {} still exists", state_dir.display()));
        }
        if let Ok(rd) = fs::read_dir(&self.rt.root) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().contains(&self.id) {
                    bad.push(format!("state entry {} still exists", e.path().display()));
                }
            }
        }
        for p in container_cgroup_dirs(&self.cgroups_path) {
            if p.exists() {
                bad.push(format!("cgroup dir {} still exists", p.display()));
            }
        }
        let dir = self.dir.display().to_string();
        for m in host_mounts() {
            if m.mount_point.contains(&dir) || m.source.contains(&dir) || m.root.contains(&dir) {
                bad.push(format!("host mount left: {} ({})", m.mount_point, m.fstype));
            }
        }
        for p in &self.procs {
            if p.alive() {
                bad.push(format!("process {} still alive", p.pid));
            }
        }
        bad
    }

    /// Assert nothing is left behind (waits briefly for processes to be reaped).
    #[track_caller]
    pub fn assert_no_leftovers(&self) {
        let mut bad = Vec::new();
        wait_until(Duration::from_secs(3), || {
            bad = self.leftovers();
            bad.is_empty()
        });
        assert!(bad.is_empty(), "leftovers for container {}:\n  {}", self.id, bad.join("\n  "));
    }

    /// Like assert_no_leftovers, also checking the given extra processes are gone.
    #[track_caller]
    pub fn assert_no_leftovers_and(&self, procs: &[ProcId]) {
        self.assert_no_leftovers();
        for p in procs {
            assert!(wait_until(Duration::from_secs(3), || !p.alive()), "process {} still alive", p.pid);
        }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let keep = std::env::var_os("BERTH_IT_KEEP").is_some();
        // Force-delete the container (bounded time, never panic in drop).
        if !keep {
            let mut all = vec!["--root".to_string(), self.rt.root.display().to_string()];
            all.extend(["delete", "--force", &self.id].iter().map(|s| s.to_string()));
            if let Ok(mut c) = Command::new(&self.rt.bin)
                .args(&all)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            {
                let start = Instant::now();
                loop {
                    match c.try_wait() {
                        Ok(Some(_)) | Err(_) => break,
                        Ok(None) if start.elapsed() > Duration::from_secs(10) => {
                            let _ = c.kill();
                            let _ = c.wait();
                            break;
                        }
                        Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            }
        }
        for p in &self.procs {
            p.kill(libc::SIGKILL);
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        if keep {
            eprintln!("BERTH_IT_KEEP: leaving {}", self.dir.display());
            return;
        }
        // Processes still in the container's cgroup. Thaw it first (a v1
        // frozen task cannot die), and on v2 kill the whole cgroup at once.
        for p in container_cgroup_dirs(&self.cgroups_path) {
            for (file, value) in [("freezer.state", "THAWED"), ("cgroup.freeze", "0"), ("cgroup.kill", "1")] {
                if p.join(file).exists() {
                    let _ = fs::write(p.join(file), value);
                }
            }
            if let Ok(s) = fs::read_to_string(p.join("cgroup.procs")) {
                for pid in s.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    // SAFETY: plain kill(2).
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        // Unmount anything under our dir (deepest first).
        let dir = self.dir.display().to_string();
        let mut mps: Vec<String> =
            host_mounts().into_iter().map(|m| m.mount_point).filter(|m| m.starts_with(&dir)).collect();
        mps.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mps {
            if let Ok(c) = std::ffi::CString::new(m) {
                // SAFETY: valid C string.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
        // Remove cgroup dirs (leaf first), processes need a moment to leave.
        for p in container_cgroup_dirs(&self.cgroups_path) {
            if p.exists() {
                wait_until(Duration::from_secs(2), || fs::remove_dir(&p).is_ok() || !p.exists());
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
        if self.owns_root {
            let _ = fs::remove_dir_all(&self.rt.root);
        }
    }
}
