//! The durable queue between the endpoint and the component.
//!
//! An authentic POST is stored durably (`Table::WebhookQueue`) before the 200 goes out, so what
//! was acknowledged survives a crash right after. One background worker then passes the queued
//! bodies, oldest first, to `webhooks.ingest` and deletes each only once it is applied. Ingest
//! calls are serialised on purpose: the component's kv read-modify-writes assume it. On start
//! the worker drains whatever an earlier run left in the queue.
//!
//! Queue keys are `q/<receive time, Unix ms, 16 digits>-<counter>-<random>`: they sort by
//! arrival and never collide across restarts. A failed ingest (a trap, a timeout, a store
//! error) is retried with exponential backoff; after `max_attempts` failures in a row, or at
//! once when the component rejects the payload as malformed, the body is moved aside to
//! `dead/<same suffix>` (kept 30 days, with the reason) so one bad delivery cannot block the
//! queue. Re-ingesting is safe: the component deduplicates.
//!
//! Bodies hold customers' messages: the store seals this table's values at rest (queued
//! deliveries and dead letters alike), so they are written to the state file encrypted only.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use serde_json::json;
use tokio::sync::{Notify, watch};

use crate::caps::vault;
use crate::runtime::Runtime;
use crate::store::{StateError, StateStore, Table, now_ms};

/// Largest delivery accepted (Meta's payloads are a few KB).
pub(crate) const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
/// Where acknowledged deliveries wait for the component.
pub(crate) const QUEUE_PREFIX: &str = "q/";
/// Where deliveries that could not be applied are kept.
pub(crate) const DEAD_LETTER_PREFIX: &str = "dead/";
const DEAD_LETTER_TTL_SECONDS: u32 = 30 * 86_400;
/// How the component starts its error for a payload that can never be applied.
const MALFORMED_PREFIX: &str = "webhook body is";

/// Limits and retry policy of the endpoint and its worker.
#[derive(Clone, Debug)]
pub struct WebhookOptions {
    /// Bodies larger than this get 413.
    pub max_body_bytes: usize,
    /// Wait after the first failed ingest; doubles up to `retry_max`.
    pub retry_initial: Duration,
    /// The longest wait between retries.
    pub retry_max: Duration,
    /// Failed ingests in a row before a delivery is moved to the dead letters.
    pub max_attempts: u32,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        WebhookOptions {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            retry_initial: Duration::from_millis(250),
            retry_max: Duration::from_secs(60),
            max_attempts: 10,
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

/// The endpoint and its queue over one runtime. Cheap to clone.
#[derive(Clone)]
pub struct Webhooks {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Arc<Runtime>,
    store: StateStore,
    options: WebhookOptions,
    wake: Notify,
    seq: AtomicU64,
    counters: Counters,
}

/// What became of one queued delivery handed to the component.
enum IngestOutcome {
    Applied,
    DeadLettered,
    Retry(String),
}

impl Webhooks {
    /// The queue lives in the runtime's state store, next to the component's kv.
    pub fn new(runtime: Arc<Runtime>, options: WebhookOptions) -> Webhooks {
        let store = runtime.capabilities().state.clone();
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
                store,
                options,
                wake: Notify::new(),
                seq: AtomicU64::new(0),
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

    /// Keys of the deliveries waiting for the component, oldest first.
    pub async fn pending(&self) -> Result<Vec<String>, StateError> {
        Ok(self
            .inner
            .store
            .scan(Table::WebhookQueue, QUEUE_PREFIX)
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }

    /// The deliveries that could not be applied, kept 30 days.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StateError> {
        let mut out = Vec::new();
        for (key, value) in self
            .inner
            .store
            .scan(Table::WebhookQueue, DEAD_LETTER_PREFIX)
            .await?
        {
            let v: serde_json::Value = serde_json::from_slice(&value).unwrap_or_default();
            out.push(DeadLetter {
                key,
                reason: v["reason"].as_str().unwrap_or("").to_string(),
                attempts: v["attempts"].as_u64().unwrap_or(0) as u32,
                body: v["body"]
                    .as_str()
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                    .unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// Stores an authentic delivery; returns its queue key once it is on disk.
    pub(super) async fn enqueue(&self, body: Vec<u8>) -> Result<String, StateError> {
        let seq = self.inner.seq.fetch_add(1, Ordering::Relaxed);
        let nonce: u32 = rand::random();
        let key = format!("{QUEUE_PREFIX}{:016}-{seq:08}-{nonce:08x}", now_ms());
        self.inner
            .store
            .set(Table::WebhookQueue, &key, body, None)
            .await?;
        self.inner.wake.notify_one();
        Ok(key)
    }

    /// Applies queued deliveries one at a time until `stop` turns true (or its sender is
    /// dropped). Starts with whatever the queue already holds.
    pub(super) async fn run_worker(&self, mut stop: watch::Receiver<bool>) {
        let opts = &self.inner.options;
        let mut failures: HashMap<String, u32> = HashMap::new();
        let mut backoff = opts.retry_initial;
        tracing::debug!("webhook worker started");
        loop {
            if *stop.borrow() {
                break;
            }
            let pending = match self
                .inner
                .store
                .scan(Table::WebhookQueue, QUEUE_PREFIX)
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "webhook queue unreadable; retrying");
                    if wait_or_stop(&mut stop, backoff).await {
                        break;
                    }
                    backoff = (backoff * 2).min(opts.retry_max);
                    continue;
                }
            };
            if pending.is_empty() {
                tokio::select! {
                    _ = self.inner.wake.notified() => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
                continue;
            }
            let mut must_wait = false;
            for (key, body) in pending {
                if *stop.borrow() {
                    break;
                }
                match self.ingest_one(&key, &body).await {
                    IngestOutcome::Applied | IngestOutcome::DeadLettered => {
                        failures.remove(&key);
                        backoff = opts.retry_initial;
                    }
                    IngestOutcome::Retry(reason) => {
                        let n = failures.entry(key.clone()).or_insert(0);
                        *n += 1;
                        if *n >= opts.max_attempts.max(1) {
                            let attempts = *n;
                            failures.remove(&key);
                            self.dead_letter(&key, &body, &reason, attempts).await;
                        } else {
                            self.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(
                                key = %key,
                                attempt = *n,
                                retry_in_ms = backoff.as_millis() as u64,
                                reason = %reason,
                                "webhook ingest failed; will retry"
                            );
                            must_wait = true;
                            break;
                        }
                    }
                }
            }
            if must_wait {
                if wait_or_stop(&mut stop, backoff).await {
                    break;
                }
                backoff = (backoff * 2).min(opts.retry_max);
            }
        }
        tracing::debug!("webhook worker stopped");
    }

    async fn ingest_one(&self, key: &str, body: &[u8]) -> IngestOutcome {
        match self.inner.runtime.webhook_ingest(body).await {
            Ok(Ok(report)) => {
                self.inner.counters.ingested.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    key = %key,
                    statuses = report.statuses,
                    messages = report.messages,
                    template_updates = report.template_updates,
                    ignored = report.ignored,
                    "webhook applied"
                );
                if report.foreign > 0 {
                    self.inner
                        .counters
                        .foreign
                        .fetch_add(u64::from(report.foreign), Ordering::Relaxed);
                    tracing::debug!(
                        key = %key,
                        foreign = report.foreign,
                        "webhook entries for another WhatsApp Business Account or phone number \
                         than the configured ones were ignored"
                    );
                }
                if let Err(e) = self.inner.store.delete(Table::WebhookQueue, key).await {
                    // It will be applied again, which is harmless.
                    tracing::error!(key = %key, error = %e, "cannot remove an applied webhook from the queue");
                }
                IngestOutcome::Applied
            }
            Ok(Err(reason)) if reason.starts_with(MALFORMED_PREFIX) => {
                self.dead_letter(key, body, &reason, 1).await;
                IngestOutcome::DeadLettered
            }
            Ok(Err(reason)) => IngestOutcome::Retry(reason),
            Err(e) => IngestOutcome::Retry(e.one_line()),
        }
    }

    async fn dead_letter(&self, key: &str, body: &[u8], reason: &str, attempts: u32) {
        let suffix = key.strip_prefix(QUEUE_PREFIX).unwrap_or(key);
        let dead_key = format!("{DEAD_LETTER_PREFIX}{suffix}");
        let value = json!({
            "reason": reason,
            "attempts": attempts,
            "dead_at_ms": now_ms(),
            "body": base64::engine::general_purpose::STANDARD.encode(body),
        });
        let stored = self
            .inner
            .store
            .set(
                Table::WebhookQueue,
                &dead_key,
                value.to_string().into_bytes(),
                Some(DEAD_LETTER_TTL_SECONDS),
            )
            .await;
        if let Err(e) = stored {
            tracing::error!(key = %key, error = %e, "cannot move a webhook to the dead letters; it stays queued");
            return;
        }
        if let Err(e) = self.inner.store.delete(Table::WebhookQueue, key).await {
            tracing::error!(key = %key, error = %e, "cannot remove a dead-lettered webhook from the queue");
        }
        self.inner
            .counters
            .dead_lettered
            .fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            key = %dead_key,
            attempts,
            reason = %reason,
            "webhook could not be applied; moved to the dead letters"
        );
    }
}

/// Sleeps `d`; true when `stop` fired meanwhile.
async fn wait_or_stop(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stop.wait_for(|s| *s) => return true,
    }
    *stop.borrow()
}
