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

/// The numbers WhatsApp delivers to the same account as `digits` (E.164
/// digits, no `+`): `digits` itself first, then its alias if it has one.
///
/// Three countries have two spellings of one mobile number, and WhatsApp
/// accepts either (its `wa_id` may be the other one):
/// - Brazil: `55` + area code + `9` + 8 digits ⇄ `55` + area code + the same
///   8 digits, for mobile numbers (the 8 digits start with 6 to 9);
/// - Mexico: `52 1` + 10 digits ⇄ `52` + the same 10 digits;
/// - Argentina: `54 9` + 10 digits ⇄ `54` + the same 10 digits.
///
/// The relation is symmetric: `b` is in `aliases(a)` exactly when `a` is in
/// `aliases(b)`, so both spellings compare as one number.
pub fn aliases(digits: &str) -> Vec<String> {
    let mut out = vec![digits.to_string()];
    if let Some(other) = alias_of(digits) {
        out.push(other);
    }
    out
}

/// Whether `a` and `b` (E.164 digits) are the same WhatsApp account.
pub fn same_number(a: &str, b: &str) -> bool {
    a == b || alias_of(a).is_some_and(|alias| alias == b)
}

/// The other spelling of `digits`, if WhatsApp has one for it.
fn alias_of(digits: &str) -> Option<String> {
    let b = digits.as_bytes();
    if !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let in_range = |c: u8, lo: u8, hi: u8| (lo..=hi).contains(&c);
    match (b.len(), b.get(..2)?) {
        // Brazil: 55 AA 9 XXXXXXXX, area code digits 1-9, mobile 6-9.
        (13, b"55") if in_range(b[2], b'1', b'9') && in_range(b[3], b'1', b'9') => (b[4] == b'9'
            && in_range(b[5], b'6', b'9'))
        .then(|| format!("{}{}", &digits[..4], &digits[5..])),
        (12, b"55") if in_range(b[2], b'1', b'9') && in_range(b[3], b'1', b'9') => {
            in_range(b[4], b'6', b'9').then(|| format!("{}9{}", &digits[..4], &digits[4..]))
        }
        // Mexico: 52 1 + 10 digits; national numbers start with 2-9.
        (13, b"52") => {
            (b[2] == b'1' && in_range(b[3], b'2', b'9')).then(|| format!("52{}", &digits[3..]))
        }
        (12, b"52") => in_range(b[2], b'2', b'9').then(|| format!("521{}", &digits[2..])),
        // Argentina: 54 9 + 10 digits; area codes start with 1-3.
        (13, b"54") => {
            (b[2] == b'9' && in_range(b[3], b'1', b'3')).then(|| format!("54{}", &digits[3..]))
        }
        (12, b"54") => in_range(b[2], b'1', b'3').then(|| format!("549{}", &digits[2..])),
        _ => None,
    }
}

#[cfg(test)]
mod alias_tests {
    use super::*;

    /// (a spelling, the other spelling WhatsApp delivers to the same account)
    const SAME_ACCOUNT: &[(&str, &str)] = &[
        ("+55 11 98765-4321", "+55 11 8765-4321"),
        ("+55 21 99123-4567", "+55 21 9123-4567"),
        ("+55 61 97000-0000", "+55 61 7000-0000"),
        ("+52 1 55 1234 5678", "+52 55 1234 5678"),
        ("+52 1 33 9876 5432", "+52 33 9876 5432"),
        ("+54 9 11 2345 6789", "+54 11 2345 6789"),
        ("+54 9 351 234 5678", "+54 351 234 5678"),
    ];

    /// Numbers that look alike but are different accounts.
    const DIFFERENT: &[(&str, &str)] = &[
        // A Brazilian landline (starts with 2-5) has no mobile 9 form.
        ("+55 11 3456-7890", "+55 11 93456-7890"),
        // Only the 9 after the area code is the mobile digit.
        ("+55 11 98765-4321", "+55 11 9876-4321"),
        ("+52 55 1234 5678", "+52 2 55 1234 5678"),
        ("+54 11 2345 6789", "+54 8 11 2345 6789"),
        // Other countries have no aliases.
        ("+1 650 555 1234", "+1 1 650 555 1234"),
        ("+44 7911 123456", "+44 9 7911 123456"),
    ];

    fn digits(n: &str) -> String {
        normalise(n).unwrap()
    }

    #[test]
    fn each_spelling_of_an_aliased_number_lists_the_other_in_both_directions() {
        for (a, b) in SAME_ACCOUNT {
            let (a, b) = (digits(a), digits(b));
            assert_eq!(aliases(&a), vec![a.clone(), b.clone()], "{a}");
            assert_eq!(aliases(&b), vec![b.clone(), a.clone()], "{b}");
            assert!(same_number(&a, &b) && same_number(&b, &a), "{a} {b}");
        }
    }

    #[test]
    fn look_alike_numbers_of_other_accounts_are_not_aliases() {
        for (a, b) in DIFFERENT {
            let (a, b) = (digits(a), digits(b));
            assert!(!same_number(&a, &b) && !same_number(&b, &a), "{a} {b}");
            assert!(!aliases(&a).contains(&b), "{a} {b}");
        }
    }

    #[test]
    fn numbers_without_an_alias_are_only_themselves() {
        for n in ["16505551234", "447911123456", "4915123456789", "12345678"] {
            assert_eq!(aliases(n), vec![n.to_string()]);
        }
    }
}
