//! Recipients out of free text: what the logs (and denial reasons written to
//! them) may show of a phone number or a message id.
//!
//! - A phone number in the text becomes [`phone::mask`]'s form: its country
//!   code and, for long enough numbers, its last two digits. A number is a
//!   `+` followed by 7–15 digits with spaces, dashes, dots or parentheses
//!   between them, or 8–15 digits standing alone (not part of a word, a
//!   decimal or a longer digit run), with spaces, dashes or parentheses
//!   between them; `yyyy-mm-dd` dates are left alone. Ids of that length
//!   (phone-number ids, timestamps in milliseconds) are masked too: a log
//!   line cannot tell them from a number, and hiding one costs less than
//!   showing a customer's.
//! - A WhatsApp message id (`wamid.` and its base64, which spells the
//!   recipient's digits) becomes `wamid.[hidden]`.

use std::borrow::Cow;

use crate::policy::phone;

/// What replaces a message id's body.
pub const HIDDEN_WAMID: &str = "wamid.[hidden]";

/// `text` with every phone number masked and every message id hidden.
pub fn scrub(text: &str) -> Cow<'_, str> {
    if !text.bytes().any(|b| b.is_ascii_digit()) && !text.contains("wamid.") {
        return Cow::Borrowed(text);
    }
    let without_ids = hide_message_ids(text);
    Cow::Owned(mask_numbers(&without_ids))
}

/// `text` with each `wamid.<base64>` replaced by [`HIDDEN_WAMID`].
fn hide_message_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("wamid.") {
        out.push_str(&rest[..at]);
        out.push_str(HIDDEN_WAMID);
        let body = &rest[at + "wamid.".len()..];
        let end = body
            .find(|c: char| !(c.is_ascii_alphanumeric() || "_-+/=".contains(c)))
            .unwrap_or(body.len());
        rest = &body[end..];
    }
    out.push_str(rest);
    out
}

/// Separators a number may have between its digits.
fn is_separator(b: u8, with_plus: bool) -> bool {
    matches!(b, b' ' | b'-' | b'(' | b')') || (with_plus && b == b'.')
}

/// `text` with every phone-number-like run masked.
fn mask_numbers(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let plus = bytes[i] == b'+' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        let starts = plus || bytes[i].is_ascii_digit() && boundary_before(bytes, i);
        if !starts {
            i += 1;
            continue;
        }
        match number_at(bytes, i, plus) {
            Some((end, digits)) => {
                out.push_str(&text[copied..i]);
                out.push_str(&phone::mask_digits(&digits));
                copied = end;
                i = end;
            }
            None => {
                // Skip the whole run of digits so its tail is not taken for a number.
                i += usize::from(plus);
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
            }
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Whether a digit at `i` starts a run: not inside a word or a decimal. A
/// terminal colour code (`ESC [ 2 m`) just before is a boundary.
fn boundary_before(bytes: &[u8], i: usize) -> bool {
    let Some(&prev) = i.checked_sub(1).and_then(|p| bytes.get(p)) else {
        return true;
    };
    if prev == b'm' {
        let code = bytes[..i - 1]
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_digit() || **b == b';')
            .count();
        let at = i - 1 - code;
        if at >= 2 && bytes[at - 2] == 0x1b && bytes[at - 1] == b'[' {
            return true;
        }
    }
    !is_word_byte(prev) && prev != b'.'
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The number starting at `start` (its end and digits), if the run there is one.
fn number_at(bytes: &[u8], start: usize, plus: bool) -> Option<(usize, String)> {
    let mut i = start + usize::from(plus);
    let mut digits = String::new();
    let mut end = i;
    // Where each group of digits starts and ends, to tell dates apart.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    loop {
        let group_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            digits.push(char::from(bytes[i]));
            i += 1;
        }
        groups.push((group_start, i));
        end = i.max(end);
        // Up to two separators (`) ` in `(650) 555`) may join the next group.
        let mut j = i;
        while j < bytes.len() && j - i < 2 && is_separator(bytes[j], plus) {
            j += 1;
        }
        if j > i && j < bytes.len() && bytes[j].is_ascii_digit() {
            // A space before more digits than a number can hold ends this number.
            if digits.len() >= 8 && bytes[i..j].contains(&b' ') {
                let more = bytes[j..].iter().take_while(|b| b.is_ascii_digit()).count();
                if digits.len() + more > 15 {
                    break;
                }
            }
            i = j;
            continue;
        }
        break;
    }
    let after = bytes.get(end).copied();
    let glued = after.is_some_and(|b| {
        is_word_byte(b) || (b == b'.' && bytes.get(end + 1).is_some_and(u8::is_ascii_digit))
    });
    let is_date = !plus
        && groups.len() == 3
        && groups.iter().map(|(s, e)| e - s).eq([4, 2, 2])
        && bytes[groups[0].1] == b'-';
    // With a `+`, 7 digits are a number too (Niue's +683 4002); standing
    // alone, 7 digits are too often a count or an id to mask.
    let shortest = if plus { 7 } else { 8 };
    if glued || is_date || !(shortest..=15).contains(&digits.len()) {
        return None;
    }
    Some((end, digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_every_spelling_are_masked_inside_text() {
        for (text, expected) in [
            (
                "+447911123456 is not a recipient of this app",
                "+44********56 is not a recipient of this app",
            ),
            ("to=16505551234,", "to=+1********34,"),
            ("\"to\":\"+1 (650) 555-1234\"", "\"to\":\"+1********34\""),
            ("call +1.650.555.1234 now", "call +1********34 now"),
            ("wa_id 4915123456789 and", "wa_id +49*********89 and"),
            ("Niue +683 4002 too", "Niue +68***** too"),
            ("1 650 555 1234", "+1********34"),
        ] {
            assert_eq!(scrub(text), expected, "{text}");
        }
    }

    #[test]
    fn numbers_right_after_a_terminal_colour_code_are_masked() {
        assert_eq!(
            scrub("\u{1b}[3mto\u{1b}[0m\u{1b}[2m=\u{1b}[0m16505551234 x"),
            "\u{1b}[3mto\u{1b}[0m\u{1b}[2m=\u{1b}[0m+1********34 x"
        );
        assert_eq!(scrub("x=y+447911123456"), "x=y+44********56");
    }

    #[test]
    fn two_numbers_split_by_a_space_are_each_masked() {
        assert_eq!(
            scrub("+4915123456789 16505551234"),
            "+49*********89 +1********34"
        );
    }

    #[test]
    fn dates_times_addresses_decimals_and_short_counts_are_left_alone() {
        for text in [
            "2026-12-01T10:24:47.123456Z  INFO serve: listening on 127.0.0.1:8765",
            "latency_ms=84.216 calls=1234567",
            "192.168.100.200:8080",
            "sha256:9f86d081884c7d659a2feaa0c55ad015",
            "version v23.0, 2026-12-01",
            "12345678.5 seconds",
        ] {
            assert_eq!(scrub(text), text);
        }
    }

    #[test]
    fn message_ids_are_hidden_with_the_digits_they_encode() {
        let text = "status for wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA: sent";
        assert_eq!(scrub(text), "status for wamid.[hidden]: sent");
    }
}
