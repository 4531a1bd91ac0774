//! Reading a policy file: TOML into the model, with every problem found
//! reported at once, each with its line, the rule or app, what is wrong and
//! how to fix it.

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use jiff::tz::TimeZone;
use regex::RegexBuilder;
use serde::Deserialize;
use toml::Spanned;

use super::phone;
use super::rules::Check;
use super::{App, Policy, Rule, TEMPLATES, TOOL_NOT_ENABLED, ToolInfo, UNKNOWN_APP};
use crate::tool::Category;

/// A policy file that cannot be used, and everything wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    pub origin: String,
    pub problems: Vec<Problem>,
}

/// One thing wrong with a policy file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub line: Option<usize>,
    /// `rule `x` (app `y`)`, `app `y``, or empty for the file as a whole.
    pub place: String,
    pub what: String,
    pub fix: String,
}

impl PolicyError {
    pub(crate) fn single(origin: String, what: String, fix: &str) -> PolicyError {
        PolicyError {
            origin,
            problems: vec![Problem {
                line: None,
                place: String::new(),
                what,
                fix: fix.into(),
            }],
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lead = Vec::new();
        if let Some(line) = self.line {
            lead.push(format!("line {line}"));
        }
        if !self.place.is_empty() {
            lead.push(self.place.clone());
        }
        if !lead.is_empty() {
            write!(f, "{}: ", lead.join(", "))?;
        }
        write!(f, "{}", self.what)?;
        if !self.fix.is_empty() {
            write!(f, ". Fix: {}", self.fix)?;
        }
        Ok(())
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [one] => write!(f, "invalid policy file {}: {one}", self.origin),
            many => {
                write!(
                    f,
                    "invalid policy file {} ({} problems):",
                    self.origin,
                    many.len()
                )?;
                for p in many {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for PolicyError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: Option<i64>,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    apps: Vec<RawApp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    name: Spanned<String>,
    description: Option<String>,
    key_hash: Option<String>,
    /// Only to say that a plain key does not belong in the file.
    key: Option<toml::Value>,
    tools: Vec<String>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    template: String,
    tools: Vec<String>,
    message: Option<String>,
    field: Option<String>,
    values: Option<Vec<toml::Value>>,
    max: Option<i64>,
    keywords: Option<Vec<String>>,
    whole_words: Option<bool>,
    pattern: Option<String>,
    description: Option<String>,
    prefix: Option<String>,
    max_calls: Option<i64>,
    window: Option<String>,
    days: Option<Vec<String>>,
    start: Option<String>,
    end: Option<String>,
    timezone: Option<String>,
}

impl RawRule {
    /// The template settings given, by name.
    fn given(&self) -> Vec<&'static str> {
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
fn settings_of(template: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match template {
        "allow_values" | "block_values" => (&["field", "values"], &[]),
        "content_length" => (&["max"], &["field"]),
        "keyword_block" => (&["keywords"], &["field", "whole_words"]),
        "block_pattern" => (&["pattern"], &["field", "description"]),
        "require_prefix" => (&["field", "prefix"], &[]),
        "rate_limit" => (&["max_calls", "window"], &[]),
        "time_window" => (&["start", "end", "timezone"], &["days"]),
        _ => (&[], &[]),
    }
}

struct Loader<'a> {
    text: &'a str,
    tools: &'a [ToolInfo],
    problems: Vec<Problem>,
}

pub(crate) fn parse(text: &str, origin: &str, tools: &[ToolInfo]) -> Result<Policy, PolicyError> {
    let raw: RawPolicy = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        PolicyError {
            origin: origin.into(),
            problems: vec![Problem {
                line,
                place: String::new(),
                what: e.message().trim().to_string(),
                fix: "correct the TOML (see the policy file format in the README)".into(),
            }],
        }
    })?;
    let mut loader = Loader {
        text,
        tools,
        problems: Vec::new(),
    };
    let policy = loader.policy(raw, origin);
    if loader.problems.is_empty() {
        Ok(policy)
    } else {
        Err(PolicyError {
            origin: origin.into(),
            problems: loader.problems,
        })
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |before| before.bytes().filter(|b| *b == b'\n').count())
        + 1
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Edit distance, for "did you mean" suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn suggest<'a>(given: &str, options: impl IntoIterator<Item = &'a str>) -> String {
    options
        .into_iter()
        .map(|o| (distance(given, o), o))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, o)| format!("did you mean `{o}`? "))
        .unwrap_or_default()
}

/// `30s`, `15m`, `1h`, `7d` → milliseconds.
fn parse_window(text: &str) -> Option<i64> {
    let text = text.trim();
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = text.split_at(unit_at);
    let n: i64 = n.parse().ok()?;
    let unit_ms = match unit.trim() {
        "s" | "sec" | "second" | "seconds" => 1_000,
        "m" | "min" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

/// `HH:MM` → minutes of the day; `24:00` only when `allow_24`.
fn parse_hhmm(text: &str, allow_24: bool) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    match (h, m) {
        (24, 0) if allow_24 => Some(1440),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

fn parse_days(names: &[String]) -> Result<[bool; 7], String> {
    let mut days = [false; 7];
    for name in names {
        let lower = name.trim().to_ascii_lowercase();
        let set: &[usize] = match lower.as_str() {
            "mon" | "monday" => &[0],
            "tue" | "tues" | "tuesday" => &[1],
            "wed" | "wednesday" => &[2],
            "thu" | "thur" | "thurs" | "thursday" => &[3],
            "fri" | "friday" => &[4],
            "sat" | "saturday" => &[5],
            "sun" | "sunday" => &[6],
            "weekdays" => &[0, 1, 2, 3, 4],
            "weekend" | "weekends" => &[5, 6],
            "daily" | "every day" | "*" => &[0, 1, 2, 3, 4, 5, 6],
            _ => return Err(name.clone()),
        };
        for d in set {
            days[*d] = true;
        }
    }
    Ok(days)
}

impl Loader<'_> {
    fn problem(&mut self, line: Option<usize>, place: &str, what: String, fix: impl Into<String>) {
        self.problems.push(Problem {
            line,
            place: place.to_string(),
            what,
            fix: fix.into(),
        });
    }

    fn policy(&mut self, raw: RawPolicy, origin: &str) -> Policy {
        if let Some(v) = raw.version
            && v != 1
        {
            self.problem(
                None,
                "",
                format!("version {v} is not supported"),
                "use version = 1 or leave it out",
            );
        }
        if raw.apps.is_empty() {
            self.problem(
                None,
                "",
                "no apps are defined, so no client could use any tool".into(),
                "add at least one [[apps]] table with a name, a key_hash and tools",
            );
        }
        let mut ids = HashSet::new();
        let global: Vec<Rule> = raw
            .rules
            .into_iter()
            .filter_map(|r| self.rule(r, None, &mut ids))
            .collect();
        let mut names = HashSet::new();
        let mut hashes = HashSet::new();
        let mut apps = Vec::new();
        for raw_app in raw.apps {
            if let Some(app) = self.app(raw_app, &mut names, &mut hashes, &mut ids) {
                apps.push(app);
            }
        }
        Policy {
            origin: origin.into(),
            open: false,
            apps,
            global,
        }
    }

    fn app(
        &mut self,
        raw: RawApp,
        names: &mut HashSet<String>,
        hashes: &mut HashSet<[u8; 32]>,
        ids: &mut HashSet<String>,
    ) -> Option<App> {
        let line = Some(line_of(self.text, raw.name.span().start));
        let name = raw.name.into_inner();
        let place = format!("app `{name}`");
        if !valid_name(&name) {
            self.problem(
                line,
                &place,
                "the name is not 1 to 64 letters, digits, `_`, `-` or `.`".into(),
                "rename the app, e.g. `support-bot`",
            );
        }
        if !names.insert(name.clone()) {
            self.problem(
                line,
                &place,
                "another app has the same name".into(),
                "give each app its own name",
            );
        }
        if raw.key.is_some() {
            self.problem(
                line,
                &place,
                "the API key itself is in the file; only its hash may be stored".into(),
                "remove `key` and set key_hash to the line printed by \
                 `host-harness policy hash-key` (it reads the key on stdin)",
            );
        }
        let key_hash = match raw.key_hash.as_deref() {
            None => None,
            Some(text) => {
                let parsed = text
                    .trim()
                    .strip_prefix("sha256:")
                    .and_then(|h| hex::decode(h).ok())
                    .and_then(|b| <[u8; 32]>::try_from(b).ok());
                match parsed {
                    Some(hash) => {
                        if !hashes.insert(hash) {
                            self.problem(
                                line,
                                &place,
                                "another app has the same key_hash, so a key could not tell \
                                 them apart"
                                    .into(),
                                "give each app its own key (`host-harness policy hash-key \
                                 --generate`)",
                            );
                        }
                        Some(hash)
                    }
                    None => {
                        self.problem(
                            line,
                            &place,
                            format!("key_hash `{text}` is not `sha256:` followed by 64 hex digits"),
                            "set it to the line printed by `host-harness policy hash-key`",
                        );
                        None
                    }
                }
            }
        };
        let tools = match self.resolve_tools(&raw.tools) {
            Ok(tools) => tools,
            Err(bad) => {
                for (what, fix) in bad {
                    self.problem(line, &format!("{place}, tools"), what, fix);
                }
                Vec::new()
            }
        };
        let rules = raw
            .rules
            .into_iter()
            .filter_map(|r| self.rule(r, Some(&name), ids))
            .collect();
        Some(App {
            name,
            description: raw.description,
            key_hash,
            tools,
            rules,
        })
    }

    /// Tool names, categories or `*`, as tool names in the component's order.
    fn resolve_tools(&self, selectors: &[String]) -> Result<Vec<String>, Vec<(String, String)>> {
        let mut chosen = BTreeSet::new();
        let mut bad = Vec::new();
        for selector in selectors {
            let s = selector.trim();
            let category = match s {
                "read" => Some(Category::Read),
                "write" => Some(Category::Write),
                "delete" => Some(Category::Delete),
                _ => None,
            };
            let matched: Vec<usize> = self
                .tools
                .iter()
                .enumerate()
                .filter(|(_, t)| {
                    s == "*" || s == "all" || Some(t.category) == category || t.name == s
                })
                .map(|(i, _)| i)
                .collect();
            if matched.is_empty() && category.is_none() {
                bad.push((
                    format!("`{s}` is not a tool of this component"),
                    format!(
                        "{}use a tool name ({}), a category (read, write, delete) or \"*\"",
                        suggest(s, self.tools.iter().map(|t| t.name.as_str())),
                        self.tools
                            .iter()
                            .map(|t| t.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            chosen.extend(matched);
        }
        if bad.is_empty() {
            Ok(chosen
                .into_iter()
                .map(|i| self.tools[i].name.clone())
                .collect())
        } else {
            Err(bad)
        }
    }

    fn rule(&mut self, raw: RawRule, app: Option<&str>, ids: &mut HashSet<String>) -> Option<Rule> {
        let line = Some(line_of(self.text, raw.id.span().start));
        let id = raw.id.get_ref().clone();
        let place = match app {
            Some(app) => format!("rule `{id}` (app `{app}`)"),
            None => format!("rule `{id}`"),
        };
        let before = self.problems.len();
        if !valid_name(&id) {
            self.problem(
                line,
                &place,
                "the id is not 1 to 64 letters, digits, `_`, `-` or `.`".into(),
                "use an id like `only-our-numbers`",
            );
        } else if id == TOOL_NOT_ENABLED || id == UNKNOWN_APP {
            self.problem(
                line,
                &place,
                format!("`{id}` is reserved for the host's own denials"),
                "choose another id",
            );
        }
        if !ids.insert(id.clone()) {
            self.problem(
                line,
                &place,
                "another rule has the same id".into(),
                "give every rule in the file its own id: denials and the audit log name it",
            );
        }
        let Some(template) = TEMPLATES.iter().copied().find(|t| *t == raw.template) else {
            self.problem(
                line,
                &place,
                format!("`{}` is not a rule template", raw.template),
                format!(
                    "{}use one of: {}",
                    suggest(&raw.template, TEMPLATES),
                    TEMPLATES.join(", ")
                ),
            );
            return None;
        };
        let (required, optional) = settings_of(template);
        let given = raw.given();
        for name in &given {
            if !required.contains(name) && !optional.contains(name) {
                let mut takes: Vec<&str> = required.to_vec();
                takes.extend(optional.iter().copied());
                self.problem(
                    line,
                    &place,
                    format!("`{name}` is not a setting of {template}"),
                    format!(
                        "remove it; {template} takes {} (and id, template, tools, message)",
                        takes.join(", ")
                    ),
                );
            }
        }
        for name in required {
            if !given.contains(name) {
                self.problem(
                    line,
                    &place,
                    format!("{template} needs `{name}`"),
                    format!("add `{name} = …` to the rule ({})", example(name)),
                );
            }
        }
        if raw.tools.is_empty() {
            self.problem(
                line,
                &place,
                "the rule is attached to no tool".into(),
                "set tools to tool names, categories (read, write, delete) or [\"*\"]",
            );
        }
        let tools = match self.resolve_tools(&raw.tools) {
            Ok(tools) => tools,
            Err(bad) => {
                for (what, fix) in bad {
                    self.problem(line, &place, what, fix);
                }
                Vec::new()
            }
        };
        if let Some(field) = &raw.field {
            self.check_field(line, &place, field, &tools);
        }
        if self.problems.len() > before {
            return None;
        }
        let check = self.check(line, &place, template, raw.clone_settings())?;
        if self.problems.len() > before {
            return None;
        }
        Some(Rule {
            id,
            template,
            tools,
            message: raw.message,
            check,
        })
    }

    /// Every tool the rule is attached to must have `field`.
    fn check_field(&mut self, line: Option<usize>, place: &str, field: &str, tools: &[String]) {
        let having: Vec<&str> = self
            .tools
            .iter()
            .filter(|t| t.fields.iter().any(|f| f == field))
            .map(|t| t.name.as_str())
            .collect();
        for tool in tools {
            let info = self.tools.iter().find(|t| &t.name == tool);
            let Some(info) = info else { continue };
            if info.fields.iter().any(|f| f == field) {
                continue;
            }
            let fix = if having.is_empty() {
                format!(
                    "{}`{tool}` takes: {}",
                    suggest(field, info.fields.iter().map(String::as_str)),
                    info.fields.join(", ")
                )
            } else {
                format!(
                    "attach the rule only to tools that have `{field}` ({}), or name one of \
                     `{tool}`'s arguments ({})",
                    having.join(", "),
                    info.fields.join(", ")
                )
            };
            self.problem(
                line,
                place,
                format!("the field `{field}` is not an argument of the tool `{tool}`"),
                fix,
            );
        }
    }

    fn check(
        &mut self,
        line: Option<usize>,
        place: &str,
        template: &str,
        s: TemplateSettings,
    ) -> Option<Check> {
        let mut bad = |what: String, fix: &str| {
            self.problems.push(Problem {
                line,
                place: place.to_string(),
                what,
                fix: fix.to_string(),
            });
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
                            Ok(digits) => {
                                values.insert(digits);
                            }
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
                        values.insert(text);
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
                let alternatives = keywords
                    .iter()
                    .map(|k| regex::escape(k.trim()))
                    .collect::<Vec<_>>()
                    .join("|");
                let pattern = if s.whole_words.unwrap_or(false) {
                    format!(r"\b(?:{alternatives})\b")
                } else {
                    format!("(?:{alternatives})")
                };
                match RegexBuilder::new(&pattern)
                    .case_insensitive(true)
                    .size_limit(1 << 22)
                    .build()
                {
                    Ok(matcher) => Some(Check::KeywordBlock {
                        field: s.field,
                        matcher,
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
                                format!(
                                    "the prefix `{prefix}` cannot start a phone number ({why})"
                                ),
                                "write a country code with +, e.g. prefix = \"+44\"",
                            );
                        }
                    }
                } else {
                    prefix
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
}

/// The template settings of a rule, moved out of it.
struct TemplateSettings {
    field: Option<String>,
    values: Option<Vec<toml::Value>>,
    max: Option<i64>,
    keywords: Option<Vec<String>>,
    whole_words: Option<bool>,
    pattern: Option<String>,
    description: Option<String>,
    prefix: Option<String>,
    max_calls: Option<i64>,
    window: Option<String>,
    days: Option<Vec<String>>,
    start: Option<String>,
    end: Option<String>,
    timezone: Option<String>,
}

impl RawRule {
    fn clone_settings(&self) -> TemplateSettings {
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

fn example(setting: &str) -> &'static str {
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
