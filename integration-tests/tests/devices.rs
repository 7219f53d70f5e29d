//! Devices: the default set in /dev with the right numbers and modes, no
//! host devices leaking in, and `linux.devices` entries created with the
//! configured type, numbers, mode and owner.

use integration_tests::*;
use serde_json::json;

#[test]
fn default_devices() {
    let mut t = TestEnv::new("default_devices");
    let want = [
        ("/dev/null", "1:3"),
        ("/dev/zero", "1:5"),
        ("/dev/full", "1:7"),
        ("/dev/random", "1:8"),
        ("/dev/urandom", "1:9"),
        ("/dev/tty", "5:0"),
    ];
    let mut args = vec!["stat"];
    args.extend(want.iter().map(|(p, _)| *p));
    let f = t.run_probe(&args);
    for (p, rdev) in want {
        let st = f.fields(&format!("stat:{p}"));
        assert_eq!(st["exists"], "1", "{p} missing");
        assert_eq!(st["type"], "char", "{p}: {st:?}");
        assert_eq!(st["rdev"], rdev, "{p}");
        assert_eq!(st["mode"], "0666", "{p}");
        assert_eq!((st["uid"].as_str(), st["gid"].as_str()), ("0", "0"), "{p}");
    }
}

#[test]
fn default_devices_work_and_host_devices_absent() {
    let mut t = TestEnv::new("default_devices_work");
    t.sh("echo x > /dev/null; echo null_rc=$?; \
         echo n_zero=$(head -c 5 /dev/zero | wc -c); \
         echo n_urandom=$(head -c 7 /dev/urandom | wc -c); \
         echo x 2>/dev/null > /dev/full; echo full_rc=$?; \
         /probe ls /dev");
    let o = t.run();
    o.ok();
    let f = o.facts();
    assert_eq!(f.get("null_rc"), "0");
    assert_eq!(f.get("n_zero"), "5");
    assert_eq!(f.get("n_urandom"), "7");
    assert_ne!(f.get("full_rc"), "0", "writing /dev/full must fail (ENOSPC)");
    let dev: Vec<&str> = f.get("ls:/dev").split_whitespace().collect();
    for host_only in ["vda", "sda", "mem", "kmsg", "port", "kvm", "loop0"] {
        assert!(!dev.contains(&host_only), "host device /dev/{host_only} leaked: {dev:?}");
    }
}

#[test]
fn linux_devices_entries() {
    let mut t = TestEnv::new("linux_devices_entries");
    t.config["linux"]["devices"] = json!([
        {"path": "/dev/berth-test", "type": "c", "major": 1, "minor": 3,
         "fileMode": 0o640, "uid": TEST_UID, "gid": TEST_GID},
        {"path": "/dev/berth-blk", "type": "b", "major": 7, "minor": 200,
         "fileMode": 0o600, "uid": 0, "gid": 6},
        {"path": "/dev/berth-fifo", "type": "p", "fileMode": 0o620, "uid": 0, "gid": 0},
        {"path": "/dev/sub/dir/berth-zero", "type": "c", "major": 1, "minor": 5,
         "fileMode": 0o604, "uid": 0, "gid": 0}
    ]);
    let f = t.run_probe(&["stat", "/dev/berth-test", "/dev/berth-blk", "/dev/berth-fifo", "/dev/sub/dir/berth-zero"]);
    let st = f.fields("stat:/dev/berth-test");
    assert_eq!(st["type"], "char", "{st:?}");
    assert_eq!(st["rdev"], "1:3");
    assert_eq!(st["mode"], "0640");
    assert_eq!(st["uid"], TEST_UID.to_string());
    assert_eq!(st["gid"], TEST_GID.to_string());
    let st = f.fields("stat:/dev/berth-blk");
    assert_eq!(st["type"], "block", "{st:?}");
    assert_eq!(st["rdev"], "7:200");
    assert_eq!(st["mode"], "0600");
    assert_eq!(st["gid"], "6");
    let st = f.fields("stat:/dev/berth-fifo");
    assert_eq!(st["type"], "fifo", "{st:?}");
    assert_eq!(st["mode"], "0620");
    let st = f.fields("stat:/dev/sub/dir/berth-zero");
    assert_eq!(st["type"], "char", "{st:?}");
    assert_eq!(st["rdev"], "1:5");
    assert_eq!(st["mode"], "0604");
    // Nothing was created in the bundle's rootfs (/dev is a tmpfs).
    assert!(!t.rootfs.join("dev/berth-test").exists());
}
