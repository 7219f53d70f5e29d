//! Device nodes and the devices cgroup rules of a plan.

use super::validate::clean_abs;
use super::*;
use oci_spec::runtime::LinuxDeviceType;

/// The devices every container gets, as runc creates them.
pub(super) fn default_devices() -> Vec<DevicePlan> {
    [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)]
        .into_iter()
        .map(|(n, major, minor)| DevicePlan {
            path: PathBuf::from("/dev").join(n),
            kind: libc::S_IFCHR,
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect()
}

pub(super) fn devices(linux: &oci_spec::runtime::Linux) -> Result<Vec<DevicePlan>, ConfigError> {
    let mut out = default_devices();
    for (i, d) in linux.devices().as_deref().unwrap_or_default().iter().enumerate() {
        let field = format!("linux.devices[{i}]");
        let path = clean_abs(&format!("{field}.path"), d.path())?;
        if !path.starts_with("/dev/") {
            return Err(ConfigError::new(format!("{field}.path"), format!("{} is not under /dev", path.display())));
        }
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
            LinuxDeviceType::B => libc::S_IFBLK,
            LinuxDeviceType::P => libc::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(ConfigError::new(format!("{field}.type"), "\"a\" is not a device node type"))
            }
        };
        if kind != libc::S_IFIFO && (d.major() < 0 || d.minor() < 0) {
            return Err(ConfigError::new(field, "major and minor must be set and not negative"));
        }
        let dev = DevicePlan {
            path,
            kind,
            major: d.major().max(0) as u64,
            minor: d.minor().max(0) as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        };
        out.retain(|o| o.path != dev.path);
        out.push(dev);
    }
    Ok(out)
}

/// The device rules every container gets after its own, as runc's `AllowedDevices`:
/// mknod of anything (the nodes themselves are what the config creates), the standard
/// character devices, /dev/pts/*, /dev/ptmx and /dev/net/tun.
const DEFAULT_DEVICE_RULES: &[(&str, Option<i64>, Option<i64>, &str)] = &[
    ("c", None, None, "m"),
    ("b", None, None, "m"),
    ("c", Some(1), Some(3), "rwm"),
    ("c", Some(1), Some(8), "rwm"),
    ("c", Some(1), Some(7), "rwm"),
    ("c", Some(5), Some(0), "rwm"),
    ("c", Some(1), Some(5), "rwm"),
    ("c", Some(1), Some(9), "rwm"),
    ("c", Some(136), None, "rwm"),
    ("c", Some(5), Some(2), "rwm"),
    ("c", Some(10), Some(200), "rwm"),
];

fn rule(
    allow: bool,
    typ: &str,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> Result<oci_spec::runtime::LinuxDeviceCgroup, ConfigError> {
    serde_json::from_value(serde_json::json!({
        "allow": allow, "type": typ, "major": major, "minor": minor, "access": access
    }))
    .map_err(|e| ConfigError::new("linux.resources.devices", e.to_string()))
}

pub(super) fn device_rules(
    resources: Option<&oci_spec::runtime::LinuxResources>,
    devices: &[DevicePlan],
) -> Result<Vec<oci_spec::runtime::LinuxDeviceCgroup>, ConfigError> {
    let mut rules = Vec::new();
    for (i, r) in resources.and_then(|r| r.devices().as_ref()).into_iter().flatten().enumerate() {
        if let Some(a) = r.access() {
            if a.is_empty() || !a.chars().all(|c| "rwm".contains(c)) {
                return Err(ConfigError::new(
                    format!("linux.resources.devices[{i}].access"),
                    format!("{a:?} is not a subset of \"rwm\""),
                ));
            }
        }
        rules.push(r.clone());
    }
    for d in devices.iter().filter(|d| d.kind != libc::S_IFIFO) {
        let typ = if d.kind == libc::S_IFBLK { "b" } else { "c" };
        rules.push(rule(true, typ, Some(d.major as i64), Some(d.minor as i64), "rwm")?);
    }
    for (typ, major, minor, access) in DEFAULT_DEVICE_RULES {
        rules.push(rule(true, typ, *major, *minor, access)?);
    }
    Ok(rules)
}
