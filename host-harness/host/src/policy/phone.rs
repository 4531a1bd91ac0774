//! Phone numbers as the policy compares them: E.164 digits.
//!
//! Numbers are normalised by the component's own code (the host links the
//! component's pure core natively), so the number a rule checks is exactly
//! the number the component would send to, and anything the component would
//! refuse is refused here too: a look-alike cannot slip past a rule.

/// Argument fields that name a recipient (`customer`: the inbox tools'
/// conversation): compared as phone numbers, masked in the audit log.
pub const RECIPIENT_FIELDS: [&str; 2] = ["to", "customer"];

/// Whether rules compare `field` as a phone number.
pub fn is_recipient_field(field: &str) -> bool {
    RECIPIENT_FIELDS.contains(&field)
}

/// The E.164 digits of `input` (no `+`), or why it is not a phone number:
/// exactly the component's own normalisation, so a rule checks the number
/// the component would send to.
pub fn normalise(input: &str) -> Result<String, String> {
    whatsapp_connector::phone::normalise(input).map_err(|(details, _hint)| details)
}

pub use whatsapp_connector::phone::{aliases, normalise_prefix};

/// A recipient as the audit log and the logs show it: the country code and
/// the last two digits, every other digit a `*` (`+1*********34`). At least
/// [`MIN_HIDDEN_DIGITS`] digits are always hidden: when the country code and
/// last two would leave fewer, the last two are hidden as well (`+290*****`).
/// Anything that is not a phone number is hidden entirely.
pub fn mask(input: &str) -> String {
    match normalise(input) {
        Ok(digits) => mask_digits(&digits),
        Err(_) => "*".repeat(input.chars().count().clamp(1, 16)),
    }
}

/// Digits always hidden by [`mask`]: 10^5 candidates per visible pattern
/// at the least, so a masked number cannot be guessed by trying a few.
pub const MIN_HIDDEN_DIGITS: usize = 5;

/// [`mask`] for E.164 digits already normalised (no `+`).
pub(crate) fn mask_digits(digits: &str) -> String {
    let n = digits.len();
    // A 7-digit number with a 3-digit country code shows fewer of it, so
    // that five digits stay hidden.
    let cc = country_code_len(digits).min(n.saturating_sub(MIN_HIDDEN_DIGITS));
    let tail = if n >= cc + 2 + MIN_HIDDEN_DIGITS {
        2
    } else {
        0
    };
    let hidden = n - cc - tail;
    format!(
        "+{}{}{}",
        &digits[..cc],
        "*".repeat(hidden),
        &digits[n - tail..]
    )
}

/// Length of the ITU-T E.164 country code `digits` start with: 1 and 7 are
/// one digit, the two-digit codes are listed, every other code has three.
fn country_code_len(digits: &str) -> usize {
    const TWO_DIGIT: [&str; 44] = [
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
        "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
        "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
    ];
    if digits.starts_with('1') || digits.starts_with('7') {
        1
    } else if TWO_DIGIT.iter().any(|cc| digits.starts_with(cc)) {
        2
    } else {
        3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_number_in_three_spellings_normalises_to_the_same_digits() {
        for spelling in [
            "+1 (650) 555-1234",
            "16505551234",
            "+16505551234",
            " +1.650.555.1234 ",
        ] {
            assert_eq!(normalise(spelling).unwrap(), "16505551234", "{spelling}");
        }
    }

    #[test]
    fn look_alikes_do_not_normalise_to_the_number_they_imitate() {
        let real = normalise("+16505551234").unwrap();
        for other in [
            "+165055512345", // an extra digit
            "+446505551234", // another country code
            "+1650555123",   // a digit short
            "+26505551234",
        ] {
            assert_ne!(normalise(other).unwrap(), real, "{other}");
        }
        for broken in [
            "+1650555123O", // letter O for zero
            "+1650555l234", // letter l for one
            "++16505551234",
            "0016505551234",
            "06505551234",
            "+1 650 555 1234 ext 5",
            "+１６５０５５５１２３４", // full-width digits
            "123456",
            "",
        ] {
            assert!(normalise(broken).is_err(), "{broken:?} was accepted");
        }
    }

    #[test]
    fn masking_shows_at_most_the_country_code_and_the_last_two_digits_for_every_length() {
        // (number, mask): lengths 7 to 15 with one-, two- and three-digit country codes.
        let table = [
            ("6831234", "+68*****"), // 7 digits (Niue): part of the country code is hidden too
            ("16505512", "+1*****12"),
            ("49301234", "+49******"),
            ("29012345", "+290*****"),
            ("165055512", "+1******12"),
            ("443012345", "+44*****45"),
            ("1650555123", "+1*******23"),
            ("4930123456", "+49******56"),
            ("5012345678", "+501*****78"),
            ("16505551234", "+1********34"),
            ("44791112345", "+44*******45"),
            ("35312345678", "+353******78"),
            ("491511234567", "+49********67"),
            ("4915123456789", "+49*********89"),
            ("55119876543210", "+55**********10"),
            ("861391234567890", "+86***********90"),
            ("880123456789012", "+880**********12"),
        ];
        for (number, expected) in table {
            let masked = mask(number);
            assert_eq!(masked, expected, "{number}");
            let visible: String = masked.chars().filter(char::is_ascii_digit).collect();
            let cc = country_code_len(number);
            assert!(
                visible.len() <= cc + 2,
                "{number}: {masked} shows more than the country code and two digits"
            );
            let hidden = masked.chars().filter(|c| *c == '*').count();
            if normalise(number).is_ok() {
                assert!(hidden >= MIN_HIDDEN_DIGITS, "{number}: {masked}");
                assert_eq!(visible.len() + hidden, number.len(), "{number}: {masked}");
            }
        }
        assert_eq!(mask("+1 (650) 555-1234"), "+1********34");
        assert_eq!(mask("not a number"), "************");
    }

    #[test]
    fn prefixes_are_digits_with_a_country_code() {
        assert_eq!(normalise_prefix("+44").unwrap(), "44");
        assert_eq!(normalise_prefix("+1 (650)").unwrap(), "1650");
        assert!(normalise_prefix("+").is_err());
        assert!(normalise_prefix("0044").is_err());
        assert!(normalise_prefix("+4a").is_err());
    }
}
