//! The policy file's TOML as written, before validation, and what each
//! rule template takes.

use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    pub(super) version: Option<i64>,
    #[serde(default)]
    pub(super) rules: Vec<RawRule>,
    #[serde(default)]
    pub(super) apps: Vec<RawApp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApp {
    pub(super) name: Spanned<String>,
    pub(super) description: Option<String>,
    pub(super) key_hash: Option<String>,
    /// Only to say that a plain key does not belong in the file.
    pub(super) key: Option<toml::Value>,
    pub(super) tools: Vec<String>,
    /// Calls this app may have running at once.
    pub(super) max_concurrent: Option<i64>,
    #[serde(default)]
    pub(super) rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub(super) id: Spanned<String>,
    pub(super) template: String,
    pub(super) tools: Vec<String>,
    pub(super) message: Option<String>,
    pub(super) field: Option<String>,
    pub(super) values: Option<Vec<toml::Value>>,
    pub(super) max: Option<i64>,
    pub(super) keywords: Option<Vec<String>>,
    pub(super) whole_words: Option<bool>,
    pub(super) pattern: Option<String>,
    pub(super) description: Option<String>,
    pub(super) prefix: Option<String>,
    pub(super) max_calls: Option<i64>,
    pub(super) window: Option<String>,
    pub(super) days: Option<Vec<String>>,
    pub(super) start: Option<String>,
    pub(super) end: Option<String>,
    pub(super) timezone: Option<String>,
}

impl RawRule {
    /// The template settings given, by name.
    pub(super) fn given(&self) -> Vec<&'static str> {
        [
            ("field", self.field.is_some()),
            ("values", self.values.is_some()),
            ("max", self.max.is_some()),
            ("keywords", self.keywords.is_some()),
            ("whole_words", self.whole_words.is_some()),
            ("pattern", self.pattern.is_some()),
            ("description", self.description.is_some()),
            ("prefix", self.prefix.is_some()),
            ("max_calls", self.max_calls.is_some()),
            ("window", self.window.is_some()),
            ("days", self.days.is_some()),
            ("start", self.start.is_some()),
            ("end", self.end.is_some()),
            ("timezone", self.timezone.is_some()),
        ]
        .into_iter()
        .filter(|(_, given)| *given)
        .map(|(name, _)| name)
        .collect()
    }
}

/// (required, optional) settings of each template.
pub(super) fn settings_of(template: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match template {
        "allow_values" | "block_values" => (&["field", "values"], &[]),
        "content_length" => (&["max"], &["field"]),
        "keyword_block" => (&["keywords"], &["field", "whole_words"]),
        "block_pattern" => (&["pattern"], &["field", "description"]),
        "block_card_numbers" => (&[], &["field"]),
        "require_prefix" => (&["field", "prefix"], &[]),
        "rate_limit" => (&["max_calls", "window"], &[]),
        "time_window" => (&["start", "end", "timezone"], &["days"]),
        _ => (&[], &[]),
    }
}

/// The template settings of a rule, moved out of it.
pub(super) struct TemplateSettings {
    pub(super) field: Option<String>,
    pub(super) values: Option<Vec<toml::Value>>,
    pub(super) max: Option<i64>,
    pub(super) keywords: Option<Vec<String>>,
    pub(super) whole_words: Option<bool>,
    pub(super) pattern: Option<String>,
    pub(super) description: Option<String>,
    pub(super) prefix: Option<String>,
    pub(super) max_calls: Option<i64>,
    pub(super) window: Option<String>,
    pub(super) days: Option<Vec<String>>,
    pub(super) start: Option<String>,
    pub(super) end: Option<String>,
    pub(super) timezone: Option<String>,
}

impl RawRule {
    pub(super) fn clone_settings(&self) -> TemplateSettings {
        TemplateSettings {
            field: self.field.clone(),
            values: self.values.clone(),
            max: self.max,
            keywords: self.keywords.clone(),
            whole_words: self.whole_words,
            pattern: self.pattern.clone(),
            description: self.description.clone(),
            prefix: self.prefix.clone(),
            max_calls: self.max_calls,
            window: self.window.clone(),
            days: self.days.clone(),
            start: self.start.clone(),
            end: self.end.clone(),
            timezone: self.timezone.clone(),
        }
    }
}

pub(super) fn example(setting: &str) -> &'static str {
    match setting {
        "field" => "e.g. field = \"to\"",
        "values" => "e.g. values = [\"+16505551234\"]",
        "max" => "e.g. max = 1000",
        "keywords" => "e.g. keywords = [\"refund\"]",
        "pattern" => "e.g. pattern = '\\d{16}'",
        "prefix" => "e.g. prefix = \"+44\"",
        "max_calls" => "e.g. max_calls = 100",
        "window" => "e.g. window = \"1h\"",
        "start" => "e.g. start = \"09:00\"",
        "end" => "e.g. end = \"17:00\"",
        "timezone" => "e.g. timezone = \"Europe/Berlin\"",
        _ => "see the README",
    }
}
