//! `rate_limit` counts in the state store's host table: the call times
//! (Unix ms, 8 bytes big-endian each) under each rule's key, so they
//! survive restarts.

use crate::policy::{Counters, RateHit};
use crate::store::{StateStore, Table};
use crate::tool::{ErrorKind, ToolError};

/// The rate-limit counters kept in `store`.
pub(super) struct StoreCounters<'a>(pub(super) &'a StateStore);

impl Counters for StoreCounters<'_> {
    fn recent(&self, key: &str) -> Result<Vec<i64>, String> {
        let bytes = self
            .0
            .get(Table::Host, key)
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        Ok(bytes
            .chunks_exact(8)
            .map(|c| i64::from_be_bytes(c.try_into().expect("8 bytes")))
            .collect())
    }
}

/// Records an allowed call against each rate limit it passed.
pub(super) async fn count(
    state: &StateStore,
    hits: &[RateHit],
    now_ms: i64,
) -> Result<(), ToolError> {
    for hit in hits {
        let mut times = StoreCounters(state)
            .recent(&hit.key)
            .map_err(store_failed)?;
        times.retain(|t| *t > now_ms - hit.window_ms);
        times.push(now_ms);
        let bytes: Vec<u8> = times.iter().flat_map(|t| t.to_be_bytes()).collect();
        let ttl = u32::try_from(hit.window_ms / 1000 + 2).unwrap_or(u32::MAX);
        state
            .set(Table::Host, &hit.key, bytes, Some(ttl))
            .await
            .map_err(|e| store_failed(e.to_string()))?;
    }
    Ok(())
}

fn store_failed(e: String) -> ToolError {
    tracing::error!(error = %e, "rate-limit state unavailable");
    ToolError::new(
        ErrorKind::Internal,
        "Rate limit unavailable",
        format!("the call could not be counted against its rate limit ({e}); nothing was sent"),
        "retry in a moment",
    )
    .retryable(true)
}
