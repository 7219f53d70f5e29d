//! One file per command; each is argument handling plus a call into libcontainer.

mod console;
mod create;
mod delete;
mod events;
mod exec;
mod features;
mod forward;
mod kill;
mod list;
mod pause;
mod ps;
mod relay;
mod run;
mod spec;
mod start;
mod state;
mod update;

use crate::cli::{Cli, Command};

/// Run the command; the result is the process's exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    if cli.version {
        print!("{}", version());
        return Ok(0);
    }
    if cli.global.systemd_cgroup {
        anyhow::bail!("the systemd cgroup driver is not supported by berth yet (drop --systemd-cgroup: berth manages cgroupfs itself)");
    }
    if cli.global.rootless == "true" {
        anyhow::bail!("rootless containers are not supported by berth yet (--rootless true); run as root");
    }
    let root = cli.global.root;
    let Some(command) = cli.command else { anyhow::bail!("no command given (try --help)") };
    if matches!(command, Command::Create(_) | Command::Run(_) | Command::Exec(_)) {
        // The container's processes are clones of this one: never let them reach a
        // writable host binary through /proc/<pid>/exe (CVE-2019-5736).
        libcontainer::sealed_exe::ensure().map_err(|e| anyhow::anyhow!("seal berth's executable: {e}"))?;
    }
    match command {
        Command::Create(a) => create::run(&root, a),
        Command::Start(a) => start::run(&root, a),
        Command::State(a) => state::run(&root, a),
        Command::Kill(a) => kill::run(&root, a),
        Command::Delete(a) => delete::run(&root, a),
        Command::Run(a) => run::run(&root, a),
        Command::List(a) => list::run(&root, a),
        Command::Pause(a) => pause::pause(&root, a),
        Command::Resume(a) => pause::resume(&root, a),
        Command::Ps(a) => ps::run(&root, a),
        Command::Events(a) => events::run(&root, a),
        Command::Update(a) => update::run(&root, a),
        Command::Exec(a) => exec::run(&root, a),
        Command::Features => features::run(),
        Command::Spec(a) => spec::run(a),
    }
}

/// runc's `--version` lines (containerd and podman show them).
pub fn version() -> String {
    format!(
        "berth version {}\ncommit: {}\nspec: {}\nlibseccomp: {}\n",
        env!("CARGO_PKG_VERSION"),
        option_env!("BERTH_COMMIT").unwrap_or("unknown"),
        libcontainer::state::OCI_VERSION,
        libcontainer::features::libseccomp_version(),
    )
}
