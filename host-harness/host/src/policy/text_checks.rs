//! The text rules (`content_length`, `keyword_block`, `block_pattern`,
//! `block_card_numbers`), judging text as the recipient reads it.

use regex::Regex;
use serde_json::Value;

use super::outcome::{RuleOutcome, fail};
use super::seen::{KnownTemplate, counts, seen, values};
use super::text::{has_card_number, normalise, skeleton};

/// The keywords of a `keyword_block` rule, as written and as matched.
#[derive(Debug)]
pub(crate) struct Keywords {
    /// As the operator wrote them (for the denial's reason).
    pub(crate) written: Vec<String>,
    /// Each keyword's skeleton, in the same order.
    pub(crate) skeletons: Vec<String>,
    /// Matches any of the skeletons (in skeletons of text).
    pub(crate) matcher: Regex,
}

/// At most `max` characters (after normalisation) in `field`, all its text
/// together, or in each text value of the arguments. Counts what the caller
/// supplies; the template's own text is not counted.
pub(crate) fn content_length(args: &Value, field: Option<&str>, max: usize) -> RuleOutcome {
    match field {
        Some(field) => {
            let n: usize = values(args, Some(field))
                .iter()
                .map(|(_, t)| normalise(t).chars().count())
                .sum();
            if n > max {
                return fail(
                    format!("`{field}` has {n} characters; at most {max} are allowed"),
                    format!("shorten `{field}` to {max} characters or fewer"),
                    Some(field),
                );
            }
        }
        None => {
            for (name, text) in values(args, None) {
                let n = normalise(&text).chars().count();
                if n > max {
                    return fail(
                        format!(
                            "a text in `{name}` has {n} characters; at most {max} are allowed \
                             in any text"
                        ),
                        format!("shorten it to {max} characters or fewer"),
                        Some(name),
                    );
                }
            }
        }
    }
    RuleOutcome::Pass
}

/// None of the keywords, compared as confusable skeletons.
pub(crate) fn keyword_block(
    args: &Value,
    field: Option<&str>,
    template: Option<&KnownTemplate>,
    keywords: &Keywords,
) -> RuleOutcome {
    for s in seen(args, field, template) {
        let (text, supplied) = s.form(skeleton);
        let Some(m) = keywords
            .matcher
            .find_iter(&text)
            .find(|m| counts(m.range(), &supplied))
        else {
            continue;
        };
        let word = keywords
            .skeletons
            .iter()
            .position(|k| k == m.as_str())
            .map_or(m.as_str(), |i| keywords.written[i].as_str());
        return fail(
            format!("{} contains the blocked word `{word}`", s.place),
            format!("rephrase without `{word}` (or a look-alike spelling of it)"),
            s.field.as_deref(),
        );
    }
    RuleOutcome::Pass
}

/// `matcher` must not match normalised text.
pub(crate) fn block_pattern(
    args: &Value,
    field: Option<&str>,
    template: Option<&KnownTemplate>,
    matcher: &Regex,
    description: &str,
) -> RuleOutcome {
    for s in seen(args, field, template) {
        let (text, supplied) = s.form(normalise);
        if matcher
            .find_iter(&text)
            .any(|m| counts(m.range(), &supplied))
        {
            return fail(
                format!("{} contains {description}, which is not allowed", s.place),
                format!("remove {description} from it and try again"),
                s.field.as_deref(),
            );
        }
    }
    RuleOutcome::Pass
}

/// No payment card number (see [`has_card_number`]); the reason never
/// repeats the digits.
pub(crate) fn block_card_numbers(
    args: &Value,
    field: Option<&str>,
    template: Option<&KnownTemplate>,
) -> RuleOutcome {
    for s in seen(args, field, template) {
        let (text, _) = s.form(normalise);
        if has_card_number(&text) {
            return fail(
                format!(
                    "{} contains what looks like a payment card number (13 to 19 digits that \
                     pass the Luhn check)",
                    s.place
                ),
                "never send card numbers over WhatsApp; refer to a card by its last four digits \
                 only"
                    .into(),
                s.field.as_deref(),
            );
        }
    }
    RuleOutcome::Pass
}
