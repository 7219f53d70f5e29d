//! `exec`: a new process in a running container, from the container's own process
//! description with runc's flags on top (or `--process FILE`); waits for it and exits
//! with its status unless `--detach`, forwarding signals meanwhile.

use crate::cli::Exec;
use anyhow::{bail, Context};
use libcontainer::{Container, ExecOptions};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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

fn process_json(c: &Container, a: &Exec) -> anyhow::Result<Value> {
    if let Some(f) = &a.process {
        let text = std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("read {}: {e}", f.display()))?;
        return serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("parse {}: {e}", f.display()));
    }
    if a.command.is_empty() {
        bail!("exec: no command given (and no --process)");
    }
    let cfg: Value = serde_json::from_slice(
        &std::fs::read(c.bundle().join("config.json"))
            .map_err(|e| anyhow::anyhow!("read {}/config.json: {e}", c.bundle().display()))?,
    )?;
    let mut p = cfg.get("process").cloned().unwrap_or_else(|| json!({}));
    p["args"] = json!(a.command);
    p["terminal"] = json!(a.tty);
    if let Some(cwd) = &a.cwd {
        p["cwd"] = json!(cwd);
    }
    let mut env: Vec<Value> = p["env"].as_array().cloned().unwrap_or_default();
    env.extend(a.env.iter().map(|e| json!(e)));
    p["env"] = Value::Array(env);
    if let Some(u) = &a.user {
        let (uid, gid) = parse_user(u)?;
        p["user"]["uid"] = json!(uid);
        p["user"]["gid"] = json!(gid.unwrap_or(0));
    }
    if !a.additional_gids.is_empty() {
        p["user"]["additionalGids"] = json!(a.additional_gids);
    }
    for cap in &a.cap {
        // Added to bounding, effective and permitted; never to inheritable or ambient
        // (the CVE-2022-29162 lesson).
        for set in ["bounding", "effective", "permitted"] {
            let list = p["capabilities"][set].as_array().cloned().unwrap_or_default();
            if !list.iter().any(|c| c == cap) {
                let mut list = list;
                list.push(json!(cap));
                p["capabilities"][set] = Value::Array(list);
            }
        }
    }
    if a.no_new_privs {
        p["noNewPrivileges"] = json!(true);
    }
    if let Some(l) = &a.apparmor {
        p["apparmorProfile"] = json!(l);
    }
    if let Some(l) = &a.process_label {
        p["selinuxLabel"] = json!(l);
    }
    Ok(p)
}

pub fn run(root: &Path, a: Exec) -> anyhow::Result<i32> {
    let c = Container::load(root, &a.id)?;
    let source = a.process.as_ref().map(|f| f.display().to_string()).unwrap_or_else(|| "config.json".into());
    let process = serde_json::from_value(process_json(&c, &a)?)
        .map_err(|e| anyhow::anyhow!("invalid process in {source}: {e}"))?;
    let (console, ours) = super::console::console(a.console_socket.as_deref(), a.detach)?;
    let sub_cgroups = parse_sub_cgroups(&a.cgroup)?;
    let opts =
        ExecOptions { process, preserve_fds: a.preserve_fds, ignore_paused: a.ignore_paused, console, sub_cgroups };
    if !a.detach {
        super::forward::block()?;
    }
    let proc_ = c.exec(opts)?;
    if let Some(f) = &a.pid_file {
        libcontainer::container::write_pid_file(f, proc_.pid)?;
    }
    if a.detach {
        return Ok(0);
    }
    let relay = super::console::relay(ours)?;
    super::forward::until_exit(proc_.pid, relay)
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
