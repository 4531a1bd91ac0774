//! Building a rule's check from its template settings.

use std::collections::BTreeSet;

use jiff::tz::TimeZone;
use regex::RegexBuilder;

use super::raw::TemplateSettings;
use super::values::{parse_days, parse_hhmm, parse_window};
use crate::policy::phone;
use crate::policy::rules::Check;
use crate::policy::text::{normalise, skeleton};
use crate::policy::text_checks::Keywords;

/// The check a rule of `template` makes with the settings `s`. `None` when
/// a required setting is missing (reported already by the caller) or a
/// setting is invalid; then `invalid` says what is wrong and how to fix it.
pub(super) fn build_check(
    template: &str,
    s: TemplateSettings,
    invalid: &mut Option<(String, &'static str)>,
) -> Option<Check> {
    let mut bad = |what: String, fix: &'static str| {
        *invalid = Some((what, fix));
        None
    };
    match template {
        "allow_values" | "block_values" => {
            let field = s.field?;
            let raw_values = s.values?;
            if raw_values.is_empty() {
                return bad(
                    "`values` is empty".into(),
                    "list at least one value (or remove the rule)",
                );
            }
            let recipient = phone::is_recipient_field(&field);
            let mut values = BTreeSet::new();
            for v in &raw_values {
                let text = match v {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Boolean(b) if !recipient => b.to_string(),
                    other => {
                        return bad(
                            format!("the value {other} is not a string or a number"),
                            "write values as strings, e.g. \"+16505551234\"",
                        );
                    }
                };
                if recipient {
                    match phone::normalise(&text) {
                        // Both spellings of a number WhatsApp aliases.
                        Ok(digits) => values.extend(phone::aliases(&digits)),
                        Err(why) => {
                            return bad(
                                format!(
                                    "the value `{text}` of `{field}` is not a phone number \
                                     ({why})"
                                ),
                                "write recipients in international format, e.g. \
                                 \"+16505551234\"",
                            );
                        }
                    }
                } else {
                    values.insert(normalise(&text));
                }
            }
            Some(if template == "allow_values" {
                Check::AllowValues {
                    field,
                    values,
                    recipient,
                }
            } else {
                Check::BlockValues {
                    field,
                    values,
                    recipient,
                }
            })
        }
        "content_length" => {
            let max = s.max?;
            if !(1..=1_000_000).contains(&max) {
                return bad(
                    format!("max = {max} is out of range"),
                    "set max to a number of characters from 1 to 1000000",
                );
            }
            Some(Check::ContentLength {
                field: s.field,
                max: max as usize,
            })
        }
        "keyword_block" => {
            let keywords: Vec<String> = s.keywords?;
            if keywords.is_empty() || keywords.iter().any(|k| k.trim().is_empty()) {
                return bad(
                    "`keywords` is empty or has an empty keyword".into(),
                    "list the words to block, e.g. keywords = [\"refund\", \"lawsuit\"]",
                );
            }
            let written: Vec<String> = keywords.iter().map(|k| k.trim().to_string()).collect();
            let skeletons: Vec<String> = written.iter().map(|k| skeleton(k)).collect();
            if skeletons.iter().any(String::is_empty) {
                return bad(
                    "a keyword is made only of invisible characters".into(),
                    "list visible words to block, e.g. keywords = [\"refund\"]",
                );
            }
            let alternatives = skeletons
                .iter()
                .map(|k| regex::escape(k))
                .collect::<Vec<_>>()
                .join("|");
            let pattern = if s.whole_words.unwrap_or(false) {
                format!(r"\b(?:{alternatives})\b")
            } else {
                format!("(?:{alternatives})")
            };
            // Skeletons are of lower-cased text: matching is case-insensitive.
            match RegexBuilder::new(&pattern).size_limit(1 << 22).build() {
                Ok(matcher) => Some(Check::KeywordBlock {
                    field: s.field,
                    keywords: Keywords {
                        written,
                        skeletons,
                        matcher,
                    },
                }),
                Err(e) => bad(
                    format!("the keywords cannot be matched: {e}"),
                    "use fewer or shorter keywords",
                ),
            }
        }
        "block_pattern" => {
            let pattern = s.pattern?;
            match RegexBuilder::new(&pattern).size_limit(1 << 22).build() {
                Ok(matcher) => Some(Check::BlockPattern {
                    field: s.field,
                    matcher,
                    description: s
                        .description
                        .unwrap_or_else(|| format!("text matching the pattern `{pattern}`")),
                }),
                Err(e) => bad(
                    format!(
                        "the pattern is not a valid regular expression: {}",
                        e.to_string().replace('\n', " ")
                    ),
                    "fix the pattern (Rust regex syntax; in TOML, write it in 'single \
                     quotes' so backslashes stay as they are)",
                ),
            }
        }
        "block_card_numbers" => Some(Check::BlockCardNumbers { field: s.field }),
        "require_prefix" => {
            let field = s.field?;
            let prefix = s.prefix?;
            let recipient = phone::is_recipient_field(&field);
            if prefix.is_empty() {
                return bad(
                    "`prefix` is empty".into(),
                    "set the prefix values must start with",
                );
            }
            let prefix = if recipient {
                match phone::normalise_prefix(&prefix) {
                    Ok(digits) => digits,
                    Err(why) => {
                        return bad(
                            format!("the prefix `{prefix}` cannot start a phone number ({why})"),
                            "write a country code with +, e.g. prefix = \"+44\"",
                        );
                    }
                }
            } else {
                normalise(&prefix)
            };
            Some(Check::RequirePrefix {
                field,
                prefix,
                recipient,
            })
        }
        "rate_limit" => {
            let max_calls = s.max_calls?;
            let window_text = s.window?;
            if !(1..=10_000).contains(&max_calls) {
                return bad(
                    format!("max_calls = {max_calls} is out of range"),
                    "set max_calls from 1 to 10000 (use a shorter window for higher rates)",
                );
            }
            let Some(window_ms) =
                parse_window(&window_text).filter(|ms| (1_000..=31 * 86_400_000).contains(ms))
            else {
                return bad(
                    format!("window `{window_text}` is not a duration from 1s to 31d"),
                    "write a number and a unit: s, m, h or d, e.g. window = \"1h\"",
                );
            };
            Some(Check::RateLimit {
                max_calls: max_calls as u32,
                window_ms,
                window_text: window_text.trim().to_string(),
            })
        }
        "time_window" => {
            let zone_name = s.timezone?;
            let start_text = s.start?;
            let end_text = s.end?;
            let zone = match TimeZone::get(zone_name.trim()) {
                Ok(zone) => zone,
                Err(_) => {
                    return bad(
                        format!("`{zone_name}` is not a known time zone"),
                        "use an IANA time zone name, e.g. \"Europe/Berlin\", \
                         \"America/New_York\" or \"UTC\"",
                    );
                }
            };
            let (Some(start), Some(end)) =
                (parse_hhmm(&start_text, false), parse_hhmm(&end_text, true))
            else {
                return bad(
                    format!("start `{start_text}` or end `{end_text}` is not a time HH:MM"),
                    "write 24-hour times like \"09:00\" and \"17:30\" (end may be \"24:00\")",
                );
            };
            if start == end {
                return bad(
                    format!("start and end are both {start_text}, an empty window"),
                    "for the whole day use start = \"00:00\" and end = \"24:00\"",
                );
            }
            let days = match s.days.as_deref().map(parse_days) {
                None => [true; 7],
                Some(Ok(days)) if days.iter().any(|d| *d) => days,
                Some(Ok(_)) => {
                    return bad(
                        "`days` is empty".into(),
                        "list days like [\"mon\", \"tue\"] or [\"weekdays\"]",
                    );
                }
                Some(Err(day)) => {
                    return bad(
                        format!("`{day}` is not a day"),
                        "use mon, tue, wed, thu, fri, sat, sun, weekdays or weekends",
                    );
                }
            };
            Some(Check::TimeWindow {
                zone,
                zone_name: zone_name.trim().to_string(),
                days,
                start,
                end,
            })
        }
        _ => None,
    }
}
