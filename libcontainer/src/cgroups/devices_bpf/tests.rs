//! The compiler, without the kernel: the programs' shape (checked block by block
//! against what runc generates for the same rules), and their meaning, run by a
//! small interpreter and compared with a model of cgroup v1's devices
//! controller fed the lines berth's v1 code writes.

use super::prog::{access_text, ACC_MKNOD, ACC_READ, ACC_WRITE, DEV_BLOCK, DEV_CHAR};
use super::prog::{ALU32_AND_K, ALU32_MOV_K, ALU32_MOV_X, ALU32_RSH_K, JMP_EXIT, JMP_JNE_K, JMP_JNE_X, LDX_MEM_W};
use super::*;

pub(super) fn rules(json: &str) -> Vec<LinuxDeviceCgroup> {
    serde_json::from_str(json).unwrap()
}

fn program(json: &str) -> Vec<BpfInsn> {
    Filter::compile(&rules(json)).unwrap().program()
}

/// Run `prog` on a `bpf_cgroup_dev_ctx` as the kernel would (64-bit registers,
/// 32-bit ALU ops zero-extend, immediates of 64-bit jumps sign-extend), checking
/// what the verifier checks for these opcodes: known opcodes, reads of
/// initialized registers, context loads in bounds, forward jumps in the program.
pub(super) fn run(prog: &[BpfInsn], typ: u32, access: u32, major: u32, minor: u32) -> Result<u32, String> {
    let ctx = [(access << 16) | typ, major, minor];
    const CTX: u64 = 0xc7c7_0000;
    let mut r = [0u64; 11];
    let mut init = [false; 11];
    (r[1], init[1], init[10]) = (CTX, true, true);
    let mut pc = 0;
    loop {
        let i = prog.get(pc).ok_or(format!("fell off the end at {pc}"))?;
        let (d, s) = (i.dst() as usize, i.src() as usize);
        let read = |reg: usize| if init[reg] { Ok(r[reg]) } else { Err(format!("{pc}: r{reg} read before set")) };
        let mut next = pc + 1;
        let jump = |taken: bool| -> Result<usize, String> {
            let target = pc as i64 + 1 + i64::from(i.off);
            if i.off < 0 || target as usize > prog.len() - 1 {
                return Err(format!("{pc}: jump to {target}"));
            }
            Ok(if taken { target as usize } else { pc + 1 })
        };
        let value = match i.code {
            LDX_MEM_W => {
                if read(s)? != CTX || !(0..=8).contains(&i.off) || i.off % 4 != 0 {
                    return Err(format!("{pc}: bad load r{s}+{}", i.off));
                }
                Some(u64::from(ctx[i.off as usize / 4]))
            }
            ALU32_AND_K => Some(u64::from(read(d)? as u32 & i.imm as u32)),
            ALU32_RSH_K => Some(u64::from((read(d)? as u32) >> i.imm)),
            ALU32_MOV_K => Some(u64::from(i.imm as u32)),
            ALU32_MOV_X => Some(u64::from(read(s)? as u32)),
            JMP_JNE_K => {
                next = jump(read(d)? != i.imm as i64 as u64)?;
                None
            }
            JMP_JNE_X => {
                next = jump(read(d)? != read(s)?)?;
                None
            }
            JMP_EXIT => return read(0).map(|v| v as u32),
            c => return Err(format!("{pc}: unknown opcode {c:#x}")),
        };
        if let Some(v) = value {
            if d > 9 {
                return Err(format!("{pc}: write to r{d}"));
            }
            (r[d], init[d]) = (v, true);
        }
        pc = next;
    }
}

/// One block of a program, read back: (type, access mask unless rwm, major,
/// minor, verdict), checking that every jump in it goes to the next block.
type Block = (u32, Option<u32>, Option<u32>, Option<u32>, u32);

fn blocks(p: &[BpfInsn]) -> (Vec<Block>, u32) {
    let prologue = [(LDX_MEM_W, 2, 1, 0, 0), (ALU32_AND_K, 2, 0, 0, 0xffff), (LDX_MEM_W, 3, 1, 0, 0)];
    let prologue2 = [(ALU32_RSH_K, 3, 0, 0, 16), (LDX_MEM_W, 4, 1, 4, 0), (LDX_MEM_W, 5, 1, 8, 0)];
    let shape = |i: &BpfInsn| (i.code, i.dst(), i.src(), i.off, i.imm);
    let got: Vec<_> = p[..6].iter().map(shape).collect();
    assert_eq!(got, [prologue, prologue2].concat(), "prologue");
    let mut out = Vec::new();
    let mut pc = 6;
    loop {
        let mut jumps = Vec::new();
        let mut b: Block = (0, None, None, None, 0);
        let mut typed = false;
        while p[pc].code != ALU32_MOV_K || p[pc].dst() != 0 {
            let i = p[pc];
            match (i.code, i.dst()) {
                (JMP_JNE_K, 2) => (b.0, typed) = (i.imm as u32, true),
                (ALU32_MOV_X, 1) => {
                    assert_eq!((p[pc + 1].code, p[pc + 1].dst()), (ALU32_AND_K, 1));
                    assert_eq!((p[pc + 2].code, p[pc + 2].dst(), p[pc + 2].src()), (JMP_JNE_X, 1, 3));
                    b.1 = Some(p[pc + 1].imm as u32);
                    jumps.push(pc + 2);
                    pc += 2;
                }
                (JMP_JNE_K, 4) => b.2 = Some(i.imm as u32),
                (JMP_JNE_K, 5) => b.3 = Some(i.imm as u32),
                (ALU32_MOV_K, 1) => {
                    let j = p[pc + 1];
                    assert_eq!((j.code, j.src()), (JMP_JNE_X, 1));
                    *(if j.dst() == 4 { &mut b.2 } else { &mut b.3 }) = Some(i.imm as u32);
                    jumps.push(pc + 1);
                    pc += 1;
                }
                other => panic!("unexpected instruction {pc}: {other:?} in {p:?}"),
            }
            if i.code == JMP_JNE_K {
                jumps.push(pc);
            }
            pc += 1;
        }
        assert_eq!(p[pc + 1].code, JMP_EXIT);
        let verdict = p[pc].imm as u32;
        pc += 2;
        if !typed {
            assert!(jumps.is_empty() && pc == p.len(), "the default comes last");
            return (out, verdict);
        }
        for j in jumps {
            assert_eq!(j as i64 + 1 + i64::from(p[j].off), pc as i64, "jump at {j} goes to the next block");
        }
        b.4 = verdict;
        out.push(b);
    }
}

const DENY_ALL: &str = r#"{"allow": false, "access": "rwm"}"#;
const ALLOW_ALL: &str = r#"{"allow": true, "access": "rwm"}"#;

fn list(items: &[&str]) -> String {
    format!("[{}]", items.join(","))
}

#[test]
fn layout_of_kernel_structs() {
    use std::mem::size_of;
    assert_eq!(size_of::<BpfInsn>(), 8);
    assert_eq!((size_of::<LoadAttr>(), size_of::<AttachAttr>()), (64, 20));
    assert_eq!((size_of::<QueryAttr>(), size_of::<GetFdAttr>()), (32, 12));
    let i = BpfInsn { code: JMP_JNE_X, regs: 0x31, off: 0, imm: 0 };
    assert_eq!((i.dst(), i.src()), if cfg!(target_endian = "little") { (1, 3) } else { (3, 1) });
    assert!(LICENSE.ends_with(b"\0") && PROG_NAME.len() < 16);
}

#[test]
fn deny_all_is_the_prologue_and_return_0() {
    for json in ["[]".to_string(), list(&[DENY_ALL]), list(&[ALLOW_ALL, DENY_ALL])] {
        let p = program(&json);
        assert_eq!(p.len(), 8, "{json}");
        assert_eq!(blocks(&p), (vec![], 0));
    }
    let allow = program(&list(&[DENY_ALL, ALLOW_ALL]));
    assert_eq!(blocks(&allow), (vec![], 1));
    assert!(Filter::compile(&rules(&list(&[ALLOW_ALL]))).unwrap().allows_all());
    assert!(!Filter::compile(&rules("[]")).unwrap().allows_all());
}

#[test]
fn deny_all_and_allow_one_device() {
    let p = program(&list(&[DENY_ALL, r#"{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}"#]));
    assert_eq!(p.len(), 13);
    assert_eq!(blocks(&p), (vec![(DEV_CHAR, None, Some(1), Some(3), 1)], 0));
    // Partial access adds the mask test; wildcards drop the number tests.
    let p = program(r#"[{"allow": true, "type": "b", "major": 8, "access": "rw"}]"#);
    assert_eq!(p.len(), 15);
    assert_eq!(blocks(&p), (vec![(DEV_BLOCK, Some(ACC_READ | ACC_WRITE), Some(8), None, 1)], 0));
    let p = program(r#"[{"allow": true, "type": "c", "minor": 3, "access": "m"}]"#);
    assert_eq!(blocks(&p), (vec![(DEV_CHAR, Some(ACC_MKNOD), None, Some(3), 1)], 0));
    // `a` with a number is the rule for both types (as berth's v1 writes it).
    let p = program(r#"[{"allow": true, "type": "a", "major": 10, "access": "rwm"}]"#);
    assert_eq!(p.len(), 6 + 4 + 4 + 2);
    let expect = vec![(DEV_BLOCK, None, Some(10), None, 1), (DEV_CHAR, None, Some(10), None, 1)];
    assert_eq!(blocks(&p), (expect, 0));
    // Numbers above i32::MAX are compared through a register.
    let p = program(r#"[{"allow": true, "type": "c", "major": 4294967295, "minor": 2147483648}]"#);
    assert_eq!(p.len(), 6 + 7 + 2);
    assert_eq!(blocks(&p), (vec![(DEV_CHAR, None, Some(u32::MAX), Some(1 << 31), 1)], 0));
}

/// The cases of runc's devicefilter_test.go: the same blocks in the same order.
#[test]
fn same_programs_as_runc() {
    let builtin = r#"[
        {"allow": true, "type": "c", "access": "m"}, {"allow": true, "type": "b", "access": "m"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
        {"allow": true, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
        {"allow": true, "type": "c", "major": 136, "access": "rwm"},
        {"allow": true, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
        {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rwm"}]"#;
    let p = program(builtin);
    assert_eq!(p.len(), 64);
    let c = |major, minor: Option<u32>| (DEV_CHAR, None, Some(major), minor, 1);
    let expect = vec![
        (DEV_BLOCK, Some(ACC_MKNOD), None, None, 1),
        (DEV_CHAR, Some(ACC_MKNOD), None, None, 1),
        c(1, Some(3)),
        c(1, Some(5)),
        c(1, Some(7)),
        c(1, Some(8)),
        c(1, Some(9)),
        c(5, Some(0)),
        c(5, Some(2)),
        c(10, Some(200)),
        c(136, None),
    ];
    assert_eq!(blocks(&p), (expect, 0));
    let privileged = program(r#"[{"allow": true, "type": "a", "access": "rwm"}]"#);
    assert_eq!((privileged.len(), blocks(&privileged)), (8, (vec![], 1)));
    let except = r#"[{"allow": true, "type": "a"}, {"allow": false, "type": "b", "major": 8, "minor": 0}]"#;
    let p = program(except);
    assert_eq!((p.len(), blocks(&p)), (13, (vec![(DEV_BLOCK, None, Some(8), Some(0), 0)], 1)));
    let weird = r#"[{"allow": false, "type": "b", "major": 8, "minor": 1}, {"allow": true, "type": "a"},
        {"allow": false, "type": "b", "major": 8, "minor": 2}]"#;
    let p = program(weird);
    assert_eq!((p.len(), blocks(&p)), (13, (vec![(DEV_BLOCK, None, Some(8), Some(2), 0)], 1)));
}

const B: u32 = DEV_BLOCK;
const C: u32 = DEV_CHAR;
const R: u32 = ACC_READ;
const W: u32 = ACC_WRITE;
const M: u32 = ACC_MKNOD;

/// A request (type, access, major, minor) and whether it is allowed.
type Probe = (u32, u32, u32, u32, bool);

/// Rules (a JSON list) and requests with their verdicts.
#[test]
fn table_of_verdicts() {
    let allow_13 = r#"{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}"#;
    let cases: &[(&str, &[Probe])] = &[
        ("[]", &[(C, R, 1, 3, false), (B, M, 8, 0, false)]),
        (&list(&[ALLOW_ALL]), &[(C, R | W, 1, 3, true), (B, M, 8, 0, true)]),
        (
            &list(&[DENY_ALL, allow_13]),
            &[(C, R | W, 1, 3, true), (C, M, 1, 3, true), (C, R, 1, 5, false), (B, R, 1, 3, false)],
        ),
        // Access is a subset test.
        (
            r#"[{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "r"}]"#,
            &[(C, R, 1, 3, true), (C, W, 1, 3, false), (C, R | W, 1, 3, false), (C, M, 1, 3, false)],
        ),
        // Wildcards.
        (
            r#"[{"allow": true, "type": "c", "access": "m"}, {"allow": true, "type": "c", "major": 136}]"#,
            &[(C, M, 7, 9, true), (C, R, 7, 9, false), (B, M, 7, 9, false), (C, R | W, 136, 4, true)],
        ),
        (
            r#"[{"allow": true, "type": "b", "major": 8, "access": "rw"}]"#,
            &[
                (B, R, 8, 1, true),
                (B, R | W, 8, 17, true),
                (B, M, 8, 1, false),
                (C, R, 8, 1, false),
                (B, R, 9, 1, false),
            ],
        ),
        (
            r#"[{"allow": true, "minor": 0, "access": "r"}]"#,
            &[(B, R, 3, 0, true), (C, R, 4, 0, true), (C, R, 4, 1, false)],
        ),
        // `a` and no type: both kinds.
        (r#"[{"allow": true, "type": "a", "major": 10, "access": "r"}]"#, &[(B, R, 10, 1, true), (C, R, 10, 2, true)]),
        // The last matching rule wins...
        (
            &list(&[DENY_ALL, allow_13, r#"{"allow": false, "type": "c", "major": 1, "minor": 3, "access": "w"}"#]),
            &[(C, R, 1, 3, true), (C, W, 1, 3, false), (C, R | W, 1, 3, false), (C, M, 1, 3, true)],
        ),
        (
            &list(&[ALLOW_ALL, r#"{"allow": false, "type": "b", "major": 8, "minor": 0}"#]),
            &[(B, R, 8, 0, false), (B, R, 8, 1, true), (C, R, 8, 0, true)],
        ),
        (
            &list(&[ALLOW_ALL, r#"{"allow": false, "type": "c", "major": 1, "minor": 3}"#, allow_13]),
            &[(C, R, 1, 3, true)],
        ),
        // ... a full reset forgets what came before...
        (&list(&[allow_13, DENY_ALL]), &[(C, R, 1, 3, false)]),
        (&list(&[r#"{"allow": false, "type": "c", "major": 1, "minor": 3}"#, ALLOW_ALL]), &[(C, R, 1, 3, true)]),
        // ... but as in cgroup v1 (and runc), accesses add up per device, and
        // denying a wildcard only takes away that same wildcard rule.
        (
            r#"[{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "r"},
                {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "w"}]"#,
            &[(C, R | W, 1, 3, true), (C, M, 1, 3, false)],
        ),
        (&list(&[allow_13, r#"{"allow": false, "type": "c", "access": "rwm"}"#]), &[(C, R, 1, 3, true)]),
        (
            r#"[{"allow": true, "type": "c", "major": 1, "access": "w"},
                {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "r"}]"#,
            &[(C, W, 1, 3, true), (C, R, 1, 3, false)],
        ),
        // Numbers beyond i32 (no real device has them, but they compare right).
        (
            r#"[{"allow": true, "type": "c", "major": 4294967295, "minor": 2147483648}]"#,
            &[(C, R, u32::MAX, 1 << 31, true), (C, R, i32::MAX as u32, 1 << 31, false), (C, R, u32::MAX, 0, false)],
        ),
    ];
    for (json, probes) in cases {
        let p = program(json);
        for &(t, a, major, minor, want) in *probes {
            let got = run(&p, t, a, major, minor).unwrap();
            assert_eq!(got, u32::from(want), "{json}: type {t} access {} {major}:{minor}", access_text(a));
        }
    }
}

#[test]
fn refused_rules() {
    for (json, msg) in [
        (
            r#"[{"allow": true, "type": "c", "access": "rwm"}, {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "r"}]"#,
            "invalid linux.resources.devices[1] = deny c 1:3 r: an earlier rule allows c *:* rwm, and the devices \
             controller cannot take a part out of a wildcard rule",
        ),
        (
            r#"[{"allow": true}, {"allow": false, "type": "b", "major": 8}, {"allow": true, "type": "b", "major": 8, "minor": 1}]"#,
            "invalid linux.resources.devices[2] = allow b 8:1 rwm: an earlier rule denies b 8:* rwm",
        ),
        (r#"[{"allow": true, "type": "p"}]"#, "FIFOs (type p) cannot be allowed or denied"),
        (r#"[{"allow": true, "type": "c", "major": -2}]"#, "device numbers must be 0 to 4294967295 (-1 means any)"),
        (r#"[{"allow": true, "type": "c", "minor": 4294967296}]"#, "device numbers must be 0 to 4294967295"),
        (r#"[{"allow": true, "access": "rx"}]"#, "access \"rx\": access may only contain r, w and m"),
    ] {
        let e = Filter::compile(&rules(json)).unwrap_err();
        assert!(matches!(e, CgroupError::InvalidResource { .. }), "{e}");
        assert!(e.to_string().contains(msg), "{e}");
    }
}

/// cgroup v1's devices controller (security/device_cgroup.c), fed the lines
/// berth writes to devices.allow / devices.deny for each rule.
#[derive(Default)]
struct V1 {
    allow_default: bool,
    exceptions: Vec<(u32, Option<u32>, Option<u32>, u32)>,
}

impl V1 {
    fn write(&mut self, rule: &LinuxDeviceCgroup) {
        use oci_spec::runtime::LinuxDeviceType as T;
        let access = match rule.access().as_deref() {
            None | Some("") => "rwm".to_string(),
            Some(a) => a.to_string(),
        };
        let bits = access.chars().map(|c| match c {
            'r' => R,
            'w' => W,
            _ => M,
        });
        let bits = bits.fold(0, |a, b| a | b);
        let n = |n: Option<i64>| n.filter(|&n| n >= 0).map(|n| n as u32);
        let (major, minor) = (n(rule.major()), n(rule.minor()));
        let types = match rule.typ().unwrap_or(T::A) {
            T::A if major.is_none() && minor.is_none() && bits == 7 => {
                (self.allow_default, self.exceptions) = (rule.allow(), Vec::new());
                return;
            }
            T::A => vec![B, C],
            T::B => vec![B],
            _ => vec![C],
        };
        for t in types {
            let same = |e: &&mut (u32, Option<u32>, Option<u32>, u32)| (e.0, e.1, e.2) == (t, major, minor);
            if rule.allow() == self.allow_default {
                if let Some(e) = self.exceptions.iter_mut().find(same) {
                    e.3 &= !bits;
                }
                self.exceptions.retain(|e| e.3 != 0);
            } else if let Some(e) = self.exceptions.iter_mut().find(same) {
                e.3 |= bits;
            } else {
                self.exceptions.push((t, major, minor, bits));
            }
        }
    }

    fn allows(&self, t: u32, access: u32, major: u32, minor: u32) -> bool {
        let matched = self.exceptions.iter().any(|&(et, emaj, emin, eacc)| {
            et == t && emaj.is_none_or(|m| m == major) && emin.is_none_or(|m| m == minor) && access & !eacc == 0
        });
        matched != self.allow_default
    }
}

/// A xorshift generator, for rule lists that are random but the same every run.
pub(super) struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    /// Up to 6 rules of any type, verdict and access, with numbers from
    /// `majors` and `minors` or wildcards, and now and then a full reset.
    pub fn rules(&mut self, majors: [u32; 3], minors: [u32; 3]) -> Vec<LinuxDeviceCgroup> {
        let mut json = Vec::new();
        for _ in 0..self.below(7) {
            let (typ, major, minor, access) = if self.below(5) == 0 {
                ("a", "null".into(), "null".into(), "rwm")
            } else {
                let mut num = |of: [u32; 3]| match self.below(4) {
                    0 => "null".to_string(),
                    i => of[i as usize - 1].to_string(),
                };
                let (major, minor) = (num(majors), num(minors));
                let typ = ["a", "b", "c", "u"][self.below(4) as usize];
                (typ, major, minor, ["r", "w", "m", "rw", "rm", "wm", "rwm", "mwr"][self.below(8) as usize])
            };
            let allow = self.below(2) == 0;
            json.push(format!(
                r#"{{"allow": {allow}, "type": "{typ}", "major": {major}, "minor": {minor}, "access": "{access}"}}"#
            ));
        }
        rules(&format!("[{}]", json.join(",")))
    }
}

/// cgroup v1's verdict on a request after `rs`.
pub(super) fn v1_allows(rs: &[LinuxDeviceCgroup], t: u32, access: u32, major: u32, minor: u32) -> bool {
    let mut v1 = V1::default();
    rs.iter().for_each(|r| v1.write(r));
    v1.allows(t, access, major, minor)
}

/// Random rule lists: wherever berth compiles them, the program's verdict is
/// cgroup v1's for every probe.
#[test]
fn programs_agree_with_cgroup_v1() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mut compiled, mut refused) = (0, 0);
    for _ in 0..3000 {
        let rs = rng.rules([1, 2, 3], [1, 2, 3]);
        let Ok(filter) = Filter::compile(&rs) else {
            refused += 1;
            continue;
        };
        compiled += 1;
        let p = filter.program();
        for t in [B, C] {
            for access in 1..8 {
                for (major, minor) in [(0, 0), (1, 1), (1, 2), (2, 1), (2, 2), (3, 3), (9, 1)] {
                    let want = v1_allows(&rs, t, access, major, minor);
                    let got = run(&p, t, access, major, minor).unwrap();
                    assert_eq!(got, u32::from(want), "{rs:?}: type {t} {} {major}:{minor}", access_text(access));
                }
            }
        }
    }
    assert!(compiled > 2000 && refused > 50, "compiled {compiled}, refused {refused}");
}

#[test]
fn interpreter_catches_bad_programs() {
    let exit = BpfInsn { code: JMP_EXIT, regs: 0, off: 0, imm: 0 };
    assert!(run(&[exit], C, R, 1, 3).unwrap_err().contains("r0 read before set"));
    let jne = BpfInsn { code: JMP_JNE_K, regs: 1, off: 5, imm: 0 };
    assert!(run(&[jne, exit], C, R, 1, 3).unwrap_err().contains("jump to 6"));
}
