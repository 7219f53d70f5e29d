//! The checks behind [`Plan::build`](super::Plan::build): small functions, each
//! returning a [`ConfigError`] that names the config field at fault.

use super::devices::{device_rules, devices};
use super::options::{self, MountOptions};
use super::process::process;
use super::*;
use oci_spec::runtime::{LinuxNamespaceType, Mount};
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
    let seccomp = seccomp_plan(linux.seccomp().as_ref(), opts.seccomp_cache.as_deref())?;
    let hooks = spec.hooks().clone().unwrap_or_default();
    check_hooks(&hooks)?;

    Ok(Plan {
        id: id.to_string(),
        bundle,
        rootfs,
        rootfs_readonly: root.readonly().unwrap_or(false),
        rootfs_propagation,
        no_pivot: opts.no_pivot,
        new_keyring: !opts.no_new_keyring,
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
        seccomp,
        annotations: spec.annotations().clone().unwrap_or_default(),
    })
}

/// Fields berth does not implement yet: refused, never silently ignored (a profile or
/// label the user asked for must not be dropped without a word).
fn not_yet_supported(spec: &Spec, linux: &oci_spec::runtime::Linux) -> Result<(), ConfigError> {
    let no = |field: &str| Err(ConfigError::new(field, "is not supported by berth yet; remove it to run this config"));
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

/// Compile the filter now, before anything is forked (or take it from the cache): init
/// only loads it.
pub(super) fn seccomp_plan(
    s: Option<&oci_spec::runtime::LinuxSeccomp>,
    cache: Option<&Path>,
) -> Result<Option<SeccompPlan>, ConfigError> {
    let Some(s) = s else { return Ok(None) };
    let (program, cached) = match cache.and_then(|d| super::seccomp_cache::load(d, s)) {
        Some((p, file)) => {
            tracing::debug!("seccomp: program from the cache");
            (p, Some(file))
        }
        None => {
            let p = seccomp::compile(s)
                .map_err(|e| ConfigError::new(e.field().unwrap_or("linux.seccomp").to_string(), e.to_string()))?;
            let cached = cache.and_then(|d| super::seccomp_cache::store(d, s, &p));
            (p, cached)
        }
    };
    let listener_path = s.listener_path().clone().filter(|p| !p.as_os_str().is_empty());
    if program.uses_notify() && listener_path.is_none() {
        return Err(ConfigError::new(
            "linux.seccomp.listenerPath",
            "a rule uses SCMP_ACT_NOTIFY, so the listener needs a listenerPath to go to",
        ));
    }
    if let Some(p) = listener_path.as_ref().filter(|p| !p.is_absolute()) {
        return Err(ConfigError::new("linux.seccomp.listenerPath", format!("{p:?} must be absolute")));
    }
    Ok(Some(SeccompPlan {
        program,
        cached,
        listener_path,
        listener_metadata: s.listener_metadata().clone().unwrap_or_default(),
    }))
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

pub(super) fn clean_abs(field: &str, p: &Path) -> Result<PathBuf, ConfigError> {
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
    if opts.tmpcopyup && typ != "tmpfs" {
        return Err(ConfigError::new(format!("{field}.options"), format!("tmpcopyup is for tmpfs mounts, not {typ}")));
    }
    if typ == "proc" && destination != Path::new("/proc") {
        return Err(ConfigError::new(
            format!("{field}.destination"),
            format!("procfs may only be mounted at /proc, not {}", destination.display()),
        ));
    }
    Ok(MountPlan { destination, typ, source, options: opts })
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
