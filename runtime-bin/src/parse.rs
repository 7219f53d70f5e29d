//! Parsers of the values of berth's own flags (`exec --user`, `exec --cgroup`): pure,
//! strict (anything unexpected is refused rather than guessed at), and fuzzed
//! (`fuzz/fuzz_targets/cli.rs` includes this file and `cli.rs`).

use anyhow::{bail, Context};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `uid[:gid]`, numbers only: anything else is refused rather than guessed at.
pub fn parse_user(s: &str) -> anyhow::Result<(u32, Option<u32>)> {
    let num = |p: &str| -> anyhow::Result<u32> {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            bail!("invalid --user {s:?}: expected uid[:gid] as numbers");
        }
        p.parse::<u32>().with_context(|| format!("invalid --user {s:?}: out of range"))
    };
    match s.split_once(':') {
        None => Ok((num(s)?, None)),
        Some((u, g)) => Ok((num(u)?, Some(num(g)?))),
    }
}

/// runc's `--cgroup` arguments: `path` alone (once), or `ctrl[,ctrl]:path` (each
/// controller once).
pub fn parse_sub_cgroups(args: &[String]) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    for a in args {
        let parts: Vec<&str> = a.splitn(3, ':').collect();
        match parts.as_slice() {
            [path] if args.len() == 1 => {
                out.insert(String::new(), PathBuf::from(path));
            }
            [_] => bail!("invalid --cgroup argument: {a} (missing <controller>: prefix)"),
            [ctrls, path] => {
                for c in ctrls.split(',') {
                    if c.is_empty() {
                        bail!("invalid --cgroup argument: {a} (empty <controller> prefix)");
                    }
                    if out.insert(c.to_string(), PathBuf::from(path)).is_some() {
                        bail!("invalid --cgroup argument(s): controller {c} specified multiple times");
                    }
                }
            }
            _ => bail!("invalid --cgroup argument: {a}"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::parse_user;

    #[test]
    fn sub_cgroups_follow_runc() {
        use super::parse_sub_cgroups as p;
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(p(&v(&["sub"])).unwrap().get(""), Some(&std::path::PathBuf::from("sub")));
        let m = p(&v(&["cpu,memory:a", "pids:b"])).unwrap();
        assert_eq!((m["cpu"].to_str(), m["memory"].to_str(), m["pids"].to_str()), (Some("a"), Some("a"), Some("b")));
        for bad in [&["a", "b"][..], &[":x"], &["cpu,:x"], &["cpu:a", "cpu:b"], &["a:b:c"]] {
            assert!(p(&v(bad)).is_err(), "{bad:?} accepted");
        }
    }

    /// A deterministic fuzz smoke of the `--user` parser (the CVE-2026-30892 class:
    /// strict parsing): random strings never panic, and whatever parses is digits only.
    #[test]
    fn random_user_strings_never_panic() {
        let mut x: u64 = 0x1234_5678_9abc_def1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet: Vec<char> = "0123456789:-+ abc\u{0}é".chars().collect();
        for _ in 0..20_000 {
            let s: String = (0..next() % 12).map(|_| alphabet[next() as usize % alphabet.len()]).collect();
            if parse_user(&s).is_ok() {
                assert!(s.chars().all(|c| c.is_ascii_digit() || c == ':'), "{s:?} accepted");
            }
        }
    }

    #[test]
    fn users_are_parsed_strictly() {
        assert_eq!(parse_user("1000").unwrap(), (1000, None));
        assert_eq!(parse_user("1000:100").unwrap(), (1000, Some(100)));
        for bad in ["", ":", "1000:", ":5", "root", "1000:users", "-1", "1 ", "1:2:3", "99999999999"] {
            assert!(parse_user(bad).is_err(), "{bad:?} accepted");
        }
    }
}
