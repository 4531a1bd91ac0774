//! Apps, tool enablement and argument guardrails, checked host-side before
//! any instance of the component is created.
//!
//! A policy file names the apps (AI clients) that may use the connector,
//! each with the hash of its API key, the tools it may see and call, and
//! rules on the arguments. Global rules apply to every app. Evaluation is
//! first deny wins, in this order: is the tool enabled for the app → global
//! rules in file order → the app's rules in file order.
//!
//! Text rules judge what the recipient will read ([`text`], [`seen`]):
//! invisible characters dropped, NFKC, confusable skeletons for keywords;
//! every string and number of the message and its rendering, never the
//! recipient unless a rule names `to`. Recipients compare as WhatsApp
//! does: the Brazilian, Mexican and Argentinian spellings of one number
//! are one number (`whatsapp_connector::phone::aliases`).
//!
//! This module is pure: it parses and validates a policy against the
//! component's tools and evaluates calls. Counters for `rate_limit` come in
//! through [`Counters`], the time and a template's known text through the
//! caller; the gateway (`crate::gateway`) supplies them and records allowed
//! calls.
//!
//! ```toml
//! # Rules for every app.
//! [[rules]]
//! id = "no-card-numbers"
//! template = "block_card_numbers"
//! tools = ["write"]                 # tool names, categories (read, write, delete) or "*"
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

mod call;
mod clock;
mod error;
mod load;
mod model;
mod outcome;
pub(crate) mod phone;
mod rules;
mod seen;
#[cfg(test)]
mod tests;
mod text;
mod text_checks;

pub use call::rate_key;
pub(crate) use call::{Call, Counters, NoCounters};
pub use clock::Clock;
#[cfg(any(test, feature = "testing"))]
pub use clock::ManualClock;
pub(crate) use clock::SystemClock;
pub use error::{PolicyError, Problem};
pub(crate) use model::Verdict;
pub use model::{
    App, Denial, Layer, OPEN_APP, Policy, TOOL_NOT_ENABLED, ToolInfo, UNKNOWN_APP, hash_key,
};
pub(crate) use seen::known_template;
