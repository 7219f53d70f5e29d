//! Which directory each controller's settings go to, and which cgroup v2
//! controllers must be enabled first: the part of `apply` that reads no more than
//! the layout and `cgroup.controllers`, and writes nothing.

use super::{throttles, unified_controller, v2};
use crate::cgroups::{CgroupDir, CgroupError, LayoutKind, Manager};
use oci_spec::runtime::LinuxResources;
use std::path::Path;

/// The controllers `linux.resources` can use, with their v1 and v2 names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ctl {
    Cpuset,
    Devices,
    Memory,
    Cpu,
    Pids,
    Io,
    Hugetlb,
    NetCls,
    NetPrio,
    Rdma,
}

/// runc's v1 order (the `subsystems` list of its `fs` manager).
const V1_ORDER: [Ctl; 10] = [
    Ctl::Cpuset,
    Ctl::Devices,
    Ctl::Memory,
    Ctl::Cpu,
    Ctl::Pids,
    Ctl::Io,
    Ctl::Hugetlb,
    Ctl::NetCls,
    Ctl::NetPrio,
    Ctl::Rdma,
];
/// runc's v2 order (`fs2.Manager.Set`); net_cls and net_prio do not exist there.
const V2_ORDER: [Ctl; 10] = [
    Ctl::Pids,
    Ctl::Memory,
    Ctl::Io,
    Ctl::Cpu,
    Ctl::Devices,
    Ctl::Cpuset,
    Ctl::Hugetlb,
    Ctl::Rdma,
    Ctl::NetCls,
    Ctl::NetPrio,
];

impl Ctl {
    pub(super) fn v1_name(self) -> &'static str {
        match self {
            Ctl::Cpuset => "cpuset",
            Ctl::Devices => "devices",
            Ctl::Memory => "memory",
            Ctl::Cpu => "cpu",
            Ctl::Pids => "pids",
            Ctl::Io => "blkio",
            Ctl::Hugetlb => "hugetlb",
            Ctl::NetCls => "net_cls",
            Ctl::NetPrio => "net_prio",
            Ctl::Rdma => "rdma",
        }
    }

    /// The controller to enable in `cgroup.subtree_control`; `None` for devices
    /// (a pseudo-controller) and the v1-only network controllers.
    pub(super) fn v2_name(self) -> Option<&'static str> {
        match self {
            Ctl::Io => Some("io"),
            Ctl::Devices | Ctl::NetCls | Ctl::NetPrio => None,
            c => Some(c.v1_name()),
        }
    }

    /// The `linux.resources` field, for messages.
    pub(super) fn field(self) -> &'static str {
        match self {
            Ctl::Cpuset => "cpu.cpus/cpu.mems",
            Ctl::Devices => "devices",
            Ctl::Memory => "memory",
            Ctl::Cpu => "cpu",
            Ctl::Pids => "pids",
            Ctl::Io => "blockIO",
            Ctl::Hugetlb => "hugepageLimits",
            Ctl::NetCls => "network.classID",
            Ctl::NetPrio => "network.priorities",
            Ctl::Rdma => "rdma",
        }
    }

    /// Whether `r` has something for this controller to write on v1 (`v2` false)
    /// or v2. Settings one version cannot express are refused elsewhere.
    pub(super) fn wanted(self, r: &LinuxResources, v2: bool) -> bool {
        let nz = |v: Option<i64>| v.is_some_and(|v| v != 0);
        let nzu = |v: Option<u64>| v.is_some_and(|v| v != 0);
        match self {
            Ctl::Memory => r.memory().as_ref().is_some_and(|m| {
                let common = nz(m.limit()) || nz(m.reservation()) || nz(m.swap());
                let v1_only = nz(m.kernel())
                    || nz(m.kernel_tcp())
                    || m.swappiness().is_some_and(|s| s != u64::MAX)
                    || m.disable_oom_killer().is_some()
                    || m.use_hierarchy().is_some();
                common || (!v2 && v1_only)
            }),
            Ctl::Cpu => r.cpu().as_ref().is_some_and(|c| {
                let common = nzu(c.shares()) || nz(c.quota()) || nzu(c.period()) || c.burst().is_some();
                let v1_only = nz(c.realtime_runtime()) || nzu(c.realtime_period());
                common || c.idle().is_some() || (!v2 && v1_only)
            }),
            Ctl::Cpuset => r.cpu().as_ref().is_some_and(|c| {
                c.cpus().as_deref().is_some_and(|s| !s.is_empty()) || c.mems().as_deref().is_some_and(|s| !s.is_empty())
            }),
            Ctl::Pids => r.pids().is_some(),
            Ctl::Io => r.block_io().as_ref().is_some_and(|b| {
                b.weight().is_some_and(|w| w != 0)
                    || (!v2 && b.leaf_weight().is_some_and(|w| w != 0))
                    || b.weight_device().as_ref().is_some_and(|l| !l.is_empty())
                    || throttles(b).iter().any(|(_, l)| !l.is_empty())
            }),
            Ctl::Hugetlb => r.hugepage_limits().as_ref().is_some_and(|l| !l.is_empty()),
            Ctl::NetCls => !v2 && r.network().as_ref().is_some_and(|n| n.class_id().is_some()),
            Ctl::NetPrio => {
                !v2 && r.network().as_ref().and_then(|n| n.priorities().as_ref()).is_some_and(|p| !p.is_empty())
            }
            Ctl::Rdma => r.rdma().as_ref().is_some_and(|m| !m.is_empty()),
            Ctl::Devices => !v2 && r.devices().is_some(),
        }
    }
}

/// Where one controller's settings go.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

/// What `apply` will do: the controllers in order with their directory, and the
/// cgroup v2 controllers to enable in the ancestors first.
pub(super) struct Plan<'a> {
    pub(super) steps: Vec<(Ctl, Target<'a>)>,
    pub(super) enable: Vec<String>,
}

/// Resolve every controller `r` needs to a directory (erring on what the layout
/// lacks or a version refuses) and list the v2 controllers to enable.
pub(super) fn plan<'a>(
    m: &'a Manager,
    r: &LinuxResources,
    unified_dir: Option<&'a CgroupDir>,
    unified_keys: &[(&str, &String)],
) -> Result<Plan<'a>, CgroupError> {
    let mut steps: Vec<(Ctl, Target<'a>)> = Vec::new();
    let mut enable: Vec<String> = Vec::new();
    let push = |enable: &mut Vec<String>, c: &str| {
        if !enable.iter().any(|e| e == c) {
            enable.push(c.to_string());
        }
    };
    if m.kind() == LayoutKind::V2 {
        let d = unified_dir.ok_or_else(|| no_unified("apply linux.resources"))?;
        for ctl in V2_ORDER {
            v2::check(ctl, r)?;
            if ctl.wanted(r, true) {
                if let Some(name) = ctl.v2_name() {
                    push(&mut enable, name);
                }
                steps.push((ctl, Target::V2(&d.path)));
            }
        }
        for (key, _) in unified_keys {
            let controller = unified_controller(key)?;
            if controller != "cgroup" {
                push(&mut enable, controller);
            }
        }
        return Ok(Plan { steps, enable });
    }
    // V1 and Hybrid: the v1 hierarchy carrying the controller; on Hybrid the
    // cgroup2 hierarchy for a controller it offers and no v1 hierarchy has.
    let mut offered: Option<Vec<String>> = None;
    let mut v2_offers = |name: &str| -> Result<bool, CgroupError> {
        let Some(d) = unified_dir else { return Ok(false) };
        if offered.is_none() {
            offered = Some(super::read_list(&d.mount_point.join("cgroup.controllers"))?);
        }
        Ok(offered.as_ref().is_some_and(|o| o.iter().any(|c| c == name)))
    };
    for ctl in V1_ORDER {
        let (want_v1, want_v2) = (ctl.wanted(r, false), ctl.wanted(r, true));
        if !want_v1 && !want_v2 {
            continue;
        }
        if let Some(dir) = m.v1_dir(ctl.v1_name()) {
            if want_v1 {
                steps.push((ctl, Target::V1(dir)));
            }
        } else if let (Some(d), Some(name)) = (unified_dir, ctl.v2_name()) {
            if !v2_offers(name)? {
                return Err(not_mounted(ctl, m.kind()));
            }
            v2::check(ctl, r)?;
            if want_v2 {
                push(&mut enable, name);
                steps.push((ctl, Target::V2(&d.path)));
            }
        } else {
            return Err(not_mounted(ctl, m.kind()));
        }
    }
    for (key, value) in unified_keys {
        let controller = unified_controller(key)?;
        if unified_dir.is_none() || (controller != "cgroup" && !v2_offers(controller)?) {
            return Err(CgroupError::InvalidResource {
                field: format!("unified[{key:?}]"),
                value: format!("{value:?}"),
                reason: format!(
                    "cannot use unified (cgroup v2) resources on cgroup v1: the {controller} controller is not in a \
                     cgroup v2 hierarchy here (use the v1 fields of linux.resources)"
                ),
            });
        }
        if controller != "cgroup" {
            push(&mut enable, controller);
        }
    }
    Ok(Plan { steps, enable })
}

/// The error for a V2 manager without a cgroup2 directory (a state file from
/// elsewhere, or edited by hand).
pub(super) fn no_unified(what: &str) -> CgroupError {
    CgroupError::ControllerUnavailable {
        what: what.to_string(),
        controller: "cgroup2".into(),
        reason: "the manager has no cgroup v2 directory".into(),
        hint: "the state may come from another host layout; recreate the container".into(),
    }
}

/// The error for a controller that no hierarchy of the layout carries.
pub(super) fn not_mounted(ctl: Ctl, kind: LayoutKind) -> CgroupError {
    let name = ctl.v1_name();
    let mut hint = format!(
        "mount its hierarchy (mount -t cgroup -o {name} cgroup /sys/fs/cgroup/{name}) or remove \
         linux.resources.{} from the config",
        ctl.field()
    );
    if kind == LayoutKind::Hybrid {
        if let Some(v2) = ctl.v2_name() {
            hint += &format!("; the cgroup2 hierarchy does not offer {v2} either (its cgroup.controllers)");
        }
    }
    CgroupError::ControllerUnavailable {
        what: format!("apply linux.resources.{}", ctl.field()),
        controller: name.to_string(),
        reason: "no cgroup v1 hierarchy carries it".into(),
        hint,
    }
}
