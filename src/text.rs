//! Small text helpers: lengths, URL encoding, dates, placeholders, checks.

/// Length in Unicode scalar values (what WhatsApp's character limits count).
pub fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// Percent-encodes a query value (RFC 3986 unreserved characters and `,` kept).
pub fn encode_query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b',') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0xf));
        }
    }
    out
}

fn hex_digit(n: u8) -> char {
    let n = n & 0xf;
    if n < 10 {
        (b'0' + n) as char
    } else {
        (b'A' + n - 10) as char
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space; a
/// malformed `%` escape is kept as it is).
pub fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(h << 4 | l);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// Parses a raw query string into decoded (name, value) pairs, in order.
pub fn parse_query(query: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(pair), Vec::new()),
        })
        .collect()
}

/// Decodes lower- or upper-case hex; `None` when malformed.
pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|c| Some(hex_value(c[0])? << 4 | hex_value(c[1])?))
        .collect()
}

/// Constant-time equality of two byte strings of public length.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    diff == 0
}

/// RFC 3339 UTC timestamp (`2026-11-26T16:37:00Z`) of Unix seconds.
pub fn rfc3339(unix_seconds: i64) -> String {
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

/// A short, single-line, printable excerpt of a response body (HTML tags
/// removed), for error details.
pub fn excerpt(body: &[u8], max_chars: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    let mut in_tag = false;
    let mut last_space = true;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                if !last_space {
                    out.push(' ');
                    last_space = true;
                }
            }
            _ if in_tag => {}
            c if c.is_whitespace() || c.is_control() => {
                if !last_space {
                    out.push(' ');
                    last_space = true;
                }
            }
            c => {
                out.push(c);
                last_space = false;
            }
        }
        if char_len(&out) >= max_chars {
            out.push('…');
            break;
        }
    }
    out.trim().to_string()
}

/// A placeholder found in template text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placeholder {
    Positional(u32),
    Named(String),
}

/// Finds the `{{…}}` placeholders in `text`. `Err` describes the first
/// malformed one (for example `{{ 1 }}` or `{{First Name}}`).
pub fn placeholders(text: &str) -> Result<Vec<Placeholder>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err("an opening `{{` has no closing `}}`".to_string());
        };
        let inner = &after[..end];
        if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) {
            match inner.parse::<u32>() {
                Ok(n) if n >= 1 && !inner.starts_with('0') => out.push(Placeholder::Positional(n)),
                _ => {
                    return Err(format!(
                        "`{{{{{inner}}}}}` is not a valid positional placeholder (use {{{{1}}}}, {{{{2}}}}, …)"
                    ));
                }
            }
        } else if !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && inner.as_bytes()[0].is_ascii_lowercase()
        {
            out.push(Placeholder::Named(inner.to_string()));
        } else {
            return Err(format!(
                "`{{{{{inner}}}}}` is not a valid placeholder: use {{{{1}}}}-style numbers or lower-case snake_case names like {{{{first_name}}}}, without spaces"
            ));
        }
        rest = &after[end + 2..];
    }
    Ok(out)
}

/// Checks an `https://` URL meant for Meta to fetch. `Err` is (details, hint).
pub fn check_https_url(url: &str, max_len: usize) -> Result<(), (String, String)> {
    let n = char_len(url);
    if n > max_len {
        return Err((
            format!("the URL has {n} characters; the maximum is {max_len}"),
            "Use a shorter URL.".to_string(),
        ));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err((
            "the URL contains spaces or control characters".to_string(),
            "Percent-encode spaces as %20.".to_string(),
        ));
    }
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("https://") else {
        let scheme = lower.split(':').next().unwrap_or("");
        return Err((
            format!("the URL scheme is `{scheme}`; only https:// is accepted"),
            "Host the file at a public https:// URL (no login); data:, javascript: and plain http:// links are refused.".to_string(),
        ));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains('@') {
        return Err((
            "the URL has no host, or has user credentials in it".to_string(),
            "Give a URL like https://example.com/file.jpg, without user:password@.".to_string(),
        ));
    }
    Ok(())
}

/// A plausible e-mail address: one `@`, a non-empty local part, a dotted domain.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

/// Unix seconds from a JSON string or number.
pub fn json_unix_seconds(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An integer from a JSON number or numeric string.
pub fn json_i64(v: &serde_json::Value) -> Option<i64> {
    json_unix_seconds(v)
}
