//! One call as the policy sees it, and the counters `rate_limit` reads.

use jiff::Timestamp;
use serde_json::Value;

use super::seen::KnownTemplate;

/// A `rate_limit` rule that let a call through: the gateway records the
/// call under `key` once every rule has passed, if the limit still has
/// room then (another replica may have taken it meanwhile).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RateHit {
    pub(crate) key: String,
    pub(crate) max_calls: u32,
    pub(crate) window_ms: i64,
}

/// Past calls, for `rate_limit`: the times (Unix ms) recorded under a key.
pub(crate) trait Counters {
    fn recent(&self, key: &str) -> Result<Vec<i64>, String>;
}

/// No counters at all: for policies without rate limits.
pub(crate) struct NoCounters;

impl Counters for NoCounters {
    fn recent(&self, _key: &str) -> Result<Vec<i64>, String> {
        Ok(Vec::new())
    }
}

/// One call as the policy sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Call<'a> {
    pub(crate) app: &'a str,
    pub(crate) tool: &'a str,
    pub(crate) args: &'a Value,
    pub(crate) now: Timestamp,
    /// The text of the template a send names, when known: text rules then
    /// judge the body as rendered.
    pub(crate) template: Option<&'a KnownTemplate>,
}

/// The store key under which `rate_limit` rule `rule` counts `app`'s calls to `tool`.
pub fn rate_key(rule: &str, app: &str, tool: &str) -> String {
    format!("ratelimit/{rule}/{app}/{tool}")
}
