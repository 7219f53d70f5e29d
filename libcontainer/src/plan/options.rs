//! Mount options as config.json spells them, parsed into what the kernel takes.
//!
//! `options` in a mount mixes four kinds of words, as runc understands them:
//! classic `MS_*` flags (`ro`, `nosuid`, `relatime`, ...), their negations (`rw`, `suid`),
//! propagation (`rshared`, `private`, ...), recursive attributes applied with
//! `mount_setattr(2)` + `AT_RECURSIVE` (`rro`, `rnosuid`, ...), and everything else,
//! which is filesystem data (`mode=755`, `size=64k`) passed to `mount(2)` as a string.

use nix::mount::MsFlags;

/// `MOUNT_ATTR_*` values from `<linux/mount.h>` (not all are in libc on every version).
pub mod attr {
    pub const RDONLY: u64 = 0x0000_0001;
    pub const NOSUID: u64 = 0x0000_0002;
    pub const NODEV: u64 = 0x0000_0004;
    pub const NOEXEC: u64 = 0x0000_0008;
    pub const ATIME_MASK: u64 = 0x0000_0070;
    pub const RELATIME: u64 = 0x0000_0000;
    pub const NOATIME: u64 = 0x0000_0010;
    pub const STRICTATIME: u64 = 0x0000_0020;
    pub const NODIRATIME: u64 = 0x0000_0080;
    pub const NOSYMFOLLOW: u64 = 0x0020_0000;
}

/// Parsed mount options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// `MS_*` flags to set.
    pub flags: MsFlags,
    /// `MS_*` flags the options explicitly clear (`rw`, `suid`, ...).
    pub cleared: MsFlags,
    /// Propagation changes, applied in order after the mount (`MS_SHARED|MS_REC`, ...).
    pub propagation: Vec<MsFlags>,
    /// Recursive attributes to set with `mount_setattr(AT_RECURSIVE)`.
    pub rec_attr_set: u64,
    /// Recursive attributes to clear.
    pub rec_attr_clr: u64,
    /// Filesystem-specific data, comma-joined (`mode=755,size=65536k`).
    pub data: String,
    /// `tmpcopyup` (tmpfs only): fill the new tmpfs with what the directory held.
    pub tmpcopyup: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            rec_attr_set: 0,
            rec_attr_clr: 0,
            tmpcopyup: false,
            data: String::new(),
        }
    }
}

impl MountOptions {
    /// Whether this is a bind mount (`bind` or `rbind`, or type "bind").
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }
}

fn flag(word: &str) -> Option<(bool, MsFlags)> {
    use MsFlags as M;
    Some(match word {
        "defaults" => (false, M::empty()),
        "ro" => (false, M::MS_RDONLY),
        "rw" => (true, M::MS_RDONLY),
        "suid" => (true, M::MS_NOSUID),
        "nosuid" => (false, M::MS_NOSUID),
        "dev" => (true, M::MS_NODEV),
        "nodev" => (false, M::MS_NODEV),
        "exec" => (true, M::MS_NOEXEC),
        "noexec" => (false, M::MS_NOEXEC),
        "sync" => (false, M::MS_SYNCHRONOUS),
        "async" => (true, M::MS_SYNCHRONOUS),
        "dirsync" => (false, M::MS_DIRSYNC),
        "remount" => (false, M::MS_REMOUNT),
        "mand" => (false, M::MS_MANDLOCK),
        "nomand" => (true, M::MS_MANDLOCK),
        "atime" => (true, M::MS_NOATIME),
        "noatime" => (false, M::MS_NOATIME),
        "diratime" => (true, M::MS_NODIRATIME),
        "nodiratime" => (false, M::MS_NODIRATIME),
        "relatime" => (false, M::MS_RELATIME),
        "norelatime" => (true, M::MS_RELATIME),
        "strictatime" => (false, M::MS_STRICTATIME),
        "nostrictatime" => (true, M::MS_STRICTATIME),
        "iversion" => (false, M::MS_I_VERSION),
        "noiversion" => (true, M::MS_I_VERSION),
        "lazytime" => (false, M::MS_LAZYTIME),
        "nolazytime" => (true, M::MS_LAZYTIME),
        "silent" => (false, M::MS_SILENT),
        "loud" => (true, M::MS_SILENT),
        "bind" => (false, M::MS_BIND),
        "rbind" => (false, M::MS_BIND.union(M::MS_REC)),
        "nosymfollow" => (false, M::from_bits_retain(libc::MS_NOSYMFOLLOW)),
        "symfollow" => (true, M::from_bits_retain(libc::MS_NOSYMFOLLOW)),
        _ => return None,
    })
}

fn propagation(word: &str) -> Option<MsFlags> {
    use MsFlags as M;
    Some(match word {
        "private" => M::MS_PRIVATE,
        "rprivate" => M::MS_PRIVATE | M::MS_REC,
        "shared" => M::MS_SHARED,
        "rshared" => M::MS_SHARED | M::MS_REC,
        "slave" => M::MS_SLAVE,
        "rslave" => M::MS_SLAVE | M::MS_REC,
        "unbindable" => M::MS_UNBINDABLE,
        "runbindable" => M::MS_UNBINDABLE | M::MS_REC,
        _ => return None,
    })
}

/// `(clear, attribute)` for recursive `r*` options, as runc accepts them.
fn rec_attr(word: &str) -> Option<(bool, u64)> {
    Some(match word {
        "rro" => (false, attr::RDONLY),
        "rrw" => (true, attr::RDONLY),
        "rnosuid" => (false, attr::NOSUID),
        "rsuid" => (true, attr::NOSUID),
        "rnodev" => (false, attr::NODEV),
        "rdev" => (true, attr::NODEV),
        "rnoexec" => (false, attr::NOEXEC),
        "rexec" => (true, attr::NOEXEC),
        "rnodiratime" => (false, attr::NODIRATIME),
        "rdiratime" => (true, attr::NODIRATIME),
        "rrelatime" => (false, attr::RELATIME),
        "rnorelatime" => (true, attr::RELATIME),
        "rnoatime" => (false, attr::NOATIME),
        "ratime" => (true, attr::NOATIME),
        "rstrictatime" => (false, attr::STRICTATIME),
        "rnostrictatime" => (true, attr::STRICTATIME),
        "rnosymfollow" => (false, attr::NOSYMFOLLOW),
        "rsymfollow" => (true, attr::NOSYMFOLLOW),
        _ => return None,
    })
}

/// Every mount option word berth recognises (features JSON); others become filesystem data.
pub const KNOWN: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "remount",
    "rexec",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "unbindable",
];

/// Why an option list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    /// An option berth recognises but cannot honour yet.
    #[error("mount option {0:?} is not supported by berth yet")]
    Unsupported(String),
    /// An empty word in the list.
    #[error("empty mount option")]
    Empty,
}

/// Parse a mount's `options` list. Unknown words become filesystem data, as with runc.
pub fn parse(options: &[String]) -> Result<MountOptions, OptionError> {
    let mut o = MountOptions::default();
    let mut data = Vec::new();
    for word in options {
        let w = word.as_str();
        if w.is_empty() {
            return Err(OptionError::Empty);
        }
        if let Some((clear, f)) = flag(w) {
            if clear {
                o.flags.remove(f);
                o.cleared.insert(f);
            } else {
                o.flags.insert(f);
                o.cleared.remove(f);
            }
        } else if let Some(p) = propagation(w) {
            o.propagation.push(p);
        } else if let Some((clear, a)) = rec_attr(w) {
            if a & attr::ATIME_MASK != 0 || a == attr::RELATIME {
                // The atime attributes are one field: setting one replaces the others.
                o.rec_attr_clr |= attr::ATIME_MASK;
                o.rec_attr_set &= !attr::ATIME_MASK;
                if !clear {
                    o.rec_attr_set |= a;
                }
            } else if clear {
                o.rec_attr_clr |= a;
                o.rec_attr_set &= !a;
            } else {
                o.rec_attr_set |= a;
                o.rec_attr_clr &= !a;
            }
        } else if w == "tmpcopyup" {
            o.tmpcopyup = true;
        } else if matches!(w, "idmap" | "ridmap") {
            return Err(OptionError::Unsupported(w.to_string()));
        } else {
            data.push(w);
        }
    }
    o.data = data.join(",");
    Ok(o)
}

/// Render flags the way people write them, for error messages: `MS_BIND|MS_REC`.
pub fn flags_to_string(flags: MsFlags) -> String {
    if flags.is_empty() {
        return "0".into();
    }
    let mut parts: Vec<String> = flags.iter_names().map(|(n, _)| n.to_string()).collect();
    let rest = flags.bits() & !MsFlags::all().bits();
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    parts.join("|")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(words: &[&str]) -> MountOptions {
        parse(&words.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn flags_and_data_are_split() {
        let o = p(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
    }

    #[test]
    fn later_words_win() {
        let o = p(&["ro", "rw"]);
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
        assert!(o.cleared.contains(MsFlags::MS_RDONLY));
        let o = p(&["rw", "ro"]);
        assert!(o.flags.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn rbind_is_recursive_bind() {
        let o = p(&["rbind", "ro"]);
        assert!(o.is_bind());
        assert!(o.flags.contains(MsFlags::MS_REC));
    }

    #[test]
    fn propagation_kept_in_order() {
        let o = p(&["rslave", "shared"]);
        assert_eq!(o.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC, MsFlags::MS_SHARED]);
        assert!(o.data.is_empty());
    }

    #[test]
    fn recursive_attributes() {
        let o = p(&["rro", "rnosuid", "rnoatime"]);
        assert_eq!(o.rec_attr_set, attr::RDONLY | attr::NOSUID | attr::NOATIME);
        assert_eq!(o.rec_attr_clr, attr::ATIME_MASK);
        let o = p(&["rro", "rrw"]);
        assert_eq!(o.rec_attr_set, 0);
        assert_eq!(o.rec_attr_clr, attr::RDONLY);
    }

    #[test]
    fn unsupported_and_empty_words_are_errors() {
        assert_eq!(parse(&["idmap".into()]), Err(OptionError::Unsupported("idmap".into())));
        assert_eq!(parse(&["".into()]), Err(OptionError::Empty));
    }

    #[test]
    fn every_known_option_is_parsed_as_one() {
        for w in KNOWN {
            let known = flag(w).is_some() || propagation(w).is_some() || rec_attr(w).is_some();
            assert!(known || parse(&[w.to_string()]).is_ok_and(|o| o.tmpcopyup), "{w} is not parsed");
        }
    }

    /// A deterministic fuzz smoke: random option lists (known words, variants and junk)
    /// parse or fail with an error, never panic.
    #[test]
    fn random_option_lists_never_panic() {
        let mut next = crate::test_rng::xorshift(0x2545_f491_4f6c_dd1d);
        let extra = ["", "idmap", "ridmap", "mode=", "size=1k", "=", ",", "r", "\0", "rro,rw", "é"];
        for _ in 0..20_000 {
            let words: Vec<String> = (0..next() % 8)
                .map(|_| match next() % 3 {
                    0 => KNOWN[next() as usize % KNOWN.len()].to_string(),
                    1 => extra[next() as usize % extra.len()].to_string(),
                    _ => (0..next() % 6).map(|_| (b'a' + (next() % 27) as u8) as char).collect(),
                })
                .collect();
            let _ = parse(&words);
        }
    }

    #[test]
    fn flags_render_readably() {
        assert_eq!(flags_to_string(MsFlags::MS_BIND | MsFlags::MS_REC), "MS_BIND|MS_REC");
        assert_eq!(flags_to_string(MsFlags::empty()), "0");
    }
}
