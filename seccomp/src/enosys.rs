//! The `-ENOSYS` stub runc prepends to a filter (its `patchbpf` package), rebuilt here.
//!
//! A profile written for an older kernel does not list the system calls added since; with
//! a default action of `SCMP_ACT_ERRNO(EPERM)` a new call such as `clone3` or `openat2`
//! then fails with `EPERM`, and libc, which only falls back to the old call on `ENOSYS`,
//! fails with it. The stub makes every call numbered above the largest one the profile
//! names (per architecture) return `ENOSYS` instead, as a kernel without the call would.
//!
//! Layout (each section is reached from the architecture check at the top; every section
//! ends by jumping into libseccomp's filter, which follows the stub):
//!
//! ```text
//!   ld  [4]                      ; seccomp_data.arch
//!   jeq AUDIT_ARCH_A, section_A  ; one per architecture (jne+ja when far)
//!   ja  filter                   ; other architectures: straight to the filter
//! section_A:
//!   ld  [0]                      ; seccomp_data.nr
//!   [x86_64/x32: jset 1<<30 to tell the two ABIs apart]
//!   jgt MAX_A, enosys            ; (jle+ret when far)
//!   ja  filter
//!   ...
//!   ja  1                        ; fall-through into the filter
//! enosys:
//!   ret ERRNO(ENOSYS)
//! filter:                        ; libseccomp's program
//! ```

use libc::sock_filter;
use std::collections::BTreeMap;

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JA: u16 = 0x05;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_JMP_JGT_K: u16 = 0x25;
const BPF_JMP_JSET_K: u16 = 0x45;
const BPF_RET_K: u16 = 0x06;

/// `SECCOMP_RET_ERRNO | ENOSYS`.
pub(crate) const RET_ENOSYS: u32 = 0x0005_0000 | libc::ENOSYS as u32;
/// `AUDIT_ARCH_X86_64`: x86_64 and x32 share it; bit 30 of the syscall number tells x32.
pub(crate) const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const X32_SYSCALL_BIT: u32 = 1 << 30;
/// Offsets in `struct seccomp_data`.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;

/// How an architecture's section must treat the syscall number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Abi {
    /// Nothing special.
    Plain,
    /// s390/s390x: unknown large syscall numbers arrive as syscall 0 (`setup`), which must
    /// get `ENOSYS` too.
    S390,
    /// x86_64 proper (bit 30 clear).
    X8664,
    /// x32 (bit 30 set, same audit arch as x86_64).
    X32,
}

/// The largest syscall number a profile names on one architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ArchMax {
    /// The kernel's `AUDIT_ARCH_*` value (what `seccomp_data.arch` holds).
    pub audit: u32,
    pub abi: Abi,
    /// The largest syscall number, as the kernel sees it (x32 numbers include bit 30).
    pub max: u32,
}

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

fn ja(k: u32) -> sock_filter {
    stmt(BPF_JMP_JA, k)
}

fn ret(k: u32) -> sock_filter {
    stmt(BPF_RET_K, k)
}

/// Offsets of conditional jumps are 8 bits; the callers only use this after checking.
fn short(n: u32) -> u8 {
    debug_assert!(n <= 255);
    n as u8
}

/// Builds the stub for `archs` (architectures with no known syscall, `max == 0`, are left
/// to the filter). The result is meant to be prepended to libseccomp's program.
pub(crate) fn stub(archs: &[ArchMax]) -> Result<Vec<sock_filter>, String> {
    // Deterministic order (runc walks a Go map): by audit arch, then ABI.
    let mut by_audit: BTreeMap<u32, BTreeMap<Abi, u32>> = BTreeMap::new();
    for a in archs.iter().filter(|a| a.max > 0) {
        by_audit.entry(a.audit).or_default().entry(a.abi).or_insert(a.max);
    }

    // Built back to front: a jump is counted from the END of what follows it.
    let mut tail = vec![ja(1), ret(RET_ENOSYS)];
    let mut from_end: BTreeMap<u32, u32> = BTreeMap::new();
    for (&audit, maxes) in &by_audit {
        // From the last instruction of the section: skip `base_enosys` to land on the
        // ENOSYS return (the tail's last instruction), `base_filter` to land past the tail.
        let base_enosys = (tail.len() - 1) as u32;
        let base_filter = base_enosys + 1;
        let mut section = vec![stmt(BPF_LD_W_ABS, OFF_NR)];
        let entries: Vec<(Abi, u32)> = maxes.iter().map(|(&abi, &max)| (abi, max)).collect();
        match entries[..] {
            [(abi, max)] => {
                if abi == Abi::S390 {
                    // jne 0 (setup), skip 1; ret ENOSYS
                    section.extend([jump(BPF_JMP_JEQ_K, 0, 0, 1), ret(RET_ENOSYS)]);
                }
                let mut sec_tail = if base_enosys < 255 {
                    vec![jump(BPF_JMP_JGT_K, max, short(base_enosys + 1), 0), ja(base_filter)]
                } else {
                    // jle max, skip 1; ret ENOSYS; ja filter
                    vec![jump(BPF_JMP_JGT_K, max, 0, 1), ret(RET_ENOSYS), ja(base_filter)]
                };
                if audit == AUDIT_ARCH_X86_64 {
                    // Calls of the other ABI go straight to the closing `ja filter`.
                    let skip = short(sec_tail.len() as u32 - 1);
                    let check = match abi {
                        Abi::X8664 => jump(BPF_JMP_JSET_K, X32_SYSCALL_BIT, skip, 0),
                        Abi::X32 => jump(BPF_JMP_JSET_K, X32_SYSCALL_BIT, 0, skip),
                        _ => return Err(format!("{abi:?} is not an ABI of AUDIT_ARCH_X86_64")),
                    };
                    sec_tail.insert(0, check);
                }
                section.extend(sec_tail);
            }
            [(Abi::X8664, x86_64), (Abi::X32, x32)] if audit == AUDIT_ARCH_X86_64 => {
                if base_enosys + 2 <= 255 {
                    section.extend([
                        jump(BPF_JMP_JSET_K, X32_SYSCALL_BIT, 1, 0),
                        jump(BPF_JMP_JGT_K, x86_64, short(base_enosys + 2), 1),
                        jump(BPF_JMP_JGT_K, x32, short(base_enosys + 1), 0),
                        ja(base_filter),
                    ]);
                } else {
                    section.extend([
                        jump(BPF_JMP_JSET_K, X32_SYSCALL_BIT, 1, 0),
                        jump(BPF_JMP_JGT_K, x86_64, 1, 2),
                        jump(BPF_JMP_JGT_K, x32, 0, 1),
                        ret(RET_ENOSYS),
                        ja(base_filter),
                    ]);
                }
            }
            _ => return Err(format!("unexpected ABIs {entries:?} on audit arch {audit:#x}")),
        }
        tail.splice(0..0, section);
        from_end.insert(audit, tail.len() as u32);
    }

    // Architectures the stub does not know go straight to the filter.
    tail.insert(0, ja(tail.len() as u32));
    for (&audit, &end) in &from_end {
        let skip = tail.len() as u32 - end;
        if skip <= 255 {
            tail.insert(0, jump(BPF_JMP_JEQ_K, audit, short(skip), 0));
        } else {
            // jne arch, skip 1; ja section
            tail.splice(0..0, [jump(BPF_JMP_JEQ_K, audit, 0, 1), ja(skip)]);
        }
    }
    tail.insert(0, stmt(BPF_LD_W_ABS, OFF_ARCH));
    Ok(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILTER_MARK: u32 = 0x7fff_1234;

    /// A tiny classic-BPF interpreter over `struct seccomp_data` (nr, arch), enough for the
    /// stub: the "filter" after it is one `ret FILTER_MARK`.
    fn run(prog: &[sock_filter], arch: u32, nr: u32) -> u32 {
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            pc += 1;
            match i.code {
                BPF_LD_W_ABS => acc = if i.k == OFF_NR { nr } else { arch },
                BPF_JMP_JA => pc += i.k as usize,
                BPF_JMP_JEQ_K => pc += if acc == i.k { i.jt } else { i.jf } as usize,
                BPF_JMP_JGT_K => pc += if acc > i.k { i.jt } else { i.jf } as usize,
                BPF_JMP_JSET_K => pc += if acc & i.k != 0 { i.jt } else { i.jf } as usize,
                BPF_RET_K => return i.k,
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    fn with_filter(mut stub: Vec<sock_filter>) -> Vec<sock_filter> {
        stub.push(ret(FILTER_MARK));
        stub
    }

    #[test]
    fn empty_stub_falls_through() {
        let p = with_filter(stub(&[]).unwrap());
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 0), FILTER_MARK);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 9999), FILTER_MARK);
    }

    #[test]
    fn x86_64_above_max_is_enosys() {
        let p = with_filter(stub(&[ArchMax { audit: AUDIT_ARCH_X86_64, abi: Abi::X8664, max: 300 }]).unwrap());
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 300), FILTER_MARK);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 0), FILTER_MARK);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 301), RET_ENOSYS);
        // x32 calls are not this section's business.
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 999), FILTER_MARK);
        // Nor are other architectures.
        assert_eq!(run(&p, 0x4000_0003, 999), FILTER_MARK);
    }

    #[test]
    fn x86_64_x32_and_i386() {
        let p = with_filter(
            stub(&[
                ArchMax { audit: AUDIT_ARCH_X86_64, abi: Abi::X8664, max: 300 },
                ArchMax { audit: AUDIT_ARCH_X86_64, abi: Abi::X32, max: X32_SYSCALL_BIT | 200 },
                ArchMax { audit: 0x4000_0003, abi: Abi::Plain, max: 400 },
            ])
            .unwrap(),
        );
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 300), FILTER_MARK);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 301), RET_ENOSYS);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 200), FILTER_MARK);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 201), RET_ENOSYS);
        assert_eq!(run(&p, 0x4000_0003, 400), FILTER_MARK);
        assert_eq!(run(&p, 0x4000_0003, 401), RET_ENOSYS);
        assert_eq!(run(&p, 0xc000_00b7, 5000), FILTER_MARK);
    }

    #[test]
    fn s390_setup_is_enosys() {
        let p = with_filter(stub(&[ArchMax { audit: 0x8000_0016, abi: Abi::S390, max: 400 }]).unwrap());
        assert_eq!(run(&p, 0x8000_0016, 0), RET_ENOSYS);
        assert_eq!(run(&p, 0x8000_0016, 1), FILTER_MARK);
        assert_eq!(run(&p, 0x8000_0016, 401), RET_ENOSYS);
    }

    #[test]
    fn long_jumps() {
        // Enough architectures that the early sections sit more than 255 instructions from
        // the ENOSYS return and the later jeq's more than 255 from their sections.
        let archs: Vec<ArchMax> =
            (0..100).map(|i| ArchMax { audit: 0x1000 + i, abi: Abi::Plain, max: 100 + i }).collect();
        let p = with_filter(stub(&archs).unwrap());
        assert!(p.len() > 300);
        for a in &archs {
            assert_eq!(run(&p, a.audit, a.max), FILTER_MARK, "arch {:#x}", a.audit);
            assert_eq!(run(&p, a.audit, a.max + 1), RET_ENOSYS, "arch {:#x}", a.audit);
        }
        assert_eq!(run(&p, 0x9999, 99999), FILTER_MARK);
    }

    #[test]
    fn long_jumps_x86_64_x32() {
        let mut archs: Vec<ArchMax> =
            (0..100).map(|i| ArchMax { audit: 0x1000 + i, abi: Abi::Plain, max: 100 + i }).collect();
        archs.push(ArchMax { audit: AUDIT_ARCH_X86_64, abi: Abi::X8664, max: 300 });
        archs.push(ArchMax { audit: AUDIT_ARCH_X86_64, abi: Abi::X32, max: X32_SYSCALL_BIT | 200 });
        let p = with_filter(stub(&archs).unwrap());
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 300), FILTER_MARK);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 301), RET_ENOSYS);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 200), FILTER_MARK);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 201), RET_ENOSYS);
    }
}
