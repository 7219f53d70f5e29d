//! `tmpcopyup`: a tmpfs mounted over a directory of the image starts with a copy of what
//! the directory held (podman asks for it on the tmpfs mounts of a `--read-only`
//! container: `/run`, `/tmp`, `/var/tmp`). The source is read through a directory fd
//! opened before the mount, which keeps seeing the covered directory; every entry is
//! opened relative to its parent's fd with `O_NOFOLLOW`, and symlinks are copied as
//! symlinks, so nothing in the image can send the copy outside it.

use crate::syserr::{SysError, SysResultExt};
use nix::dir::{Dir, Type};
use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstatat, mkdirat, mknodat, FileStat, Mode, SFlag};
use nix::unistd::{fchown, fchownat, symlinkat, Gid, Uid};
use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Deeper than any image needs; a bound against pathological trees.
const MAX_DEPTH: usize = 128;

/// Copy the tree under the directory `src` into the directory `dst`; `at` names the
/// mount destination in errors.
pub fn copy_tree(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, at: &Path) -> Result<(), SysError> {
    copy_dir(src, dst, at, 0)
}

fn open_dir(parent: BorrowedFd<'_>, name: &OsStr, path: &Path) -> Result<OwnedFd, SysError> {
    openat(parent, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
        .op(|| format!("open {path:?} for tmpcopyup"))
}

/// The owner of the copy is the original's; an id the namespace cannot map stays root.
fn keep_owner(r: nix::Result<()>, path: &Path) -> Result<(), SysError> {
    match r {
        Ok(()) | Err(Errno::EINVAL | Errno::EPERM) => Ok(()),
        Err(e) => Err(SysError::new(format!("chown {path:?} for tmpcopyup"), e)),
    }
}

fn ids(st: &FileStat) -> (Option<Uid>, Option<Gid>) {
    (Some(Uid::from_raw(st.st_uid)), Some(Gid::from_raw(st.st_gid)))
}

fn copy_dir(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, at: &Path, depth: usize) -> Result<(), SysError> {
    if depth > MAX_DEPTH {
        return Err(SysError::new(format!("tmpcopyup of {at:?}"), Errno::ELOOP).hint("the tree is too deep"));
    }
    let mut dir = Dir::openat(src, ".", OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .op(|| format!("list {at:?} for tmpcopyup"))?;
    for entry in dir.iter() {
        let entry = entry.op(|| format!("list {at:?} for tmpcopyup"))?;
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if name == "." || name == ".." {
            continue;
        }
        let path = at.join(name);
        let st = fstatat(src, name, AtFlags::AT_SYMLINK_NOFOLLOW).op(|| format!("stat {path:?}"))?;
        let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
        let (uid, gid) = ids(&st);
        match entry.file_type().map(Ok).unwrap_or_else(|| kind(st.st_mode))? {
            Type::Directory => {
                mkdirat(dst, name, mode).op(|| format!("create {path:?} in the tmpfs"))?;
                let (s, d) = (open_dir(src, name, &path)?, open_dir(dst, name, &path)?);
                copy_dir(s.as_fd(), d.as_fd(), &path, depth + 1)?;
                keep_owner(fchown(&d, uid, gid), &path)?;
                fchmod(&d, mode).op(|| format!("chmod {path:?} in the tmpfs"))?;
            }
            Type::File => {
                let s = openat(src, name, OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
                    .op(|| format!("open {path:?} for tmpcopyup"))?;
                let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
                let d = openat(dst, name, flags, mode).op(|| format!("create {path:?} in the tmpfs"))?;
                let (mut sf, mut df) = (std::fs::File::from(s), std::fs::File::from(d));
                std::io::copy(&mut sf, &mut df).op(|| format!("copy {path:?} into the tmpfs"))?;
                keep_owner(fchown(&df, uid, gid), &path)?;
                fchmod(&df, mode).op(|| format!("chmod {path:?} in the tmpfs"))?;
            }
            Type::Symlink => {
                let target = readlinkat(src, name).op(|| format!("read the link {path:?}"))?;
                symlinkat(target.as_os_str(), dst, name).op(|| format!("create the link {path:?} in the tmpfs"))?;
                keep_owner(fchownat(dst, name, uid, gid, AtFlags::AT_SYMLINK_NOFOLLOW), &path)?;
            }
            Type::CharacterDevice | Type::BlockDevice | Type::Fifo => {
                let k = SFlag::from_bits_truncate(st.st_mode & libc::S_IFMT);
                mknodat(dst, name, k, mode, st.st_rdev).op(|| format!("create {path:?} in the tmpfs"))?;
                keep_owner(fchownat(dst, name, uid, gid, AtFlags::AT_SYMLINK_NOFOLLOW), &path)?;
            }
            // A socket is only meaningful to the process that bound it.
            Type::Socket => {}
        }
    }
    Ok(())
}

fn kind(mode: libc::mode_t) -> Result<Type, SysError> {
    Ok(match mode & libc::S_IFMT {
        libc::S_IFDIR => Type::Directory,
        libc::S_IFREG => Type::File,
        libc::S_IFLNK => Type::Symlink,
        libc::S_IFCHR => Type::CharacterDevice,
        libc::S_IFBLK => Type::BlockDevice,
        libc::S_IFIFO => Type::Fifo,
        _ => Type::Socket,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};

    #[test]
    fn copies_a_tree_without_following_links() {
        let base = std::env::temp_dir().join(format!("berth-copyup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (src, dst) = (base.join("src"), base.join("dst"));
        std::fs::create_dir_all(src.join("a/b")).unwrap();
        std::fs::create_dir_all(&dst).unwrap();
        std::fs::write(src.join("a/b/f"), "hello").unwrap();
        std::fs::set_permissions(src.join("a/b/f"), std::fs::Permissions::from_mode(0o640)).unwrap();
        symlink("/etc/passwd", src.join("escape")).unwrap();
        symlink("../../..", src.join("a/up")).unwrap();
        let open = |p: &Path| std::fs::File::open(p).unwrap();
        copy_tree(open(&src).as_fd(), open(&dst).as_fd(), Path::new("/run")).unwrap();
        assert_eq!(std::fs::read_to_string(dst.join("a/b/f")).unwrap(), "hello");
        assert_eq!(std::fs::metadata(dst.join("a/b/f")).unwrap().mode() & 0o777, 0o640);
        // Links stay links (pointing where they pointed), nothing behind them is copied.
        assert_eq!(std::fs::read_link(dst.join("escape")).unwrap(), Path::new("/etc/passwd"));
        assert_eq!(std::fs::read_link(dst.join("a/up")).unwrap(), Path::new("../../.."));
        assert!(std::fs::symlink_metadata(dst.join("escape")).unwrap().file_type().is_symlink());
        let _ = std::fs::remove_dir_all(&base);
    }
}
