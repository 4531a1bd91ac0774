//! Token expiry times: Graph gives Unix seconds.

/// Seconds since the epoch, now.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `2026-11-20 10:00 UTC` for Unix seconds; past year 9999, the seconds themselves.
pub(crate) fn format_unix(secs: u64) -> String {
    match i64::try_from(secs).map(jiff::Timestamp::from_second) {
        Ok(Ok(t)) => t.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        _ => format!("{secs} (Unix time)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times_format_as_utc_dates() {
        assert_eq!(format_unix(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_unix(1_762_250_400), "2025-11-04 10:00 UTC");
    }

    #[test]
    fn leap_days_and_the_last_minute_of_a_year_format_like_the_calendar() {
        assert_eq!(format_unix(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(format_unix(1_735_689_599), "2024-12-31 23:59 UTC");
        assert_eq!(format_unix(u64::MAX), "18446744073709551615 (Unix time)");
    }
}
