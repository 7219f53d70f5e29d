//! The names `linux.seccomp` may use, as the runtime-spec spells them, and their mapping
//! to libseccomp and the kernel.

use crate::program::{FLAG_LOG, FLAG_SPEC_ALLOW, FLAG_TSYNC, FLAG_WAIT_KILLABLE_RECV};
use libseccomp::ScmpArch;
use oci_spec::runtime::{Arch, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator};

/// Every action of the runtime-spec (`SCMP_ACT_KILL` is `SCMP_ACT_KILL_THREAD`).
pub const KNOWN_ACTIONS: [&str; 9] = [
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
];

/// Every argument operator of the runtime-spec.
pub const KNOWN_OPERATORS: [&str; 7] =
    ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"];

/// Every filter flag of the runtime-spec (and TSYNC, which runc also accepts).
pub const KNOWN_FLAGS: [&str; 4] = [
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

/// One architecture: the runtime-spec's name, libseccomp's token, the kernel's audit arch.
pub(crate) struct ArchInfo {
    pub oci: Arch,
    pub name: &'static str,
    pub scmp: ScmpArch,
    /// `AUDIT_ARCH_*`: what `seccomp_data.arch` holds for this architecture.
    pub audit: u32,
}

const fn arch(oci: Arch, name: &'static str, scmp: ScmpArch, audit: u32) -> ArchInfo {
    ArchInfo { oci, name, scmp, audit }
}

/// Every architecture of the runtime-spec. libseccomp 2.5 lacks the last four (LoongArch,
/// m68k, SuperH): adding them fails at compile time with an error naming them.
pub(crate) const ARCHES: [ArchInfo; 23] = [
    arch(Arch::ScmpArchX86, "SCMP_ARCH_X86", ScmpArch::X86, 0x4000_0003),
    arch(Arch::ScmpArchX86_64, "SCMP_ARCH_X86_64", ScmpArch::X8664, 0xc000_003e),
    // x32 shares x86_64's audit arch; its syscall numbers carry bit 30.
    arch(Arch::ScmpArchX32, "SCMP_ARCH_X32", ScmpArch::X32, 0xc000_003e),
    arch(Arch::ScmpArchArm, "SCMP_ARCH_ARM", ScmpArch::Arm, 0x4000_0028),
    arch(Arch::ScmpArchAarch64, "SCMP_ARCH_AARCH64", ScmpArch::Aarch64, 0xc000_00b7),
    arch(Arch::ScmpArchMips, "SCMP_ARCH_MIPS", ScmpArch::Mips, 0x0000_0008),
    arch(Arch::ScmpArchMips64, "SCMP_ARCH_MIPS64", ScmpArch::Mips64, 0x8000_0008),
    arch(Arch::ScmpArchMips64n32, "SCMP_ARCH_MIPS64N32", ScmpArch::Mips64N32, 0xa000_0008),
    arch(Arch::ScmpArchMipsel, "SCMP_ARCH_MIPSEL", ScmpArch::Mipsel, 0x4000_0008),
    arch(Arch::ScmpArchMipsel64, "SCMP_ARCH_MIPSEL64", ScmpArch::Mipsel64, 0xc000_0008),
    arch(Arch::ScmpArchMipsel64n32, "SCMP_ARCH_MIPSEL64N32", ScmpArch::Mipsel64N32, 0xe000_0008),
    arch(Arch::ScmpArchPpc, "SCMP_ARCH_PPC", ScmpArch::Ppc, 0x0000_0014),
    arch(Arch::ScmpArchPpc64, "SCMP_ARCH_PPC64", ScmpArch::Ppc64, 0x8000_0015),
    arch(Arch::ScmpArchPpc64le, "SCMP_ARCH_PPC64LE", ScmpArch::Ppc64Le, 0xc000_0015),
    arch(Arch::ScmpArchS390, "SCMP_ARCH_S390", ScmpArch::S390, 0x0000_0016),
    arch(Arch::ScmpArchS390x, "SCMP_ARCH_S390X", ScmpArch::S390X, 0x8000_0016),
    arch(Arch::ScmpArchParisc, "SCMP_ARCH_PARISC", ScmpArch::Parisc, 0x0000_000f),
    arch(Arch::ScmpArchParisc64, "SCMP_ARCH_PARISC64", ScmpArch::Parisc64, 0x8000_000f),
    arch(Arch::ScmpArchRiscv64, "SCMP_ARCH_RISCV64", ScmpArch::Riscv64, 0xc000_00f3),
    arch(Arch::ScmpArchLoongarch64, "SCMP_ARCH_LOONGARCH64", ScmpArch::Loongarch64, 0xc000_0102),
    arch(Arch::ScmpArchM68k, "SCMP_ARCH_M68K", ScmpArch::M68k, 0x0000_0004),
    arch(Arch::ScmpArchSh, "SCMP_ARCH_SH", ScmpArch::Sh, 0x4000_002a),
    arch(Arch::ScmpArchSheb, "SCMP_ARCH_SHEB", ScmpArch::Sheb, 0x0000_002a),
];

/// The name `SCMP_ARCH_NATIVE`, which oci-spec also accepts: the host's architecture.
pub const ARCH_NATIVE: &str = "SCMP_ARCH_NATIVE";

/// Every architecture name `linux.seccomp.architectures` may hold.
pub fn known_arches() -> impl Iterator<Item = &'static str> {
    ARCHES.iter().map(|a| a.name).chain(std::iter::once(ARCH_NATIVE))
}

/// The architecture's row; `SCMP_ARCH_NATIVE` is the host's (libseccomp's native arch).
pub(crate) fn arch_info(a: Arch) -> Option<&'static ArchInfo> {
    if a == Arch::ScmpArchNative {
        let native = ScmpArch::native();
        return ARCHES.iter().find(|i| i.scmp == native);
    }
    ARCHES.iter().find(|i| i.oci == a)
}

pub(crate) fn action_name(a: LinuxSeccompAction) -> &'static str {
    match a {
        LinuxSeccompAction::ScmpActKill => "SCMP_ACT_KILL",
        LinuxSeccompAction::ScmpActKillThread => "SCMP_ACT_KILL_THREAD",
        LinuxSeccompAction::ScmpActKillProcess => "SCMP_ACT_KILL_PROCESS",
        LinuxSeccompAction::ScmpActTrap => "SCMP_ACT_TRAP",
        LinuxSeccompAction::ScmpActErrno => "SCMP_ACT_ERRNO",
        LinuxSeccompAction::ScmpActNotify => "SCMP_ACT_NOTIFY",
        LinuxSeccompAction::ScmpActTrace => "SCMP_ACT_TRACE",
        LinuxSeccompAction::ScmpActLog => "SCMP_ACT_LOG",
        LinuxSeccompAction::ScmpActAllow => "SCMP_ACT_ALLOW",
    }
}

pub(crate) fn operator_name(op: LinuxSeccompOperator) -> &'static str {
    match op {
        LinuxSeccompOperator::ScmpCmpNe => "SCMP_CMP_NE",
        LinuxSeccompOperator::ScmpCmpLt => "SCMP_CMP_LT",
        LinuxSeccompOperator::ScmpCmpLe => "SCMP_CMP_LE",
        LinuxSeccompOperator::ScmpCmpEq => "SCMP_CMP_EQ",
        LinuxSeccompOperator::ScmpCmpGe => "SCMP_CMP_GE",
        LinuxSeccompOperator::ScmpCmpGt => "SCMP_CMP_GT",
        LinuxSeccompOperator::ScmpCmpMaskedEq => "SCMP_CMP_MASKED_EQ",
    }
}

/// The flag's name and its `SECCOMP_FILTER_FLAG_*` bit.
pub(crate) fn flag_info(f: LinuxSeccompFilterFlag) -> (&'static str, u32) {
    match f {
        LinuxSeccompFilterFlag::SeccompFilterFlagLog => ("SECCOMP_FILTER_FLAG_LOG", FLAG_LOG),
        LinuxSeccompFilterFlag::SeccompFilterFlagTsync => ("SECCOMP_FILTER_FLAG_TSYNC", FLAG_TSYNC),
        LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", FLAG_SPEC_ALLOW),
        LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
            ("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", FLAG_WAIT_KILLABLE_RECV)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_oci_spec_serialization() {
        for a in &ARCHES {
            assert_eq!(serde_json::to_value(a.oci).unwrap(), a.name);
            // The spec's enum values are libseccomp's SCMP_ARCH_* (x32 aside, the audit arch).
            if a.oci != Arch::ScmpArchX32 {
                assert_eq!(a.oci as u32, a.audit, "{}", a.name);
            }
        }
        assert_eq!(serde_json::to_value(Arch::ScmpArchNative).unwrap(), ARCH_NATIVE);
        for name in KNOWN_ACTIONS {
            let a: LinuxSeccompAction = serde_json::from_value(name.into()).unwrap();
            assert_eq!(action_name(a), name);
        }
        for name in KNOWN_OPERATORS {
            let op: LinuxSeccompOperator = serde_json::from_value(name.into()).unwrap();
            assert_eq!(operator_name(op), name);
        }
        for name in KNOWN_FLAGS {
            let f: LinuxSeccompFilterFlag = serde_json::from_value(name.into()).unwrap();
            assert_eq!(flag_info(f).0, name);
        }
    }

    #[test]
    fn native_is_known() {
        assert!(arch_info(Arch::ScmpArchNative).is_some());
    }
}
