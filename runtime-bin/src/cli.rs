//! Command-line arguments, runc's names and flags.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "berth",
    about = "A daemonless OCI container runtime",
    disable_help_subcommand = true,
    disable_version_flag = true,
    subcommand_required = false,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    /// Print the version (runc's format: version, commit, spec, libseccomp).
    #[arg(short = 'v', long)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Directory for the containers' state.
    #[arg(long, global = true, default_value = "/run/berth")]
    pub root: PathBuf,
    /// Write logs (and errors) to this file instead of stderr.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long = "log-format", global = true, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Debug logging.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use systemd to manage cgroups (not supported yet: every command refuses it).
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Rootless mode: auto, true or false (berth runs as root; true is refused). Before
    /// the command, as shims pass it (`spec --rootless` is spec's own flag).
    #[arg(long, default_value = "auto", value_parser = ["auto", "true", "false"])]
    pub rootless: String,
    /// Path to criu, for checkpoint and restore (accepted; those commands come later).
    #[arg(long, global = true)]
    pub criu: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container from a bundle; it waits for `start`.
    Create(Create),
    /// Start a created container.
    Start(Id),
    /// Print a container's state as JSON.
    State(Id),
    /// Send a signal to a container's init (default SIGTERM).
    Kill(Kill),
    /// Delete a stopped container (or any, with --force).
    Delete(Delete),
    /// Create and start a container, and wait for it unless --detach.
    Run(Run),
    /// List containers.
    List(List),
    /// Freeze every process of a container.
    Pause(Id),
    /// Thaw a paused container.
    Resume(Id),
    /// List the processes of a container.
    Ps(Ps),
    /// Print resource usage (and OOM events) of a container as JSON lines, like runc.
    Events(Events),
    /// Change the resource limits of a running container.
    Update(Update),
    /// Run a new process inside a running container.
    Exec(Exec),
    /// Print what berth supports, as the runtime-spec's features JSON.
    Features,
    /// Write a default config.json (like `runc spec`).
    Spec(Spec),
}

#[derive(Debug, Args)]
pub struct Spec {
    /// Where to write config.json.
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// A config for a rootless container (user namespace, no cgroup limits).
    #[arg(long)]
    pub rootless: bool,
}

#[derive(Debug, Args)]
pub struct Exec {
    /// A process.json (the `process` object of config.json) instead of a command line.
    #[arg(short, long)]
    pub process: Option<std::path::PathBuf>,
    /// Return once the process runs instead of waiting for it.
    #[arg(short, long)]
    pub detach: bool,
    /// Give the process a terminal (a pty).
    #[arg(short, long)]
    pub tty: bool,
    /// A unix socket to send the pty master to (with --tty and --detach).
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Write the process's pid to this file.
    #[arg(long = "pid-file")]
    pub pid_file: Option<std::path::PathBuf>,
    /// Working directory inside the container.
    #[arg(long)]
    pub cwd: Option<std::path::PathBuf>,
    /// Set an environment variable (KEY=value); repeatable.
    #[arg(short, long)]
    pub env: Vec<String>,
    /// uid[:gid] to run as (numbers).
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional gid; repeatable.
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Add a capability (CAP_NET_ADMIN); repeatable.
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Set no_new_privs for the process.
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Pass fds 3..3+N-1 on to the process.
    #[arg(long = "preserve-fds", default_value_t = 0, allow_hyphen_values = true)]
    pub preserve_fds: u32,
    /// Allow exec into a paused container.
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Run in an existing sub-cgroup of the container: [<controller>[,<controller>]:]<path>; repeatable (v1).
    #[arg(long)]
    pub cgroup: Vec<String>,
    /// AppArmor profile for the process.
    #[arg(long)]
    pub apparmor: Option<String>,
    /// SELinux label for the process.
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// The container's id.
    pub id: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `runc update`'s flags; each given one is applied, the others stay as they are.
#[derive(Debug, Args)]
pub struct Update {
    /// A JSON file (or "-" for stdin) with linux.resources to apply.
    #[arg(short, long)]
    pub resources: Option<String>,
    /// Block IO weight (10-1000).
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period (µs).
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota (µs), -1 for none.
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight).
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    /// CPU realtime period (µs).
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime (µs).
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs to run on (0-3, 0,1).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use (0-3, 0,1).
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Memory limit (bytes, or with a unit: 512m, 1g), -1 for none.
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory soft limit.
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit, -1 for unlimited swap.
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of pids, -1 (or 0) for none.
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// The container's id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct Events {
    /// Print the stats once and exit.
    #[arg(long)]
    pub stats: bool,
    /// How often to print stats (Go-style duration: 500ms, 5s, 1m).
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// The container's id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct Id {
    /// The container's id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct CreateOpts {
    /// The bundle directory (holding config.json).
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write the container's init pid to this file.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Don't use pivot_root (for a rootfs on ramfs).
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Pass fds 3..3+N-1 on to the container's process.
    #[arg(long = "preserve-fds", default_value_t = 0, allow_hyphen_values = true)]
    pub preserve_fds: u32,
    /// A unix socket to send the pty master to (process.terminal: true).
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Keep the caller's session keyring instead of a new one named after the container.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
}

#[derive(Debug, Args)]
pub struct Create {
    #[command(flatten)]
    pub opts: CreateOpts,
    /// The container's id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct Run {
    #[command(flatten)]
    pub opts: CreateOpts,
    /// Return once the container runs, instead of waiting for it.
    #[arg(short, long)]
    pub detach: bool,
    /// The container's id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct Kill {
    /// Signal every process in the container's cgroup.
    #[arg(short, long)]
    pub all: bool,
    /// The container's id.
    pub id: String,
    /// Signal name (KILL, SIGKILL) or number.
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

#[derive(Debug, Args)]
pub struct Delete {
    /// Kill the container first if it is not stopped.
    #[arg(short, long)]
    pub force: bool,
    /// The container's id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct Ps {
    /// Output format: table (runs `ps`) or json (the pids).
    #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// The container's id.
    pub id: String,
    /// Options for ps(1) (default -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct List {
    /// Output format: table or json.
    #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Print only the ids.
    #[arg(short, long)]
    pub quiet: bool,
}

#[cfg(test)]
mod tests {
    #[test]
    fn arguments_are_consistent() {
        // clap checks clashes (a global flag and a subcommand's of one name) only when
        // parsing; this finds them before a user does.
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
