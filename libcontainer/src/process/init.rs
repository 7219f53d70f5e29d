//! The container's init: the process cloned into the new namespaces, which sets the
//! container up and then becomes the container's program with `execve`.
//!
//! Init is a list of named steps over a context ([`STEPS_BEFORE_HOOKS`],
//! [`STEPS_AFTER_HOOKS`]); the first step that fails is reported to the runtime as
//! [`InitError`] with its name, and init exits. See [`crate::protocol`] for the exchange.

use super::credentials;
use super::exec;
use crate::hooks::{run_hooks, HookKind};
use crate::plan::{Plan, TimeOffset};
use crate::protocol::{expect, recv_msg, send_msg, InitError, Message};
use crate::rootfs::{self, CgroupMount};
use crate::syserr::{SysError, SysResultExt};
use nix::errno::Errno;
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::socket::{accept4, SockFlag};
use oci_spec::runtime::LinuxNamespaceType;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

/// What init is handed by the runtime at clone time.
pub struct InitArgs<'a> {
    pub plan: &'a Plan,
    /// Init's end of the runtime socketpair.
    pub sync: OwnedFd,
    /// The listening start socket (`start.sock` in the state directory).
    pub start_listener: OwnedFd,
    /// The cgroup hierarchies to show at the config's cgroup mount.
    pub cgroup_mounts: &'a [CgroupMount],
    /// Unshare the cgroup namespace after the runtime placed us (v1: we were not born in it).
    pub unshare_cgroupns: bool,
    /// Keep fds 3..3+N open for the program.
    pub preserve_fds: u32,
    /// Where to send the pty master, when the process has a terminal.
    pub console: Option<OwnedFd>,
}

struct Ctx<'a> {
    plan: &'a Plan,
    sync: OwnedFd,
    /// Whether the runtime's `Joined` has arrived.
    joined: bool,
    /// Init's pid as the runtime sees it (from `Joined`).
    host_pid: i32,
    /// A connection to the seccomp agent at `listenerPath`, made before pivot_root.
    seccomp_agent: Option<OwnedFd>,
    /// Whether the seccomp filter is already loaded.
    seccomp_loaded: bool,
    /// Keep fds 3..3+N open for the program.
    preserve_fds: u32,
    /// The console socket (taken by the console step).
    console: Option<OwnedFd>,
    cgroup_mounts: &'a [CgroupMount],
    unshare_cgroupns: bool,
    root: Option<pathrs::Root>,
    exec_path: PathBuf,
    env: Vec<String>,
}

type Step = (&'static str, fn(&mut Ctx) -> Result<(), SysError>);

/// Steps up to the point where the runtime's hooks run (still on the host's paths).
const STEPS_BEFORE_HOOKS: &[Step] = &[
    ("user namespace", step_userns_root),
    ("session keyring", step_keyring),
    ("hostname", step_hostname),
    ("rootfs", step_rootfs),
    ("mounts", step_mounts),
    ("cgroup", step_cgroup),
    ("devices", step_devices),
];

/// Steps after the prestart/createRuntime hooks, ending with the process fully set up.
const STEPS_AFTER_HOOKS: &[Step] = &[
    ("createContainer hooks", step_create_container_hooks),
    ("seccomp listener", step_seccomp_agent),
    ("pivot_root", step_pivot),
    ("console", step_console),
    ("masked paths", step_masked),
    ("readonly paths", step_readonly),
    ("readonly rootfs", step_root_readonly),
    ("sysctl", step_sysctl),
    ("rlimits", step_rlimits),
    ("seccomp", step_seccomp_early),
    ("user", step_user),
    ("capabilities", step_caps),
    ("cwd", step_cwd),
    ("find the program", step_lookup),
    ("no new privileges", step_nnp),
];

fn fail(sync: &OwnedFd, step: &str, error: SysError) -> ! {
    let _ = send_msg(sync.as_fd(), &Message::Error(InitError { step: format!("container init ({step})"), error }));
    exit(1)
}

fn exit(code: i32) -> ! {
    // SAFETY: _exit ends the process without running atexit handlers or destructors
    // that belong to the runtime's copy of the address space.
    unsafe { libc::_exit(code) }
}

fn name_process(name: &std::ffi::CStr) {
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr(), 0, 0, 0) };
}

/// Common start of every child: not dumpable (so no process in the container can open
/// `/proc/<pid>/exe` of this copy of berth, the CVE-2019-5736 class), umask 0 for setup.
fn child_prologue(name: &std::ffi::CStr) {
    // SAFETY: PR_SET_DUMPABLE takes plain integers.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    name_process(name);
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
}

/// Entry of the init process. Never returns.
pub fn init_main(args: InitArgs<'_>) -> ! {
    child_prologue(c"berth:[init]");
    let InitArgs { plan, sync, start_listener, cgroup_mounts, unshare_cgroupns, preserve_fds, console } = args;
    if let Err(e) = expect(sync.as_fd(), |m| *m == Message::Continue, "Continue") {
        tracing::debug!("init: waiting for the runtime: {e}");
        exit(1)
    }
    let mut ctx = Ctx {
        plan,
        sync,
        joined: false,
        host_pid: 0,
        seccomp_agent: None,
        seccomp_loaded: false,
        preserve_fds,
        console,
        cgroup_mounts,
        unshare_cgroupns,
        root: None,
        exec_path: PathBuf::new(),
        env: Vec::new(),
    };
    run_steps(&mut ctx, STEPS_BEFORE_HOOKS);
    let hooks_handshake = |sync: &OwnedFd| {
        send_msg(sync.as_fd(), &Message::RuntimeHooks)?;
        expect(sync.as_fd(), |m| *m == Message::Continue, "Continue")
    };
    if has_runtime_hooks(plan) && hooks_handshake(&ctx.sync).is_err() {
        exit(1)
    }
    run_steps(&mut ctx, STEPS_AFTER_HOOKS);
    if send_msg(ctx.sync.as_fd(), &Message::Ready).is_err() {
        exit(1)
    }
    wait_for_start_and_exec(ctx, start_listener)
}

fn has_runtime_hooks(plan: &Plan) -> bool {
    let h = &plan.hooks;
    #[allow(deprecated)]
    let prestart = h.prestart().as_ref().is_some_and(|v| !v.is_empty());
    prestart || h.create_runtime().as_ref().is_some_and(|v| !v.is_empty())
}

fn run_steps(ctx: &mut Ctx, steps: &[Step]) {
    for (name, step) in steps {
        if let Err(e) = step(ctx) {
            fail(&ctx.sync, name, e)
        }
    }
}

/// Wait for the runtime to have placed us in the cgroup (once), then enter a new cgroup
/// namespace if one is planned and clone could not create it: its root is the cgroup
/// we are in when unsharing.
fn step_cgroup(ctx: &mut Ctx) -> Result<(), SysError> {
    if ctx.joined {
        return Ok(());
    }
    let m = expect(ctx.sync.as_fd(), |m| matches!(m, Message::Joined { .. }), "Joined")
        .map_err(|e| SysError::new(format!("wait for the runtime to join the cgroup: {e}"), Errno::EPIPE))?;
    if let Message::Joined { pid } = m {
        ctx.host_pid = pid;
    }
    ctx.joined = true;
    if ctx.unshare_cgroupns {
        unshare(CloneFlags::CLONE_NEWCGROUP).op(|| "unshare(CLONE_NEWCGROUP)".into())?;
    }
    Ok(())
}

/// In a user namespace, become its root: until then our ids are unmapped, and files
/// created during setup would fail with EOVERFLOW.
fn step_userns_root(ctx: &mut Ctx) -> Result<(), SysError> {
    if !ctx.plan.namespaces.has(LinuxNamespaceType::User) {
        return Ok(());
    }
    let hint = "uid and gid 0 must be mapped in the user namespace (uidMappings/gidMappings)";
    let zero_g = nix::unistd::Gid::from_raw(0);
    let zero_u = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresgid(zero_g, zero_g, zero_g)
        .op(|| "setresgid 0 in the user namespace".into())
        .map_err(|e| e.hint(hint))?;
    nix::unistd::setresuid(zero_u, zero_u, zero_u)
        .op(|| "setresuid 0 in the user namespace".into())
        .map_err(|e| e.hint(hint))
}

fn step_keyring(ctx: &mut Ctx) -> Result<(), SysError> {
    if ctx.plan.new_keyring {
        super::keyring::join_session(&ctx.plan.id)?;
    }
    Ok(())
}

fn step_hostname(ctx: &mut Ctx) -> Result<(), SysError> {
    let plan = ctx.plan;
    if let Some(h) = &plan.hostname {
        nix::unistd::sethostname(h).op(|| format!("sethostname {h:?}"))?;
    }
    if let Some(d) = &plan.domainname {
        // SAFETY: the pointer and length describe the bytes of `d`, valid for the call.
        if unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) } != 0 {
            return Err(SysError::new(format!("setdomainname {d:?}"), Errno::last()));
        }
    }
    Ok(())
}

fn step_rootfs(ctx: &mut Ctx) -> Result<(), SysError> {
    rootfs::prepare_root(ctx.plan)?;
    ctx.root = Some(rootfs::open_root(&ctx.plan.rootfs)?);
    Ok(())
}

fn root<'a>(ctx: &'a Ctx) -> Result<&'a pathrs::Root, SysError> {
    ctx.root.as_ref().ok_or_else(|| SysError::new("rootfs is not open", Errno::EBADF))
}

fn step_mounts(ctx: &mut Ctx) -> Result<(), SysError> {
    let root = ctx.root.take().ok_or_else(|| SysError::new("rootfs is not open", Errno::EBADF))?;
    let (plan, cgroup_mounts) = (ctx.plan, ctx.cgroup_mounts);
    let r = rootfs::mount_all(plan, &root, cgroup_mounts, &mut || step_cgroup(ctx));
    ctx.root = Some(root);
    r
}

fn step_devices(ctx: &mut Ctx) -> Result<(), SysError> {
    let plan = ctx.plan;
    if !plan.setup_dev {
        return Ok(());
    }
    let userns = plan.namespaces.has(LinuxNamespaceType::User);
    rootfs::create_devices(root(ctx)?, &plan.devices, userns)?;
    rootfs::setup_dev_links(root(ctx)?)
}

fn hook_error(e: crate::hooks::HookError) -> SysError {
    SysError::new(e.to_string(), Errno::ECANCELED)
}

fn step_create_container_hooks(ctx: &mut Ctx) -> Result<(), SysError> {
    let plan = ctx.plan;
    let Some(hooks) = plan.hooks.create_container() else { return Ok(()) };
    let state = crate::state::oci_state_json(plan, "creating", nix::unistd::getpid().as_raw());
    run_hooks(HookKind::CreateContainer, hooks, state.as_bytes()).map_err(hook_error)
}

fn step_pivot(ctx: &mut Ctx) -> Result<(), SysError> {
    ctx.root = None;
    rootfs::enter_root(ctx.plan)?;
    ctx.root = Some(rootfs::open_root(std::path::Path::new("/"))?);
    Ok(())
}

/// A session of its own (runc's init is always a session leader), and with a terminal a
/// pty from the container's devpts as controlling terminal, stdio and `/dev/console`.
fn step_console(ctx: &mut Ctx) -> Result<(), SysError> {
    nix::unistd::setsid().op(|| "setsid".into())?;
    let Some(sock) = ctx.console.take() else { return Ok(()) };
    let p = &ctx.plan.process;
    crate::tty::give_terminal(root(ctx)?, &sock, p.console_size, p.uid, true)
}

fn step_masked(ctx: &mut Ctx) -> Result<(), SysError> {
    rootfs::mask_paths(root(ctx)?, &ctx.plan.masked_paths)
}

fn step_readonly(ctx: &mut Ctx) -> Result<(), SysError> {
    rootfs::readonly_paths(root(ctx)?, &ctx.plan.readonly_paths)
}

fn step_root_readonly(ctx: &mut Ctx) -> Result<(), SysError> {
    if ctx.plan.rootfs_readonly {
        rootfs::remount_root_readonly()?;
    }
    Ok(())
}

fn step_sysctl(ctx: &mut Ctx) -> Result<(), SysError> {
    if ctx.plan.sysctl.is_empty() {
        return Ok(());
    }
    // A private procfs handle: writes can't be redirected by anything in the image
    // (CVE-2025-52881). The values apply to the namespaces init is in.
    let proc = pathrs::procfs::ProcfsHandle::new().op(|| "open a private procfs".into())?;
    for (k, v) in &ctx.plan.sysctl {
        let sub = format!("sys/{}", k.replace('.', "/"));
        let mut f = proc
            .open(pathrs::procfs::ProcfsBase::ProcRoot, &sub, pathrs::flags::OpenFlags::O_WRONLY)
            .op(|| format!("open /proc/{sub} for sysctl {k}"))?;
        std::io::Write::write_all(&mut f, v.as_bytes()).op(|| format!("write {v:?} to /proc/{sub}"))?;
    }
    Ok(())
}

fn step_seccomp_agent(ctx: &mut Ctx) -> Result<(), SysError> {
    if let Some(s) = &ctx.plan.seccomp {
        ctx.seccomp_agent = super::seccomp_load::connect_listener(s)?;
    }
    Ok(())
}

/// Without noNewPrivileges, loading a filter needs CAP_SYS_ADMIN, which the user switch
/// may drop: load it now, as runc does. With it, the load waits until just before exec.
fn step_seccomp_early(ctx: &mut Ctx) -> Result<(), SysError> {
    if ctx.plan.process.no_new_privileges {
        return Ok(());
    }
    load_seccomp(ctx)
}

fn load_seccomp(ctx: &mut Ctx) -> Result<(), SysError> {
    if let (Some(s), false) = (&ctx.plan.seccomp, ctx.seccomp_loaded) {
        super::seccomp_load::load(ctx.plan, s, ctx.seccomp_agent.as_ref(), ctx.host_pid)?;
        ctx.seccomp_loaded = true;
        ctx.seccomp_agent = None;
    }
    Ok(())
}

fn step_rlimits(ctx: &mut Ctx) -> Result<(), SysError> {
    credentials::set_rlimits(&ctx.plan.process.rlimits)
}

fn step_user(ctx: &mut Ctx) -> Result<(), SysError> {
    let p = &ctx.plan.process;
    if let Some(caps) = &p.caps {
        credentials::drop_bounding(caps)?;
    }
    credentials::switch_user(p, true)?;
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(p.umask.unwrap_or(0o022)));
    Ok(())
}

fn step_caps(ctx: &mut Ctx) -> Result<(), SysError> {
    match &ctx.plan.process.caps {
        Some(c) => credentials::apply_caps(c),
        None => Ok(()),
    }
}

fn step_cwd(ctx: &mut Ctx) -> Result<(), SysError> {
    exec::enter_cwd(root(ctx)?, &ctx.plan.process.cwd)
}

fn step_lookup(ctx: &mut Ctx) -> Result<(), SysError> {
    let p = &ctx.plan.process;
    let mut env = p.env.clone();
    if exec::env_get(&env, "HOME").is_none() {
        env.push(format!("HOME={}", exec::home_of(p.uid)));
    }
    ctx.exec_path = exec::lookup(&p.args[0], &env)?;
    ctx.env = env;
    Ok(())
}

fn step_nnp(ctx: &mut Ctx) -> Result<(), SysError> {
    if ctx.plan.process.no_new_privileges {
        credentials::set_no_new_privs()?;
    }
    Ok(())
}

/// Wait on the start socket for `berth start`, run the startContainer hooks, exec.
/// Connections that don't bring a well-formed `Start` are dropped and waited past.
fn wait_for_start_and_exec(mut ctx: Ctx, listener: OwnedFd) -> ! {
    let conn = loop {
        match accept4(std::os::fd::AsRawFd::as_raw_fd(&listener), SockFlag::SOCK_CLOEXEC) {
            Ok(fd) => {
                // SAFETY: accept4 returned a new fd that nothing else owns.
                let conn = unsafe { OwnedFd::from_raw_fd(fd) };
                match recv_msg(conn.as_fd()) {
                    Ok(Message::Start { state }) => break (conn, state),
                    _ => continue,
                }
            }
            Err(Errno::EINTR | Errno::ECONNABORTED) => continue,
            Err(_) => exit(1),
        }
    };
    let (conn, state) = conn;
    let plan = ctx.plan;
    if let Some(hooks) = plan.hooks.start_container() {
        // Hooks in the container's namespaces see the pid as the container does (runc too).
        let state = match serde_json::from_str::<serde_json::Value>(&state) {
            Ok(mut v) => {
                v["pid"] = nix::unistd::getpid().as_raw().into();
                v.to_string()
            }
            Err(_) => state,
        };
        if let Err(e) = run_hooks(HookKind::StartContainer, hooks, state.as_bytes()) {
            fail(&conn, "startContainer hooks", hook_error(e))
        }
    }
    drop(listener);
    // The caller's fds 3..3+N came in with the clone; everything of berth's own is
    // numbered above them (and close-on-exec anyway).
    if let Err(e) = exec::reset_signals().and_then(|_| exec::cloexec_from(3 + ctx.preserve_fds)) {
        fail(&conn, "exec", e)
    }
    // As late as possible: nothing of berth's own setup can be blocked by the profile.
    if let Err(e) = load_seccomp(&mut ctx) {
        fail(&conn, "seccomp", e)
    }
    let e = exec::execve(&ctx.exec_path, &plan.process.args, &ctx.env);
    fail(&conn, "exec", e)
}

/// Entry of the first child in two-step creation: join namespaces by path, unshare the
/// new ones (asking the runtime to map a new user namespace), write time offsets, then
/// clone init as a sibling (`CLONE_PARENT`, so the runtime can wait for it), report its
/// pid and exit.
pub fn stage1_main(args: InitArgs<'_>) -> ! {
    child_prologue(c"berth:[1:stage]");
    let sync = match args.sync.try_clone() {
        Ok(s) => s,
        Err(_) => exit(1),
    };
    if expect(sync.as_fd(), |m| *m == Message::Continue, "Continue").is_err() {
        exit(1)
    }
    let plan = args.plan;
    let r = (|| -> Result<i32, (&'static str, SysError)> {
        for (t, path) in &plan.namespaces.join {
            let f = std::fs::File::open(path)
                .op(|| format!("open namespace {path:?}"))
                .map_err(|e| ("join namespaces", e))?;
            setns(f, crate::plan::clone_flag(*t))
                .op(|| format!("setns {} namespace {path:?}", crate::plan::ns_name(*t)))
                .map_err(|e| ("join namespaces", e))?;
        }
        let mut new = plan.namespaces.new;
        if new.contains(CloneFlags::CLONE_NEWUSER) {
            unshare(CloneFlags::CLONE_NEWUSER)
                .op(|| "unshare(CLONE_NEWUSER)".into())
                .map_err(|e| ("user namespace", e))?;
            send_msg(sync.as_fd(), &Message::MapUserNs)
                .map_err(|_| ("user namespace", SysError::new("send", Errno::EPIPE)))?;
            expect(sync.as_fd(), |m| *m == Message::Continue, "Continue")
                .map_err(|_| ("user namespace", SysError::new("wait for id maps", Errno::EPIPE)))?;
            new.remove(CloneFlags::CLONE_NEWUSER);
        }
        unshare(new)
            .op(|| format!("unshare({})", super::clone::clone_flags_to_string(new.bits() as u64)))
            .map_err(|e| ("namespaces", e))?;
        write_time_offsets(&plan.time_offsets).map_err(|e| ("time namespace", e))?;
        match super::clone::clone3(libc::CLONE_PARENT as u64, None).map_err(|e| ("clone init", e))? {
            super::clone::Forked::Child => init_main(args),
            super::clone::Forked::Parent { pid, .. } => Ok(pid.as_raw()),
        }
    })();
    match r {
        Ok(pid) => {
            let _ = send_msg(sync.as_fd(), &Message::InitPid { pid });
            exit(0)
        }
        Err((step, e)) => fail(&sync, step, e),
    }
}

fn write_time_offsets(offsets: &[TimeOffset]) -> Result<(), SysError> {
    if offsets.is_empty() {
        return Ok(());
    }
    let text: String = offsets.iter().map(|o| format!("{} {} {}\n", o.clock, o.secs, o.nanos)).collect();
    std::fs::write("/proc/self/timens_offsets", text.as_bytes())
        .op(|| format!("write {text:?} to /proc/self/timens_offsets"))
}
