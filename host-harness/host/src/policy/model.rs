//! The policy model: apps, the tools they may use, their rules, and how a
//! call is judged (first deny wins: enablement, then global rules in file
//! order, then the app's rules in file order).

use std::fmt;

use serde_json::Value;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::call::{Call, Counters, RateHit};
use super::rules::{Check, RuleOutcome};
use crate::tool::{Category, ErrorKind, ToolDescriptor, ToolError};

/// The app every call runs as when no policy is given: all tools, no rules.
pub const OPEN_APP: &str = "default";

/// The `rule` of a denial because the tool is not enabled for the app.
pub const TOOL_NOT_ENABLED: &str = "tool-not-enabled";

/// The `rule` of a denial because the app is not (or no longer) in the policy.
pub const UNKNOWN_APP: &str = "unknown-app";

/// Calls an app of a policy file may have running at once unless it says otherwise.
pub(crate) const DEFAULT_MAX_CONCURRENT: u32 = 32;
/// The largest `max_concurrent` accepted.
pub(crate) const MAX_CONCURRENT_LIMIT: u32 = 100_000;

/// The templates a rule can use.
pub(crate) const TEMPLATES: [&str; 9] = [
    "allow_values",
    "block_values",
    "content_length",
    "keyword_block",
    "block_pattern",
    "block_card_numbers",
    "require_prefix",
    "rate_limit",
    "time_window",
];

/// What the policy needs to know about a tool: its name, category and the
/// argument names its input schema declares.
#[derive(Clone, Debug)]
pub struct ToolInfo {
    pub(crate) name: String,
    pub(crate) category: Category,
    pub(crate) fields: Vec<String>,
}

impl ToolInfo {
    fn from_descriptor(d: &ToolDescriptor) -> ToolInfo {
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

    /// What the policy needs to know about each of the component's tools.
    pub fn from_descriptors(descriptors: &[ToolDescriptor]) -> Vec<ToolInfo> {
        descriptors.iter().map(ToolInfo::from_descriptor).collect()
    }
}

/// A loaded, validated policy. Immutable: a reload builds a new one.
#[derive(Debug)]
pub struct Policy {
    pub(super) origin: String,
    pub(super) open: bool,
    pub(super) apps: Vec<App>,
    pub(super) global: Vec<Rule>,
}

/// One AI client and what it may do.
#[derive(Debug)]
pub struct App {
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) key_hash: Option<[u8; 32]>,
    /// Enabled tools, in the component's order.
    pub(super) tools: Vec<String>,
    /// Calls it may have running at once; `None` (no policy file): only the
    /// runtime's instance budget bounds it.
    pub(super) max_concurrent: Option<u32>,
    pub(super) rules: Vec<Rule>,
}

/// One guardrail, attached to some tools.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(super) id: String,
    pub(super) template: &'static str,
    pub(super) tools: Vec<String>,
    /// The operator's own advice for the model, used as the hint.
    pub(super) message: Option<String>,
    pub(super) check: Check,
}

/// Which layer refused a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// The tool is not enabled for the app, or the app is unknown.
    Enablement,
    /// A rule for every app.
    Global,
    /// One of the app's own rules.
    App,
}

/// Why a call was refused, in words a model can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    /// The id of the rule that refused it (or a reserved id such as
    /// [`TOOL_NOT_ENABLED`]).
    pub rule: String,
    /// Where the rule is.
    pub layer: Layer,
    /// What is wrong with the call.
    pub reason: String,
    /// What to do instead.
    pub hint: String,
    /// The argument at fault, if one is.
    pub field: Option<String>,
    /// Waiting may help (rate limits, time windows).
    pub retryable: bool,
}

impl Denial {
    /// The error the client gets: kind `denied`, the rule's id, the reason.
    pub(crate) fn to_tool_error(&self) -> ToolError {
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

/// The policy's decision on a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allow(Vec<RateHit>),
    Deny(Denial),
}

/// `sha256:<hex>` of an API key, the form a policy file stores.
pub fn hash_key(key: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(key.as_bytes())))
}

impl Policy {
    /// The policy in force when none is given: one app, `default`, with
    /// every tool and no rules, and no API keys.
    pub(crate) fn open(tools: &[ToolInfo]) -> Policy {
        Policy {
            origin: "no policy (all tools enabled)".into(),
            open: true,
            apps: vec![App {
                name: OPEN_APP.into(),
                description: None,
                key_hash: None,
                tools: tools.iter().map(|t| t.name.clone()).collect(),
                max_concurrent: None,
                rules: Vec::new(),
            }],
            global: Vec::new(),
        }
    }

    /// Where this policy came from (its file), for messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Whether this is the built-in open policy (no file was given).
    pub(crate) fn is_open(&self) -> bool {
        self.open
    }

    /// The apps, in file order.
    pub fn apps(&self) -> &[App] {
        &self.apps
    }

    /// The app named `name`.
    pub fn app(&self, name: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.name == name)
    }

    /// The app whose key this is. Every app's hash is compared, in constant
    /// time, whatever matches first.
    pub(crate) fn authenticate(&self, key: &str) -> Option<&App> {
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
    pub(crate) fn has_rules(&self, app: &str, tool: &str) -> bool {
        self.rules_for(app, tool).next().is_some()
    }

    /// Whether a `rate_limit` rule applies to `tool` for `app`.
    pub(crate) fn has_rate_limits(&self, app: &str, tool: &str) -> bool {
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
    pub(crate) fn evaluate(&self, call: &Call<'_>, counters: &dyn Counters) -> Verdict {
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
                RuleOutcome::Pass => {}
                RuleOutcome::Count(hit) => hits.push(hit),
                RuleOutcome::Fail(failure) => {
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
    /// Its name, as clients and the audit log see it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether it has an API key (else it can be used over stdio only).
    pub fn has_key(&self) -> bool {
        self.key_hash.is_some()
    }

    /// The enabled tools, in the component's order.
    pub(crate) fn tools(&self) -> &[String] {
        &self.tools
    }

    /// Calls it may have running at once (`None`: no cap of its own).
    pub fn max_concurrent(&self) -> Option<u32> {
        self.max_concurrent
    }

    /// Whether it may see and call `tool`.
    pub fn enabled(&self, tool: &str) -> bool {
        self.tools.iter().any(|t| t == tool)
    }
}

impl Rule {
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
