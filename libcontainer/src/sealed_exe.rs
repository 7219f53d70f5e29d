//! The runtime's own executable, sealed before any container can see it (CVE-2019-5736).
//!
//! A container's init and exec'd processes are clones of the runtime, so until their last
//! `execve` their `/proc/<pid>/exe` is the runtime's binary, and an image whose entrypoint
//! is a script starting `#!/proc/self/exe` makes the kernel run that very binary inside the
//! container, as a dumpable process any container process may open `/proc/<pid>/exe` of.
//! Holding that link until no copy of the runtime runs, then reopening it for writing,
//! rewrote runc's binary on the host. So before `create`, `run` or `exec` the runtime
//! re-executes itself ([`ensure`]) from something that cannot be written through:
//! - a detached, read-only bind mount of its own file (`open_tree(OPEN_TREE_CLONE)` +
//!   `mount_setattr(MOUNT_ATTR_RDONLY)`: no copy, the mount is attached nowhere and goes
//!   away with the last process that runs from it): writes through the link get `EROFS`;
//! - where the kernel lacks those calls (before 5.12), a sealed memfd copy (runc's way):
//!   writes get `EPERM`.
//!
//! A binary already on a read-only mount, or already a sealed memfd, is used as it is.
//! Embedders whose program creates containers call [`ensure`] first thing in `main`.

use crate::rootfs::sys::mount_setattr;
use crate::syserr::{SysError, SysResultExt};
use nix::fcntl::{fcntl, AtFlags, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::statvfs::{fstatvfs, FsFlags};
use std::ffi::{CString, OsString};
use std::fs::File;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;

/// Set in the environment of the re-executed runtime, so that a copy that somehow still
/// looks unsealed fails instead of re-executing forever. [`ensure`] removes it.
const MARKER: &str = "_BERTH_SEALED_EXE";

/// The seals a sealed memfd copy carries.
fn memfd_seals() -> SealFlag {
    SealFlag::F_SEAL_SEAL | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE
}

/// Whether `exe` (an open executable) cannot be written through: on a read-only mount,
/// or a memfd sealed against writes.
pub fn is_sealed(exe: impl AsFd) -> Result<bool, SysError> {
    let st = fstatvfs(exe.as_fd()).op(|| "fstatvfs of the runtime's executable".into())?;
    if st.flags().contains(FsFlags::ST_RDONLY) {
        return Ok(true);
    }
    // F_GET_SEALS fails with EINVAL on files that are not memfds.
    Ok(fcntl(exe.as_fd(), FcntlArg::F_GET_SEALS)
        .map(|s| SealFlag::from_bits_truncate(s).contains(SealFlag::F_SEAL_WRITE))
        .unwrap_or(false))
}

/// Make sure this process runs from a sealed executable, re-executing it (same arguments,
/// same environment) from a sealed one if not. Returns only when already sealed; call it
/// while the process is still single-threaded.
pub fn ensure() -> Result<(), SysError> {
    let exe = File::open("/proc/self/exe").op(|| "open \"/proc/self/exe\"".into())?;
    let reexecuted = std::env::var_os(MARKER).is_some();
    if is_sealed(&exe)? {
        if reexecuted {
            // Callers are single-threaded here (see above): no other thread reads the
            // environment while it changes.
            std::env::remove_var(MARKER);
        }
        return Ok(());
    }
    if reexecuted {
        return Err(SysError::new("re-execute the runtime from a sealed copy", nix::errno::Errno::EPERM)
            .hint("the copy is still writable; /proc/self/exe is neither read-only nor a sealed memfd"));
    }
    let sealed = match read_only_clone() {
        Ok(fd) => fd,
        Err(e) => {
            tracing::debug!("sealing the runtime's executable with a read-only mount: {e}; copying it to a memfd");
            memfd_copy(exe)?
        }
    };
    let args = to_cstrings(std::env::args_os())?;
    let mut env = to_cstrings(std::env::vars_os().map(|(k, v)| {
        let mut kv = k;
        kv.push("=");
        kv.push(v);
        kv
    }))?;
    env.push(CString::new(format!("{MARKER}=1")).expect("no NUL in the marker"));
    let e = nix::unistd::execveat(&sealed, c"", &args, &env, AtFlags::AT_EMPTY_PATH).unwrap_err();
    Err(SysError::new("execveat the runtime's sealed executable", e))
}

fn to_cstrings(items: impl Iterator<Item = OsString>) -> Result<Vec<CString>, SysError> {
    items
        .map(|s| {
            CString::new(s.into_vec()).map_err(|_| SysError::new("argument with a NUL byte", nix::errno::Errno::EINVAL))
        })
        .collect()
}

/// A detached read-only bind mount of this process's executable, as an `O_PATH` fd.
fn read_only_clone() -> Result<OwnedFd, SysError> {
    // SAFETY: the path is a NUL-terminated literal; open_tree returns a new fd or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c"/proc/self/exe".as_ptr(),
            libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(SysError::new("open_tree(OPEN_TREE_CLONE) \"/proc/self/exe\"", nix::errno::Errno::last()));
    }
    // SAFETY: open_tree just returned this fd and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let attrs = libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV;
    mount_setattr(&fd, false, attrs, 0, "\"/proc/self/exe\" (its detached clone)")?;
    if !is_sealed(&fd)? {
        return Err(SysError::new("make the clone of \"/proc/self/exe\" read-only", nix::errno::Errno::EROFS));
    }
    Ok(fd)
}

/// A memfd holding a copy of `exe`, sealed against writes, resizing and further sealing.
fn memfd_copy(mut exe: File) -> Result<OwnedFd, SysError> {
    let fd = memfd_create(c"berth", MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING)
        .op(|| "memfd_create for a copy of the runtime".into())?;
    let mut copy = File::from(fd);
    std::io::copy(&mut exe, &mut copy).map_err(|e| {
        SysError::new(
            "copy the runtime into a memfd",
            nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        )
    })?;
    fcntl(&copy, FcntlArg::F_ADD_SEALS(memfd_seals())).op(|| "seal the runtime's memfd copy".into())?;
    Ok(OwnedFd::from(copy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_file_is_not_sealed_and_a_sealed_memfd_is() {
        let dir = std::env::temp_dir().join(format!("berth-seal-{}", std::process::id()));
        std::fs::write(&dir, b"not sealed").unwrap();
        let plain = File::open(&dir).unwrap();
        let _ = std::fs::remove_file(&dir);
        if !is_sealed(&plain).unwrap() {
            // (A read-only temp dir would make the file count as sealed, rightly.)
            let copy = memfd_copy(plain).unwrap();
            assert!(is_sealed(&copy).unwrap(), "a memfd with F_SEAL_WRITE counts as sealed");
            let f = File::from(copy);
            use std::io::Write;
            assert!((&f).write_all(b"x").is_err(), "the sealed copy takes no write");
        }
    }

    #[test]
    fn an_unsealed_memfd_is_not_sealed() {
        let fd = memfd_create(c"t", MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING).unwrap();
        assert!(!is_sealed(&fd).unwrap());
    }
}
