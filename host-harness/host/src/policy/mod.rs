//! Apps, tool enablement and argument guardrails, checked host-side before
//! any instance of the component is created.
//!
//! A policy file names the apps (AI clients) that may use the connector,
//! each with the hash of its API key, the tools it may see and call, and
//! rules on the arguments. Global rules apply to every app. Evaluation is
//! first deny wins, in this order: is the tool enabled for the app → global
//! rules in file order → the app's rules in file order.
//!
//! This module is pure: it parses and validates a policy against the
//! component's tools and evaluates calls. Counters for `rate_limit` come in
//! through [`Counters`] and the time through the caller; the gateway
//! (`crate::gateway`) supplies both and records allowed calls.
//!
//! ```toml
//! # Rules for every app.
//! [[rules]]
//! id = "no-card-numbers"
//! template = "block_pattern"
//! tools = ["write"]                 # tool names, categories (read, write, delete) or "*"
//! pattern = '\b(?:\d[ -]?){13,16}\b'
//! description = "payment card numbers"
//!
//! [[apps]]
//! name = "support-bot"
//! key_hash = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//! tools = ["read", "whatsapp_send_message", "whatsapp_send_template", "whatsapp_send_media"]
//!
//! [[apps.rules]]
//! id = "support-recipients"
//! template = "allow_values"
//! tools = ["whatsapp_send_message", "whatsapp_send_template", "whatsapp_send_media"]
//! field = "to"
//! values = ["+16505551234", "+44 20 7946 0958"]
//! ```

// The `policy` subcommand of the CLI (the one part here that does I/O).
mod load;
pub mod phone;
mod rules;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::Path;

use jiff::Timestamp;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::tool::{Category, ErrorKind, ToolDescriptor, ToolError};

pub use load::{PolicyError, Problem};
use rules::{Check, Outcome};

/// The app every call runs as when no policy is given: all tools, no rules.
pub const OPEN_APP: &str = "default";

/// The `rule` of a denial because the tool is not enabled for the app.
pub const TOOL_NOT_ENABLED: &str = "tool-not-enabled";

/// The `rule` of a denial because the app is not (or no longer) in the policy.
pub const UNKNOWN_APP: &str = "unknown-app";

/// The templates a rule can use.
pub const TEMPLATES: [&str; 8] = [
    "allow_values",
    "block_values",
    "content_length",
    "keyword_block",
    "block_pattern",
    "require_prefix",
    "rate_limit",
    "time_window",
];

/// What the policy needs to know about a tool: its name, category and the
/// argument names its input schema declares.
#[derive(Clone, Debug)]
pub struct ToolInfo {
    pub name: String,
    pub category: Category,
    pub fields: Vec<String>,
}

impl ToolInfo {
    pub fn from_descriptor(d: &ToolDescriptor) -> ToolInfo {
        let fields = d
            .input_schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        ToolInfo {
            name: d.name.clone(),
            category: d.category,
            fields,
        }
    }

    pub fn from_descriptors(descriptors: &[ToolDescriptor]) -> Vec<ToolInfo> {
        descriptors.iter().map(ToolInfo::from_descriptor).collect()
    }
}

/// A loaded, validated policy. Immutable: a reload builds a new one.
#[derive(Debug)]
pub struct Policy {
    origin: String,
    open: bool,
    apps: Vec<App>,
    global: Vec<Rule>,
}

/// One AI client and what it may do.
#[derive(Debug)]
pub struct App {
    name: String,
    description: Option<String>,
    key_hash: Option<[u8; 32]>,
    /// Enabled tools, in the component's order.
    tools: Vec<String>,
    rules: Vec<Rule>,
}

/// One guardrail, attached to some tools.
#[derive(Debug)]
pub struct Rule {
    id: String,
    template: &'static str,
    tools: Vec<String>,
    /// The operator's own advice for the model, used as the hint.
    message: Option<String>,
    check: Check,
}

/// Which layer refused a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    Enablement,
    Global,
    App,
}

/// Why a call was refused, in words a model can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    pub rule: String,
    pub layer: Layer,
    pub reason: String,
    pub hint: String,
    pub field: Option<String>,
    /// Waiting may help (rate limits, time windows).
    pub retryable: bool,
}

impl Denial {
    /// The error the client gets: kind `denied`, the rule's id, the reason.
    pub fn to_tool_error(&self) -> ToolError {
        let mut e = ToolError::new(
            ErrorKind::Denied,
            "Refused by policy",
            format!("{}; nothing was sent", self.reason),
            self.hint.clone(),
        )
        .retryable(self.retryable);
        e.rule = Some(self.rule.clone());
        e.field = self.field.clone();
        e
    }
}

/// A `rate_limit` rule that let a call through: the gateway records the
/// call under `key` once every rule has passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateHit {
    pub key: String,
    pub window_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow(Vec<RateHit>),
    Deny(Denial),
}

/// Past calls, for `rate_limit`: the times (Unix ms) recorded under a key.
pub trait Counters {
    fn recent(&self, key: &str) -> Result<Vec<i64>, String>;
}

/// No counters at all: for policies without rate limits.
pub struct NoCounters;

impl Counters for NoCounters {
    fn recent(&self, _key: &str) -> Result<Vec<i64>, String> {
        Ok(Vec::new())
    }
}

/// One call as the policy sees it.
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    pub app: &'a str,
    pub tool: &'a str,
    pub args: &'a Value,
    pub now: Timestamp,
}

/// `sha256:<hex>` of an API key, the form a policy file stores.
pub fn hash_key(key: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(key.as_bytes())))
}

/// The store key under which `rate_limit` rule `rule` counts `app`'s calls to `tool`.
pub fn rate_key(rule: &str, app: &str, tool: &str) -> String {
    format!("ratelimit/{rule}/{app}/{tool}")
}

impl Policy {
    /// The policy in force when none is given: one app, `default`, with
    /// every tool and no rules, and no API keys.
    pub fn open(tools: &[ToolInfo]) -> Policy {
        Policy {
            origin: "no policy (all tools enabled)".into(),
            open: true,
            apps: vec![App {
                name: OPEN_APP.into(),
                description: None,
                key_hash: None,
                tools: tools.iter().map(|t| t.name.clone()).collect(),
                rules: Vec::new(),
            }],
            global: Vec::new(),
        }
    }

    /// Reads and validates the policy file at `path`.
    pub fn load(path: &Path, tools: &[ToolInfo]) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            PolicyError::single(
                path.display().to_string(),
                format!("cannot read it: {e}"),
                "check the path given with --policy or [policy] path",
            )
        })?;
        Policy::parse(&text, &path.display().to_string(), tools)
    }

    /// Parses and validates policy `text`; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str, tools: &[ToolInfo]) -> Result<Policy, PolicyError> {
        load::parse(text, origin, tools)
    }

    /// Where this policy came from (its file), for messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Whether this is the built-in open policy (no file was given).
    pub fn is_open(&self) -> bool {
        self.open
    }

    pub fn apps(&self) -> &[App] {
        &self.apps
    }

    pub fn app(&self, name: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.name == name)
    }

    pub fn global_rules(&self) -> &[Rule] {
        &self.global
    }

    /// The app whose key this is. Every app's hash is compared, in constant
    /// time, whatever matches first.
    pub fn authenticate(&self, key: &str) -> Option<&App> {
        let presented: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let mut found = None;
        for app in &self.apps {
            if let Some(hash) = &app.key_hash
                && bool::from(hash.ct_eq(&presented))
                && found.is_none()
            {
                found = Some(app);
            }
        }
        found
    }

    /// Whether any rule (global or the app's) applies to `tool`.
    pub fn has_rules(&self, app: &str, tool: &str) -> bool {
        self.rules_for(app, tool).next().is_some()
    }

    /// Whether a `rate_limit` rule applies to `tool` for `app`.
    pub fn has_rate_limits(&self, app: &str, tool: &str) -> bool {
        self.rules_for(app, tool)
            .any(|(_, r)| matches!(r.check, Check::RateLimit { .. }))
    }

    fn rules_for<'a>(
        &'a self,
        app: &'a str,
        tool: &'a str,
    ) -> impl Iterator<Item = (Layer, &'a Rule)> + 'a {
        let app_rules = self.app(app).map(|a| a.rules.as_slice()).unwrap_or(&[]);
        self.global
            .iter()
            .map(|r| (Layer::Global, r))
            .chain(app_rules.iter().map(|r| (Layer::App, r)))
            .filter(move |(_, r)| r.applies_to(tool))
    }

    /// Decides `call`: the first rule that refuses it wins.
    pub fn evaluate(&self, call: &Call<'_>, counters: &dyn Counters) -> Verdict {
        let Some(app) = self.app(call.app) else {
            return Verdict::Deny(Denial {
                rule: UNKNOWN_APP.into(),
                layer: Layer::Enablement,
                reason: format!("the app `{}` is not defined in the policy", call.app),
                hint: "ask the operator to add the app to the policy file, or connect as one of \
                       its apps"
                    .into(),
                field: None,
                retryable: false,
            });
        };
        if !app.enabled(call.tool) {
            return Verdict::Deny(Denial {
                rule: TOOL_NOT_ENABLED.into(),
                layer: Layer::Enablement,
                reason: format!(
                    "the tool `{}` is not enabled for the app `{}`",
                    call.tool, app.name
                ),
                hint: format!("use one of: {}", app.tools.join(", ")),
                field: None,
                retryable: false,
            });
        }
        let mut hits = Vec::new();
        for (layer, rule) in self.rules_for(call.app, call.tool) {
            match rule.check.check(&rule.id, call, counters) {
                Outcome::Pass => {}
                Outcome::Count(hit) => hits.push(hit),
                Outcome::Fail(failure) => {
                    return Verdict::Deny(Denial {
                        rule: rule.id.clone(),
                        layer,
                        reason: format!("{} (rule `{}`)", failure.reason, rule.id),
                        hint: rule.message.clone().unwrap_or(failure.hint),
                        field: failure.field,
                        retryable: failure.retryable,
                    });
                }
            }
        }
        Verdict::Allow(hits)
    }

    /// A human summary: apps, their tools and the rules, for `policy check`.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let rule_line = |r: &Rule| {
            format!(
                "{} ({}) on {}",
                r.id,
                r.template,
                if r.tools.is_empty() {
                    "no tools".to_string()
                } else {
                    r.tools.join(", ")
                }
            )
        };
        out.push_str(&format!("policy {}\n", self.origin));
        if self.global.is_empty() {
            out.push_str("global rules: none\n");
        } else {
            out.push_str("global rules:\n");
            for r in &self.global {
                out.push_str(&format!("  - {}\n", rule_line(r)));
            }
        }
        for app in &self.apps {
            out.push_str(&format!(
                "app {}{}: {}\n",
                app.name,
                if app.key_hash.is_some() {
                    ""
                } else {
                    " (no key: stdio only)"
                },
                app.description.as_deref().unwrap_or("")
            ));
            out.push_str(&format!("  tools: {}\n", app.tools.join(", ")));
            for r in &app.rules {
                out.push_str(&format!("  rule {}\n", rule_line(r)));
            }
        }
        out
    }
}

impl App {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn has_key(&self) -> bool {
        self.key_hash.is_some()
    }

    /// The enabled tools, in the component's order.
    pub fn tools(&self) -> &[String] {
        &self.tools
    }

    pub fn enabled(&self, tool: &str) -> bool {
        self.tools.iter().any(|t| t == tool)
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

impl Rule {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn template(&self) -> &'static str {
        self.template
    }

    /// The tools it is attached to, in the component's order.
    pub fn tools(&self) -> &[String] {
        &self.tools
    }

    fn applies_to(&self, tool: &str) -> bool {
        self.tools.iter().any(|t| t == tool)
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Enablement => "enablement",
            Layer::Global => "global",
            Layer::App => "app",
        })
    }
}

/// Where evaluation gets the time: the system clock, or a fixed one in tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that shows what it is set to; for tests.
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<Timestamp>);

impl ManualClock {
    pub fn new(at: Timestamp) -> ManualClock {
        ManualClock(std::sync::Mutex::new(at))
    }

    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    pub fn advance(&self, by: std::time::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now = now
            .checked_add(jiff::SignedDuration::try_from(by).unwrap_or(jiff::SignedDuration::MAX))
            .unwrap_or(Timestamp::MAX);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
