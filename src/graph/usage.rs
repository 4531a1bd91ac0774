//! Meta's rate-limit usage headers: when a per-hour or per-window quota
//! (errors 4, 17, 32, 613, 80007) is exhausted, they say how long until access
//! comes back, in minutes (`estimated_time_to_regain_access`).
//! https://developers.facebook.com/docs/graph-api/overview/rate-limiting

use serde_json::Value;

/// The headers that carry `estimated_time_to_regain_access`: the business
/// use case header (per WhatsApp Business Account and use type) and the app
/// header.
const USAGE_HEADERS: &[&str] = &["x-business-use-case-usage", "x-app-usage"];

/// Seconds until Meta expects access back, the longest any usage header
/// gives; `None` when no header names a positive wait.
pub(crate) fn regain_access_seconds(headers: &[(String, String)]) -> Option<u32> {
    let mut minutes: Option<u64> = None;
    for (name, value) in headers {
        if !USAGE_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            continue;
        }
        let Ok(parsed) = serde_json::from_str::<Value>(value) else {
            continue;
        };
        let mut found = Vec::new();
        collect_regain_minutes(&parsed, &mut found, 0);
        if let Some(m) = found.into_iter().max() {
            minutes = Some(minutes.map_or(m, |old| old.max(m)));
        }
    }
    let minutes = minutes.filter(|m| *m > 0)?;
    u32::try_from(minutes.saturating_mul(60)).ok()
}

/// Every `estimated_time_to_regain_access` (a number, or a string of digits)
/// in a usage header's JSON: `{id: [{…}]}` for the business header, a flat
/// object for the app header. Depth-limited: the shapes are two levels deep.
fn collect_regain_minutes(v: &Value, out: &mut Vec<u64>, depth: u8) {
    if depth > 4 {
        return;
    }
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                if k == "estimated_time_to_regain_access" {
                    let m = item
                        .as_u64()
                        .or_else(|| item.as_f64().filter(|f| *f >= 0.0).map(|f| f.ceil() as u64))
                        .or_else(|| item.as_str().and_then(|s| s.trim().parse().ok()));
                    if let Some(m) = m {
                        out.push(m);
                    }
                } else {
                    collect_regain_minutes(item, out, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_regain_minutes(item, out, depth + 1);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(name: &str, value: &str) -> (String, String) {
        (name.to_string(), value.to_string())
    }

    #[test]
    fn the_business_use_case_header_gives_the_wait_in_minutes() {
        let headers = [h(
            "X-Business-Use-Case-Usage",
            r#"{"102290129340398":[{"type":"whatsapp_business_management","call_count":100,"total_cputime":4,"total_time":9,"estimated_time_to_regain_access":7}]}"#,
        )];
        assert_eq!(regain_access_seconds(&headers), Some(420));
    }

    #[test]
    fn the_longest_wait_of_all_headers_wins() {
        let headers = [
            h(
                "x-business-use-case-usage",
                r#"{"1":[{"estimated_time_to_regain_access":2},{"estimated_time_to_regain_access":5}]}"#,
            ),
            h(
                "x-app-usage",
                r#"{"call_count":100,"estimated_time_to_regain_access":"3"}"#,
            ),
        ];
        assert_eq!(regain_access_seconds(&headers), Some(300));
    }

    #[test]
    fn no_header_a_zero_wait_or_garbage_give_no_wait() {
        assert_eq!(regain_access_seconds(&[]), None);
        let zero = [h(
            "x-business-use-case-usage",
            r#"{"1":[{"estimated_time_to_regain_access":0}]}"#,
        )];
        assert_eq!(regain_access_seconds(&zero), None);
        let flat = [h("x-app-usage", r#"{"call_count":100}"#)];
        assert_eq!(regain_access_seconds(&flat), None);
        let junk = [h("x-app-usage", "not json")];
        assert_eq!(regain_access_seconds(&junk), None);
        let other = [h("x-other", r#"{"estimated_time_to_regain_access":9}"#)];
        assert_eq!(regain_access_seconds(&other), None);
    }
}
