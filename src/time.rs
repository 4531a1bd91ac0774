//! Time: the current Unix time from the host, and the one date helper of
//! the component (it has no date crate): Unix seconds to RFC 3339.

use crate::host::Host;

/// Current Unix time in seconds.
pub(crate) fn now_seconds(host: &dyn Host) -> i64 {
    i64::try_from(host.now_unix_ms() / 1000).unwrap_or(i64::MAX)
}

/// RFC 3339 UTC timestamp (`2026-11-26T16:37:00Z`) of Unix seconds.
pub(crate) fn rfc3339(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let secs = unix_seconds.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}
