//! The container's process: args, env, cwd, user, capabilities, rlimits.

use super::validate::clean_abs;
use super::*;
use oci_spec::runtime::{PosixRlimitType, Process};

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

pub(super) fn process(p: Option<&Process>) -> Result<ProcessPlan, ConfigError> {
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
    // Checked here, so that `exec --process` is held to it as well as create: a profile
    // or label asked for must never be dropped without a word.
    for (field, label) in
        [("process.apparmorProfile", p.apparmor_profile()), ("process.selinuxLabel", p.selinux_label())]
    {
        if label.as_deref().is_some_and(|l| !l.is_empty()) {
            return Err(ConfigError::new(field, "is not supported by berth yet; remove it to run this process"));
        }
    }
    let terminal = p.terminal().unwrap_or(false);
    let console_size = match p.console_size() {
        Some(b) if terminal && (b.height() > 0 || b.width() > 0) => {
            let dim = |name: &str, v: u64| {
                u16::try_from(v).map_err(|_| {
                    ConfigError::new(format!("process.consoleSize.{name}"), format!("{v} is above {}", u16::MAX))
                })
            };
            Some((dim("height", b.height())?, dim("width", b.width())?))
        }
        _ => None,
    };
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
        terminal,
        console_size,
    })
}
