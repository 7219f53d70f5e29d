//! A cache of compiled seccomp programs, so that a profile is compiled once per berth
//! version, libseccomp version and kernel (crun keeps one too). Compiling a 200-syscall
//! allowlist costs milliseconds; reading it back costs microseconds.
//!
//! One JSON file per profile under the runtime's root (root-owned, 0700), named by a hash
//! of the profile and the versions; the file keeps the profile itself, which is compared
//! on load, so a hash collision can never hand out another profile's program.

use libc::sock_filter;
use oci_spec::runtime::LinuxSeccomp;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

fn kernel_release() -> String {
    nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default()
}

fn key(spec: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (env!("CARGO_PKG_VERSION"), seccomp::libseccomp_version(), kernel_release(), spec).hash(&mut h);
    format!("{:016x}", h.finish())
}

fn path(dir: &Path, spec: &str) -> PathBuf {
    dir.join(format!("{}.json", key(spec)))
}

/// The cached program for `s`, if there is a valid one, and the file it is in.
pub fn load(dir: &Path, s: &LinuxSeccomp) -> Option<(seccomp::Program, PathBuf)> {
    let spec = serde_json::to_string(s).ok()?;
    let file = path(dir, &spec);
    Some((parse(&std::fs::read(&file).ok()?, Some(&spec))?, file))
}

/// The program in a cache file named by the container's own state (`exec`: the filter
/// its init loaded, whatever the bundle's config.json says now).
pub fn load_file(file: &Path) -> Option<seccomp::Program> {
    parse(&std::fs::read(file).ok()?, None)
}

fn parse(text: &[u8], spec: Option<&str>) -> Option<seccomp::Program> {
    let v: serde_json::Value = serde_json::from_slice(text).ok()?;
    if spec.is_some_and(|s| v["spec"].as_str() != Some(s)) {
        return None;
    }
    let insns = v["insns"]
        .as_array()?
        .iter()
        .map(|i| {
            let a = i.as_array()?;
            Some(sock_filter {
                code: u16::try_from(a.first()?.as_u64()?).ok()?,
                jt: u8::try_from(a.get(1)?.as_u64()?).ok()?,
                jf: u8::try_from(a.get(2)?.as_u64()?).ok()?,
                k: u32::try_from(a.get(3)?.as_u64()?).ok()?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let flags = u32::try_from(v["flags"].as_u64()?).ok()?;
    seccomp::Program::from_parts(insns, flags, v["notify"].as_bool()?).ok()
}

/// Store `p` for `s` (atomically; a failure only costs the next compile); the file it is
/// in, when it was stored.
pub fn store(dir: &Path, s: &LinuxSeccomp, p: &seccomp::Program) -> Option<PathBuf> {
    let spec = serde_json::to_string(s).ok()?;
    let insns: Vec<[u64; 4]> =
        p.insns().iter().map(|i| [i.code.into(), i.jt.into(), i.jf.into(), i.k.into()]).collect();
    let v = serde_json::json!({"spec": spec, "flags": p.flags(), "notify": p.uses_notify(), "insns": insns});
    let dest = path(dir, &spec);
    let tmp = dest.with_extension(format!("tmp{}", std::process::id()));
    let r = std::fs::create_dir_all(dir)
        .and_then(|_| std::fs::write(&tmp, v.to_string()))
        .and_then(|_| std::fs::rename(&tmp, &dest));
    match r {
        Ok(()) => Some(dest),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            tracing::debug!("seccomp cache: store {dest:?}: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_mismatch() {
        let dir = std::env::temp_dir().join(format!("berth-sccache-{}", std::process::id()));
        let s: LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]
        }))
        .unwrap();
        assert!(load(&dir, &s).is_none());
        let p = seccomp::compile(&s).unwrap();
        let file = store(&dir, &s, &p).unwrap();
        assert_eq!(load(&dir, &s), Some((p.clone(), file.clone())));
        assert_eq!(load_file(&file), Some(p));
        // Another profile never gets this program, even from a file under its name.
        let other: LinuxSeccomp =
            serde_json::from_value(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"})).unwrap();
        let spec_other = serde_json::to_string(&other).unwrap();
        let spec = serde_json::to_string(&s).unwrap();
        std::fs::copy(path(&dir, &spec), path(&dir, &spec_other)).unwrap();
        assert!(load(&dir, &other).is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
