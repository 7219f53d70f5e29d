//! `exec`: a new process in a running container, from the container's own process
//! description with runc's flags on top (or `--process FILE`); waits for it and exits
//! with its status unless `--detach`, forwarding signals meanwhile.

use crate::cli::Exec;
use crate::parse::{parse_sub_cgroups, parse_user};
use anyhow::bail;
use libcontainer::{Container, ExecOptions};
use serde_json::{json, Value};
use std::path::Path;

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
