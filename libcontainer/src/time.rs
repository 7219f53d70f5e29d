//! RFC 3339 timestamps (UTC, nanoseconds), as runc writes `created` in its state.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, as `2026-11-22T03:25:55.123456789Z`.
pub fn now_rfc3339() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format_rfc3339(d.as_secs() as i64, d.subsec_nanos())
}

/// Format seconds since the epoch plus nanoseconds.
pub fn format_rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_dates() {
        assert_eq!(super::format_rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(super::format_rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(super::format_rfc3339(1_795_318_555, 1), "2026-11-22T03:35:55.000000001Z");
    }
}
