//! The rule templates and how each one judges a call.

use std::collections::BTreeSet;

use jiff::tz::TimeZone;
use regex::Regex;
use serde_json::Value;

use super::call::{Call, Counters, RateHit, rate_key};
pub(crate) use super::outcome::RuleOutcome;
use super::outcome::{Failure, fail};
use super::phone;
use super::text::normalise;
use super::text_checks::{self, Keywords};

/// A template with its settings, validated at load.
#[derive(Debug)]
pub(crate) enum Check {
    /// The field must hold one of `values` (recipients as E.164 digits).
    AllowValues {
        field: String,
        values: BTreeSet<String>,
        recipient: bool,
    },
    /// The field must not hold any of `values`.
    BlockValues {
        field: String,
        values: BTreeSet<String>,
        recipient: bool,
    },
    /// At most `max` characters: in `field` (all its text together), or in
    /// every text value of the arguments.
    ContentLength { field: Option<String>, max: usize },
    /// None of the keywords, case-insensitively and as look-alikes, in
    /// `field` or any text.
    KeywordBlock {
        field: Option<String>,
        keywords: Keywords,
    },
    /// `pattern` must not match `field` or any text.
    BlockPattern {
        field: Option<String>,
        matcher: Regex,
        description: String,
    },
    /// No payment card number in `field` or any text.
    BlockCardNumbers { field: Option<String> },
    /// The field must start with `prefix` (recipients: digits after `+`).
    RequirePrefix {
        field: String,
        prefix: String,
        recipient: bool,
    },
    /// At most `max_calls` calls per app and tool in any `window_ms`.
    RateLimit {
        max_calls: u32,
        window_ms: i64,
        window_text: String,
    },
    /// Only on `days` between `start` and `end` (minutes of the day, end
    /// exclusive; start > end crosses midnight) in `zone`.
    TimeWindow {
        zone: TimeZone,
        zone_name: String,
        days: [bool; 7],
        start: u16,
        end: u16,
    },
}

/// Present and not null.
fn arg<'a>(args: &'a Value, field: &str) -> Option<&'a Value> {
    args.get(field).filter(|v| !v.is_null())
}

/// Every scalar in `value` as text (strings normalised as the recipient
/// reads them, numbers and booleans as JSON writes them), depth first.
fn scalars(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(normalise(s)),
        Value::Number(n) => out.push(n.to_string()),
        Value::Bool(b) => out.push(b.to_string()),
        Value::Array(items) => items.iter().for_each(|v| scalars(v, out)),
        Value::Object(map) => map.values().for_each(|v| scalars(v, out)),
        Value::Null => {}
    }
}

/// The values of a recipient field as E.164 digits, or why it cannot be read.
fn recipient_digits(field: &str, value: &Value) -> Result<String, (String, String)> {
    let Value::String(text) = value else {
        return Err((
            format!("`{field}` is not a phone number string"),
            format!("give `{field}` as a string in international format, like \"+16505551234\""),
        ));
    };
    phone::normalise(text).map_err(|why| {
        (
            format!("`{field}` = `{text}` is not a valid phone number ({why})"),
            format!(
                "give `{field}` in international format with the country code, like +16505551234"
            ),
        )
    })
}

fn list(values: &BTreeSet<String>) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

fn days_text(days: &[bool; 7]) -> String {
    if days.iter().all(|d| *d) {
        return "every day".into();
    }
    DAY_NAMES
        .iter()
        .zip(days)
        .filter(|(_, on)| **on)
        .map(|(d, _)| *d)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Check {
    pub(crate) fn check(
        &self,
        rule: &str,
        call: &Call<'_>,
        counters: &dyn Counters,
    ) -> RuleOutcome {
        let args = call.args;
        match self {
            Check::AllowValues {
                field,
                values,
                recipient,
            } => {
                let Some(value) = arg(args, field) else {
                    return fail(
                        format!("`{field}` is missing, and this rule allows only listed values"),
                        format!("give `{field}`"),
                        Some(field),
                    );
                };
                if *recipient {
                    return match recipient_digits(field, value) {
                        Err((reason, hint)) => fail(reason, hint, Some(field)),
                        Ok(digits) if values.contains(&digits) => RuleOutcome::Pass,
                        Ok(digits) => fail(
                            format!("+{digits} is not a recipient this app may message"),
                            "message only the recipients the operator allowed; ask the operator \
                             to add this number if it should be reachable"
                                .into(),
                            Some(field),
                        ),
                    };
                }
                let mut found = Vec::new();
                scalars(value, &mut found);
                if found.is_empty() {
                    return fail(
                        format!("`{field}` holds no value this rule can check"),
                        format!("give `{field}` one of: {}", list(values)),
                        Some(field),
                    );
                }
                match found.iter().find(|v| !values.contains(*v)) {
                    None => RuleOutcome::Pass,
                    Some(bad) => fail(
                        format!("`{field}` = `{bad}` is not allowed"),
                        format!("use one of: {}", list(values)),
                        Some(field),
                    ),
                }
            }
            Check::BlockValues {
                field,
                values,
                recipient,
            } => {
                let Some(value) = arg(args, field) else {
                    return RuleOutcome::Pass;
                };
                if *recipient {
                    return match recipient_digits(field, value) {
                        // Unreadable: cannot prove it is not a blocked number.
                        Err((reason, hint)) => fail(reason, hint, Some(field)),
                        Ok(digits) if values.contains(&digits) => fail(
                            format!("+{digits} is a blocked recipient"),
                            "do not message this recipient".into(),
                            Some(field),
                        ),
                        Ok(_) => RuleOutcome::Pass,
                    };
                }
                let mut found = Vec::new();
                scalars(value, &mut found);
                match found.iter().find(|v| values.contains(*v)) {
                    None => RuleOutcome::Pass,
                    Some(bad) => fail(
                        format!("`{field}` = `{bad}` is blocked"),
                        format!("use a value other than `{bad}` for `{field}`"),
                        Some(field),
                    ),
                }
            }
            Check::ContentLength { field, max } => {
                text_checks::content_length(args, field.as_deref(), *max)
            }
            Check::KeywordBlock { field, keywords } => {
                text_checks::keyword_block(args, field.as_deref(), call.template, keywords)
            }
            Check::BlockPattern {
                field,
                matcher,
                description,
            } => text_checks::block_pattern(
                args,
                field.as_deref(),
                call.template,
                matcher,
                description,
            ),
            Check::BlockCardNumbers { field } => {
                text_checks::block_card_numbers(args, field.as_deref(), call.template)
            }
            Check::RequirePrefix {
                field,
                prefix,
                recipient,
            } => {
                let Some(value) = arg(args, field) else {
                    return fail(
                        format!("`{field}` is missing, and this rule requires it"),
                        format!("give `{field}` starting with `{prefix}`"),
                        Some(field),
                    );
                };
                if *recipient {
                    return match recipient_digits(field, value) {
                        Err((reason, hint)) => fail(reason, hint, Some(field)),
                        // Either spelling of a number WhatsApp aliases will do.
                        Ok(digits)
                            if phone::aliases(&digits)
                                .iter()
                                .any(|d| d.starts_with(prefix.as_str())) =>
                        {
                            RuleOutcome::Pass
                        }
                        Ok(digits) => fail(
                            format!("+{digits} does not start with +{prefix}"),
                            format!("message only numbers starting with +{prefix}"),
                            Some(field),
                        ),
                    };
                }
                let mut found = Vec::new();
                scalars(value, &mut found);
                if found.is_empty() {
                    return fail(
                        format!("`{field}` holds no value this rule can check"),
                        format!("give `{field}` starting with `{prefix}`"),
                        Some(field),
                    );
                }
                match found.iter().find(|v| !v.starts_with(prefix.as_str())) {
                    None => RuleOutcome::Pass,
                    Some(bad) => fail(
                        format!("`{field}` = `{bad}` does not start with `{prefix}`"),
                        format!("use a value of `{field}` that starts with `{prefix}`"),
                        Some(field),
                    ),
                }
            }
            Check::RateLimit {
                max_calls,
                window_ms,
                window_text,
            } => {
                let key = rate_key(rule, call.app, call.tool);
                let times = match counters.recent(&key) {
                    Ok(times) => times,
                    Err(e) => {
                        return RuleOutcome::Fail(Failure {
                            reason: format!("the rate-limit count cannot be read ({e})"),
                            hint: "retry in a moment".into(),
                            field: None,
                            retryable: true,
                        });
                    }
                };
                let now = call.now.as_millisecond();
                let since = now - window_ms;
                let mut in_window: Vec<i64> = times.into_iter().filter(|t| *t > since).collect();
                if in_window.len() < *max_calls as usize {
                    return RuleOutcome::Count(RateHit {
                        key,
                        max_calls: *max_calls,
                        window_ms: *window_ms,
                    });
                }
                in_window.sort_unstable();
                // The call that frees a slot is the oldest still in the window.
                let wait_ms =
                    (in_window[in_window.len() - *max_calls as usize] + window_ms - now).max(1);
                let wait_s = (wait_ms + 999) / 1000;
                RuleOutcome::Fail(Failure {
                    reason: format!(
                        "`{}` may be called at most {max_calls} times per {window_text} by this \
                         app, and that many calls were made in the last {window_text}",
                        call.tool
                    ),
                    hint: format!("wait {wait_s} s before calling `{}` again", call.tool),
                    field: None,
                    retryable: true,
                })
            }
            Check::TimeWindow {
                zone,
                zone_name,
                days,
                start,
                end,
            } => {
                let local = zone.to_datetime(call.now);
                let today = local.weekday().to_monday_zero_offset() as usize;
                let yesterday = (today + 6) % 7;
                let minute = local.hour() as u16 * 60 + local.minute() as u16;
                let open = if start < end {
                    days[today] && *start <= minute && minute < *end
                } else {
                    // Crosses midnight: the window belongs to the day it opens.
                    (days[today] && minute >= *start) || (days[yesterday] && minute < *end)
                };
                if open {
                    return RuleOutcome::Pass;
                }
                RuleOutcome::Fail(Failure {
                    reason: format!(
                        "`{}` may be used only {} from {} to {} ({zone_name} time); it is now {} {} there",
                        call.tool,
                        days_text(days),
                        hhmm(*start),
                        hhmm(*end),
                        DAY_NAMES[today],
                        hhmm(minute),
                    ),
                    hint: "try again inside that time window".into(),
                    field: None,
                    retryable: true,
                })
            }
        }
    }
}
