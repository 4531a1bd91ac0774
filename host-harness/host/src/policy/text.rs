//! Text as the recipient reads it, for the text rules.
//!
//! A phone shows `re\u{ad}fund` (soft hyphen), `re\u{200b}fund` (zero-width
//! space) and `ｒｅｆｕｎｄ` (full-width) as "refund", so rules compare
//! normalised text: default-ignorable code points dropped and Unicode NFKC
//! applied. Keyword rules go one step further and compare UTS #39 confusable
//! skeletons (<https://www.unicode.org/reports/tr39/#Confusable_Detection>),
//! so `rеfund` with a Cyrillic `е` is "refund" too.

use unicode_normalization::UnicodeNormalization as _;

/// Default_Ignorable_Code_Point, from Unicode's DerivedCoreProperties.txt:
/// characters a renderer shows as nothing (soft hyphen, zero-width
/// characters, bidi controls, variation selectors, tags). The same table
/// `unicode_security::skeleton` drops (a test checks every code point).
const DEFAULT_IGNORABLE: &[(char, char)] = &[
    ('\u{ad}', '\u{ad}'),
    ('\u{34f}', '\u{34f}'),
    ('\u{61c}', '\u{61c}'),
    ('\u{115f}', '\u{1160}'),
    ('\u{17b4}', '\u{17b5}'),
    ('\u{180b}', '\u{180f}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{202a}', '\u{202e}'),
    ('\u{2060}', '\u{206f}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{fe00}', '\u{fe0f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{ffa0}', '\u{ffa0}'),
    ('\u{fff0}', '\u{fff8}'),
    ('\u{1bca0}', '\u{1bca3}'),
    ('\u{1d173}', '\u{1d17a}'),
    ('\u{e0000}', '\u{e0fff}'),
];

/// Whether `c` is shown as nothing at all.
pub(crate) fn is_default_ignorable(c: char) -> bool {
    DEFAULT_IGNORABLE
        .binary_search_by(|(lo, hi)| {
            if *hi < c {
                std::cmp::Ordering::Less
            } else if *lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// `text` as the rules see it: invisible characters dropped, then NFKC
/// (compatibility forms such as full-width letters and digits, ligatures
/// and superscripts become their plain form).
pub(crate) fn normalise(text: &str) -> String {
    let visible: String = text.chars().filter(|c| !is_default_ignorable(*c)).collect();
    visible
        .nfkc()
        .filter(|c| !is_default_ignorable(*c))
        .collect()
}

/// The form keyword rules compare: [`normalise`]d, lower-cased, then the
/// UTS #39 skeleton, so characters that look alike compare equal.
pub(crate) fn skeleton(text: &str) -> String {
    unicode_security::skeleton(&normalise(text).to_lowercase()).collect()
}

/// Whether `text` holds what looks like a payment card number: 13 to 19
/// digits, written together or in groups split by separators (anything but
/// a letter or a digit, up to 3 characters between two digits), that pass
/// the Luhn check. Any consecutive groups of a run are tried, so a card
/// number stays visible when digits are written before or after it.
pub(crate) fn has_card_number(text: &str) -> bool {
    digit_runs(text).iter().any(|groups| {
        (0..groups.len()).any(|first| {
            let mut digits: Vec<u8> = Vec::new();
            groups[first..].iter().any(|group| {
                digits.extend_from_slice(group);
                (13..=19).contains(&digits.len()) && luhn(&digits)
            })
        })
    })
}

/// Runs of digit groups: a group is consecutive ASCII digits; groups split
/// by at most 3 separator characters belong to one run; a letter, or a
/// longer gap, ends the run.
fn digit_runs(text: &str) -> Vec<Vec<Vec<u8>>> {
    const MAX_GAP: usize = 3;
    let mut runs: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut run: Vec<Vec<u8>> = Vec::new();
    let mut group: Vec<u8> = Vec::new();
    let mut gap = 0;
    for c in text.chars() {
        if let Some(d) = c.to_digit(10).filter(|_| c.is_ascii_digit()) {
            if gap > 0 && !group.is_empty() {
                run.push(std::mem::take(&mut group));
            }
            group.push(d as u8);
            gap = 0;
        } else if c.is_alphanumeric() || gap >= MAX_GAP {
            if !group.is_empty() {
                run.push(std::mem::take(&mut group));
            }
            if !run.is_empty() {
                runs.push(std::mem::take(&mut run));
            }
            gap = if c.is_alphanumeric() {
                MAX_GAP
            } else {
                gap + 1
            };
        } else {
            gap += 1;
        }
    }
    if !group.is_empty() {
        run.push(group);
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

/// The Luhn checksum (ISO/IEC 7812-1) over `digits`, the check digit last.
fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(*d);
            if i % 2 == 1 {
                let twice = d * 2;
                if twice > 9 { twice - 9 } else { twice }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_and_compatibility_forms_normalise_away() {
        for disguised in [
            "re\u{ad}fund",
            "re\u{200b}fund",
            "re\u{200d}fu\u{2060}nd",
            "\u{202e}refund\u{202c}",
            "ｒｅｆｕｎｄ",
            "re\u{fe0f}fund",
        ] {
            assert_eq!(normalise(disguised), "refund", "{disguised:?}");
        }
    }

    #[test]
    fn look_alike_letters_share_the_keywords_skeleton() {
        let keyword = skeleton("refund");
        for disguised in ["r\u{435}fund", "REFUND", "Rеfund", "ref\u{1d42e}nd"] {
            assert_eq!(skeleton(disguised), keyword, "{disguised:?}");
        }
        for different in ["fund", "return", "rebound", "réfund", "re fund", "Refugee"] {
            assert!(!skeleton(different).contains(&keyword), "{different:?}");
        }
    }

    #[test]
    fn the_ignorable_table_is_the_one_the_skeleton_uses() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let dropped = unicode_security::skeleton(c.encode_utf8(&mut [0; 4]))
                .next()
                .is_none();
            assert_eq!(is_default_ignorable(c), dropped, "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn card_numbers_are_found_however_they_are_written() {
        for text in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111.1111.1111.1111",
            "4111-1111-1111-1111",
            "card: 4111 - 1111 - 1111 - 1111 thanks",
            "4111 1111 1111 1111, 1 more",
            "378282246310005",         // 15 digits (Amex)
            "6011 0009 9013 9424",     // Discover
            "6304 0000 0000 0000 018", // 19 digits
            "the number is 5555555555554444.",
        ] {
            assert!(has_card_number(text), "{text:?}");
            assert!(has_card_number(&normalise(text)), "{text:?}");
        }
        assert!(has_card_number(&normalise(
            "4111\u{200b}1111\u{200b}1111\u{200b}1111"
        )));
        assert!(has_card_number(&normalise(
            "４１１１１１１１１１１１１１１１"
        )));
    }

    #[test]
    fn other_numbers_are_not_card_numbers() {
        for text in [
            "4111 1111 1111 1112", // fails the Luhn check
            "411111111111",        // 12 digits
            "Order 1234 ships on 2026-12-01, call 650 555 1234",
            "+49 151 23456789",
            "4111 1111 a 1111 1111",   // a letter ends the number
            "41111111111111111111111", // too long to be one
        ] {
            assert!(!has_card_number(text), "{text:?}");
        }
    }
}
