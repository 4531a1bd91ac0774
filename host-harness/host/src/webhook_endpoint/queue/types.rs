//! The queue's settings, counters as callers see them, and helpers both backends share.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;

/// Largest delivery accepted (Meta's payloads are a few KB).
pub(crate) const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
/// How long a dead letter is kept.
pub(super) const DEAD_LETTER_TTL_SECONDS: u32 = 30 * 86_400;
/// How the component starts its error for a payload that can never be applied.
pub(super) const MALFORMED_PREFIX: &str = "webhook body is";
/// Where a replica's worker takes over entries another replica took and left unapplied.
pub(crate) const DEFAULT_CLAIM_TIMEOUT: Duration = Duration::from_secs(30);

/// Limits and retry policy of the endpoint and its worker.
#[derive(Clone, Debug)]
pub struct WebhookOptions {
    /// Bodies larger than this get 413.
    pub max_body_bytes: usize,
    /// Wait after the first failed ingest; doubles up to `retry_max`.
    pub retry_initial: Duration,
    /// The longest wait between retries.
    pub retry_max: Duration,
    /// Failed ingests (deliveries, with Redis) before a delivery is moved to the dead letters.
    pub max_attempts: u32,
    /// With Redis: how long an entry a replica took may stay unapplied before another replica
    /// takes it over (the first replica is presumed dead). Longer than the slowest ingest;
    /// an entry whose replica waits longer than this for the ingest lock may be taken over
    /// and applied twice (harmless).
    pub claim_timeout: Duration,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        WebhookOptions {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            retry_initial: Duration::from_millis(250),
            retry_max: Duration::from_secs(60),
            max_attempts: 10,
            claim_timeout: DEFAULT_CLAIM_TIMEOUT,
        }
    }
}

/// Counters since start, for logs, the demo and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WebhookStats {
    /// Authentic deliveries stored and acknowledged.
    pub accepted: u64,
    /// Requests refused (bad or missing signature or token, wrong method, too large).
    pub rejected: u64,
    /// Deliveries the component applied.
    pub ingested: u64,
    /// Ingest attempts that failed and will be retried.
    pub retries: u64,
    /// Deliveries moved to the dead letters.
    pub dead_lettered: u64,
    /// Entries and changes skipped because they were for another WhatsApp
    /// Business Account or phone number than the configured ones.
    pub foreign: u64,
}

/// A delivery that could not be applied.
#[derive(Clone, Debug)]
pub struct DeadLetter {
    /// `dead/<the queue key's suffix>`.
    pub key: String,
    /// The last ingest error.
    pub reason: String,
    /// Failed ingests before it was moved aside.
    pub attempts: u32,
    /// The delivery as received.
    pub body: Vec<u8>,
}

/// How many deliveries wait, and since when.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct QueueDepth {
    /// Acknowledged deliveries not yet applied (with Redis: by any replica).
    pub entries: u64,
    /// Age of the oldest of them, in seconds (0 when empty).
    pub oldest_age_seconds: f64,
}

/// Sleeps `d`; true when `stop` fired meanwhile.
pub(super) async fn wait_or_stop(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stop.wait_for(|s| *s) => return true,
    }
    *stop.borrow()
}

/// A fresh, unique, arrival-ordered name for a delivery: `<Unix ms, 16 digits>-<counter>-<random>`.
pub(super) fn entry_suffix(seq: &AtomicU64) -> String {
    let n = seq.fetch_add(1, Ordering::Relaxed);
    let nonce: u32 = rand::random();
    format!("{:016}-{n:08}-{nonce:08x}", crate::store::now_ms())
}

/// The receive time in an entry suffix (see [`entry_suffix`]).
pub(super) fn suffix_time_ms(suffix: &str) -> Option<u64> {
    suffix.split('-').next()?.parse().ok()
}
