//! Names, durations, times and days as a policy file writes them, and
//! "did you mean" suggestions for what it misspells.

pub(super) fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |before| before.bytes().filter(|b| *b == b'\n').count())
        + 1
}

pub(super) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Edit distance, for "did you mean" suggestions.
pub(super) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

pub(super) fn suggest<'a>(given: &str, options: impl IntoIterator<Item = &'a str>) -> String {
    options
        .into_iter()
        .map(|o| (distance(given, o), o))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, o)| format!("did you mean `{o}`? "))
        .unwrap_or_default()
}

/// `30s`, `15m`, `1h`, `7d` → milliseconds.
pub(super) fn parse_window(text: &str) -> Option<i64> {
    let text = text.trim();
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = text.split_at(unit_at);
    let n: i64 = n.parse().ok()?;
    let unit_ms = match unit.trim() {
        "s" | "sec" | "second" | "seconds" => 1_000,
        "m" | "min" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

/// `HH:MM` → minutes of the day; `24:00` only when `allow_24`.
pub(super) fn parse_hhmm(text: &str, allow_24: bool) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    match (h, m) {
        (24, 0) if allow_24 => Some(1440),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

pub(super) fn parse_days(names: &[String]) -> Result<[bool; 7], String> {
    let mut days = [false; 7];
    for name in names {
        let lower = name.trim().to_ascii_lowercase();
        let set: &[usize] = match lower.as_str() {
            "mon" | "monday" => &[0],
            "tue" | "tues" | "tuesday" => &[1],
            "wed" | "wednesday" => &[2],
            "thu" | "thur" | "thurs" | "thursday" => &[3],
            "fri" | "friday" => &[4],
            "sat" | "saturday" => &[5],
            "sun" | "sunday" => &[6],
            "weekdays" => &[0, 1, 2, 3, 4],
            "weekend" | "weekends" => &[5, 6],
            "daily" | "every day" | "*" => &[0, 1, 2, 3, 4, 5, 6],
            _ => return Err(name.clone()),
        };
        for d in set {
            days[*d] = true;
        }
    }
    Ok(days)
}
