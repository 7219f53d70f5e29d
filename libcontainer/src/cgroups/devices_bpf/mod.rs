//! The cgroup v2 device controller: an eBPF program of type
//! `BPF_PROG_TYPE_CGROUP_DEVICE` attached to the container's cgroup, as runc does
//! (`libcontainer/cgroups/devices/devicefilter.go`, `ebpf_linux.go`).
//!
//! The kernel runs the program on every device access (open, mknod) of a task in
//! the cgroup or below, with a `struct bpf_cgroup_dev_ctx`: `access_type` (low 16
//! bits the device type, `BPF_DEVCG_DEV_BLOCK` 1 or `_CHAR` 2; high 16 bits the
//! access, `BPF_DEVCG_ACC_MKNOD` 1 | `_READ` 2 | `_WRITE` 4), `major`, `minor`.
//! Returning 1 allows, 0 denies (`EPERM`).
//!
//! # Meaning of the rules
//!
//! Exactly runc's (its emulator, which gives v2 the cgroup v1 meaning, so a
//! config behaves the same on both): start from deny-all; `a *:* rwm` (type `a`
//! or none, no numbers, full access) resets the default to its verdict and
//! forgets earlier rules; any other rule whose verdict differs from the default
//! is an exception (accesses merge with an exception for the same device); one
//! that agrees with the default takes accesses away from the exception for
//! exactly the same device, and taking them from a part of a wildcard exception
//! is refused (cgroup v1 ignores it silently). A request is allowed when an
//! exception of the matching type and numbers (none = any) has all requested
//! access bits, and the default is deny (or the reverse). For the usual configs
//! (deny all, then allow some) this is "the last matching rule wins"; it differs
//! only in two corners: accesses of separate rules for one device add up (`c 1:3
//! r` and `c 1:3 w` allow an `O_RDWR` open), and denying a wildcard after
//! allowing a device in it does not take the device away (`allow c 1:3`, `deny c
//! *:*` leaves 1:3 allowed) — both as cgroup v1 does. One difference from runc,
//! as berth's v1 writes: `a` with a number or partial access is that rule for
//! `b` and for `c` (runc, like the v1 kernel, reads any `a` rule as a reset).
//!
//! # Attaching
//!
//! The program is loaded with `bpf(BPF_PROG_LOAD)` (on failure it is loaded again
//! with a log buffer, and the verifier's log goes into the error), attached with
//! `BPF_PROG_ATTACH`, `BPF_CGROUP_DEVICE`, `BPF_F_ALLOW_MULTI`, and its fd closed
//! (the attachment holds it). Programs already attached to the cgroup (listed by
//! `BPF_PROG_QUERY`: the ones berth attached before, on `update`) are replaced,
//! as runc does: one of them atomically with `BPF_F_REPLACE` (Linux 5.6), else
//! the new one is attached first and the old ones detached after, so the cgroup
//! is never unfiltered. Programs the kernel will not give us (`EPERM` from
//! `BPF_PROG_GET_FD_BY_ID`, an LSM's doing) stay; they can only deny more. When
//! the rules allow everything no program is loaded, old ones are only detached.

mod prog;

#[cfg(test)]
mod host_tests;
#[cfg(test)]
mod tests;

pub use prog::{BpfInsn, Filter};

use crate::cgroups::CgroupError;
use nix::errno::Errno;
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use oci_spec::runtime::LinuxDeviceCgroup;
use std::ffi::c_int;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

const BPF_PROG_LOAD: c_int = 5;
const BPF_PROG_ATTACH: c_int = 8;
const BPF_PROG_DETACH: c_int = 9;
const BPF_PROG_GET_FD_BY_ID: c_int = 13;
const BPF_PROG_QUERY: c_int = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;
const BPF_F_REPLACE: u32 = 4;
/// The license of the program (the kernel wants a GPL one only for GPL-only
/// helpers, and the program calls none).
const LICENSE: &[u8] = b"Apache-2.0\0";
/// The program's name, as `bpftool prog` shows it.
pub const PROG_NAME: &str = "berth_devices";
/// Verifier log buffer (the kernel's limit before 5.2 was 16 MiB; ours is small).
const LOG_SIZE: usize = 256 * 1024;

/// `union bpf_attr` for `BPF_PROG_LOAD`, up to `prog_name` (Linux 4.15).
#[repr(C)]
#[derive(Default)]
struct LoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

/// `union bpf_attr` for `BPF_PROG_ATTACH` and `BPF_PROG_DETACH`.
#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// `union bpf_attr` for `BPF_PROG_QUERY` (the padding is named so it is zero).
#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    pad: u32,
}

/// `union bpf_attr` for `BPF_PROG_GET_FD_BY_ID`.
#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// `bpf(cmd, attr, sizeof(attr))`.
///
/// # Safety
///
/// `attr` must be the attribute struct of `cmd`, and every address in it must
/// point to memory that is valid, for the length given next to it, for what the
/// kernel does with it during the call (read instructions and license, write
/// the log or the program ids).
unsafe fn bpf<T>(cmd: c_int, attr: &mut T) -> Result<c_int, Errno> {
    let size = std::mem::size_of::<T>() as libc::c_uint;
    // SAFETY: attr is a live, exclusively borrowed struct of `size` bytes, and the
    // caller vouches for the addresses inside it. The kernel touches nothing else.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, size) };
    Errno::result(ret).map(|fd| fd as c_int)
}

/// Take ownership of an fd the kernel just returned.
fn owned(fd: c_int) -> OwnedFd {
    // SAFETY: bpf(2) returned a new fd, open and not owned by anything else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Load the program. `log`: a buffer for the verifier's log (level 1).
fn load_once(insns: &[BpfInsn], log: Option<&mut [u8]>) -> Result<OwnedFd, Errno> {
    let mut attr = LoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: u32::try_from(insns.len()).map_err(|_| Errno::E2BIG)?,
        insns: insns.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        ..LoadAttr::default()
    };
    attr.prog_name[..PROG_NAME.len()].copy_from_slice(PROG_NAME.as_bytes());
    if let Some(buf) = log {
        attr.log_level = 1;
        attr.log_size = buf.len() as u32;
        attr.log_buf = buf.as_mut_ptr() as u64;
    }
    // SAFETY: insns (insn_cnt entries) and the NUL-terminated license are read
    // during the call; the log buffer, if any, is log_size writable bytes. All
    // outlive the call.
    unsafe { bpf(BPF_PROG_LOAD, &mut attr) }.map(owned)
}

/// Load the program; on failure, load it again to get the verifier's log.
/// `EPERM` may be the memlock limit (kernels before 5.11 charge BPF memory to
/// it): then it is raised for the one load and put back, so that nothing forked
/// later inherits it (runc raises it for good).
fn load(insns: &[BpfInsn]) -> Result<OwnedFd, (Errno, String)> {
    let errno = match load_once(insns, None) {
        Ok(fd) => return Ok(fd),
        Err(Errno::EPERM) => match with_memlock_raised(|| load_once(insns, None)) {
            Ok(fd) => return Ok(fd),
            Err(e) => e,
        },
        Err(e) => e,
    };
    let mut buf = vec![0u8; LOG_SIZE];
    let retry = with_memlock_raised(|| load_once(insns, Some(&mut buf)));
    let log = String::from_utf8_lossy(buf.split(|&b| b == 0).next().unwrap_or_default()).trim().to_string();
    match retry {
        Ok(fd) => Ok(fd),
        Err(_) => Err((errno, log)),
    }
}

fn with_memlock_raised<R>(f: impl FnOnce() -> R) -> R {
    let old = getrlimit(Resource::RLIMIT_MEMLOCK).ok();
    let raised = setrlimit(Resource::RLIMIT_MEMLOCK, libc::RLIM_INFINITY, libc::RLIM_INFINITY).is_ok();
    let r = f();
    if let (true, Some((soft, hard))) = (raised, old) {
        if let Err(e) = setrlimit(Resource::RLIMIT_MEMLOCK, soft, hard) {
            tracing::warn!("restore RLIMIT_MEMLOCK after loading the device filter: {e}");
        }
    }
    r
}

/// The ids of the device programs attached to the cgroup itself.
pub(crate) fn attached(dir: BorrowedFd<'_>) -> Result<Vec<u32>, Errno> {
    let mut ids = vec![0u32; 64];
    for _ in 0..10 {
        let mut attr = QueryAttr {
            target_fd: dir.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..QueryAttr::default()
        };
        // SAFETY: prog_ids points to prog_cnt writable u32s, alive during the call.
        match unsafe { bpf(BPF_PROG_QUERY, &mut attr) } {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            // More programs than room: prog_cnt says how many.
            Err(Errno::ENOSPC) => ids.resize((attr.prog_cnt as usize).max(ids.len() * 2), 0),
            Err(e) => return Err(e),
        }
    }
    Err(Errno::ENOSPC)
}

fn prog_fd_by_id(id: u32) -> Result<OwnedFd, Errno> {
    let mut attr = GetFdAttr { prog_id: id, ..GetFdAttr::default() };
    // SAFETY: the attr holds no addresses.
    unsafe { bpf(BPF_PROG_GET_FD_BY_ID, &mut attr) }.map(owned)
}

/// Attach `prog` to the cgroup `dir` (replacing `replace` if given), or detach it.
fn attach(cmd: c_int, dir: BorrowedFd<'_>, prog: BorrowedFd<'_>, replace: Option<BorrowedFd<'_>>) -> Result<(), Errno> {
    let mut attr = AttachAttr {
        target_fd: dir.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: if cmd == BPF_PROG_ATTACH { BPF_F_ALLOW_MULTI } else { 0 },
        replace_bpf_fd: 0,
    };
    if let Some(old) = replace {
        attr.attach_flags |= BPF_F_REPLACE;
        attr.replace_bpf_fd = old.as_raw_fd() as u32;
    }
    // SAFETY: the attr holds no addresses, only fds that stay open during the call.
    unsafe { bpf(cmd, &mut attr) }.map(drop)
}

/// Make the device rules of the cgroup v2 directory `dir` exactly `rules` (see
/// the module docs), replacing the device programs attached to it.
pub fn apply(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
    let filter = Filter::compile(rules)?;
    let dir_fd = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map_err(|source| CgroupError::Open { path: dir.to_path_buf(), source })?;
    let dir_fd = dir_fd.as_fd();
    let old_ids = match attached(dir_fd) {
        Ok(ids) => ids,
        // Nothing to enforce: a kernel without cgroup BPF has nothing to replace.
        Err(e) if filter.allows_all() => {
            tracing::debug!(?dir, "no device filter to replace (BPF_PROG_QUERY: {})", e.desc());
            return Ok(());
        }
        Err(e) => return Err(failed(format!("list the device filters of {dir:?} (BPF_PROG_QUERY)"), e, "")),
    };
    let mut old = Vec::new();
    for id in old_ids {
        match prog_fd_by_id(id) {
            Ok(fd) => old.push((id, fd)),
            Err(e @ (Errno::EPERM | Errno::EACCES | Errno::ENOENT)) => {
                tracing::debug!(?dir, id, "leaving an attached device program alone: {}", e.desc());
            }
            Err(e) => return Err(failed(format!("open device program {id} (BPF_PROG_GET_FD_BY_ID)"), e, "")),
        }
    }
    if filter.allows_all() {
        return detach_all(dir, dir_fd, &old);
    }
    let insns = filter.program();
    let prog = load(&insns).map_err(|(e, log)| {
        failed(format!("load the device filter for {dir:?} ({} instructions, BPF_PROG_LOAD)", insns.len()), e, &log)
    })?;
    let what = || format!("attach the device filter to {dir:?} (BPF_PROG_ATTACH, BPF_CGROUP_DEVICE)");
    if let [(id, old_fd)] = old.as_slice() {
        match attach(BPF_PROG_ATTACH, dir_fd, prog.as_fd(), Some(old_fd.as_fd())) {
            Ok(()) => {
                tracing::debug!(?dir, replaced = id, n = insns.len(), "device filter replaced");
                return Ok(());
            }
            // No BPF_F_REPLACE before Linux 5.6 (EINVAL), or the old program went.
            Err(Errno::EINVAL | Errno::E2BIG | Errno::ENOENT) => {}
            Err(e) => return Err(failed(what(), e, "")),
        }
    }
    attach(BPF_PROG_ATTACH, dir_fd, prog.as_fd(), None).map_err(|e| failed(what(), e, ""))?;
    tracing::debug!(?dir, n = insns.len(), "device filter attached");
    detach_all(dir, dir_fd, &old)
}

fn detach_all(dir: &Path, dir_fd: BorrowedFd<'_>, old: &[(u32, OwnedFd)]) -> Result<(), CgroupError> {
    if old.len() > 1 {
        tracing::info!(?dir, n = old.len(), "removing more than one old device filter from the cgroup");
    }
    for (id, fd) in old {
        match attach(BPF_PROG_DETACH, dir_fd, fd.as_fd(), None) {
            Ok(()) | Err(Errno::ENOENT) => tracing::debug!(?dir, id, "old device filter detached"),
            Err(e) => return Err(failed(format!("detach device program {id} from {dir:?} (BPF_PROG_DETACH)"), e, "")),
        }
    }
    Ok(())
}

/// The error of a bpf(2) step, with the verifier's log if there is one.
// TODO(error.rs): a dedicated `CgroupError::DeviceFilter { step, path, source, log }`.
fn failed(what: String, errno: Errno, log: &str) -> CgroupError {
    let mut reason = errno.desc().to_string();
    if !log.is_empty() {
        // The verdict is at the end; keep the log's tail.
        let start = log.char_indices().rev().nth(4000).map_or(0, |(i, _)| i);
        reason = format!("{reason}; verifier log:\n{}", &log[start..]);
    }
    let hint = match errno {
        Errno::ENOSYS => "the kernel is built without CONFIG_BPF_SYSCALL",
        Errno::EPERM if what.starts_with("load") => {
            "loading BPF programs needs CAP_SYS_ADMIN (or CAP_BPF); a lockdown or LSM policy can forbid it too"
        }
        Errno::EPERM if what.starts_with("attach") => {
            "a device program is attached to the cgroup without BPF_F_ALLOW_MULTI, or CAP_SYS_ADMIN is missing"
        }
        Errno::EPERM | Errno::EACCES if !what.starts_with("load") => "this needs CAP_SYS_ADMIN (are you root?)",
        Errno::EACCES => "the kernel's verifier refused the program (see its log)",
        Errno::EINVAL => {
            "does the kernel support cgroup device programs (Linux 4.15 or later, with CONFIG_CGROUP_BPF)?"
        }
        Errno::EBADF => "is the directory in a cgroup v2 hierarchy?",
        Errno::E2BIG => "too many device rules (the kernel limits the program size and the programs per cgroup)",
        _ => "see bpf(2)",
    };
    CgroupError::ControllerUnavailable { what, controller: "devices (eBPF)".into(), reason, hint: hint.into() }
}
