//! Phone numbers as E.164 digits: the one normalisation the component
//! sends with and the host's policy compares with (the host links this
//! crate natively), so a rule checks exactly the number a send goes to.

/// Normalises a phone number to its E.164 digits (no `+`).
///
/// Accepts a leading `+`, spaces, dashes, dots and parentheses. `Err` is
/// (details, hint).
pub fn normalise(input: &str) -> Result<String, (String, String)> {
    let digits = digits_of(input).map_err(|other| {
        (
            format!("`{input}` contains `{other}`; a phone number may only contain digits, a leading +, spaces, dashes, dots and parentheses"),
            "Give the number in international format with the country code, for example +16505551234.".to_string(),
        )
    })?;
    if let Some(rest) = digits.strip_prefix("00") {
        return Err((
            format!("`{input}` starts with the international dialling prefix 00"),
            format!("Replace the leading 00 with +, for example +{rest}."),
        ));
    }
    if digits.starts_with('0') {
        return Err((
            format!("`{input}` starts with 0; E.164 numbers start with the country code, never 0"),
            "Drop the national trunk prefix 0 and add the country code, for example +44 20 7946 0958 instead of 020 7946 0958.".to_string(),
        ));
    }
    // E.164 caps numbers at 15 digits; the shortest in use have 7 with the
    // country code (Niue +683 4002, Tokelau +690 …).
    let n = digits.len();
    if !(7..=15).contains(&n) {
        return Err((
            format!(
                "`{input}` has {n} digits; an international number has 7 to 15 digits including the country code"
            ),
            "Give the full number with the country code, for example +16505551234.".to_string(),
        ));
    }
    Ok(digits)
}

/// Digits of a number prefix such as `+44` or `+1 650` (a country code and
/// optional leading digits), with the same separators as [`normalise`].
pub fn normalise_prefix(input: &str) -> Result<String, String> {
    let digits = digits_of(input).map_err(|other| format!("it contains `{other}`"))?;
    if digits.is_empty() || digits.starts_with('0') || digits.len() > 15 {
        return Err("it must be a country code and optional leading digits, like +44".into());
    }
    Ok(digits)
}

/// The digits of `input` after an optional leading `+`, dropping the
/// separators people write; the first other character is the error.
fn digits_of(input: &str) -> Result<String, char> {
    let trimmed = input.trim();
    let body = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let mut digits = String::new();
    for c in body.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            other => return Err(other),
        }
    }
    Ok(digits)
}
