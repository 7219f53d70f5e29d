//! The checks behind [`Plan::build`](super::Plan::build): small functions, each
//! returning a [`ConfigError`] that names the config field at fault.

use super::options::{self, MountOptions};
use super::*;
use oci_spec::runtime::{LinuxDeviceType, LinuxNamespaceType, Mount, PosixRlimitType, Process};
use std::path::Component;

/// A container id is one path component of safe characters: `[A-Za-z0-9_+.-]`, not `.`/`..`.
pub fn validate_id(id: &str) -> Result<(), ConfigError> {
    let bad = |why: &str| Err(ConfigError::new("container id", format!("{id:?} {why}")));
    if id.is_empty() {
        return bad("is empty");
    }
    if id.len() > 1024 {
        return bad("is longer than 1024 characters");
    }
    if id == "." || id == ".." {
        return bad("is not a valid name");
    }
    if let Some(c) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || "_+-.".contains(*c))) {
        return bad(&format!("contains {c:?}: only letters, digits and _+-. are allowed"));
    }
    Ok(())
}

pub(super) fn build(id: &str, bundle: &Path, spec: &Spec, opts: &PlanOptions) -> Result<Plan, ConfigError> {
    let bundle =
        std::fs::canonicalize(bundle).map_err(|e| ConfigError::new("bundle", format!("{}: {e}", bundle.display())))?;
    let root = spec.root().as_ref().ok_or_else(|| ConfigError::new("root", "missing"))?;
    let rootfs = rootfs_path(&bundle, root.path())?;
    let linux = spec.linux().clone().unwrap_or_default();
    not_yet_supported(spec, &linux)?;

    let namespaces = namespaces(&linux)?;
    let uid_map = id_maps("linux.uidMappings", linux.uid_mappings())?;
    let gid_map = id_maps("linux.gidMappings", linux.gid_mappings())?;
    let user_new = namespaces.creates(LinuxNamespaceType::User);
    if user_new && (uid_map.is_empty() || gid_map.is_empty()) {
        return Err(ConfigError::new("linux.uidMappings", "a new user namespace needs uidMappings and gidMappings"));
    }
    if !user_new && (!uid_map.is_empty() || !gid_map.is_empty()) {
        return Err(ConfigError::new("linux.uidMappings", "id mappings are only valid with a new user namespace"));
    }
    let time_offsets = time_offsets(&linux, &namespaces)?;
    let uts = namespaces.has(LinuxNamespaceType::Uts);
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !uts {
        return Err(ConfigError::new("hostname", "setting the hostname needs a UTS namespace"));
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty()) && !uts {
        return Err(ConfigError::new("domainname", "setting the domainname needs a UTS namespace"));
    }

    let mounts = spec
        .mounts()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, m)| mount(i, m, &bundle))
        .collect::<Result<Vec<_>, _>>()?;
    let setup_dev = !mounts.iter().any(|m| m.destination == Path::new("/dev") && m.options.is_bind());
    let devices = devices(&linux)?;
    let masked_paths = abs_paths("linux.maskedPaths", linux.masked_paths())?;
    let readonly_paths = abs_paths("linux.readonlyPaths", linux.readonly_paths())?;
    let sysctl = sysctls(&linux, &namespaces)?;
    let rootfs_propagation = rootfs_propagation(linux.rootfs_propagation().as_deref())?;
    let process = process(spec.process().as_ref())?;
    let cgroups_path = cgroups_path(linux.cgroups_path().as_deref())?;
    let resources = linux.resources().clone();
    let device_rules = device_rules(resources.as_ref(), &devices)?;
    let hooks = spec.hooks().clone().unwrap_or_default();
    check_hooks(&hooks)?;

    Ok(Plan {
        id: id.to_string(),
        bundle,
        rootfs,
        rootfs_readonly: root.readonly().unwrap_or(false),
        rootfs_propagation,
        no_pivot: opts.no_pivot,
        namespaces,
        uid_map,
        gid_map,
        time_offsets,
        hostname: spec.hostname().clone().filter(|h| !h.is_empty()),
        domainname: spec.domainname().clone().filter(|h| !h.is_empty()),
        mounts,
        setup_dev,
        devices,
        masked_paths,
        readonly_paths,
        sysctl,
        process,
        hooks,
        cgroups_path,
        resources,
        device_rules,
        annotations: spec.annotations().clone().unwrap_or_default(),
    })
}

/// Fields berth does not implement yet: refused, never silently ignored (a profile or
/// label the user asked for must not be dropped without a word).
fn not_yet_supported(spec: &Spec, linux: &oci_spec::runtime::Linux) -> Result<(), ConfigError> {
    let no = |field: &str| Err(ConfigError::new(field, "is not supported by berth yet; remove it to run this config"));
    if linux.seccomp().is_some() {
        return no("linux.seccomp");
    }
    if linux.intel_rdt().is_some() {
        return no("linux.intelRdt");
    }
    if linux.personality().is_some() {
        return no("linux.personality");
    }
    if linux.mount_label().as_deref().is_some_and(|l| !l.is_empty()) {
        return no("linux.mountLabel");
    }
    if let Some(p) = spec.process() {
        if p.apparmor_profile().as_deref().is_some_and(|l| !l.is_empty()) {
            return no("process.apparmorProfile");
        }
        if p.selinux_label().as_deref().is_some_and(|l| !l.is_empty()) {
            return no("process.selinuxLabel");
        }
        if p.io_priority().is_some() {
            return no("process.ioPriority");
        }
        if p.scheduler().is_some() {
            return no("process.scheduler");
        }
        if p.exec_cpu_affinity().is_some() {
            return no("process.execCPUAffinity");
        }
    }
    Ok(())
}

fn rootfs_path(bundle: &Path, path: &Path) -> Result<PathBuf, ConfigError> {
    if path.as_os_str().is_empty() {
        return Err(ConfigError::new("root.path", "is empty"));
    }
    let full = bundle.join(path);
    let canon =
        std::fs::canonicalize(&full).map_err(|e| ConfigError::new("root.path", format!("{}: {e}", full.display())))?;
    if !canon.is_dir() {
        return Err(ConfigError::new("root.path", format!("{} is not a directory", canon.display())));
    }
    if canon == Path::new("/") {
        return Err(ConfigError::new("root.path", "the host's / cannot be a container's rootfs"));
    }
    Ok(canon)
}

fn namespaces(linux: &oci_spec::runtime::Linux) -> Result<Namespaces, ConfigError> {
    let mut ns = Namespaces::default();
    let mut seen = Vec::new();
    for (i, n) in linux.namespaces().as_deref().unwrap_or_default().iter().enumerate() {
        let t = n.typ();
        if seen.contains(&t) {
            return Err(ConfigError::new(
                format!("linux.namespaces[{i}]"),
                format!("namespace {:?} is listed twice", ns_name(t)),
            ));
        }
        seen.push(t);
        match n.path() {
            Some(p) if !p.as_os_str().is_empty() => {
                if !p.is_absolute() {
                    return Err(ConfigError::new(
                        format!("linux.namespaces[{i}].path"),
                        format!("{} must be absolute", p.display()),
                    ));
                }
                ns.join.push((t, p.clone()));
            }
            _ => ns.new |= clone_flag(t),
        }
    }
    ns.join.sort_by_key(|(t, _)| NS_ORDER.iter().position(|o| o == t));
    Ok(ns)
}

fn id_maps(field: &str, maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>) -> Result<Vec<IdMap>, ConfigError> {
    let maps: Vec<IdMap> = maps
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|m| IdMap { container: m.container_id(), host: m.host_id(), size: m.size() })
        .collect();
    if maps.len() > 340 {
        return Err(ConfigError::new(field, "the kernel accepts at most 340 mappings"));
    }
    for (i, m) in maps.iter().enumerate() {
        if m.size == 0 {
            return Err(ConfigError::new(format!("{field}[{i}].size"), "must not be 0"));
        }
        if m.container.checked_add(m.size).is_none() || m.host.checked_add(m.size).is_none() {
            return Err(ConfigError::new(format!("{field}[{i}]"), "the range overflows 32 bits"));
        }
    }
    Ok(maps)
}

fn time_offsets(linux: &oci_spec::runtime::Linux, ns: &Namespaces) -> Result<Vec<TimeOffset>, ConfigError> {
    let Some(offsets) = linux.time_offsets() else { return Ok(Vec::new()) };
    if offsets.is_empty() {
        return Ok(Vec::new());
    }
    if !ns.creates(LinuxNamespaceType::Time) {
        return Err(ConfigError::new("linux.timeOffsets", "time offsets need a new time namespace"));
    }
    let mut out = Vec::new();
    let mut keys: Vec<_> = offsets.keys().collect();
    keys.sort();
    for k in keys {
        let clock = match k.as_str() {
            "monotonic" => "monotonic",
            "boottime" => "boottime",
            other => {
                return Err(ConfigError::new(
                    "linux.timeOffsets",
                    format!("unknown clock {other:?} (expected monotonic or boottime)"),
                ))
            }
        };
        let o = &offsets[k];
        let nanos = o.nanosecs().unwrap_or(0);
        if nanos >= 1_000_000_000 {
            return Err(ConfigError::new(format!("linux.timeOffsets.{k}.nanosecs"), "must be below 1e9"));
        }
        out.push(TimeOffset { clock, secs: o.secs().unwrap_or(0), nanos });
    }
    Ok(out)
}

fn clean_abs(field: &str, p: &Path) -> Result<PathBuf, ConfigError> {
    if !p.is_absolute() {
        return Err(ConfigError::new(field, format!("{} must be an absolute path", p.display())));
    }
    // Lexically clean: "." and ".." are resolved against "/", never above it.
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    Ok(out)
}

fn mount(i: usize, m: &Mount, bundle: &Path) -> Result<MountPlan, ConfigError> {
    let field = format!("mounts[{i}]");
    let destination = clean_abs(&format!("{field}.destination"), m.destination())?;
    let mut opts: MountOptions = options::parse(m.options().as_deref().unwrap_or_default())
        .map_err(|e| ConfigError::new(format!("{field}.options"), e.to_string()))?;
    let mut typ = m.typ().clone().unwrap_or_default();
    if typ == "bind" {
        opts.flags |= MsFlags::MS_BIND;
    }
    if opts.is_bind() {
        typ = "bind".into();
    } else if typ.is_empty() {
        return Err(ConfigError::new(format!("{field}.type"), "missing (and not a bind mount)"));
    }
    let source = match m.source() {
        Some(s) if opts.is_bind() && s.is_relative() => Some(bundle.join(s)),
        Some(s) => Some(s.clone()),
        None if opts.is_bind() => {
            return Err(ConfigError::new(format!("{field}.source"), "a bind mount needs a source"))
        }
        None => None,
    };
    if typ == "proc" && destination != Path::new("/proc") {
        return Err(ConfigError::new(
            format!("{field}.destination"),
            format!("procfs may only be mounted at /proc, not {}", destination.display()),
        ));
    }
    Ok(MountPlan { destination, typ, source, options: opts })
}

/// The devices every container gets, as runc creates them.
pub(super) fn default_devices() -> Vec<DevicePlan> {
    [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)]
        .into_iter()
        .map(|(n, major, minor)| DevicePlan {
            path: PathBuf::from("/dev").join(n),
            kind: libc::S_IFCHR,
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect()
}

fn devices(linux: &oci_spec::runtime::Linux) -> Result<Vec<DevicePlan>, ConfigError> {
    let mut out = default_devices();
    for (i, d) in linux.devices().as_deref().unwrap_or_default().iter().enumerate() {
        let field = format!("linux.devices[{i}]");
        let path = clean_abs(&format!("{field}.path"), d.path())?;
        if !path.starts_with("/dev/") {
            return Err(ConfigError::new(format!("{field}.path"), format!("{} is not under /dev", path.display())));
        }
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
            LinuxDeviceType::B => libc::S_IFBLK,
            LinuxDeviceType::P => libc::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(ConfigError::new(format!("{field}.type"), "\"a\" is not a device node type"))
            }
        };
        if kind != libc::S_IFIFO && (d.major() < 0 || d.minor() < 0) {
            return Err(ConfigError::new(field, "major and minor must be set and not negative"));
        }
        let dev = DevicePlan {
            path,
            kind,
            major: d.major().max(0) as u64,
            minor: d.minor().max(0) as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        };
        out.retain(|o| o.path != dev.path);
        out.push(dev);
    }
    Ok(out)
}

/// The device rules every container gets after its own, as runc's `AllowedDevices`:
/// mknod of anything (the nodes themselves are what the config creates), the standard
/// character devices, /dev/pts/*, /dev/ptmx and /dev/net/tun.
const DEFAULT_DEVICE_RULES: &[(&str, Option<i64>, Option<i64>, &str)] = &[
    ("c", None, None, "m"),
    ("b", None, None, "m"),
    ("c", Some(1), Some(3), "rwm"),
    ("c", Some(1), Some(8), "rwm"),
    ("c", Some(1), Some(7), "rwm"),
    ("c", Some(5), Some(0), "rwm"),
    ("c", Some(1), Some(5), "rwm"),
    ("c", Some(1), Some(9), "rwm"),
    ("c", Some(136), None, "rwm"),
    ("c", Some(5), Some(2), "rwm"),
    ("c", Some(10), Some(200), "rwm"),
];

fn rule(
    allow: bool,
    typ: &str,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> Result<oci_spec::runtime::LinuxDeviceCgroup, ConfigError> {
    serde_json::from_value(serde_json::json!({
        "allow": allow, "type": typ, "major": major, "minor": minor, "access": access
    }))
    .map_err(|e| ConfigError::new("linux.resources.devices", e.to_string()))
}

fn device_rules(
    resources: Option<&oci_spec::runtime::LinuxResources>,
    devices: &[DevicePlan],
) -> Result<Vec<oci_spec::runtime::LinuxDeviceCgroup>, ConfigError> {
    let mut rules = Vec::new();
    for (i, r) in resources.and_then(|r| r.devices().as_ref()).into_iter().flatten().enumerate() {
        if let Some(a) = r.access() {
            if a.is_empty() || !a.chars().all(|c| "rwm".contains(c)) {
                return Err(ConfigError::new(
                    format!("linux.resources.devices[{i}].access"),
                    format!("{a:?} is not a subset of \"rwm\""),
                ));
            }
        }
        rules.push(r.clone());
    }
    for d in devices.iter().filter(|d| d.kind != libc::S_IFIFO) {
        let typ = if d.kind == libc::S_IFBLK { "b" } else { "c" };
        rules.push(rule(true, typ, Some(d.major as i64), Some(d.minor as i64), "rwm")?);
    }
    for (typ, major, minor, access) in DEFAULT_DEVICE_RULES {
        rules.push(rule(true, typ, *major, *minor, access)?);
    }
    Ok(rules)
}

fn abs_paths(field: &str, paths: &Option<Vec<String>>) -> Result<Vec<PathBuf>, ConfigError> {
    paths
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, p)| clean_abs(&format!("{field}[{i}]"), Path::new(p)))
        .collect()
}

/// Which namespace makes a sysctl safe to set, as runc decides it.
fn sysctl_namespace(key: &str) -> Option<LinuxNamespaceType> {
    const IPC: [&str; 7] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
    ];
    if IPC.contains(&key) || key == "kernel.shm_rmid_forced" || key.starts_with("fs.mqueue.") {
        Some(LinuxNamespaceType::Ipc)
    } else if key.starts_with("net.") {
        Some(LinuxNamespaceType::Network)
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some(LinuxNamespaceType::Uts)
    } else {
        None
    }
}

fn sysctls(linux: &oci_spec::runtime::Linux, ns: &Namespaces) -> Result<Vec<(String, String)>, ConfigError> {
    let Some(map) = linux.sysctl() else { return Ok(Vec::new()) };
    let mut out: Vec<(String, String)> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    out.sort();
    for (k, _) in &out {
        let field = format!("linux.sysctl.{k}");
        if k.is_empty() || k.split(['.', '/']).any(|p| p.is_empty() || p == "..") {
            return Err(ConfigError::new(field, "is not a valid sysctl name"));
        }
        match sysctl_namespace(k) {
            Some(t) if ns.has(t) => {}
            Some(t) => return Err(ConfigError::new(field, format!("needs a {} namespace", ns_name(t)))),
            None => return Err(ConfigError::new(field, "is not namespaced: setting it would change the host")),
        }
    }
    Ok(out)
}

fn rootfs_propagation(p: Option<&str>) -> Result<MsFlags, ConfigError> {
    Ok(match p.unwrap_or("") {
        "" | "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        other => return Err(ConfigError::new("linux.rootfsPropagation", format!("unknown propagation {other:?}"))),
    })
}

fn caps_set(field: &str, set: &Option<oci_spec::runtime::Capabilities>) -> Result<caps::CapsHashSet, ConfigError> {
    let mut out = caps::CapsHashSet::new();
    for c in set.iter().flatten() {
        // oci-spec's serde name is the kernel's name ("CAP_SYS_ADMIN").
        let name = serde_json::to_value(c).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let cap = name
            .parse::<caps::Capability>()
            .map_err(|_| ConfigError::new(field, format!("unknown capability {name:?}")))?;
        out.insert(cap);
    }
    Ok(out)
}

fn rlimit(t: PosixRlimitType) -> (libc::__rlimit_resource_t, &'static str) {
    use PosixRlimitType as R;
    match t {
        R::RlimitCpu => (libc::RLIMIT_CPU, "RLIMIT_CPU"),
        R::RlimitFsize => (libc::RLIMIT_FSIZE, "RLIMIT_FSIZE"),
        R::RlimitData => (libc::RLIMIT_DATA, "RLIMIT_DATA"),
        R::RlimitStack => (libc::RLIMIT_STACK, "RLIMIT_STACK"),
        R::RlimitCore => (libc::RLIMIT_CORE, "RLIMIT_CORE"),
        R::RlimitRss => (libc::RLIMIT_RSS, "RLIMIT_RSS"),
        R::RlimitNproc => (libc::RLIMIT_NPROC, "RLIMIT_NPROC"),
        R::RlimitNofile => (libc::RLIMIT_NOFILE, "RLIMIT_NOFILE"),
        R::RlimitMemlock => (libc::RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"),
        R::RlimitAs => (libc::RLIMIT_AS, "RLIMIT_AS"),
        R::RlimitLocks => (libc::RLIMIT_LOCKS, "RLIMIT_LOCKS"),
        R::RlimitSigpending => (libc::RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"),
        R::RlimitMsgqueue => (libc::RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"),
        R::RlimitNice => (libc::RLIMIT_NICE, "RLIMIT_NICE"),
        R::RlimitRtprio => (libc::RLIMIT_RTPRIO, "RLIMIT_RTPRIO"),
        R::RlimitRttime => (libc::RLIMIT_RTTIME, "RLIMIT_RTTIME"),
    }
}

fn process(p: Option<&Process>) -> Result<ProcessPlan, ConfigError> {
    let p = p.ok_or_else(|| ConfigError::new("process", "missing"))?;
    let args = p.args().clone().unwrap_or_default();
    if args.is_empty() || args[0].is_empty() {
        return Err(ConfigError::new("process.args", "must name the program to run"));
    }
    if !p.cwd().is_absolute() {
        return Err(ConfigError::new("process.cwd", format!("{:?} must be an absolute path", p.cwd())));
    }
    let cwd = clean_abs("process.cwd", p.cwd())?;
    let env = p.env().clone().unwrap_or_default();
    for (i, e) in env.iter().enumerate() {
        if !e.contains('=') || e.starts_with('=') || e.contains('\0') {
            return Err(ConfigError::new(format!("process.env[{i}]"), format!("{e:?} is not KEY=value")));
        }
    }
    let caps = match p.capabilities() {
        None => None,
        Some(c) => Some(CapsPlan {
            bounding: caps_set("process.capabilities.bounding", c.bounding())?,
            effective: caps_set("process.capabilities.effective", c.effective())?,
            permitted: caps_set("process.capabilities.permitted", c.permitted())?,
            inheritable: caps_set("process.capabilities.inheritable", c.inheritable())?,
            ambient: caps_set("process.capabilities.ambient", c.ambient())?,
        }),
    };
    let mut rlimits: Vec<Rlimit> = Vec::new();
    for (i, r) in p.rlimits().as_deref().unwrap_or_default().iter().enumerate() {
        let (resource, name) = rlimit(r.typ());
        if rlimits.iter().any(|o| o.resource == resource) {
            return Err(ConfigError::new(format!("process.rlimits[{i}]"), format!("{name} is set twice")));
        }
        if r.soft() > r.hard() {
            return Err(ConfigError::new(
                format!("process.rlimits[{i}]"),
                format!("{name}: soft limit {} is above hard limit {}", r.soft(), r.hard()),
            ));
        }
        rlimits.push(Rlimit { resource, name, soft: r.soft(), hard: r.hard() });
    }
    if let Some(adj) = p.oom_score_adj() {
        if !(-1000..=1000).contains(&adj) {
            return Err(ConfigError::new("process.oomScoreAdj", format!("{adj} is outside -1000..1000")));
        }
    }
    if p.terminal().unwrap_or(false) {
        return Err(ConfigError::new(
            "process.terminal",
            "terminals (with --console-socket) are not supported by berth yet; set it to false",
        ));
    }
    let user = p.user();
    Ok(ProcessPlan {
        args,
        env,
        cwd,
        uid: user.uid(),
        gid: user.gid(),
        additional_gids: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask(),
        caps,
        rlimits,
        no_new_privileges: p.no_new_privileges().unwrap_or(false),
        oom_score_adj: p.oom_score_adj(),
        terminal: p.terminal().unwrap_or(false),
    })
}

#[allow(deprecated)]
fn check_hooks(h: &Hooks) -> Result<(), ConfigError> {
    let lists = [
        ("prestart", h.prestart()),
        ("createRuntime", h.create_runtime()),
        ("createContainer", h.create_container()),
        ("startContainer", h.start_container()),
        ("poststart", h.poststart()),
        ("poststop", h.poststop()),
    ];
    for (name, list) in lists {
        for (i, hook) in list.as_deref().unwrap_or_default().iter().enumerate() {
            let field = format!("hooks.{name}[{i}]");
            if !hook.path().is_absolute() {
                return Err(ConfigError::new(format!("{field}.path"), format!("{:?} must be absolute", hook.path())));
            }
            if hook.timeout().is_some_and(|t| t <= 0) {
                return Err(ConfigError::new(format!("{field}.timeout"), "must be greater than zero"));
            }
        }
    }
    Ok(())
}

fn cgroups_path(p: Option<&Path>) -> Result<Option<PathBuf>, ConfigError> {
    let Some(p) = p.filter(|p| !p.as_os_str().is_empty()) else { return Ok(None) };
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(ConfigError::new("linux.cgroupsPath", format!("{} must not contain \"..\"", p.display())));
    }
    if p.to_str().is_some_and(|s| s.contains(':')) {
        return Err(ConfigError::new(
            "linux.cgroupsPath",
            format!("{} looks like a systemd slice:prefix:name path; berth uses cgroupfs paths", p.display()),
        ));
    }
    Ok(Some(p.to_path_buf()))
}
