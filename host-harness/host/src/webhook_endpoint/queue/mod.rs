//! The durable queue between the endpoint and the component.
//!
//! An authentic POST is stored durably before the 200 goes out, so what was acknowledged
//! survives a crash right after. A background worker then passes the queued bodies to
//! `webhooks.ingest` and removes each only once it is applied. Two backends, chosen by the
//! state store:
//!
//! - the embedded file (`file`): one worker per process, oldest first, the queue in
//!   `Table::WebhookQueue`;
//! - Redis (`stream`), for several replicas: a Redis Stream with one consumer group; every
//!   replica is a consumer, an entry a replica took but never applied (it crashed) is reclaimed
//!   by another after the claim timeout.
//!
//! In both, a failed ingest (a trap, a timeout, a store error) is retried with exponential
//! backoff; after `max_attempts` failures, or at once when the component rejects the payload
//! as malformed, the body is moved to the dead letters (kept 30 days, with the reason) so one
//! bad delivery cannot block the queue. Re-ingesting is safe: the component deduplicates.
//! Ingest calls are serialised within a replica on purpose: the component's kv
//! read-modify-writes assume it.
//!
//! Bodies hold customers' messages: they are sealed at rest (queued deliveries and dead
//! letters alike) in both backends.

mod file;
mod stream;
#[cfg(test)]
mod stream_tests;
mod stream_worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::caps::vault;
use crate::runtime::Runtime;
use crate::store::StateError;

use file::FileQueue;
pub(crate) use stream::StreamQueue;

/// Largest delivery accepted (Meta's payloads are a few KB).
pub(crate) const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
/// How long a dead letter is kept.
const DEAD_LETTER_TTL_SECONDS: u32 = 30 * 86_400;
/// How the component starts its error for a payload that can never be applied.
const MALFORMED_PREFIX: &str = "webhook body is";
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
    /// takes it over (the first replica is presumed dead). Longer than the slowest ingest.
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

#[derive(Default)]
pub(super) struct Counters {
    pub(super) accepted: AtomicU64,
    pub(super) rejected: AtomicU64,
    ingested: AtomicU64,
    retries: AtomicU64,
    dead_lettered: AtomicU64,
    foreign: AtomicU64,
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

/// The endpoint and its queue over one runtime. Cheap to clone.
#[derive(Clone)]
pub struct Webhooks {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Arc<Runtime>,
    backend: Backend,
    options: WebhookOptions,
    wake: Notify,
    counters: Counters,
}

enum Backend {
    File(FileQueue),
    Stream(StreamQueue),
}

/// What the component made of one delivery.
pub(super) enum Ingested {
    Applied,
    /// It can never be applied (the component's verdict): dead-letter it now.
    Malformed(String),
    /// It may apply later (a trap, a timeout, a store error): retry.
    Failed(String),
}

impl Webhooks {
    /// The queue lives in the runtime's state store: a Redis Stream when the store is Redis,
    /// else the file's queue table.
    pub fn new(runtime: Arc<Runtime>, options: WebhookOptions) -> Webhooks {
        let store = runtime.capabilities().state.clone();
        let backend = match store.redis() {
            Some(redis) => Backend::Stream(StreamQueue::new(redis, store.seal().clone())),
            None => Backend::File(FileQueue::new(store)),
        };
        Self::with_backend(runtime, options, backend)
    }

    fn with_backend(runtime: Arc<Runtime>, options: WebhookOptions, backend: Backend) -> Webhooks {
        for (name, env) in [
            (vault::APP_SECRET, "WHATSAPP_APP_SECRET"),
            (vault::VERIFY_TOKEN, "WHATSAPP_WEBHOOK_VERIFY_TOKEN"),
        ] {
            if runtime.capabilities().vault.get(name).is_none() {
                tracing::warn!(
                    credential = name,
                    "webhook endpoint without the `{name}` credential: requests that need it get \
                     503; store it with `host-harness vault set {name}` or set {env}"
                );
            }
        }
        Webhooks {
            inner: Arc::new(Inner {
                runtime,
                backend,
                options,
                wake: Notify::new(),
                counters: Counters::default(),
            }),
        }
    }

    pub(super) fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    pub(super) fn options(&self) -> &WebhookOptions {
        &self.inner.options
    }

    pub(super) fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    /// Counters since start.
    pub fn stats(&self) -> WebhookStats {
        let c = &self.inner.counters;
        WebhookStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            ingested: c.ingested.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            dead_lettered: c.dead_lettered.load(Ordering::Relaxed),
            foreign: c.foreign.load(Ordering::Relaxed),
        }
    }

    /// Keys of the deliveries waiting for the component, oldest first (with Redis: the
    /// stream's entries, whichever replica holds them).
    pub async fn pending(&self) -> Result<Vec<String>, StateError> {
        match &self.inner.backend {
            Backend::File(q) => q.pending().await,
            Backend::Stream(q) => q.pending().await,
        }
    }

    /// How many deliveries wait and the age of the oldest (the queue metrics).
    pub async fn depth(&self) -> Result<QueueDepth, StateError> {
        match &self.inner.backend {
            Backend::File(q) => q.depth().await,
            Backend::Stream(q) => q.depth().await,
        }
    }

    /// The deliveries that could not be applied, kept 30 days.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StateError> {
        match &self.inner.backend {
            Backend::File(q) => q.dead_letters().await,
            Backend::Stream(q) => q.dead_letters().await,
        }
    }

    /// Stores an authentic delivery; returns its queue key once it is durable.
    pub(super) async fn enqueue(&self, body: Vec<u8>) -> Result<String, StateError> {
        let key = match &self.inner.backend {
            Backend::File(q) => q.enqueue(body).await?,
            Backend::Stream(q) => q.enqueue(&body).await?,
        };
        self.inner.wake.notify_one();
        Ok(key)
    }

    /// Applies queued deliveries one at a time until `stop` turns true (or its sender is
    /// dropped). Starts with whatever the queue already holds.
    pub(super) async fn run_worker(&self, stop: watch::Receiver<bool>) {
        tracing::debug!("webhook worker started");
        match &self.inner.backend {
            Backend::File(q) => q.run(self, stop).await,
            Backend::Stream(q) => stream_worker::run(q, self, stop).await,
        }
        tracing::debug!("webhook worker stopped");
    }

    /// Fires on each local enqueue.
    pub(super) fn wake(&self) -> &Notify {
        &self.inner.wake
    }

    /// Waits for a local enqueue, at most `d`.
    pub(super) async fn woken_within(&self, d: Duration) {
        let _ = tokio::time::timeout(d, self.inner.wake.notified()).await;
    }

    /// Has the component ingest one delivery (`label` names it in logs).
    pub(super) async fn apply(&self, label: &str, body: &[u8]) -> Ingested {
        let report = match self.inner.runtime.webhook_ingest(body).await {
            Ok(Ok(report)) => report,
            Ok(Err(reason)) if reason.starts_with(MALFORMED_PREFIX) => {
                return Ingested::Malformed(reason);
            }
            Ok(Err(reason)) => return Ingested::Failed(reason),
            Err(e) => return Ingested::Failed(e.one_line()),
        };
        let counters = &self.inner.counters;
        counters.ingested.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            key = %label,
            statuses = report.statuses,
            messages = report.messages,
            template_updates = report.template_updates,
            ignored = report.ignored,
            "webhook applied"
        );
        if report.foreign > 0 {
            counters
                .foreign
                .fetch_add(u64::from(report.foreign), Ordering::Relaxed);
            tracing::debug!(
                key = %label,
                foreign = report.foreign,
                "webhook entries for another WhatsApp Business Account or phone number \
                 than the configured ones were ignored"
            );
        }
        // After each successful ingest, with the report in hand: listeners of inbox changes go here.
        Ingested::Applied
    }

    pub(super) fn count_retry(&self) {
        self.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_dead_letter(&self, key: &str, attempts: u32, reason: &str) {
        self.inner
            .counters
            .dead_lettered
            .fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            key = %key,
            attempts,
            reason = %reason,
            "webhook could not be applied; moved to the dead letters"
        );
    }
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
