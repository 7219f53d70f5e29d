//! From device rules to a `BPF_PROG_TYPE_CGROUP_DEVICE` program: what the rules
//! come to (runc's emulator), then the instructions (runc's `devicefilter.go`).

use crate::cgroups::CgroupError;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::collections::BTreeMap;
use std::fmt;

/// `BPF_DEVCG_DEV_BLOCK` and `BPF_DEVCG_DEV_CHAR`: the low 16 bits of `access_type`.
pub(super) const DEV_BLOCK: u32 = 1;
pub(super) const DEV_CHAR: u32 = 2;
/// `BPF_DEVCG_ACC_MKNOD`, `_READ`, `_WRITE`: the high 16 bits of `access_type`.
pub(super) const ACC_MKNOD: u32 = 1;
pub(super) const ACC_READ: u32 = 2;
pub(super) const ACC_WRITE: u32 = 4;
const ACC_ALL: u32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// Opcodes used (`BPF_LDX|BPF_MEM|BPF_W`, 32-bit ALU with an immediate (`K`) or a
/// register (`X`), 64-bit `BPF_JMP`, `BPF_EXIT`).
pub(super) const LDX_MEM_W: u8 = 0x61;
pub(super) const ALU32_AND_K: u8 = 0x54;
pub(super) const ALU32_RSH_K: u8 = 0x74;
pub(super) const ALU32_MOV_K: u8 = 0xb4;
pub(super) const ALU32_MOV_X: u8 = 0xbc;
pub(super) const JMP_JNE_K: u8 = 0x55;
pub(super) const JMP_JNE_X: u8 = 0x5d;
pub(super) const JMP_EXIT: u8 = 0x95;

const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

/// One eBPF instruction, the kernel's `struct bpf_insn`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BpfInsn {
    /// Opcode.
    pub code: u8,
    /// `dst_reg:4, src_reg:4` (bit-field order follows the byte order).
    pub regs: u8,
    /// Signed offset: the jump distance, or the memory offset.
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

impl BpfInsn {
    fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> BpfInsn {
        let regs = if cfg!(target_endian = "little") { dst | (src << 4) } else { (dst << 4) | src };
        BpfInsn { code, regs, off, imm }
    }

    /// The destination register.
    #[cfg(test)]
    pub fn dst(&self) -> u8 {
        if cfg!(target_endian = "little") {
            self.regs & 0xf
        } else {
            self.regs >> 4
        }
    }

    /// The source register.
    #[cfg(test)]
    pub fn src(&self) -> u8 {
        if cfg!(target_endian = "little") {
            self.regs >> 4
        } else {
            self.regs & 0xf
        }
    }
}

/// A device type the devices controller tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum DevType {
    Block,
    Char,
}

/// The device part of a rule: type, and major and minor (`None` = any). The
/// order (major, minor, type, wildcards first) is runc's, so the programs match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Meta {
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub typ: DevType,
}

impl fmt::Display for Meta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = |n: Option<u32>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
        let t = if self.typ == DevType::Block { 'b' } else { 'c' };
        write!(f, "{t} {}:{}", n(self.major), n(self.minor))
    }
}

/// Access bits as `rwm` text.
pub(super) fn access_text(access: u32) -> String {
    [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')].iter().filter(|(b, _)| access & b != 0).map(|p| p.1).collect()
}

/// What a list of device rules comes to: a default, and exceptions to it (each
/// with the accesses it covers). Built as cgroup v1 does (and runc's emulator,
/// which gives cgroup v2 the same meaning): a rule for every device with full
/// access (`a *:* rwm`) resets the default and drops the exceptions; a rule whose
/// verdict differs from the default adds an exception (merging accesses with an
/// exception for the same device), one that agrees removes accesses from the
/// exception for exactly that device. Before any rule, everything is denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub(super) default_allow: bool,
    pub(super) exceptions: BTreeMap<Meta, u32>,
}

impl Filter {
    /// Apply `rules` in order, starting from deny-all. Refused (as runc does): a
    /// rule that would take accesses away from part of an earlier wildcard rule
    /// (`allow c *:* rwm` then `deny c 1:3 rwm`), which cgroup v1 silently ignores.
    pub fn compile(rules: &[LinuxDeviceCgroup]) -> Result<Filter, CgroupError> {
        let mut f = Filter { default_allow: false, exceptions: BTreeMap::new() };
        for (i, rule) in rules.iter().enumerate() {
            f.apply(i, rule)?;
        }
        Ok(f)
    }

    /// Whether nothing is denied.
    pub fn allows_all(&self) -> bool {
        self.default_allow && self.exceptions.is_empty()
    }

    fn apply(&mut self, index: usize, rule: &LinuxDeviceCgroup) -> Result<(), CgroupError> {
        let invalid = |value: String, reason: String| CgroupError::InvalidResource {
            field: format!("devices[{index}]"),
            value,
            reason,
        };
        let access = match rule.access().as_deref() {
            None | Some("") => ACC_ALL,
            Some(a) => a.chars().try_fold(0, |acc, c| match c {
                'r' => Ok(acc | ACC_READ),
                'w' => Ok(acc | ACC_WRITE),
                'm' => Ok(acc | ACC_MKNOD),
                _ => Err(invalid(format!("access {a:?}"), "access may only contain r, w and m".into())),
            })?,
        };
        let number = |n: Option<i64>| match n {
            None | Some(-1) => Ok(None),
            Some(v) => u32::try_from(v)
                .map(Some)
                .map_err(|_| invalid(rule.to_string(), "device numbers must be 0 to 4294967295 (-1 means any)".into())),
        };
        let (major, minor) = (number(rule.major())?, number(rule.minor())?);
        let types: &[DevType] = match rule.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A if major.is_none() && minor.is_none() && access == ACC_ALL => {
                self.default_allow = rule.allow();
                self.exceptions.clear();
                return Ok(());
            }
            // As berth's cgroup v1 writes: `a` with a number or partial access is
            // that rule for block and for character devices.
            LinuxDeviceType::A => &[DevType::Block, DevType::Char],
            LinuxDeviceType::B => &[DevType::Block],
            LinuxDeviceType::C | LinuxDeviceType::U => &[DevType::Char],
            LinuxDeviceType::P => {
                let reason = "FIFOs (type p) cannot be allowed or denied by the devices cgroup";
                return Err(invalid(rule.to_string(), reason.into()));
            }
        };
        for &typ in types {
            let meta = Meta { major, minor, typ };
            if rule.allow() != self.default_allow {
                *self.exceptions.entry(meta).or_insert(0) |= access;
                continue;
            }
            let wider =
                [Meta { major: None, ..meta }, Meta { minor: None, ..meta }, Meta { major: None, minor: None, typ }];
            for w in wider.into_iter().filter(|w| *w != meta) {
                let held = self.exceptions.get(&w).copied().unwrap_or(0);
                if held & access != 0 {
                    let verb = if rule.allow() { "allow" } else { "deny" };
                    let earlier = if rule.allow() { "denies" } else { "allows" };
                    return Err(invalid(
                        format!("{verb} {meta} {}", access_text(access)),
                        format!(
                            "an earlier rule {earlier} {w} {}, and the devices controller cannot take a part \
                             out of a wildcard rule (cgroup v1 would ignore this rule; runc refuses it too); \
                             list the devices one by one instead",
                            access_text(held)
                        ),
                    ));
                }
            }
            if let Some(held) = self.exceptions.get_mut(&meta) {
                *held &= !access;
                if *held == 0 {
                    self.exceptions.remove(&meta);
                }
            }
        }
        Ok(())
    }

    /// The program: load the context into registers, then one block per
    /// exception that returns its verdict when the device and access match, then
    /// return the default. As runc's (`R2` type, `R3` access, `R4` major, `R5`
    /// minor, `R1` scratch once the context is read).
    pub fn program(&self) -> Vec<BpfInsn> {
        let mut p = vec![
            ldx_w(R2, 0),
            BpfInsn::new(ALU32_AND_K, R2, 0, 0, 0xffff),
            ldx_w(R3, 0),
            BpfInsn::new(ALU32_RSH_K, R3, 0, 0, 16),
            ldx_w(R4, 4),
            ldx_w(R5, 8),
        ];
        for (meta, &access) in &self.exceptions {
            let mut jumps = Vec::new();
            let typ = if meta.typ == DevType::Block { DEV_BLOCK } else { DEV_CHAR };
            jumps.push(p.len());
            p.push(BpfInsn::new(JMP_JNE_K, R2, 0, 0, typ as i32));
            if access != ACC_ALL {
                // Unless every requested access bit is in the rule's, next block.
                p.push(BpfInsn::new(ALU32_MOV_X, R1, R3, 0, 0));
                p.push(BpfInsn::new(ALU32_AND_K, R1, 0, 0, access as i32));
                jumps.push(p.len());
                p.push(BpfInsn::new(JMP_JNE_X, R1, R3, 0, 0));
            }
            for (reg, n) in [(R4, meta.major), (R5, meta.minor)] {
                match n.map(|n| (n, i32::try_from(n))) {
                    None => {}
                    Some((_, Ok(imm))) => {
                        jumps.push(p.len());
                        p.push(BpfInsn::new(JMP_JNE_K, reg, 0, 0, imm));
                    }
                    // A 64-bit compare sign-extends the immediate: above i32::MAX,
                    // compare with a register set by a (zero-extending) 32-bit move.
                    Some((n, Err(_))) => {
                        p.push(BpfInsn::new(ALU32_MOV_K, R1, 0, 0, n as i32));
                        jumps.push(p.len());
                        p.push(BpfInsn::new(JMP_JNE_X, reg, R1, 0, 0));
                    }
                }
            }
            p.extend(ret(!self.default_allow));
            let next = p.len();
            for j in jumps {
                // A block is at most 10 instructions, so this fits in an i16.
                p[j].off = (next - j - 1) as i16;
            }
        }
        p.extend(ret(self.default_allow));
        p
    }
}

/// `dst = *(u32 *)(R1 + off)`: a field of `struct bpf_cgroup_dev_ctx`.
fn ldx_w(dst: u8, off: i16) -> BpfInsn {
    BpfInsn::new(LDX_MEM_W, dst, R1, off, 0)
}

/// `R0 = allow; exit`.
fn ret(allow: bool) -> [BpfInsn; 2] {
    [BpfInsn::new(ALU32_MOV_K, R0, 0, 0, i32::from(allow)), BpfInsn::new(JMP_EXIT, 0, 0, 0, 0)]
}
