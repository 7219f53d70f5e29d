//! Regression tests for the CVEs other runtimes suffered (../shared/REFERENCE.md).
//! Each builds the hostile bundle itself, aims only at harmless targets (files of the
//! test's own directory, namespaced procfs files), and checks that the attack fails
//! with a clear error or is harmless, and that the host is unchanged.

use integration_tests::*;
use std::fs;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// CVE-2024-21626 (runc, youki): a cwd of `/proc/self/fd/N` reached a host directory fd
/// the runtime still held. Here for the container's process (create).
#[test]
fn cve_2024_21626_cwd_through_proc_self_fd_on_create() {
    for n in 3..10 {
        let mut t = TestEnv::new(&format!("cve_21626_create_{n}"));
        t.config["process"]["cwd"] = format!("/proc/self/fd/{n}").into();
        t.args(&["/probe", "cwd", "+", "ls", "."]);
        let o = t.run();
        if o.success() {
            // A runtime may let it through only if the cwd stayed inside the container.
            let f = o.facts();
            assert!(f.get("cwd").starts_with('/'), "fd {n}: the cwd is outside the container: {:?}", f.0);
        } else if t.is_berth() {
            assert!(o.stderr_now().contains(&format!("/proc/self/fd/{n}")), "fd {n}: {}", o.stderr_now());
        }
        t.assert_no_leftovers();
    }
}

/// CVE-2024-21626 for exec: `--cwd /proc/self/fd/N` (or an image's WorkingDir used by
/// `docker exec`) must not start the process in a directory the runtime had open (berth's
/// exec held its state directory's fd: it did, until this test).
#[test]
fn cve_2024_21626_cwd_through_proc_self_fd_on_exec() {
    let (t, _) = TestEnv::running_sleeper("cve_21626_exec");
    for n in 3..10 {
        let cwd = format!("/proc/self/fd/{n}");
        let o = t.rt.cmd(&["exec", "--cwd", &cwd, &t.id, "/probe", "cwd", "+", "ls", ".."]);
        if o.success() {
            let f = o.facts();
            assert!(
                f.get("cwd").starts_with('/'),
                "fd {n}: the exec'd process's cwd is outside the container: {:?}",
                f.0
            );
            assert!(!o.stdout_now().contains("state.json"), "fd {n}: the runtime's state directory is visible");
        } else if t.is_berth() {
            assert!(o.stderr_now().contains(&cwd), "fd {n}: the error does not name the cwd: {}", o.stderr_now());
        }
    }
    // Nothing of the runtime's reaches the exec'd process: only stdio.
    let o = t.rt.cmd(&["exec", &t.id, "/probe", "fds"]);
    o.ok();
    let f = o.facts();
    assert_eq!(f.fds_besides_probe(), vec![0, 1, 2], "exec'd process has fds {:?}", f.0);
    assert_eq!(t.status(), "running");
    t.delete_force().ok();
    t.assert_no_leftovers();
}

/// CVE-2023-25809 (runc): without a cgroup namespace, `/sys/fs/cgroup` must be read-only
/// in the container.
#[test]
fn cve_2023_25809_cgroupfs_read_only_without_cgroup_namespace() {
    let mut t = TestEnv::new("cve_25809");
    t.remove_namespace("cgroup");
    // The config's cgroup mount asks for rw: without the namespace it must still be ro.
    for m in t.config["mounts"].as_array_mut().unwrap() {
        if m["destination"] == "/sys/fs/cgroup" {
            m["options"] = serde_json::json!(["nosuid", "noexec", "nodev", "relatime", "rw"]);
        }
    }
    t.mount_shared();
    t.sh("touch /shared/ready; exec sleep 1000");
    t.create_ok();
    t.start().ok();
    wait_for_path(&t.shared.join("ready"), T);
    let dirs = container_cgroup_dirs(&t.cgroups_path);
    assert!(!dirs.is_empty());
    // Try to create a cgroup from inside, in every hierarchy mounted there.
    let o = t.rt.cmd(&[
        "exec",
        &t.id,
        "sh",
        "-c",
        "for d in /sys/fs/cgroup/* /sys/fs/cgroup; do mkdir $d/evil-$$ 2>&1; done; true",
    ]);
    o.ok();
    for d in &dirs {
        let left: Vec<_> = fs::read_dir(d)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("evil-"))
            .collect();
        assert!(left.is_empty(), "the container created cgroups in {}: {left:?}", d.display());
    }
    t.delete_force().ok();
    t.assert_no_leftovers();
}

/// CVE-2026-41579 (runc), CVE-2026-47766 (crun): the image's `/dev` a symlink to a host
/// directory (here one of the test's own) must not get device nodes created in it.
#[test]
fn cve_2026_41579_dev_symlink_to_a_host_directory() {
    let mut t = TestEnv::new("cve_41579");
    let host_dir = t.dir.join("host-dev");
    fs::create_dir_all(&host_dir).unwrap();
    // No /dev tmpfs: the image's /dev is used, and it is a symlink out of the rootfs.
    t.config["mounts"].as_array_mut().unwrap().retain(|m| !m["destination"].as_str().unwrap_or("").starts_with("/dev"));
    let _ = fs::remove_dir_all(t.rootfs.join("dev"));
    std::os::unix::fs::symlink(&host_dir, t.rootfs.join("dev")).unwrap();
    t.args(&["/probe", "ls", "/dev"]);
    let _ = t.run();
    let created: Vec<_> = fs::read_dir(&host_dir).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(created.is_empty(), "device nodes were created in the host directory: {created:?}");
    t.assert_no_leftovers();
}

/// CVE-2025-31133 (runc), CVE-2025-62161 (youki): maskedPaths bind `/dev/null`; an image
/// whose `/dev/null` is a symlink to a procfs file must not get that file bound over the
/// masked paths, where the container could write it. On the host the target is harmless
/// (the container's own UTS domainname); in the throwaway cgroup-v2 VM it is the real
/// one, the VM's `/proc/sys/kernel/core_pattern`. The container writes every masked path
/// it can; the target must be unchanged.
#[test]
fn cve_2025_31133_dev_null_symlink_is_not_bound() {
    let in_vm = std::env::var_os("BERTH_IT_TIER").is_some();
    let target = if in_vm { "/proc/sys/kernel/core_pattern" } else { "/proc/sys/kernel/domainname" };
    let mut t = TestEnv::new("cve_31133");
    t.config["mounts"].as_array_mut().unwrap().retain(|m| m["destination"] != "/dev");
    fs::create_dir_all(t.rootfs.join("dev/pts")).unwrap();
    fs::create_dir_all(t.rootfs.join("dev/shm")).unwrap();
    fs::create_dir_all(t.rootfs.join("dev/mqueue")).unwrap();
    let _ = fs::remove_file(t.rootfs.join("dev/null"));
    std::os::unix::fs::symlink(target, t.rootfs.join("dev/null")).unwrap();
    let core_before = fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    t.mount_shared();
    t.sh("touch /shared/ready; exec sleep 1000");
    let o = t.create();
    if o.success() {
        t.start().ok();
        wait_for_path(&t.shared.join("ready"), T);
        // Whatever the runtime did, writing the masked paths changes nothing...
        let masked: Vec<String> = t.config["linux"]["maskedPaths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect();
        let script =
            format!("for p in {}; do echo berth-31133 > $p; done 2>/dev/null; /probe hostname", masked.join(" "));
        let o = t.rt.cmd(&["exec", &t.id, "sh", "-c", &script]);
        let pid = t.state()["pid"].as_i64().unwrap_or(0) as i32;
        let leaf = target.rsplit('/').next().unwrap();
        let bound: Vec<String> = mountinfo_of(pid)
            .into_iter()
            .filter(|m| m.fstype == "proc" && m.root.contains(leaf))
            .map(|m| m.mount_point)
            .collect();
        t.delete_force().ok();
        assert_ne!(o.facts().get("domainname"), "berth-31133", "a masked path wrote the container's domainname");
        // ...and no masked path is the procfs file.
        assert!(bound.is_empty(), "{target} bound on {bound:?}");
    } else if t.is_berth() {
        // berth made /dev/null the null device itself (the default devices replace what
        // the image had), or refused with a reason.
        assert!(o.stderr_now().contains("null"), "{}", o.stderr_now());
    }
    let core_after = fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    if core_after != core_before {
        let _ = fs::write("/proc/sys/kernel/core_pattern", core_before.trim_end());
        panic!("the container rewrote the core pattern: {core_after:?} (restored to {core_before:?})");
    }
    t.assert_no_leftovers();
}

/// A copy of the runtime under test for an attack to aim at (the harmless target), made
/// the runtime of `t`; its bytes before the attack.
fn runtime_copy(t: &mut TestEnv) -> (std::path::PathBuf, Vec<u8>) {
    use std::os::unix::fs::PermissionsExt;
    let name = t.rt.bin.file_name().unwrap().to_string_lossy().to_string();
    let copy = t.dir.join(format!("{name}-copy"));
    fs::copy(&t.rt.bin, &copy).unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
    t.rt.bin = copy.clone();
    let bytes = fs::read(&copy).unwrap();
    (copy, bytes)
}

/// The CVE-2019-5736 image: `/evil` is a script whose interpreter is `/proc/self/exe`, so
/// a runtime process that executes it runs its own binary inside the container; and a
/// container process (the probe, given CAP_SYS_PTRACE so that even a non-dumpable
/// runtime process is open to it) that holds every foreign `/proc/<pid>/exe` it sees
/// until `/shared/stop` exists, then tries to write through them. Returns once it runs.
fn start_exe_grabber(t: &mut TestEnv) {
    write_evil_script(t);
    for set in ["bounding", "effective", "permitted"] {
        t.config["process"]["capabilities"][set].as_array_mut().unwrap().push("CAP_SYS_PTRACE".into());
    }
    t.mount_shared();
    t.sh("touch /shared/ready; /probe exe-grab /shared/stop 5 > /shared/out; touch /shared/done; exec sleep 1000");
    t.create_ok();
    t.start().ok();
    wait_for_path(&t.shared.join("ready"), T);
}

/// `/evil` in `t`'s image: a script whose interpreter is `/proc/self/exe`.
fn write_evil_script(t: &TestEnv) {
    use std::os::unix::fs::PermissionsExt;
    fs::write(t.rootfs.join("evil"), "#!/proc/self/exe\n").unwrap();
    fs::set_permissions(t.rootfs.join("evil"), fs::Permissions::from_mode(0o755)).unwrap();
}

/// Whether the grabber holds a runtime executable already.
fn grabbed(t: &TestEnv) -> bool {
    fs::read_to_string(t.shared.join("out")).unwrap_or_default().contains("exe-held=")
}

/// Stop the grabber, and check what it got: it must have held the runtime's executable
/// (or the test proves nothing), never written through it, and the host file is intact.
fn check_exe_grab(t: &TestEnv, copy: &std::path::Path, before: &[u8]) {
    fs::write(t.shared.join("stop"), "").unwrap();
    wait_for_path(&t.shared.join("done"), T);
    let out = fs::read_to_string(t.shared.join("out")).unwrap();
    let f = Facts::parse(&out);
    eprintln!("attacker: {out}");
    let grabbed: usize = f.get("exe-grabbed").parse().unwrap_or(0);
    assert!(grabbed > 0, "the attacker never saw the runtime's executable in the container: {out}");
    assert_ne!(f.get("exe-write"), "ok", "the container wrote through /proc/<pid>/exe: {out}");
    assert!(fs::read(copy).unwrap() == before, "the runtime's binary on the host was changed");
}

/// CVE-2019-5736 (runc) during exec: the exec'd program is `#!/proc/self/exe`, so a
/// runtime that runs it from its host binary puts that binary in the container; and
/// between clone and execve the exec'd process is a copy of the runtime. A container
/// process grabs `/proc/<pid>/exe` and writes through it once no copy runs. berth execs
/// from a read-only, detached clone of its binary: the write fails (EROFS), and the
/// kernel cannot even find `/proc/self/exe` as an interpreter.
#[test]
fn cve_2019_5736_runtime_exe_during_exec() {
    let mut t = TestEnv::new("cve_5736_exec");
    let (copy, before) = runtime_copy(&mut t);
    start_exe_grabber(&mut t);
    for _ in 0..60 {
        let o = t.rt.cmd(&["exec", &t.id, "/evil"]);
        assert!(!o.success(), "the runtime's binary run as /evil should fail on its arguments");
        if grabbed(&t) {
            break;
        }
    }
    check_exe_grab(&t, &copy, &before);
    t.delete_force().ok();
    t.assert_no_leftovers();
}

/// CVE-2019-5736 racing create: a second container joins the first's pid namespace; while
/// it is created (its init a copy of the runtime, waiting for start) the first's process
/// grabs its `/proc/<pid>/exe`; then it starts, executing the `#!/proc/self/exe`
/// entrypoint, and the grabber writes once no copy of the runtime runs.
#[test]
fn cve_2019_5736_runtime_exe_racing_create() {
    let mut t = TestEnv::new("cve_5736_create");
    let (copy, before) = runtime_copy(&mut t);
    start_exe_grabber(&mut t);
    let pid = t.pid();
    let mut b = t.sibling("evil");
    write_evil_script(&b);
    b.set_namespace("pid", Some(&format!("/proc/{pid}/ns/pid")));
    b.args(&["/evil"]);
    b.create_ok();
    assert!(wait_until(T, || grabbed(&t)), "the attacker never saw the created container's init");
    let _ = b.start();
    assert!(b.wait_status("stopped", T), "the second container's entrypoint should have ended");
    b.delete().ok();
    b.assert_no_leftovers();
    check_exe_grab(&t, &copy, &before);
    t.delete_force().ok();
    t.assert_no_leftovers();
}

/// CVE-2021-30465 (runc): a mount destination inside a shared volume that a racing
/// process swaps for a symlink (here to a host directory) must never be mounted outside
/// the rootfs. A createContainer hook records the container's mount table before
/// pivot_root (where a mount that escaped would still show), on every one of many runs
/// while a host thread exchanges the directory and the symlink as fast as it can.
#[test]
fn cve_2021_30465_mount_destination_swapped_for_a_symlink() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let mut t = TestEnv::new("cve_30465");
    let vol = t.dir.join("vol");
    let outside = t.dir.join("outside");
    fs::create_dir_all(vol.join("target")).unwrap();
    fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, vol.join("swap")).unwrap();
    t.add_mount(serde_json::json!({"destination": "/vol", "type": "bind", "source": vol, "options": ["rbind", "rw"]}));
    t.add_mount(
        serde_json::json!({"destination": "/vol/target", "type": "tmpfs", "source": "tmpfs", "options": ["size=64k"]}),
    );
    let record = record_mounts_before_pivot(&mut t);
    t.args(&["/bin/true"]);

    let stop = Arc::new(AtomicBool::new(false));
    let racer = {
        let (stop, a, b) = (stop.clone(), path_c(&vol.join("target")), path_c(&vol.join("swap")));
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: both paths are NUL-terminated strings that outlive the call.
                let r = unsafe {
                    libc::renameat2(libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), libc::RENAME_EXCHANGE)
                };
                if r != 0 {
                    eprintln!("renameat2(RENAME_EXCHANGE): {}", std::io::Error::last_os_error());
                    break;
                }
                swaps += 1;
            }
            swaps
        })
    };
    let outside_s = outside.display().to_string();
    let (mut ok, mut failed) = (0, 0);
    for i in 0..rounds(30, 10) {
        let _ = fs::remove_file(&record);
        let o = t.run();
        let table = fs::read_to_string(&record).unwrap_or_default();
        if o.success() {
            ok += 1;
            // The tmpfs went on a directory inside the rootfs: `vol/target`, `vol/swap`
            // when the racer renamed the directory after the runtime opened it, or the
            // symlink's target taken inside the root.
            let in_root = format!("{}/", t.rootfs.display());
            let mounts = parse_mountinfo(&table);
            let tmpfs: Vec<&MountInfo> =
                mounts.iter().filter(|m| m.fstype == "tmpfs" && m.has_super("size=64k")).collect();
            assert!(
                !tmpfs.is_empty() && tmpfs.iter().all(|m| m.mount_point.starts_with(&in_root)),
                "run {i}: the volume's tmpfs is not inside the rootfs ({in_root}): {:?}\n{table}",
                tmpfs.iter().map(|m| &m.mount_point).collect::<Vec<_>>()
            );
        } else {
            failed += 1;
            if i == 0 || failed == 1 {
                eprintln!("a run that failed: {}", o.stderr_now());
            }
        }
        assert_nothing_mounted_under(&table, &outside, &format!("run {i}"));
        t.delete_if_exists();
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = racer.join().unwrap();
    eprintln!("{ok} runs succeeded, {failed} failed cleanly, {swaps} swaps");
    assert!(swaps > 100, "the racer barely ran ({swaps} swaps)");
    assert!(fs::read_dir(&outside).unwrap().next().is_none(), "something was created in the host directory");
    assert!(!host_mounts().iter().any(|m| m.mount_point.starts_with(&outside_s)), "a mount on the host directory");
    t.assert_no_leftovers();
}

/// A createContainer hook that writes the container's mount table, as it is before
/// pivot_root (where a mount that escaped the rootfs would still show), to the file
/// returned.
fn record_mounts_before_pivot(t: &mut TestEnv) -> std::path::PathBuf {
    let record = t.shared.join("mountinfo");
    t.config["hooks"]["createContainer"] = serde_json::json!([{
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("cat /proc/self/mountinfo > {}", record.display())],
    }]);
    record
}

/// No mount of the recorded `table` is on `dir` or below it.
fn assert_nothing_mounted_under(table: &str, dir: &std::path::Path, when: &str) {
    let dir = dir.display().to_string();
    for m in parse_mountinfo(table) {
        assert!(
            !m.mount_point.starts_with(&dir),
            "{when}: a {} was mounted outside the rootfs, on {}",
            m.fstype,
            m.mount_point
        );
    }
}

fn path_c(p: &std::path::Path) -> std::ffi::CString {
    std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap()
}

/// CVE-2019-16884, CVE-2023-27561 (runc): an image whose `/proc` is a symlink (here to a
/// fake procfs tree in the image) must not get procfs mounted through it, nor the writes
/// meant for procfs (a sysctl; LSM labels, which this host has none of). Run several
/// times: init fails early, and its error must reach the CLI every time (it was once lost
/// in a race with the runtime's next message: "the container's init closed the connection").
#[test]
fn cve_2019_16884_symlinked_proc_in_the_image() {
    for i in 0..5 {
        let mut t = TestEnv::new(&format!("cve_16884_{i}"));
        let fake = t.rootfs.join("fakeproc/sys/kernel");
        fs::create_dir_all(&fake).unwrap();
        fs::write(fake.join("domainname"), "fake\n").unwrap();
        let _ = fs::remove_dir_all(t.rootfs.join("proc"));
        std::os::unix::fs::symlink("/fakeproc", t.rootfs.join("proc")).unwrap();
        t.config["linux"]["sysctl"] = serde_json::json!({"kernel.domainname": "berth-16884"});
        t.args(&["/probe", "hostname"]);
        let o = t.run();
        assert_eq!(fs::read_to_string(fake.join("domainname")).unwrap(), "fake\n", "the fake procfs file was written");
        if o.success() {
            assert_eq!(o.facts().get("domainname"), "berth-16884", "the sysctl did not reach the real procfs");
        } else if t.is_berth() {
            let e = o.stderr_now();
            assert!(
                e.contains("/proc") && e.contains("symlink"),
                "run {i}: the error does not say what was wrong: {e}"
            );
        }
        t.delete_if_exists();
        t.assert_no_leftovers();
    }
}

/// CVE-2025-52881 (runc), CVE-2025-62596 (youki): writes meant for procfs (sysctls, LSM
/// labels) redirected by mounts over procfs files. Here the config itself binds a file
/// of the test's over `/proc/sys/kernel/domainname` (the deterministic form of the
/// shared-mount race) and sets that sysctl: the runtime must write through a procfs of
/// its own, so the file stays as it was and the container's real domainname is set.
#[test]
fn cve_2025_52881_procfs_writes_are_not_redirected() {
    let mut t = TestEnv::new("cve_52881");
    let decoy = t.dir.join("decoy-domainname");
    fs::write(&decoy, "decoy\n").unwrap();
    t.add_mount(serde_json::json!({
        "destination": "/proc/sys/kernel/domainname", "type": "bind", "source": decoy, "options": ["bind", "rw"]
    }));
    t.config["linux"]["sysctl"] = serde_json::json!({"kernel.domainname": "berth-52881"});
    t.args(&["/probe", "hostname"]);
    let o = t.run();
    assert_eq!(
        fs::read_to_string(&decoy).unwrap(),
        "decoy\n",
        "the sysctl was written into the file bound over procfs"
    );
    if o.success() {
        assert_eq!(o.facts().get("domainname"), "berth-52881", "the sysctl did not reach the real procfs");
    } else {
        // runc refuses any mount inside /proc but a few; fine, if it says so.
        assert!(o.stderr_now().contains("/proc"), "{}", o.stderr_now());
        assert!(!t.is_berth(), "berth should run this container: {}", o.stderr_now());
    }
    t.assert_no_leftovers();
}

/// CVE-2019-18837 (crun): symlinks in the image — `/etc -> /`, and `/var/run` climbing
/// out with `../` to a host directory (one of the test's) — must not redirect mounts or
/// masked paths outside the rootfs: each lands inside it (symlinks resolved in the root).
/// A createContainer hook records the mount table before pivot_root, where a mount that
/// escaped would show. (Devices through a symlinked `/dev`: CVE-2026-41579 below.)
#[test]
fn cve_2019_18837_image_symlinks_do_not_redirect_out_of_the_rootfs() {
    let mut t = TestEnv::new("cve_18837");
    let host_dir = t.dir.join("host-dir");
    fs::create_dir_all(&host_dir).unwrap();
    let up = "../".repeat(t.rootfs.components().count() + 2);
    let _ = fs::remove_dir_all(t.rootfs.join("var/run"));
    fs::create_dir_all(t.rootfs.join("var")).unwrap();
    let climb = format!("{up}{}", host_dir.strip_prefix("/").unwrap().display());
    std::os::unix::fs::symlink(&climb, t.rootfs.join("var/run")).unwrap();
    // The same path inside the rootfs, where the climb must end (a dangling link would be
    // refused: pathrs, like runc's securejoin, does not create through one).
    let clamped = t.rootfs.join(host_dir.strip_prefix("/").unwrap());
    fs::create_dir_all(&clamped).unwrap();
    fs::remove_dir_all(t.rootfs.join("etc")).unwrap();
    std::os::unix::fs::symlink("/", t.rootfs.join("etc")).unwrap();
    fs::write(t.rootfs.join("secret"), "secret\n").unwrap();
    fs::write(t.shared.join("bound"), "bound\n").unwrap();
    t.add_mount(
        serde_json::json!({"destination": "/var/run/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["size=64k"]}),
    );
    t.add_mount(serde_json::json!({"destination": "/etc/bound", "type": "bind", "source": t.shared.join("bound"), "options": ["bind", "ro"]}));
    t.config["linux"]["maskedPaths"].as_array_mut().unwrap().push("/etc/secret".into());
    let record = record_mounts_before_pivot(&mut t);
    t.args(&["/probe", "read", "/etc/secret", "/etc/bound"]);
    let o = t.run();
    let created: Vec<_> = fs::read_dir(&host_dir).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(created.is_empty(), "the runtime created {created:?} in the host directory");
    let table = fs::read_to_string(&record).unwrap_or_default();
    assert_nothing_mounted_under(&table, &host_dir, "create");
    if o.success() {
        let tmpfs_at = clamped.join("tmp").display().to_string();
        assert!(
            parse_mountinfo(&table)
                .iter()
                .any(|m| m.fstype == "tmpfs" && m.has_super("size=64k") && m.mount_point == tmpfs_at),
            "the tmpfs for /var/run/tmp is not on {tmpfs_at}:\n{table}"
        );
        let f = o.facts();
        assert_eq!(
            f.get("read:/etc/secret"),
            "ok len=0",
            "the masked path (through /etc -> /) is not masked: {:?}",
            f.0
        );
        assert_eq!(f.get("read:/etc/bound"), "ok len=6", "{:?}", f.0);
    } else if t.is_berth() {
        panic!("berth should run this container, keeping everything inside the rootfs: {}", o.stderr_now());
    }
    t.assert_no_leftovers();
}
