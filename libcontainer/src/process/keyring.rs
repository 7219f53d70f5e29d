//! The container's session keyring: unless told not to (`--no-new-keyring`), init joins
//! a new session keyring named after the container, as runc does, so the container does
//! not share the caller's keys. It is made searchable by its owner (runc's permissions).

use crate::syserr::SysError;
use nix::errno::Errno;

const KEYCTL_DESCRIBE: libc::c_int = 6;
const KEYCTL_SETPERM: libc::c_int = 5;
const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;
/// `KEY_USR_SEARCH`.
const USR_SEARCH: u32 = 0x0008_0000;

fn keyctl(op: libc::c_int, a: libc::c_ulong, b: libc::c_ulong, c: libc::c_ulong) -> Result<libc::c_long, Errno> {
    // SAFETY: keyctl takes an operation and up to four integer or pointer arguments; the
    // callers pass pointers only to live buffers of the lengths they give.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, op, a, b, c, 0 as libc::c_ulong) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

/// The permission field of `keyctl describe`'s "type;uid;gid;perm;description".
fn perm_of(description: &str) -> Option<u32> {
    u32::from_str_radix(description.split(';').nth(3)?, 16).ok()
}

/// Join a new session keyring named `name`. A kernel without keyrings is not an error.
pub fn join_session(name: &str) -> Result<(), SysError> {
    let cname = std::ffi::CString::new(name).map_err(|_| SysError::new("keyring name contains NUL", Errno::EINVAL))?;
    let id = match keyctl(KEYCTL_JOIN_SESSION_KEYRING, cname.as_ptr() as libc::c_ulong, 0, 0) {
        Ok(id) => id,
        Err(Errno::ENOSYS) => return Ok(()),
        Err(e) => {
            return Err(SysError::new(format!("join a session keyring {name:?}"), e)
                .hint("pass --no-new-keyring to keep the caller's session keyring"))
        }
    };
    let mut buf = [0u8; 512];
    let n = keyctl(KEYCTL_DESCRIBE, id as libc::c_ulong, buf.as_mut_ptr() as libc::c_ulong, buf.len() as libc::c_ulong)
        .map_err(|e| SysError::new("describe the session keyring", e))?;
    let text = String::from_utf8_lossy(&buf[..(n as usize).min(buf.len())]);
    let perm = perm_of(text.trim_end_matches('\0'))
        .ok_or_else(|| SysError::new(format!("parse the session keyring's description {text:?}"), Errno::EINVAL))?;
    keyctl(KEYCTL_SETPERM, id as libc::c_ulong, (perm | USR_SEARCH) as libc::c_ulong, 0)
        .map(drop)
        .map_err(|e| SysError::new("make the session keyring searchable", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_field_is_parsed() {
        assert_eq!(perm_of("keyring;0;0;3f130000;it-1"), Some(0x3f13_0000));
        assert_eq!(perm_of("keyring;0;0"), None);
    }
}
