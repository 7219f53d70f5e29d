//! Signal names as `kill` takes them: `KILL`, `SIGKILL`, `kill`, `9`.

use nix::sys::signal::Signal;
use std::str::FromStr;

/// Parse a signal given by name (with or without `SIG`, any case) or number.
pub fn parse_signal(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        // Real-time signals have no names; accept every valid number.
        return (1..=libc::SIGRTMAX()).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") { up } else { format!("SIG{up}") };
    if let Some(rest) = name.strip_prefix("SIGRTMIN+") {
        let n: i32 = rest.parse().ok()?;
        let sig = libc::SIGRTMIN() + n;
        return (sig <= libc::SIGRTMAX()).then_some(sig);
    }
    if let Some(rest) = name.strip_prefix("SIGRTMAX-") {
        let n: i32 = rest.parse().ok()?;
        let sig = libc::SIGRTMAX() - n;
        return (sig >= libc::SIGRTMIN()).then_some(sig);
    }
    Signal::from_str(&name).ok().map(|s| s as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse_signal("KILL"), Some(9));
        assert_eq!(parse_signal("SIGKILL"), Some(9));
        assert_eq!(parse_signal("term"), Some(15));
        assert_eq!(parse_signal("9"), Some(9));
        assert_eq!(parse_signal("SIGRTMIN+1"), Some(libc::SIGRTMIN() + 1));
        assert_eq!(parse_signal("NOPE"), None);
        assert_eq!(parse_signal("0"), None);
        assert_eq!(parse_signal("99"), None);
        assert_eq!(parse_signal(""), None);
    }
}
