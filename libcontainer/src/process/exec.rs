//! The last moments before the container's program runs: finding it, a clean signal
//! state and fd table, and `execve(2)`.

use crate::syserr::{SysError, SysResultExt};
use nix::errno::Errno;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The value of `key` in a `KEY=value` environment.
pub fn env_get<'a>(env: &'a [String], key: &str) -> Option<&'a str> {
    env.iter().rev().find_map(|e| e.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Find `prog` the way runc does: a name with a `/` is used as is; otherwise each
/// directory of `$PATH` from the process's environment is searched.
pub fn lookup(prog: &str, env: &[String]) -> Result<PathBuf, SysError> {
    if prog.contains('/') {
        let p = PathBuf::from(prog);
        std::fs::metadata(&p).op(|| format!("exec: stat {prog:?}"))?;
        if !is_executable(&p) {
            return Err(SysError::new(format!("exec: {prog:?}"), Errno::EACCES).hint("it is not an executable file"));
        }
        return Ok(p);
    }
    let path = env_get(env, "PATH").unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(prog);
        if is_executable(&cand) {
            return Ok(cand);
        }
    }
    Err(SysError::new(format!("exec: {prog:?}: executable file not found in $PATH"), Errno::ENOENT)
        .hint(format!("PATH is {path:?}")))
}

/// Change to `cwd` resolved inside `root` (no magic links, no `..` above the root), so
/// a `cwd` like `/proc/self/fd/N` can never lead to a directory the runtime held open
/// (CVE-2024-21626); then check that the working directory is reachable from the root.
pub fn enter_cwd(root: &pathrs::Root, cwd: &Path) -> Result<(), SysError> {
    let h = root.resolve(cwd).op(|| format!("resolve cwd {cwd:?} inside the container"))?;
    nix::unistd::fchdir(&h).op(|| format!("chdir to cwd {cwd:?}"))?;
    // getcwd fails with ENOENT for a directory outside the process's root: belt and braces.
    nix::unistd::getcwd()
        .op(|| format!("check cwd {cwd:?}"))
        .map_err(|e| e.hint("the working directory is outside the container's root; refusing it"))
        .map(drop)
}

/// The home directory of `uid` from the rootfs's /etc/passwd, "/" when there is none.
pub fn home_of(uid: u32) -> String {
    crate::passwd::lookup_file(uid).map(|e| e.home).unwrap_or_else(|| "/".into())
}

/// Default dispositions and an empty signal mask: ignored signals survive `execve`,
/// and berth ignores SIGPIPE like every Rust program.
pub fn reset_signals() -> Result<(), SysError> {
    let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for s in Signal::iterator() {
        if s != Signal::SIGKILL && s != Signal::SIGSTOP {
            // SAFETY: installing SIG_DFL runs no code of ours in signal context.
            unsafe { sigaction(s, &dfl) }.op(|| format!("reset {s}"))?;
        }
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .op(|| "clear the signal mask".into())
}

/// Mark every fd from `first` up close-on-exec, so nothing berth had open reaches
/// the container (the CVE-2024-21626 lesson).
pub fn cloexec_from(first: u32) -> Result<(), SysError> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags on our own fds.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
    if r != 0 {
        return Err(SysError::new("close_range(CLOSE_RANGE_CLOEXEC)", Errno::last()));
    }
    Ok(())
}

fn cstrings(v: &[String], what: &str) -> Result<Vec<CString>, SysError> {
    v.iter()
        .map(|s| {
            CString::new(s.as_str()).map_err(|_| SysError::new(format!("{what} {s:?} contains NUL"), Errno::EINVAL))
        })
        .collect()
}

/// `execve(path, args, env)`; returns only on failure.
pub fn execve(path: &Path, args: &[String], env: &[String]) -> SysError {
    let run = || -> Result<std::convert::Infallible, SysError> {
        let p = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| SysError::new("exec path contains NUL", Errno::EINVAL))?;
        let a = cstrings(args, "argument")?;
        let e = cstrings(env, "environment entry")?;
        nix::unistd::execve(&p, &a, &e).op(|| format!("exec {path:?}"))
    };
    match run() {
        Err(e) => e,
        Ok(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_lookup_takes_the_last_value() {
        let env = vec!["PATH=/a".to_string(), "X=1".into(), "PATH=/b".into()];
        assert_eq!(env_get(&env, "PATH"), Some("/b"));
        assert_eq!(env_get(&env, "PAT"), None);
    }

    #[test]
    fn lookup_searches_path() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        let p = lookup("sh", &env).unwrap();
        assert!(p.ends_with("sh"));
        let e = lookup("surely-not-a-program", &env).unwrap_err();
        assert_eq!(e.errno(), Errno::ENOENT);
        assert!(e.to_string().contains("executable file not found in $PATH"));
        assert!(lookup("/nonexistent/x", &env).is_err());
    }
}
