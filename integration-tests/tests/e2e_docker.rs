//! Docker drives the runtime under test unmodified: a private dockerd with
//! `--add-runtime berth=PATH` (and the containerd it starts itself), containers with
//! `--runtime berth --network none`, over a local image of busybox and the probe.

use integration_tests::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

macro_rules! docker_or_skip {
    ($t:expr) => {{
        if let Some(why) =
            missing_tools(&["dockerd", "docker", "containerd", "skopeo", "umoci"], "docker.io skopeo umoci")
        {
            skip!("{why}");
        }
        Docker::start(&$t)
    }};
}

fn assert_clean(d: &Docker) {
    assert!(wait_until(T, || d.leftovers().is_empty()), "left behind: {:?}", d.leftovers());
}

#[test]
fn docker_run_prints_and_exits_with_the_status() {
    let t = TestEnv::new("e2e_docker_run");
    let d = docker_or_skip!(t);
    let o = d.run(&["--rm"], &["sh", "-c", "echo hello from $(hostname); exit 6"]);
    assert_eq!(o.code(), Some(6), "{}{}", o.stdout_now(), o.stderr_now());
    assert!(o.stdout_now().contains("hello from"), "{}", o.stdout_now());
    let o = d.run(&["--rm"], &["/probe", "status"]);
    o.ok();
    assert_eq!(o.facts().get("Seccomp"), "2", "Docker's default seccomp profile is not in force");
    assert_clean(&d);
}

#[test]
fn docker_detached_exec_stop_rm() {
    let t = TestEnv::new("e2e_docker_detached");
    let d = docker_or_skip!(t);
    d.run(&["-d", "--name", "d1"], &["sleep", "1000"]).ok();
    let o = d.docker(&["exec", "d1", "/probe", "ids", "+", "exit", "4"]);
    assert_eq!(o.code(), Some(4), "{}", o.stderr_now());
    assert_eq!(o.facts().get("uid"), "0");
    let o = d.docker(&["exec", "-u", "1000", "d1", "/probe", "ids"]);
    o.ok();
    assert_eq!(o.facts().get("uid"), "1000");
    let top = d.docker(&["top", "d1"]);
    top.ok();
    assert!(top.stdout_now().contains("sleep 1000"), "{}", top.stdout_now());
    d.docker(&["stop", "-t", "1", "d1"]).ok();
    let st = d.docker(&["inspect", "d1", "--format", "{{.State.Status}}"]).stdout_now();
    assert_eq!(st.trim(), "exited");
    d.docker(&["rm", "d1"]).ok();
    assert_clean(&d);
}
