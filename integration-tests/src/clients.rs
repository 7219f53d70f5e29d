//! Real clients for the end-to-end tests: containerd (through `ctr` and its runc v2
//! shim), podman and Docker, each started privately for one test (its own config,
//! state, root and socket under the test's directory, stopped by its pid when the test
//! ends), pointed at the runtime under test, over a local OCI image of the busybox
//! rootfs template and the probe (there is no registry to pull from).

use crate::{build_lock, probe_bin, rootfs_template, run_program, target_dir, Out, TestEnv};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The tools of `tools` that are not on this machine, as a skip reason (or None).
pub fn missing_tools(tools: &[&str], package: &str) -> Option<String> {
    let path = std::env::var("PATH").unwrap_or_default();
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| !path.split(':').chain(["/usr/sbin", "/sbin"]).any(|d| Path::new(d).join(t).exists()))
        .collect();
    (!missing.is_empty())
        .then(|| format!("{} not installed (apt-get install {package}; .ci/run installs it)", missing.join(", ")))
}

fn sh(cmd: &mut Command) {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        o.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// An OCI image layout of the rootfs template plus `/probe` (`/bin/sh` as its command),
/// built once with umoci; returns the layout directory (its tag is `latest`).
pub fn oci_layout() -> PathBuf {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let dir = target_dir().join("berth-it-oci-v1");
        if dir.join(".complete").exists() {
            return dir;
        }
        let _lock = build_lock();
        if dir.join(".complete").exists() {
            return dir;
        }
        let tmp = target_dir().join(format!("berth-it-oci.tmp{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).unwrap();
        let layout = tmp.join("layout");
        let image = format!("{}:latest", layout.display());
        sh(Command::new("umoci").arg("init").arg("--layout").arg(&layout));
        sh(Command::new("umoci").args(["new", "--image", &image]));
        let unpacked = tmp.join("bundle");
        sh(Command::new("umoci").args(["unpack", "--image", &image]).arg(&unpacked));
        sh(Command::new("cp").arg("-a").arg(format!("{}/.", rootfs_template().display())).arg(unpacked.join("rootfs")));
        let _ = fs::remove_file(unpacked.join("rootfs/.complete"));
        fs::copy(probe_bin(), unpacked.join("rootfs/probe")).expect("copy the probe");
        sh(Command::new("umoci").args(["repack", "--image", &image]).arg(&unpacked));
        sh(Command::new("umoci")
            .args(["config", "--image", &image, "--config.cmd", "/bin/sh"])
            .args(["--config.env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]));
        sh(Command::new("umoci").args(["gc", "--layout"]).arg(&layout));
        let _ = fs::remove_dir_all(&dir);
        fs::rename(&layout, &dir).expect("rename the OCI layout");
        let _ = fs::remove_dir_all(&tmp);
        fs::write(dir.join(".complete"), "").unwrap();
        dir
    })
    .clone()
}

/// The OCI layout as a tar (for `ctr images import` and `docker load`).
pub fn oci_tar(into: &Path) -> PathBuf {
    let tar = into.join("image.tar");
    sh(Command::new("tar").arg("-C").arg(oci_layout()).arg("--exclude=.complete").arg("-cf").arg(&tar).arg("."));
    tar
}

/// A daemon of the test's own, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Daemon {
    pub name: &'static str,
    child: Child,
    pub log: PathBuf,
}

impl Daemon {
    /// Start `cmd` with its output in `<dir>/<name>.log`, and wait until `ready`.
    pub fn start(name: &'static str, mut cmd: Command, dir: &Path, ready: impl Fn() -> bool) -> Daemon {
        let log = dir.join(format!("{name}.log"));
        let f = fs::File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let mut d = Daemon { name, child, log };
        let end = Instant::now() + Duration::from_secs(30) * crate::time_scale();
        while !ready() {
            if let Ok(Some(st)) = d.child.try_wait() {
                panic!("{name} exited ({st}) before it was ready:\n{}", d.log_text());
            }
            assert!(Instant::now() < end, "{name} not ready within 30s:\n{}", d.log_text());
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: kill takes a pid and a signal number; the pid is our own child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Remove the cgroup directory `rel` (and what is below it) in every hierarchy: what a
/// client's cgroup parent leaves behind.
pub fn remove_cgroup_tree(rel: &str) {
    for h in crate::cgroup_hierarchies() {
        let d = h.join(rel.trim_start_matches('/'));
        if d.is_dir() {
            let _ = Command::new("find").arg(&d).args(["-depth", "-type", "d", "-exec", "rmdir", "{}", ";"]).status();
        }
    }
}

/// The cgroup directories left under a client's cgroup parent, in every hierarchy
/// (`skip`: names that are the client's own, not the runtime's).
pub fn cgroups_under(parent: &str, skip: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for h in crate::cgroup_hierarchies() {
        if let Ok(d) = fs::read_dir(h.join(parent.trim_start_matches('/'))) {
            let left = d.flatten().filter(|e| e.path().is_dir() && !skip.iter().any(|s| e.file_name() == *s));
            out.extend(left.map(|e| format!("cgroup: {}", e.path().display())));
        }
    }
    out
}

/// A host cgroup file of a container, found from its `/proc/self/cgroup` text: the
/// hierarchy carrying `controller` (on cgroup v2, the unified one).
pub fn container_cgroup_file(report: &str, controller: &str, file: &str) -> String {
    let v2 = crate::cgroup_mode() == crate::CgroupMode::V2;
    let path = report
        .lines()
        .find_map(|l| {
            let mut it = l.splitn(3, ':');
            let (_, ctrls, path) = (it.next()?, it.next()?, it.next()?);
            let hit = if v2 { ctrls.is_empty() } else { ctrls.split(',').any(|c| c == controller) };
            hit.then(|| path.to_string())
        })
        .unwrap_or_else(|| panic!("no {controller} line in {report}"));
    let base = if v2 { "/sys/fs/cgroup".to_string() } else { format!("/sys/fs/cgroup/{controller}") };
    fs::read_to_string(format!("{base}{path}/{file}")).unwrap_or_else(|e| panic!("{base}{path}/{file}: {e}"))
}

/// A private containerd, its `ctr`, and the image imported into the namespace.
pub struct Containerd {
    pub sock: PathBuf,
    pub namespace: String,
    pub image: String,
    /// The `--runc-root` given to the shim: the runtime's state directory.
    pub runc_root: PathBuf,
    pub runtime: PathBuf,
    io: PathBuf,
    _daemon: Daemon,
}

impl Containerd {
    pub fn start(t: &TestEnv) -> Containerd {
        let dir = t.dir.join("containerd");
        fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("containerd.sock");
        let config = dir.join("config.toml");
        fs::write(
            &config,
            format!(
                "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = \"{s}\"\n[ttrpc]\n  address = \"{s}.ttrpc\"\n\
                 [debug]\n  address = \"{d}/debug.sock\"\n",
                d = dir.display(),
                s = sock.display()
            ),
        )
        .unwrap();
        let mut cmd = Command::new("containerd");
        cmd.arg("--config").arg(&config);
        let s = sock.clone();
        let daemon = Daemon::start("containerd", cmd, &dir, move || s.exists());
        let mut c = Containerd {
            sock,
            namespace: format!("berth-e2e-{}", t.id.trim_start_matches("it-")),
            image: String::new(),
            runc_root: dir.join("runc-root"),
            runtime: t.rt.bin.clone(),
            io: dir.clone(),
            _daemon: daemon,
        };
        let tar = oci_tar(&dir);
        let o = c.ctr(&["images", "import", "--base-name", "berth-it", "--all-platforms", &tar.display().to_string()]);
        o.ok();
        let list = c.ctr(&["images", "ls", "-q"]);
        c.image = list.stdout_now().lines().next().unwrap_or_default().trim().to_string();
        assert!(!c.image.is_empty(), "no image after import: {}", o.stdout_now());
        c
    }

    /// `ctr --address S -n NS args...`.
    pub fn ctr(&self, args: &[&str]) -> Out {
        let mut all =
            vec!["--address".to_string(), self.sock.display().to_string(), "-n".into(), self.namespace.clone()];
        all.extend(args.iter().map(|s| s.to_string()));
        run_program(Path::new("ctr"), &all, &[], None, Duration::from_secs(60), &self.io)
    }

    /// The runtime flags for `ctr run`: the binary under test and a private root.
    pub fn runtime_flags(&self) -> Vec<String> {
        vec![
            "--runc-binary".into(),
            self.runtime.display().to_string(),
            "--runc-root".into(),
            self.runc_root.display().to_string(),
        ]
    }

    /// `ctr run --rm [flags] [extra] IMAGE ID cmd...`.
    pub fn run(&self, id: &str, extra: &[&str], cmd: &[&str]) -> Out {
        let mut a: Vec<String> = vec!["run".into(), "--rm".into()];
        a.extend(self.runtime_flags());
        a.extend(extra.iter().map(|s| s.to_string()));
        a.push(self.image.clone());
        a.push(id.into());
        a.extend(cmd.iter().map(|s| s.to_string()));
        self.ctr(&a.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// Nothing of ours left: no task, container, runtime state or cgroup.
    pub fn leftovers(&self) -> Vec<String> {
        let mut out = Vec::new();
        for what in ["tasks", "containers"] {
            let l = self.ctr(&[what, "ls", "-q"]).stdout_now();
            out.extend(l.lines().filter(|l| !l.trim().is_empty()).map(|l| format!("{what}: {l}")));
        }
        if let Ok(d) = fs::read_dir(self.runc_root.join(&self.namespace)) {
            // Hidden entries are the runtime's own (berth's seccomp cache), not containers.
            let states = d.flatten().filter(|e| !e.file_name().to_string_lossy().starts_with('.'));
            out.extend(states.map(|e| format!("runtime state: {}", e.path().display())));
        }
        out.extend(cgroups_under(&self.namespace, &[]));
        out
    }

    /// `ctr run -d [flags] [extra] IMAGE ID cmd...`, which must succeed.
    pub fn run_detached(&self, id: &str, extra: &[&str], cmd: &[&str]) {
        let mut a: Vec<String> = vec!["run".into(), "-d".into()];
        a.extend(self.runtime_flags());
        a.extend(extra.iter().map(|s| s.to_string()));
        a.push(self.image.clone());
        a.push(id.into());
        a.extend(cmd.iter().map(|s| s.to_string()));
        self.ctr(&a.iter().map(String::as_str).collect::<Vec<_>>()).ok();
    }

    /// Kill a task, wait until it is stopped, delete it and its container.
    pub fn remove(&self, id: &str) {
        self.ctr(&["tasks", "kill", "-s", "SIGKILL", id]).ok();
        let stopped =
            || self.ctr(&["tasks", "ls"]).stdout_now().lines().any(|l| l.starts_with(id) && l.contains("STOPPED"));
        assert!(crate::wait_until(Duration::from_secs(20), stopped), "task {id} never stopped");
        self.ctr(&["tasks", "delete", id]).ok();
        self.ctr(&["containers", "rm", id]).ok();
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        for id in self.ctr(&["tasks", "ls", "-q"]).stdout_now().lines().map(str::trim).filter(|l| !l.is_empty()) {
            let _ = self.ctr(&["tasks", "kill", "-s", "SIGKILL", id]);
            std::thread::sleep(Duration::from_millis(100));
            let _ = self.ctr(&["tasks", "delete", "-f", id]);
        }
        for id in self.ctr(&["containers", "ls", "-q"]).stdout_now().lines().map(str::trim).filter(|l| !l.is_empty()) {
            let _ = self.ctr(&["containers", "rm", id]);
        }
        remove_cgroup_tree(&self.namespace);
    }
}

/// podman (daemonless; conmon per container) with storage, run root, containers.conf
/// and event log of the test's own, the runtime under test given by path, and a cgroup
/// parent per test.
pub struct Podman {
    pub dir: PathBuf,
    /// podman refuses a run root longer than 50 characters: a short one in /tmp.
    runroot: PathBuf,
    pub image: String,
    pub cgroup_parent: String,
    conf: PathBuf,
    runtime: PathBuf,
}

impl Podman {
    pub fn new(t: &TestEnv) -> Podman {
        let dir = t.dir.join("podman");
        fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("containers.conf");
        // The runtime's name (its file name) must be listed for podman to pass
        // --log-format=json; the ulimits stay below what podman itself gets here.
        fs::write(
            &conf,
            format!(
                "[containers]\nnetns = \"none\"\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\n\
                 [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
                 events_logfile_path = \"{d}/events.log\"\n\
                 runtime_supports_json = [\"berth\", \"crun\", \"runc\"]\n",
                d = dir.display()
            ),
        )
        .unwrap();
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let runroot = PathBuf::from(format!("/tmp/bpr-{}-{n}", std::process::id()));
        let mut p = Podman {
            runroot,
            image: "localhost/berth-it:latest".into(),
            cgroup_parent: format!("/berth-e2e-podman-{}", t.id.trim_start_matches("it-")),
            conf,
            runtime: t.rt.bin.clone(),
            dir,
        };
        let tar = oci_tar(&p.dir);
        let o = p.podman(&["load", "-i", &tar.display().to_string()]);
        o.ok();
        let loaded = o.stdout_now();
        let name = loaded.lines().find_map(|l| l.strip_prefix("Loaded image: ")).unwrap_or("localhost/latest:latest");
        p.podman(&["tag", name.trim(), &p.image]).ok();
        p.image = p.image.clone();
        p
    }

    /// The global arguments of every podman call.
    pub fn global_args(&self) -> Vec<String> {
        let d = self.dir.display();
        vec![
            format!("--root={d}/storage"),
            format!("--runroot={}", self.runroot.display()),
            "--storage-driver=overlay".into(),
            format!("--runtime={}", self.runtime.display()),
            format!("--tmpdir={d}/tmp"),
        ]
    }

    pub fn env(&self) -> Vec<(String, String)> {
        vec![("CONTAINERS_CONF".into(), self.conf.display().to_string())]
    }

    pub fn podman(&self, args: &[&str]) -> Out {
        let mut all = self.global_args();
        all.extend(args.iter().map(|s| s.to_string()));
        run_program(Path::new("podman"), &all, &self.env(), None, Duration::from_secs(90), &self.dir)
    }

    /// `podman run --pull never --cgroup-parent P [extra] IMAGE cmd...`.
    pub fn run(&self, extra: &[&str], cmd: &[&str]) -> Out {
        let mut a = vec!["run", "--pull", "never", "--cgroup-parent", &self.cgroup_parent];
        a.extend_from_slice(extra);
        a.push(&self.image);
        a.extend_from_slice(cmd);
        self.podman(&a)
    }

    /// A `Command` for podman with the same settings (to run on a pty).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("podman");
        c.args(self.global_args()).args(args).envs(self.env());
        c
    }

    /// Containers podman still has, and cgroups left under the test's parent.
    pub fn leftovers(&self) -> Vec<String> {
        let ps = self.podman(&["ps", "-aq"]).stdout_now();
        let mut out: Vec<String> =
            ps.lines().filter(|l| !l.trim().is_empty()).map(|l| format!("container {l}")).collect();
        // podman's own cgroup for conmon is not the runtime's to remove.
        out.extend(cgroups_under(&self.cgroup_parent, &["conmon"]));
        out
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.podman(&["rm", "-fa", "-t", "0"]);
        let _ = self.podman(&["image", "rm", "-fa"]);
        let _ = self.podman(&["system", "reset", "-f"]);
        remove_cgroup_tree(&self.cgroup_parent);
        let _ = Command::new("umount").arg("-R").arg("-l").arg(&self.runroot).stderr(Stdio::null()).status();
        let _ = fs::remove_dir_all(&self.runroot);
    }
}

/// A private dockerd (its own data root, exec root, socket, pid file and cgroup parent;
/// no iptables, no bridge: containers use `--network none`) with the runtime under test
/// added as `berth`, and the image loaded (skopeo turns the OCI layout into a
/// docker-archive: Docker 20.10 loads no OCI layouts).
pub struct Docker {
    pub sock: PathBuf,
    pub image: String,
    pub cgroup_parent: String,
    io: PathBuf,
    daemon: Option<Daemon>,
}

impl Docker {
    pub fn start(t: &TestEnv) -> Docker {
        let dir = t.dir.join("docker");
        fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("docker.sock");
        let cgroup_parent = format!("/berth-e2e-docker-{}", t.id.trim_start_matches("it-"));
        let mut cmd = Command::new("dockerd");
        cmd.arg("--data-root").arg(dir.join("data"));
        cmd.arg("--exec-root").arg(dir.join("exec"));
        cmd.arg("--pidfile").arg(dir.join("dockerd.pid"));
        cmd.arg("-H").arg(format!("unix://{}", sock.display()));
        cmd.args(["--iptables=false", "--ip6tables=false", "--bridge=none", "--ip-masq=false"]);
        cmd.args(["--exec-opt", "native.cgroupdriver=cgroupfs", "--cgroup-parent", &cgroup_parent]);
        cmd.arg("--add-runtime").arg(format!("berth={}", t.rt.bin.display()));
        let s = sock.clone();
        let daemon = Daemon::start("dockerd", cmd, &dir, move || std::os::unix::net::UnixStream::connect(&s).is_ok());
        let d = Docker { sock, image: "berth-it:latest".into(), cgroup_parent, io: dir.clone(), daemon: Some(daemon) };
        let tar = dir.join("image.tar");
        sh(Command::new("skopeo").arg("copy").arg(format!("oci:{}:latest", oci_layout().display())).arg(format!(
            "docker-archive:{}:{}",
            tar.display(),
            d.image
        )));
        d.docker(&["load", "-i", &tar.display().to_string()]).ok();
        d
    }

    pub fn docker(&self, args: &[&str]) -> Out {
        let mut all = vec!["-H".to_string(), format!("unix://{}", self.sock.display())];
        all.extend(args.iter().map(|s| s.to_string()));
        run_program(Path::new("docker"), &all, &[], None, Duration::from_secs(90), &self.io)
    }

    /// `docker run --runtime berth --network none [extra] IMAGE cmd...`.
    pub fn run(&self, extra: &[&str], cmd: &[&str]) -> Out {
        let mut a = vec!["run", "--runtime", "berth", "--network", "none"];
        a.extend_from_slice(extra);
        a.push(&self.image);
        a.extend_from_slice(cmd);
        self.docker(&a)
    }

    /// Containers dockerd still has, and cgroups left under its parent.
    pub fn leftovers(&self) -> Vec<String> {
        let ps = self.docker(&["ps", "-aq"]).stdout_now();
        let mut out: Vec<String> =
            ps.lines().filter(|l| !l.trim().is_empty()).map(|l| format!("container {l}")).collect();
        out.extend(cgroups_under(&self.cgroup_parent, &[]));
        out
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        let ids = self.docker(&["ps", "-aq"]).stdout_now();
        for id in ids.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let _ = self.docker(&["rm", "-f", id]);
        }
        // The daemon (and the containerd it started) first, then the cgroup parent.
        drop(self.daemon.take());
        remove_cgroup_tree(&self.cgroup_parent);
    }
}
