//! Embedding libcontainer: a long-lived program that creates, starts, waits for and
//! deletes containers in-process, many times over, keeps no file descriptor, child or
//! thread of theirs, and passes none of its own into the containers. `harness = false`:
//! the library wants a single-threaded caller (its docs say why), so this is a `main`.
//! `BERTH_IT_CYCLES` sets the count (50 by default, 10 in the emulated VM).

use integration_tests::*;
use libcontainer::ContainerBuilder;
use std::fs;

/// This process's open descriptors, as `N -> target`.
fn fds() -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .map(|e| {
            format!("{} -> {}", e.file_name().to_string_lossy(), fs::read_link(e.path()).unwrap_or_default().display())
        })
        .collect();
    v.sort();
    v
}

fn threads() -> usize {
    fs::read_dir("/proc/self/task").unwrap().count()
}

fn main() {
    // As the library's docs ask of an embedder: never let a container reach our binary.
    libcontainer::sealed_exe::ensure().expect("re-execute from a sealed copy");
    let n: usize = std::env::var("BERTH_IT_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(rounds(50, 10));
    let mut t = TestEnv::new("embed");
    t.mount_shared();
    t.sh("/probe fds > /shared/fds; exit 3");
    t.write_config();
    let cycle = |i: usize| {
        let id = format!("{}-{i}", t.id);
        let mut c = ContainerBuilder::new(&id, &t.rt.root).bundle(&t.bundle).create().expect("create");
        c.start().expect("start");
        let d = c.detach();
        let code = d.wait().expect("wait");
        assert_eq!(code, 3, "cycle {i}: the container's exit code");
        d.load().expect("load").delete(false).expect("delete");
        // The container's own process had only its stdio.
        let f = Facts::parse(&fs::read_to_string(t.shared.join("fds")).unwrap());
        assert_eq!(f.fds_besides_probe(), vec![0, 1, 2], "cycle {i}: the container got fds {:?}", f.0);
    };
    cycle(0); // the first may open what stays open on purpose (none today)
    let (before, threads_before) = (fds(), threads());
    for i in 1..=n {
        cycle(i);
    }
    let after = fds();
    assert_eq!(before, after, "descriptors left open after {n} in-process lifecycles");
    assert_eq!(threads(), threads_before, "threads left after {n} lifecycles");
    // No child left: every container process was reaped.
    // SAFETY: waitpid with WNOHANG on any child only reads the exit status into `st`.
    let mut st = 0;
    let r = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) };
    assert!(r == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD), "a child is left ({r})");
    t.assert_no_leftovers();
    println!(
        "embed: {n} in-process lifecycles, {} descriptors before and after, no child or thread left",
        before.len()
    );
    println!("test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out");
}
