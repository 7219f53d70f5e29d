//! [`TestEnv`]: one test's temp dir, runtime root, bundle and container id,
//! with helpers to edit the config and drive the container's lifecycle.
//! Leftover checks and the cleanup on drop are in [`cleanup`].

use crate::{default_config, probe_bin, rootfs_template, wait_until, Facts, Out, ProcId, Runtime, RUNTIME_TIMEOUT};
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

mod cleanup;

static ENV_COUNTER: AtomicUsize = AtomicUsize::new(0);

fn copy_tree(from: &Path, to: &Path) {
    let o = Command::new("cp").arg("-a").arg(from).arg(to).output().expect("cp -a");
    assert!(o.status.success(), "cp -a failed: {}", String::from_utf8_lossy(&o.stderr));
}

fn sanitize(name: &str) -> String {
    let s: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect();
    s.chars().take(40).collect()
}

/// One test's world: a temp dir with the runtime's `--root`, one bundle
/// (`config` is the default spec, mutate it before `create`), a `shared`
/// host dir for bind mounts / hook records, and a unique container id.
pub struct TestEnv {
    pub name: String,
    /// /tmp/berth-it-<name>-<pid>-<n>
    pub dir: PathBuf,
    pub rt: Runtime,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// Host directory (mode 0777) for files exchanged with the container / hooks.
    pub shared: PathBuf,
    pub id: String,
    /// linux.cgroupsPath of the container (absolute).
    pub cgroups_path: String,
    pub config: Value,
    /// Processes to kill on drop (container inits we saw, host helpers).
    procs: Vec<ProcId>,
    children: Vec<Child>,
    owns_root: bool,
}

impl TestEnv {
    /// New environment with its own runtime root.
    pub fn new(name: &str) -> TestEnv {
        let n = ENV_COUNTER.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}-{}-{}", sanitize(name), std::process::id(), n);
        let dir = PathBuf::from(format!("/tmp/berth-it-{tag}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let root = dir.join("root");
        let io = dir.join("io");
        fs::create_dir_all(&io).unwrap();
        Self::with_runtime(name, dir, Runtime::new(root, io), &tag, true)
    }

    /// Another container sharing this environment's runtime root (for `list`,
    /// duplicate ids, joining namespaces). Has its own dir, bundle and id.
    pub fn sibling(&self, suffix: &str) -> TestEnv {
        let n = ENV_COUNTER.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}-{}-{}-{}", sanitize(&self.name), sanitize(suffix), std::process::id(), n);
        let dir = PathBuf::from(format!("/tmp/berth-it-{tag}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let mut rt = self.rt.clone();
        rt.io_dir = dir.join("io");
        fs::create_dir_all(&rt.io_dir).unwrap();
        Self::with_runtime(&format!("{}-{suffix}", self.name), dir, rt, &tag, false)
    }

    fn with_runtime(name: &str, dir: PathBuf, rt: Runtime, tag: &str, owns_root: bool) -> TestEnv {
        let bundle = dir.join("bundle");
        fs::create_dir_all(&bundle).unwrap();
        let rootfs = bundle.join("rootfs");
        copy_tree(&rootfs_template(), &rootfs);
        let _ = fs::remove_file(rootfs.join(".complete"));
        fs::copy(probe_bin(), rootfs.join("probe")).expect("copy probe");
        fs::set_permissions(rootfs.join("probe"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(rootfs.join("berth-marker"), format!("{tag}\n")).unwrap();
        let shared = dir.join("shared");
        fs::create_dir_all(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
        let id = format!("it-{tag}");
        let cgroups_path = format!("/berth-test/{id}");
        let config = default_config(&cgroups_path);
        TestEnv {
            name: name.to_string(),
            dir,
            rt,
            bundle,
            rootfs,
            shared,
            id,
            cgroups_path,
            config,
            procs: Vec::new(),
            children: Vec::new(),
            owns_root,
        }
    }

    pub fn is_berth(&self) -> bool {
        self.rt.is_berth()
    }

    /// A started container whose program sleeps (with /shared mounted), once it runs;
    /// and its init's pid. For exec and terminal tests.
    pub fn running_sleeper(name: &str) -> (TestEnv, i32) {
        let mut t = TestEnv::new(name);
        t.mount_shared();
        t.sh("touch /shared/ready; exec sleep 1000");
        let pid = t.create_ok();
        t.start().ok();
        crate::wait_for_path(&t.shared.join("ready"), Duration::from_secs(20));
        (t, pid)
    }

    // ----- config helpers -----

    /// Set process.args.
    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.config["process"]["args"] = json!(args);
        self
    }

    /// Run `sh -c script` as the container process.
    pub fn sh(&mut self, script: &str) -> &mut Self {
        self.args(&["/bin/sh", "-c", script])
    }

    /// Bind-mount the host `shared` dir at /shared (rw).
    pub fn mount_shared(&mut self) -> &mut Self {
        let src = self.shared.display().to_string();
        self.add_mount(json!({
            "destination": "/shared", "type": "bind", "source": src, "options": ["rbind", "rw"]
        }))
    }

    pub fn add_mount(&mut self, m: Value) -> &mut Self {
        self.config["mounts"].as_array_mut().unwrap().push(m);
        self
    }

    /// Add (or replace the path of) a namespace entry.
    pub fn set_namespace(&mut self, ty: &str, path: Option<&str>) -> &mut Self {
        let nss = self.config["linux"]["namespaces"].as_array_mut().unwrap();
        nss.retain(|n| n["type"] != ty);
        let mut e = json!({ "type": ty });
        if let Some(p) = path {
            e["path"] = json!(p);
        }
        nss.push(e);
        self
    }

    pub fn remove_namespace(&mut self, ty: &str) -> &mut Self {
        let nss = self.config["linux"]["namespaces"].as_array_mut().unwrap();
        nss.retain(|n| n["type"] != ty);
        self
    }

    /// Write bundle/config.json from `config`.
    pub fn write_config(&self) {
        fs::write(self.bundle.join("config.json"), serde_json::to_vec_pretty(&self.config).unwrap()).unwrap();
    }

    // ----- lifecycle -----

    pub fn bundle_str(&self) -> String {
        self.bundle.display().to_string()
    }

    /// `create --bundle B ID` (writes config.json first). Does not assert.
    pub fn create(&mut self) -> Out {
        self.write_config();
        let b = self.bundle_str();
        let id = self.id.clone();
        let o = self.rt.cmd(&["create", "--bundle", &b, &id]);
        self.remember_pid();
        o
    }

    /// `create` that must succeed; returns the container's init pid.
    #[track_caller]
    pub fn create_ok(&mut self) -> i32 {
        let o = self.create();
        o.ok();
        let st = self.state();
        assert_eq!(st["status"], "created", "state after create: {st}");
        let pid = st["pid"].as_i64().unwrap_or(0) as i32;
        assert!(pid > 0, "state after create has no pid: {st}");
        pid
    }

    pub fn start(&self) -> Out {
        self.rt.cmd(&["start", &self.id])
    }

    /// `run --bundle B ID` in the foreground (optionally with stdin data).
    pub fn run(&mut self) -> Out {
        self.run_with(&[], None)
    }

    pub fn run_with(&mut self, extra: &[&str], stdin: Option<&[u8]>) -> Out {
        self.write_config();
        let b = self.bundle_str();
        let mut args = vec!["run", "--bundle", b.as_str()];
        args.extend_from_slice(extra);
        args.push(&self.id);
        let o = self.rt.cmd_full(&args, stdin, RUNTIME_TIMEOUT);
        self.remember_pid();
        o
    }

    /// Run the container to completion and return the probe facts (asserts exit 0).
    #[track_caller]
    pub fn run_probe(&mut self, probe_args: &[&str]) -> Facts {
        let mut a = vec!["/probe"];
        a.extend_from_slice(probe_args);
        self.args(&a);
        let o = self.run();
        o.ok();
        self.delete_if_exists();
        o.facts()
    }

    /// Raw `state ID`.
    pub fn state_out(&self) -> Out {
        self.rt.cmd(&["state", &self.id])
    }

    /// Parsed `state ID` (panics if it fails).
    #[track_caller]
    pub fn state(&self) -> Value {
        let o = self.state_out();
        o.ok();
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("state output is not JSON ({e}): {}", o.stdout))
    }

    pub fn status(&self) -> String {
        self.state()["status"].as_str().unwrap_or("").to_string()
    }

    pub fn pid(&self) -> i32 {
        self.state()["pid"].as_i64().unwrap_or(0) as i32
    }

    pub fn kill(&self, sig: Option<&str>) -> Out {
        match sig {
            Some(s) => self.rt.cmd(&["kill", &self.id, s]),
            None => self.rt.cmd(&["kill", &self.id]),
        }
    }

    pub fn delete(&self) -> Out {
        self.rt.cmd(&["delete", &self.id])
    }

    pub fn delete_force(&self) -> Out {
        self.rt.cmd(&["delete", "--force", &self.id])
    }

    /// Force-delete when the container still exists (quietly).
    pub fn delete_if_exists(&self) {
        if self.rt.root.join(&self.id).exists() || self.state_out().success() {
            let _ = self.delete_force();
        }
    }

    /// Wait until `state` reports `status` (true) or time out (false).
    pub fn wait_status(&self, status: &str, timeout: Duration) -> bool {
        wait_until(timeout, || {
            let o = self.state_out();
            o.success() && serde_json::from_str::<Value>(&o.stdout).map(|v| v["status"] == status).unwrap_or(false)
        })
    }

    /// Remember the container's init process (from `state`) for cleanup checks.
    pub fn remember_pid(&mut self) -> Option<ProcId> {
        let o = self.state_out();
        if !o.success() {
            return None;
        }
        let v: Value = serde_json::from_str(&o.stdout).ok()?;
        let pid = v["pid"].as_i64()? as i32;
        if pid <= 0 {
            return None;
        }
        let p = ProcId::of(pid)?;
        if !self.procs.contains(&p) {
            self.procs.push(p);
        }
        Some(p)
    }

    /// Processes seen so far (container inits, helpers).
    pub fn seen_procs(&self) -> Vec<ProcId> {
        self.procs.clone()
    }

    /// Spawn a host helper process killed on drop; returns its pid.
    pub fn spawn_host(&mut self, cmd: &mut Command) -> i32 {
        let c = cmd.stdin(Stdio::null()).spawn().expect("spawn host helper");
        let pid = c.id() as i32;
        self.children.push(c);
        pid
    }

    /// Make a host directory under `dir` (mode 0755).
    pub fn host_dir(&self, rel: &str) -> PathBuf {
        let p = self.dir.join(rel);
        fs::create_dir_all(&p).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        p
    }
}
