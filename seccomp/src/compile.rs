//! [`compile`]: `linux.seccomp` to a [`Program`], with libseccomp, in the runtime.

use crate::enosys::{self, Abi, ArchMax};
use crate::error::SeccompError;
use crate::names::{action_name, arch_info, flag_info, operator_name};
use crate::program::{
    kernel_knows_flags, Program, FLAG_NEW_LISTENER, FLAG_TSYNC, FLAG_TSYNC_ESRCH, FLAG_WAIT_KILLABLE_RECV, MAX_INSNS,
};
use libc::sock_filter;
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompOperator, LinuxSyscall};
use std::ffi::CStr;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{FromRawFd, OwnedFd};

/// A system call has six arguments, 0 to 5.
const MAX_ARG_INDEX: usize = 5;

/// Above this many syscall names, libseccomp is asked for a binary-tree filter (as runc
/// does: lookups stay logarithmic instead of linear in the number of rules).
const OPTIMIZE_ABOVE: usize = 32;

/// Compiles `linux.seccomp` into a [`Program`]. Runs in the runtime before any fork:
/// builds a libseccomp filter, exports its BPF and keeps only the instructions and flags.
///
/// Follows runc: `SCMP_ACT_KILL` is `SCMP_ACT_KILL_THREAD`; ERRNO and TRACE without
/// `errnoRet` use `EPERM`; a rule whose action is the default one is skipped; syscall
/// names libseccomp does not know are skipped (logged at debug level) so that a profile
/// written for a newer kernel still loads; when several conditions test the same argument
/// each condition becomes a rule of its own (so they are OR'ed), otherwise one rule holds
/// them all (AND'ed). Unlike runc, filter flags go straight to the kernel, and one the
/// kernel lacks is an error (probed here, so [`Program::load`] does not find out late).
///
/// The runtime-spec's `-ENOSYS` convention is followed as well: when the default action
/// denies, calls numbered above the largest one the profile names on each of its
/// `architectures` return `ENOSYS` (see runc's `patchbpf`), so libc falls back from calls
/// the profile predates (`clone3`, `openat2`...) instead of failing with `EPERM`.
pub fn compile(seccomp: &LinuxSeccomp) -> Result<Program, SeccompError> {
    compile_with(seccomp, &mut kernel_knows_flags)
}

/// [`compile`] with the kernel's flag probe replaceable (tests simulate an old kernel).
pub(crate) fn compile_with(
    seccomp: &LinuxSeccomp,
    probe: &mut dyn FnMut(u32) -> Result<bool, SeccompError>,
) -> Result<Program, SeccompError> {
    let default = seccomp.default_action();
    if default == LinuxSeccompAction::ScmpActNotify {
        return Err(SeccompError::invalid(
            "linux.seccomp.defaultAction",
            "SCMP_ACT_NOTIFY cannot be the default action (the runtime-spec forbids it: the \
             runtime itself could not make a system call)",
        ));
    }
    let default_act = action(default, seccomp.default_errno_ret(), "linux.seccomp.defaultErrnoRet")?;
    let syscalls: &[LinuxSyscall] = seccomp.syscalls().as_deref().unwrap_or_default();
    check_notify_rules(syscalls)?;
    let uses_notify = syscalls.iter().any(|s| s.action() == LinuxSeccompAction::ScmpActNotify);
    let flags = flags(seccomp, uses_notify, probe)?;

    let mut ctx = ScmpFilterContext::new(default_act)
        .map_err(SeccompError::libseccomp("linux.seccomp.defaultAction", "create the filter"))?;
    let archs = architectures(seccomp, &mut ctx)?;
    let names: usize = syscalls.iter().map(|s| s.names().len()).sum();
    if names > OPTIMIZE_ABOVE {
        if let Err(e) = ctx.set_ctl_optimize(2) {
            tracing::debug!("seccomp: binary tree optimization not available: {e}");
        }
    }
    for (i, sc) in syscalls.iter().enumerate() {
        add_rules(&mut ctx, i, sc, default_act)?;
    }

    let mut insns = export(&ctx)?;
    drop(ctx);
    if needs_enosys_stub(seccomp) {
        let maxes = largest_syscalls(&archs, syscalls);
        let stub = enosys::stub(&maxes).map_err(|e| SeccompError::invalid("linux.seccomp.architectures", e))?;
        tracing::debug!("seccomp: -ENOSYS stub of {} instructions for {maxes:x?}", stub.len());
        insns.splice(0..0, stub);
    }
    if insns.len() > MAX_INSNS {
        return Err(SeccompError::invalid(
            "linux.seccomp.syscalls",
            format!("the filter has {} instructions, more than the kernel's limit of {MAX_INSNS}", insns.len()),
        ));
    }
    Program::from_parts(insns, flags, uses_notify)
}

/// runc's conversion of an action; `errno_ret` is the ERRNO errno or the TRACE message.
fn action(a: LinuxSeccompAction, errno_ret: Option<u32>, errno_field: &str) -> Result<ScmpAction, SeccompError> {
    let data = || -> Result<u16, SeccompError> {
        let v = errno_ret.unwrap_or(libc::EPERM as u32);
        u16::try_from(v).map_err(|_| {
            SeccompError::invalid(errno_field, format!("{v} does not fit the 16 bits of SECCOMP_RET_DATA"))
        })
    };
    Ok(match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => ScmpAction::KillThread,
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(i32::from(data()?)),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(data()?),
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
    })
}

/// As runc: `write` must not be notified. The init still writes to the runtime after
/// loading the filter (to pass the listener fd on), and would wait for an agent that
/// never gets the fd.
fn check_notify_rules(syscalls: &[LinuxSyscall]) -> Result<(), SeccompError> {
    for (i, sc) in syscalls.iter().enumerate() {
        if sc.action() != LinuxSeccompAction::ScmpActNotify {
            continue;
        }
        if let Some(j) = sc.names().iter().position(|n| n == "write") {
            return Err(SeccompError::invalid(
                format!("linux.seccomp.syscalls[{i}].names[{j}]"),
                "SCMP_ACT_NOTIFY cannot be used for the write syscall (the runtime needs it to hand \
                 the listener fd over)",
            ));
        }
    }
    Ok(())
}

/// The `SECCOMP_FILTER_FLAG_*` bits, each checked against the kernel.
fn flags(
    seccomp: &LinuxSeccomp,
    uses_notify: bool,
    probe: &mut dyn FnMut(u32) -> Result<bool, SeccompError>,
) -> Result<u32, SeccompError> {
    let requested: Vec<(String, &'static str, u32)> = seccomp
        .flags()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let (name, bit) = flag_info(*f);
            (format!("linux.seccomp.flags[{i}]"), name, bit)
        })
        .collect();
    let mut flags = requested.iter().fold(0, |acc, (_, _, bit)| acc | bit);
    if uses_notify {
        flags |= FLAG_NEW_LISTENER;
        if !probe(FLAG_NEW_LISTENER)? {
            return Err(SeccompError::invalid(
                "linux.seccomp.syscalls",
                "SCMP_ACT_NOTIFY needs seccomp user notification, which this kernel lacks (Linux 5.0)",
            ));
        }
    }
    for (field, name, bit) in &requested {
        if *bit == FLAG_WAIT_KILLABLE_RECV && !uses_notify {
            return Err(SeccompError::invalid(
                field.as_str(),
                format!("{name} only applies to a filter with SCMP_ACT_NOTIFY rules, and this one has none"),
            ));
        }
        // WAIT_KILLABLE_RECV is only accepted together with NEW_LISTENER.
        let probe_bits = if *bit == FLAG_WAIT_KILLABLE_RECV { bit | FLAG_NEW_LISTENER } else { *bit };
        if !probe(probe_bits)? {
            return Err(SeccompError::invalid(field.as_str(), format!("{name} is not supported by this kernel")));
        }
    }
    if flags & FLAG_TSYNC != 0 && uses_notify {
        // The kernel refuses TSYNC with NEW_LISTENER unless TSYNC failures come as ESRCH.
        flags |= FLAG_TSYNC_ESRCH;
        if !probe(FLAG_TSYNC | FLAG_TSYNC_ESRCH)? {
            let field = requested.iter().find(|r| r.2 == FLAG_TSYNC).map_or("linux.seccomp.flags", |r| &r.0);
            return Err(SeccompError::invalid(
                field,
                "SECCOMP_FILTER_FLAG_TSYNC together with SCMP_ACT_NOTIFY needs SECCOMP_FILTER_FLAG_TSYNC_ESRCH, \
                 which this kernel lacks (Linux 5.7)",
            ));
        }
    }
    if flags != 0 && !probe(flags)? {
        return Err(SeccompError::invalid(
            "linux.seccomp.flags",
            format!("this kernel refuses the combination of filter flags {flags:#x}"),
        ));
    }
    Ok(flags)
}

/// Adds `architectures` to the filter (the native one is always there, as with runc).
/// Returns what the `-ENOSYS` stub needs to know of each.
fn architectures(
    seccomp: &LinuxSeccomp,
    ctx: &mut ScmpFilterContext,
) -> Result<Vec<(ScmpArch, u32, Abi)>, SeccompError> {
    let mut out = Vec::new();
    for (i, a) in seccomp.architectures().as_deref().unwrap_or_default().iter().enumerate() {
        let field = format!("linux.seccomp.architectures[{i}]");
        let info = arch_info(*a).ok_or_else(|| {
            let name = serde_json::to_value(a).ok().and_then(|v| v.as_str().map(str::to_owned));
            SeccompError::unknown(&field, "architecture", name.unwrap_or_else(|| format!("{a:?}")))
        })?;
        if let Err(e) = ctx.add_arch(info.scmp) {
            let version = libseccomp::ScmpVersion::current()
                .map_or_else(|_| "?".to_string(), |v| format!("{}.{}.{}", v.major, v.minor, v.micro));
            return Err(SeccompError::invalid(
                field,
                format!("{} is not supported by libseccomp {version}: {e}", info.name),
            ));
        }
        let abi = match info.scmp {
            ScmpArch::X8664 => Abi::X8664,
            ScmpArch::X32 => Abi::X32,
            ScmpArch::S390 | ScmpArch::S390X => Abi::S390,
            _ => Abi::Plain,
        };
        out.push((info.scmp, info.audit, abi));
    }
    Ok(out)
}

/// One condition; for MASKED_EQ `value` is the mask and `valueTwo` the expected result
/// (`(arg & value) == valueTwo`), as in runc and libseccomp.
fn condition(arg: &LinuxSeccompArg, field: &str) -> Result<ScmpArgCompare, SeccompError> {
    let index = arg.index();
    if index > MAX_ARG_INDEX {
        return Err(SeccompError::invalid(
            format!("{field}.index"),
            format!("{index} is past the last syscall argument (0 to {MAX_ARG_INDEX})"),
        ));
    }
    let (op, datum) = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, arg.value()),
        LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, arg.value()),
        LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, arg.value()),
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            (ScmpCompareOp::MaskedEqual(arg.value()), arg.value_two().unwrap_or(0))
        }
    };
    // `index` <= 5, so the cast is exact.
    Ok(ScmpArgCompare::new(index as u32, op, datum))
}

/// The rules of `syscalls[i]`, one per name (or one per name and condition, see [`compile`]).
fn add_rules(
    ctx: &mut ScmpFilterContext,
    i: usize,
    sc: &LinuxSyscall,
    default_act: ScmpAction,
) -> Result<(), SeccompError> {
    let field = format!("linux.seccomp.syscalls[{i}]");
    let act = action(sc.action(), sc.errno_ret(), &format!("{field}.errnoRet"))?;
    let args: &[LinuxSeccompArg] = sc.args().as_deref().unwrap_or_default();
    let conds = args
        .iter()
        .enumerate()
        .map(|(j, a)| condition(a, &format!("{field}.args[{j}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut per_index = [0usize; MAX_ARG_INDEX + 1];
    for a in args {
        per_index[a.index()] += 1;
    }
    // runc: several conditions on one argument can't be AND'ed by libseccomp (one
    // comparison per argument per rule), so each condition becomes its own rule.
    let one_rule_per_condition = per_index.iter().any(|&n| n > 1);
    if one_rule_per_condition {
        tracing::debug!(
            "seccomp: {field}: several conditions on one argument; adding one rule per condition (as runc)"
        );
    }

    for (j, name) in sc.names().iter().enumerate() {
        let name_field = format!("{field}.names[{j}]");
        if name.is_empty() {
            return Err(SeccompError::invalid(name_field, "an empty string is not a syscall name"));
        }
        if act == default_act {
            tracing::debug!("seccomp: {name_field}: {name:?} has the default action; rule skipped");
            continue;
        }
        let Ok(nr) = ScmpSyscall::from_name(name) else {
            tracing::debug!("seccomp: {name_field}: unknown syscall {name:?} skipped");
            continue;
        };
        let what = || format!("add {} rule for {name:?}", action_name(sc.action()));
        if conds.is_empty() {
            ctx.add_rule(act, nr).map_err(SeccompError::libseccomp(&name_field, what()))?;
        } else if one_rule_per_condition {
            for (k, c) in conds.iter().enumerate() {
                let op = operator_name(args[k].op());
                ctx.add_rule_conditional(act, nr, std::slice::from_ref(c))
                    .map_err(SeccompError::libseccomp(format!("{field}.args[{k}]"), format!("{} ({op})", what())))?;
            }
        } else {
            ctx.add_rule_conditional(act, nr, &conds).map_err(SeccompError::libseccomp(&name_field, what()))?;
        }
    }
    Ok(())
}

/// The filter's BPF, exported by libseccomp into a memfd and read back.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<sock_filter>, SeccompError> {
    const NAME: &CStr = c"berth-seccomp-bpf";
    // SAFETY: NAME is a NUL-terminated string; the flags are valid.
    let fd = unsafe { libc::memfd_create(NAME.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO);
        return Err(SeccompError::Sys { call: "memfd_create", errno });
    }
    // SAFETY: memfd_create just returned this fd; nothing else owns it.
    let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    ctx.export_bpf(&file).map_err(SeccompError::libseccomp("linux.seccomp", "export the BPF program"))?;
    let io = |call: &'static str| {
        move |e: std::io::Error| SeccompError::Sys { call, errno: e.raw_os_error().unwrap_or(libc::EIO) }
    };
    file.seek(SeekFrom::Start(0)).map_err(io("lseek"))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io("read"))?;
    parse_bpf(&bytes)
}

/// `struct sock_filter` records in host byte order: u16 code, u8 jt, u8 jf, u32 k.
fn parse_bpf(bytes: &[u8]) -> Result<Vec<sock_filter>, SeccompError> {
    if bytes.is_empty() || !bytes.chunks_exact(8).remainder().is_empty() {
        return Err(SeccompError::invalid(
            "linux.seccomp",
            format!("libseccomp exported {} bytes, not a whole number of BPF instructions", bytes.len()),
        ));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

/// runc adds the stub unless the default action lets calls through (ALLOW, LOG, and TRACE,
/// whose tracer is expected to handle new calls). It is also pointless when the default
/// already answers ENOSYS (runc means to skip that case too, but compares the errno with
/// the whole action value and never does; the result is the same either way).
fn needs_enosys_stub(seccomp: &LinuxSeccomp) -> bool {
    match seccomp.default_action() {
        LinuxSeccompAction::ScmpActAllow | LinuxSeccompAction::ScmpActLog | LinuxSeccompAction::ScmpActTrace => false,
        LinuxSeccompAction::ScmpActErrno => seccomp.default_errno_ret() != Some(libc::ENOSYS as u32),
        _ => true,
    }
}

/// The largest syscall number the profile names, for each listed architecture (as runc:
/// only `architectures`, all rules whatever their action, unknown names ignored).
fn largest_syscalls(archs: &[(ScmpArch, u32, Abi)], syscalls: &[LinuxSyscall]) -> Vec<ArchMax> {
    archs
        .iter()
        .map(|&(scmp, audit, abi)| {
            let max = syscalls
                .iter()
                .flat_map(|s| s.names())
                .filter_map(|n| ScmpSyscall::from_name_by_arch(n, scmp).ok())
                .map(|s| s.as_raw_syscall())
                .filter(|&nr| nr > 0)
                .max()
                .unwrap_or(0);
            if max == 0 {
                tracing::warn!("seccomp: no syscall of the profile is known on {scmp:?}; no -ENOSYS stub for it");
            }
            // Positive, so exact.
            ArchMax { audit, abi, max: max as u32 }
        })
        .collect()
}

#[cfg(test)]
mod tests;
