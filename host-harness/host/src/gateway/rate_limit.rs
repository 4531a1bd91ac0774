//! `rate_limit`: the policy decides on the counters as they are, then the
//! store checks and counts atomically (the `store` module's rate counters),
//! so an app allowed N calls per window gets N in total however many
//! replicas share the store.
//!
//! If another call took the last slot between the policy's read and the
//! count, nothing was recorded: the policy decides again on fresh counters
//! and, the limit now full, refuses with its rule, reason and wait.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::policy::{Call, Counters, Policy, Verdict};
use crate::store::{RateCount, RateVerdict, StateError, StateStore};
use crate::tool::{ErrorKind, ToolError};

/// Decisions made before giving up on a contended limit.
const ATTEMPTS: usize = 4;

/// Counters read beforehand (the policy reads them synchronously).
struct Fetched(BTreeMap<String, Vec<i64>>);

impl Counters for Fetched {
    fn recent(&self, key: &str) -> Result<Vec<i64>, String> {
        Ok(self.0.get(key).cloned().unwrap_or_default())
    }
}

/// No counts, noting which counters the policy reads: a superset of those
/// it reads with real counts (a full limit only stops the rules sooner).
#[derive(Default)]
struct Asked(Mutex<Vec<String>>);

impl Counters for Asked {
    fn recent(&self, key: &str) -> Result<Vec<i64>, String> {
        if let Ok(mut keys) = self.0.lock() {
            keys.push(key.to_string());
        }
        Ok(Vec::new())
    }
}

/// Decides `call` under `policy`, counting it against its rate limits when
/// allowed; a store failure is a retryable error (nothing was sent).
pub(super) async fn judge(
    policy: &Policy,
    call: &Call<'_>,
    state: &StateStore,
) -> Result<Verdict, ToolError> {
    let asked = Asked::default();
    policy.evaluate(call, &asked);
    let keys = asked.0.into_inner().unwrap_or_default();
    for _ in 0..ATTEMPTS {
        let counters = state.rate_counters(&keys).await.map_err(store_failed)?;
        let verdict = policy.evaluate(call, &Fetched(counters));
        let Verdict::Allow(hits) = &verdict else {
            return Ok(verdict);
        };
        let limits: Vec<RateCount> = hits
            .iter()
            .map(|hit| RateCount {
                key: hit.key.clone(),
                max_calls: hit.max_calls,
                window_ms: hit.window_ms,
            })
            .collect();
        match state
            .count_call(&limits, call.now.as_millisecond())
            .await
            .map_err(store_failed)?
        {
            RateVerdict::Counted => return Ok(verdict),
            RateVerdict::Full(_) => continue,
        }
    }
    Err(ToolError::new(
        ErrorKind::Internal,
        "Rate limit contended",
        "other calls kept taking the rate limit's last slot while this one was being counted; \
         nothing was sent",
        "retry in a moment",
    )
    .retryable(true))
}

fn store_failed(e: StateError) -> ToolError {
    tracing::error!(error = %e, "rate-limit state unavailable");
    ToolError::new(
        ErrorKind::Internal,
        "Rate limit unavailable",
        format!("the call could not be counted against its rate limit ({e}); nothing was sent"),
        "retry in a moment",
    )
    .retryable(true)
}
