//! Phone numbers as the policy compares them: E.164 digits.
//!
//! Numbers are normalised by the component's own code (the host links the
//! component's pure core natively), so the number a rule checks is exactly
//! the number the component would send to, and anything the component would
//! refuse is refused here too: a look-alike cannot slip past a rule.

/// Argument fields that name a recipient: compared as phone numbers.
pub const RECIPIENT_FIELDS: [&str; 1] = ["to"];

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

pub use whatsapp_connector::phone::normalise_prefix;

/// A recipient as the audit log shows it: `+1650*****34` (country code and
/// area kept for triage, the subscriber part hidden). Anything that is not
/// a phone number is hidden entirely.
pub fn mask(input: &str) -> String {
    match normalise(input) {
        Ok(digits) => {
            let n = digits.len();
            format!("+{}{}{}", &digits[..4], "*".repeat(n - 6), &digits[n - 2..])
        }
        Err(_) => "*".repeat(input.chars().count().clamp(1, 16)),
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
    fn masking_keeps_the_country_and_area_and_the_last_two_digits() {
        assert_eq!(mask("+1 (650) 555-1234"), "+1650*****34");
        assert_eq!(mask("4915123456789"), "+4915*******89");
        assert_eq!(mask("12345678"), "+1234**78");
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
