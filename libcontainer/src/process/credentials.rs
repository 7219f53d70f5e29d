//! rlimits, user and groups, capabilities: the identity of the container's process.
//!
//! The order follows runc: rlimits while still privileged; the bounding set dropped
//! before the uid changes (that needs CAP_SETPCAP); `PR_SET_KEEPCAPS` across setuid so
//! the permitted set survives; then effective, inheritable, permitted and ambient exactly
//! as configured (inheritable and ambient empty unless asked for: CVE-2022-29162).

use crate::plan::{CapsPlan, ProcessPlan, Rlimit};
use crate::syserr::{SysError, SysResultExt};
use caps::CapSet;
use nix::errno::Errno;
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};

fn caps_err(op: String, e: caps::errors::CapsError) -> SysError {
    SysError::new(format!("{op}: {e}"), Errno::last())
}

/// Set each configured resource limit.
pub fn set_rlimits(rlimits: &[Rlimit]) -> Result<(), SysError> {
    for r in rlimits {
        let lim = libc::rlimit { rlim_cur: r.soft, rlim_max: r.hard };
        // SAFETY: `lim` is a valid rlimit struct for the duration of the call.
        if unsafe { libc::setrlimit(r.resource, &lim) } != 0 {
            let e = Errno::last();
            let err = SysError::new(format!("setrlimit {} soft {} hard {}", r.name, r.soft, r.hard), e);
            return Err(if e == Errno::EPERM {
                err.hint(
                    "raising a hard limit above the host's needs CAP_SYS_RESOURCE, or /proc/sys/fs/nr_open is lower",
                )
            } else {
                err
            });
        }
    }
    Ok(())
}

fn prctl_keepcaps(on: bool) -> Result<(), SysError> {
    // SAFETY: PR_SET_KEEPCAPS takes a plain integer argument.
    if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, on as libc::c_ulong, 0, 0, 0) } != 0 {
        return Err(SysError::new("prctl(PR_SET_KEEPCAPS)", Errno::last()));
    }
    Ok(())
}

/// Drop every capability not in the bounding set.
pub fn drop_bounding(caps: &CapsPlan) -> Result<(), SysError> {
    for c in caps::runtime::thread_all_supported() {
        if !caps.bounding.contains(&c) {
            caps::drop(None, CapSet::Bounding, c)
                .map_err(|e| caps_err(format!("drop {c} from the bounding set"), e))?;
        }
    }
    Ok(())
}

/// Change to the configured uid, gid and supplementary groups, keeping capabilities.
pub fn switch_user(p: &ProcessPlan, allow_setgroups: bool) -> Result<(), SysError> {
    prctl_keepcaps(true)?;
    if allow_setgroups {
        let groups: Vec<Gid> = p.additional_gids.iter().map(|g| Gid::from_raw(*g)).collect();
        setgroups(&groups).op(|| format!("setgroups {:?}", p.additional_gids))?;
    }
    let (uid, gid) = (Uid::from_raw(p.uid), Gid::from_raw(p.gid));
    let hint = "is the id mapped in the container's user namespace?";
    setresgid(gid, gid, gid).op(|| format!("setresgid {}", p.gid)).map_err(|e| match e.errno() {
        Errno::EINVAL => e.hint(hint),
        _ => e,
    })?;
    setresuid(uid, uid, uid).op(|| format!("setresuid {}", p.uid)).map_err(|e| match e.errno() {
        Errno::EINVAL => e.hint(hint),
        _ => e,
    })?;
    prctl_keepcaps(false)
}

/// Set the effective, inheritable, permitted and ambient sets exactly as planned.
pub fn apply_caps(caps: &CapsPlan) -> Result<(), SysError> {
    for (set, want, name) in [
        (CapSet::Effective, &caps.effective, "effective"),
        (CapSet::Inheritable, &caps.inheritable, "inheritable"),
        (CapSet::Permitted, &caps.permitted, "permitted"),
    ] {
        caps::set(None, set, want).map_err(|e| caps_err(format!("set the {name} capabilities"), e))?;
    }
    caps::clear(None, CapSet::Ambient).map_err(|e| caps_err("clear the ambient capabilities".into(), e))?;
    for c in &caps.ambient {
        // The kernel only raises ambient capabilities that are permitted and inheritable.
        // `runc spec` lists ambient ones without inheritable ones, and runc runs that
        // config: warn and go on rather than refuse it.
        if !(caps.permitted.contains(c) && caps.inheritable.contains(c)) {
            tracing::warn!("ambient capability {c} is not also permitted and inheritable: not raised");
            continue;
        }
        caps::raise(None, CapSet::Ambient, *c).map_err(|e| caps_err(format!("raise {c} in the ambient set"), e))?;
    }
    Ok(())
}

/// `prctl(PR_SET_NO_NEW_PRIVS, 1)`.
pub fn set_no_new_privs() -> Result<(), SysError> {
    // SAFETY: PR_SET_NO_NEW_PRIVS takes plain integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(SysError::new("prctl(PR_SET_NO_NEW_PRIVS)", Errno::last()));
    }
    Ok(())
}
