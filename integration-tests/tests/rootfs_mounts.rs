//! Root filesystem and mounts: the bundle's rootfs after pivot_root, a
//! read-only root, flags of the standard mounts, bind/rbind options,
//! recursive read-only, propagation, tmpfs data, symlinked destinations,
//! masked and read-only paths, /dev links, `--no-pivot`.

use integration_tests::*;
use serde_json::json;
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);
const EROFS: &str = "errno=30";

fn ls_set(s: &str) -> BTreeSet<String> {
    s.strip_prefix("ok").unwrap_or_else(|| panic!("ls failed: {s}")).split_whitespace().map(String::from).collect()
}

fn host_ls(p: &Path) -> BTreeSet<String> {
    fs::read_dir(p).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

/// Run the container with `/probe mounts` and return the parsed mountinfo.
fn container_mounts(t: &mut TestEnv) -> Vec<MountInfo> {
    t.args(&["/probe", "mounts"]);
    let o = t.run();
    o.ok();
    t.delete_if_exists();
    parse_mountinfo(&o.stdout)
}

#[track_caller]
fn mnt<'a>(ms: &'a [MountInfo], p: &str) -> &'a MountInfo {
    mount_at(ms, p).unwrap_or_else(|| {
        panic!("no mount at {p}; mounts: {:#?}", ms.iter().map(|m| &m.mount_point).collect::<Vec<_>>())
    })
}

#[track_caller]
fn has_opts(m: &MountInfo, opts: &[&str]) {
    for o in opts {
        assert!(m.has_opt(o), "{} should be {o}: {:?}", m.mount_point, m.options);
    }
}

#[test]
fn rootfs_is_the_bundle_rootfs_after_pivot() {
    let mut t = TestEnv::new("rootfs_is_bundle");
    let expected_top = host_ls(&t.rootfs);
    let test_dir = t.dir.display().to_string();
    let host_only = ["/work", "/usr/sbin/runc", "/tmp/target-it", test_dir.as_str()];
    let mut args = vec!["ls", "/", "+", "stat"];
    args.extend_from_slice(&host_only);
    let f = t.run_probe(&args);
    let top = ls_set(f.get("ls:/"));
    assert_eq!(top, expected_top, "/ inside must be exactly the bundle rootfs");
    for p in host_only {
        assert_eq!(f.fields(&format!("stat:{p}"))["exists"], "0", "host path {p} visible inside");
    }
}

#[test]
fn marker_file_content_and_no_host_root() {
    let mut t = TestEnv::new("marker_no_host_root");
    let marker = fs::read_to_string(t.rootfs.join("berth-marker")).unwrap();
    t.args(&["/bin/cat", "/berth-marker"]);
    let o = t.run();
    o.ok();
    assert_eq!(o.stdout, marker);
    // The old root is gone from the mount table: no mount shows a host-only path.
    let mut t2 = TestEnv::new("marker_no_host_root_mounts");
    let ms = container_mounts(&mut t2);
    let dir = t2.dir.display().to_string();
    for m in &ms {
        assert!(!m.mount_point.starts_with(&dir), "host path mounted inside: {}", m.mount_point);
        assert!(!m.mount_point.starts_with("/work"), "host mount visible: {}", m.mount_point);
    }
    let root = mnt(&ms, "/");
    assert!(
        root.root.ends_with("bundle/rootfs"),
        "/ inside is a bind of the bundle rootfs (mountinfo root {:?})",
        root.root
    );
}

#[test]
fn readonly_root() {
    let mut t = TestEnv::new("readonly_root");
    t.config["root"]["readonly"] = json!(true);
    let f = t.run_probe(&["write", "/newfile", "/tmp/newfile", "/dev/shm/ok", "+", "mounts"]);
    assert_eq!(f.get("write:/newfile"), EROFS);
    assert_eq!(f.get("write:/tmp/newfile"), EROFS);
    assert_eq!(f.get("write:/dev/shm/ok"), "ok", "/dev/shm is its own tmpfs");
    assert!(!t.rootfs.join("newfile").exists());

    let mut t = TestEnv::new("readonly_root_off");
    let f = t.run_probe(&["write", "/newfile"]);
    assert_eq!(f.get("write:/newfile"), "ok", "readonly: false root is writable");
    assert!(t.rootfs.join("newfile").exists(), "write lands in the bundle rootfs");

    let mut t = TestEnv::new("readonly_root_mounts");
    t.config["root"]["readonly"] = json!(true);
    let ms = container_mounts(&mut t);
    has_opts(mnt(&ms, "/"), &["ro"]);
}

#[test]
fn standard_mount_flags() {
    let mut t = TestEnv::new("standard_mount_flags");
    t.sh("/probe mounts; /probe stat /dev/shm /dev/mqueue /dev");
    let o = t.run();
    o.ok();
    let ms = parse_mountinfo(&o.stdout);
    let f = o.facts();
    // tmpfs omits mode=1777 (its default) from mountinfo; check the inode.
    assert_eq!(f.fields("stat:/dev/shm")["mode"], "1777");
    assert_eq!(f.fields("stat:/dev")["mode"], "0755");
    let m = mnt(&ms, "/proc");
    assert_eq!(m.fstype, "proc");
    let m = mnt(&ms, "/dev");
    assert_eq!(m.fstype, "tmpfs");
    has_opts(m, &["nosuid", "rw"]);
    assert!(m.has_super("mode=755"), "{:?}", m.super_options);
    let m = mnt(&ms, "/dev/pts");
    assert_eq!(m.fstype, "devpts");
    has_opts(m, &["nosuid", "noexec"]);
    for o in ["mode=620", "ptmxmode=666", "gid=5"] {
        assert!(m.has_super(o), "devpts {o}: {:?}", m.super_options);
    }
    let m = mnt(&ms, "/dev/shm");
    assert_eq!(m.fstype, "tmpfs");
    has_opts(m, &["nosuid", "noexec", "nodev"]);
    assert!(m.has_super("size=65536k"), "{:?}", m.super_options);
    let m = mnt(&ms, "/dev/mqueue");
    assert_eq!(m.fstype, "mqueue");
    has_opts(m, &["nosuid", "noexec", "nodev"]);
    let m = mnt(&ms, "/sys");
    assert_eq!(m.fstype, "sysfs");
    has_opts(m, &["ro", "nosuid", "noexec", "nodev"]);
    // /sys/fs/cgroup: on a v1/hybrid host this is a tmpfs with one cgroup
    // mount per hierarchy under it; on a v2 host one cgroup2 mount. Either
    // way everything there must be ro,nosuid,noexec,nodev.
    let cg: Vec<&MountInfo> = ms
        .iter()
        .filter(|m| m.mount_point == "/sys/fs/cgroup" || m.mount_point.starts_with("/sys/fs/cgroup/"))
        .collect();
    assert!(cg.iter().any(|m| m.mount_point == "/sys/fs/cgroup"), "no mount at /sys/fs/cgroup");
    assert!(cg.iter().any(|m| m.fstype == "cgroup" || m.fstype == "cgroup2"), "no cgroup fs: {cg:#?}");
    for m in &cg {
        if m.fstype == "tmpfs" && !t.is_berth() {
            // Known runc 1.1 deviation: on a v1 host the tmpfs it puts at
            // /sys/fs/cgroup stays rw (only the cgroup mounts under it get
            // "ro"). berth must honour "ro" for the whole mount.
            has_opts(m, &["nosuid", "noexec", "nodev"]);
            continue;
        }
        has_opts(m, &["ro", "nosuid", "noexec", "nodev"]);
    }
    if cgroup_mode() == CgroupMode::V2 {
        // On a pure v2 host: one cgroup2 mount at /sys/fs/cgroup, nothing under it.
        assert_eq!(cg.len(), 1, "expected only a cgroup2 mount at /sys/fs/cgroup: {cg:#?}");
        assert_eq!(cg[0].fstype, "cgroup2", "{cg:#?}");
    }
    // On a v1 host every (unnamed) controller hierarchy the host has is
    // mounted at /sys/fs/cgroup/<controller> inside.
    for hm in host_mounts() {
        if hm.fstype == "cgroup"
            && hm.mount_point.starts_with("/sys/fs/cgroup/")
            && !hm.super_options.iter().any(|o| o.starts_with("name="))
        {
            let m = mount_at(&ms, &hm.mount_point)
                .unwrap_or_else(|| panic!("cgroup v1 hierarchy {} not mounted inside", hm.mount_point));
            assert_eq!(m.fstype, "cgroup", "{}", hm.mount_point);
        }
    }
}

fn bind(src: &Path, dst: &str, opts: &[&str]) -> serde_json::Value {
    json!({"destination": dst, "type": "bind", "source": src.display().to_string(), "options": opts})
}

#[test]
fn bind_mount_options() {
    let mut t = TestEnv::new("bind_mount_options");
    let src = t.host_dir("bsrc");
    fs::write(src.join("hello"), "hello\n").unwrap();
    fs::copy(probe_bin(), src.join("probe2")).unwrap();
    t.add_mount(bind(&src, "/mnt/ro", &["bind", "ro", "nosuid", "noexec", "nodev"]));
    t.add_mount(bind(&src, "/mnt/rw", &["bind", "rw"]));
    t.sh("/probe read /mnt/ro/hello + write /mnt/ro/new /mnt/rw/new + mounts; \
         /mnt/ro/probe2 echo x >/dev/null 2>&1; echo exec_ro=$?; \
         /mnt/rw/probe2 echo x >/dev/null 2>&1; echo exec_rw=$?");
    let o = t.run();
    o.ok();
    let f = o.facts();
    assert_eq!(f.get("read:/mnt/ro/hello"), "ok len=6");
    assert_eq!(f.get("write:/mnt/ro/new"), EROFS);
    assert_eq!(f.get("write:/mnt/rw/new"), "ok");
    assert_ne!(f.get("exec_ro"), "0", "noexec bind still executes");
    assert_eq!(f.get("exec_rw"), "0", "plain bind can execute");
    let ms = parse_mountinfo(&o.stdout);
    has_opts(mnt(&ms, "/mnt/ro"), &["ro", "nosuid", "noexec", "nodev"]);
    let rw = mnt(&ms, "/mnt/rw");
    has_opts(rw, &["rw"]);
    // A bind mount keeps the flags of the mount its source is on (a /tmp with
    // nosuid, as in the cgroup v2 VM, gives nosuid binds); none may be added.
    let host = host_mounts();
    let src_mount = mount_containing(&host, &src).expect("the bind source is on some mount");
    for flag in ["noexec", "nosuid"] {
        assert!(
            !rw.has_opt(flag) || src_mount.has_opt(flag),
            "rw bind got {flag}: {:?} (its source is on {} with {:?})",
            rw.options,
            src_mount.mount_point,
            src_mount.options
        );
    }
    // The write through the rw bind is visible on the host, and the host's
    // view of the source was not made read-only.
    assert!(src.join("new").exists());
    fs::write(src.join("host-write"), "x").expect("host source must stay writable");
}

/// A host dir with a tmpfs mounted at sub/ containing `inner`.
fn src_with_submount(t: &TestEnv, name: &str) -> std::path::PathBuf {
    let src = t.host_dir(name);
    fs::write(src.join("top"), "top").unwrap();
    let sub = src.join("sub");
    fs::create_dir(&sub).unwrap();
    host_mount("tmpfs", &sub, "tmpfs", 0, "mode=0755,size=1m");
    fs::write(sub.join("inner"), "inner").unwrap();
    src
}

#[test]
fn rbind_includes_submounts_bind_does_not() {
    let mut t = TestEnv::new("rbind_vs_bind");
    let src = src_with_submount(&t, "rsrc");
    t.add_mount(bind(&src, "/mnt/rb", &["rbind"]));
    t.add_mount(bind(&src, "/mnt/b", &["bind"]));
    let f = t.run_probe(&["stat", "/mnt/rb/top", "/mnt/rb/sub/inner", "/mnt/b/top", "/mnt/b/sub/inner"]);
    for p in ["/mnt/rb/top", "/mnt/rb/sub/inner", "/mnt/b/top"] {
        assert_eq!(f.fields(&format!("stat:{p}"))["exists"], "1", "{p}");
    }
    assert_eq!(f.fields("stat:/mnt/b/sub/inner")["exists"], "0", "non-recursive bind must not carry submounts");
}

#[test]
fn rro_is_recursive_readonly() {
    let mut t = TestEnv::new("rro_recursive");
    let src = src_with_submount(&t, "rrosrc");
    t.add_mount(bind(&src, "/mnt/rro", &["rbind", "rro"]));
    t.add_mount(bind(&src, "/mnt/rw", &["rbind", "rw"]));
    t.args(&["/probe", "write", "/mnt/rro/x", "/mnt/rro/sub/x", "/mnt/rw/sub/y", "+", "mounts"]);
    let o = t.run();
    o.ok();
    let f = o.facts();
    assert_eq!(f.get("write:/mnt/rro/x"), EROFS);
    assert_eq!(f.get("write:/mnt/rro/sub/x"), EROFS, "rro must make submounts read-only too");
    assert_eq!(f.get("write:/mnt/rw/sub/y"), "ok", "the same tmpfs through a rw rbind stays writable");
    let ms = parse_mountinfo(&o.stdout);
    has_opts(mnt(&ms, "/mnt/rro/sub"), &["ro"]);
    // The host's submount is untouched.
    fs::write(src.join("sub/host"), "x").expect("host submount must stay writable");
}

#[test]
fn mount_propagation_modes() {
    let mut t = TestEnv::new("mount_propagation");
    // A shared host mount as the bind source.
    let src = t.host_dir("psrc");
    host_mount("tmpfs", &src, "tmpfs", 0, "mode=0755,size=1m");
    host_mount("", &src, "", libc::MS_SHARED, "");
    fs::create_dir(src.join("late")).unwrap();
    t.add_mount(bind(&src, "/mnt/shared", &["rbind", "rshared"]));
    t.add_mount(bind(&src, "/mnt/slave", &["rbind", "rslave"]));
    t.add_mount(bind(&src, "/mnt/private", &["rbind", "rprivate"]));
    t.args(&["/probe", "sleep"]);
    let pid = t.create_ok();
    t.start().ok();
    let ms = mountinfo_of(pid);
    let sh = mnt(&ms, "/mnt/shared");
    assert!(sh.is_shared(), "rshared: {:?}", sh.optional);
    let sl = mnt(&ms, "/mnt/slave");
    assert!(sl.is_slave() && !sl.is_shared(), "rslave: {:?}", sl.optional);
    let pr = mnt(&ms, "/mnt/private");
    assert!(!pr.is_slave() && !pr.is_shared(), "rprivate: {:?}", pr.optional);
    // A new host mount under the source propagates to the slave (and to the
    // shared one, which is also a slave of the host group) but not to the
    // private one.
    host_mount("tmpfs", &src.join("late"), "tmpfs", 0, "size=1m");
    let mut ms = Vec::new();
    assert!(
        wait_until(T, || {
            ms = mountinfo_of(pid);
            mount_at(&ms, "/mnt/slave/late").is_some()
        }),
        "host mount did not propagate into the rslave mount"
    );
    assert!(mount_at(&ms, "/mnt/private/late").is_none(), "host mount propagated into an rprivate mount");
    assert!(mount_at(&ms, "/mnt/shared/late").is_some(), "rshared mount (slave of host) missed propagation");
    t.delete_force().ok();
}

#[test]
fn tmpfs_mode_and_size() {
    let mut t = TestEnv::new("tmpfs_mode_size");
    t.add_mount(json!({"destination": "/mnt/tmp", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "mode=0710", "size=2m"]}));
    t.sh("/probe stat /mnt/tmp + write /mnt/tmp/f + mounts");
    let o = t.run();
    o.ok();
    let f = o.facts();
    let st = f.fields("stat:/mnt/tmp");
    assert_eq!(st["type"], "dir");
    assert_eq!(st["mode"], "0710");
    assert_eq!(f.get("write:/mnt/tmp/f"), "ok");
    let ms = parse_mountinfo(&o.stdout);
    let m = mnt(&ms, "/mnt/tmp");
    assert_eq!(m.fstype, "tmpfs");
    has_opts(m, &["nosuid", "nodev"]);
    assert!(m.has_super("size=2048k") && m.has_super("mode=710"), "{:?}", m.super_options);
    // Created in the rootfs as the mount point, but nothing written there.
    assert!(t.rootfs.join("mnt/tmp").is_dir());
    assert!(!t.rootfs.join("mnt/tmp/f").exists());
}

#[test]
fn symlinked_destination_resolves_inside_rootfs() {
    let mut t = TestEnv::new("symlinked_destination");
    let src = t.host_dir("dsrc");
    fs::write(src.join("from-dsrc"), "x").unwrap();
    // Absolute and escaping relative symlinks inside the image.
    std::os::unix::fs::symlink("/etc", t.rootfs.join("data")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../../var", t.rootfs.join("data2")).unwrap();
    t.add_mount(bind(&src, "/data", &["bind", "ro"]));
    t.add_mount(bind(&src, "/data2", &["bind", "ro"]));
    t.args(&[
        "/probe",
        "stat",
        "/etc/from-dsrc",
        "/var/from-dsrc",
        "/etc/passwd",
        "+",
        "echo",
        "probe-done",
        "+",
        "sleep",
    ]);
    let c = t.create();
    c.ok();
    let pid = t.pid();
    t.start().ok();
    assert!(wait_until(T, || c.stdout_now().contains("probe-done")));
    let f = Facts::parse(&c.stdout_now());
    assert_eq!(f.fields("stat:/etc/from-dsrc")["exists"], "1", "bind via /data -> /etc must land on rootfs/etc");
    assert_eq!(f.fields("stat:/var/from-dsrc")["exists"], "1", "escaping relative link is clamped to the rootfs");
    assert_eq!(f.fields("stat:/etc/passwd")["exists"], "0", "the bind covers the image's /etc");
    // Never on the host.
    assert!(!Path::new("/etc/from-dsrc").exists() && !Path::new("/var/from-dsrc").exists());
    for m in host_mounts() {
        assert!(m.mount_point != "/etc" && m.mount_point != "/var", "host {} got mounted over", m.mount_point);
    }
    let ms = mountinfo_of(pid);
    assert!(mount_at(&ms, "/etc").is_some() && mount_at(&ms, "/var").is_some());
    assert!(mount_at(&ms, "/data").is_none(), "the symlink itself must not be mounted over");
    t.delete_force().ok();
    // The symlinks in the image are untouched.
    assert_eq!(fs::read_link(t.rootfs.join("data")).unwrap(), Path::new("/etc"));
}

#[test]
fn masked_paths() {
    let mut t = TestEnv::new("masked_paths");
    fs::create_dir(t.rootfs.join("masked-dir")).unwrap();
    fs::write(t.rootfs.join("masked-dir/secret"), "secret").unwrap();
    fs::write(t.rootfs.join("etc/secret-file"), "secret").unwrap();
    let masked = t.config["linux"]["maskedPaths"].as_array_mut().unwrap();
    masked.push(json!("/masked-dir"));
    masked.push(json!("/etc/secret-file"));
    masked.push(json!("/does/not/exist"));
    let f = t.run_probe(&[
        "read",
        "/etc/secret-file",
        "+",
        "ls",
        "/masked-dir",
        "/sys/firmware",
        "+",
        "write",
        "/masked-dir/x",
        "/etc/secret-file",
        "+",
        "stat",
        "/etc/secret-file",
    ]);
    assert_eq!(f.get("read:/etc/secret-file"), "ok len=0", "masked file reads empty");
    assert_eq!(f.get("ls:/masked-dir"), "ok", "masked dir is empty");
    assert_eq!(f.get("write:/masked-dir/x"), EROFS, "masked dir is read-only");
    // (Writing a masked file may "succeed" into /dev/null; it must never
    // reach the real file, checked below.)
    let _ = f.get("write:/etc/secret-file");
    if Path::new("/sys/firmware").read_dir().map(|mut d| d.next().is_some()).unwrap_or(false) {
        assert_eq!(f.get("ls:/sys/firmware"), "ok", "/sys/firmware is masked");
    }
    // Contents are intact underneath.
    assert_eq!(fs::read_to_string(t.rootfs.join("etc/secret-file")).unwrap(), "secret");
}

#[test]
fn readonly_paths() {
    let mut t = TestEnv::new("readonly_paths");
    fs::create_dir(t.rootfs.join("rodir")).unwrap();
    fs::write(t.rootfs.join("rodir/file"), "content").unwrap();
    t.config["linux"]["readonlyPaths"].as_array_mut().unwrap().push(json!("/rodir"));
    // Nonexistent readonly paths (e.g. /proc/sysrq-trigger on some kernels) are skipped.
    t.config["linux"]["readonlyPaths"].as_array_mut().unwrap().push(json!("/no/such/path"));
    t.sh("/probe write /proc/sys/kernel/hostname /rodir/x /rodir/file /tmp/x + read /rodir/file; /probe mounts");
    let o = t.run();
    o.ok();
    let f = o.facts();
    assert_eq!(f.get("write:/proc/sys/kernel/hostname"), EROFS);
    assert_eq!(f.get("write:/rodir/x"), EROFS);
    assert_eq!(f.get("write:/rodir/file"), EROFS);
    assert_eq!(f.get("write:/tmp/x"), "ok");
    assert_eq!(f.get("read:/rodir/file"), "ok len=7", "read-only path stays readable");
    let ms = parse_mountinfo(&o.stdout);
    has_opts(mnt(&ms, "/rodir"), &["ro"]);
    has_opts(mnt(&ms, "/proc/sys"), &["ro"]);
    assert!(!t.rootfs.join("no").exists(), "a missing readonly path must not be created");
}

#[test]
fn dev_symlinks() {
    let mut t = TestEnv::new("dev_symlinks");
    let f = t.run_probe(&[
        "lstat",
        "/dev/ptmx",
        "/dev/fd",
        "/dev/stdin",
        "/dev/stdout",
        "/dev/stderr",
        "+",
        "stat",
        "/dev/pts/ptmx",
    ]);
    let want = [
        ("/dev/ptmx", "pts/ptmx"),
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ];
    for (p, target) in want {
        let st = f.fields(&format!("lstat:{p}"));
        assert_eq!(st["type"], "symlink", "{p}: {st:?}");
        assert_eq!(st["target"], target, "{p}");
    }
    let ptmx = f.fields("stat:/dev/pts/ptmx");
    assert_eq!(ptmx["type"], "char");
    assert_eq!(ptmx["rdev"], "5:2");
    assert_eq!(ptmx["mode"], "0666", "ptmxmode=0666");
}

#[test]
fn no_pivot() {
    let mut t = TestEnv::new("no_pivot");
    let expected_top = host_ls(&t.rootfs);
    let marker = fs::read_to_string(t.rootfs.join("berth-marker")).unwrap();
    t.sh("cat /berth-marker; /probe ls / + stat /work /usr/sbin/runc + write /ok");
    let o = t.run_with(&["--no-pivot"], None);
    o.ok();
    assert!(o.stdout.starts_with(&marker), "{}", o.stdout);
    let f = o.facts();
    assert_eq!(ls_set(f.get("ls:/")), expected_top);
    assert_eq!(f.fields("stat:/work")["exists"], "0");
    assert_eq!(f.fields("stat:/usr/sbin/runc")["exists"], "0");
    assert_eq!(f.get("write:/ok"), "ok");
    t.delete_if_exists();
    t.assert_no_leftovers();
}

#[test]
fn tmpcopyup_fills_the_tmpfs_with_the_directory() {
    // podman asks for it on the tmpfs mounts of a --read-only container.
    let mut t = TestEnv::new("tmpcopyup");
    std::fs::create_dir_all(t.rootfs.join("data/sub")).unwrap();
    std::fs::write(t.rootfs.join("data/sub/file"), "from the image\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", t.rootfs.join("data/link")).unwrap();
    t.config["root"]["readonly"] = serde_json::json!(true);
    t.add_mount(serde_json::json!({
        "destination": "/data", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "tmpcopyup", "size=1m"]
    }));
    let f = t.run_probe(&["read", "/data/sub/file", "+", "lstat", "/data/link", "+", "write", "/data/new", "/x"]);
    assert_eq!(f.get("read:/data/sub/file"), "ok len=15", "the image's file is not in the tmpfs: {:?}", f.0);
    assert_eq!(f.fields("lstat:/data/link")["type"], "symlink", "{:?}", f.0);
    assert_eq!(f.get("write:/data/new"), "ok", "the tmpfs is writable");
    assert!(f.get("write:/x").contains("errno=30"), "the root is read-only");
    assert!(!t.rootfs.join("data/new").exists(), "the write reached the image");
    t.assert_no_leftovers();
}
