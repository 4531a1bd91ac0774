//! The queue in the embedded state file (`Table::WebhookQueue`), for one process.
//!
//! Queue keys are `q/<receive time, Unix ms, 16 digits>-<counter>-<random>`: they sort by
//! arrival and never collide across restarts. One worker passes the queued bodies, oldest
//! first, to the component and deletes each once applied; a dead letter is kept under
//! `dead/<same suffix>`. On start the worker drains whatever an earlier run left.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;

use base64::Engine as _;
use serde_json::json;
use tokio::sync::watch;

use super::ingest::{Ingest, Ingested};
use super::types::{
    DEAD_LETTER_TTL_SECONDS, DeadLetter, QueueDepth, entry_suffix, suffix_time_ms, wait_or_stop,
};
use crate::store::{StateError, StateStore, Table, now_ms};

/// Where acknowledged deliveries wait for the component.
const QUEUE_PREFIX: &str = "q/";
/// Where deliveries that could not be applied are kept.
const DEAD_LETTER_PREFIX: &str = "dead/";

pub(super) struct FileQueue {
    store: StateStore,
    seq: AtomicU64,
}

impl FileQueue {
    pub(super) fn new(store: StateStore) -> FileQueue {
        FileQueue {
            store,
            seq: AtomicU64::new(0),
        }
    }

    pub(super) async fn enqueue(&self, body: Vec<u8>) -> Result<String, StateError> {
        let key = format!("{QUEUE_PREFIX}{}", entry_suffix(&self.seq));
        self.store
            .set(Table::WebhookQueue, &key, body, None)
            .await?;
        Ok(key)
    }

    /// The waiting deliveries, oldest first, with their bodies.
    pub(super) async fn queued(&self) -> Result<Vec<(String, Vec<u8>)>, StateError> {
        self.store.scan(Table::WebhookQueue, QUEUE_PREFIX).await
    }

    /// Removes a waiting delivery (moved elsewhere).
    pub(super) async fn remove(&self, key: &str) -> Result<bool, StateError> {
        self.store.delete(Table::WebhookQueue, key).await
    }

    pub(super) async fn pending(&self) -> Result<Vec<String>, StateError> {
        Ok(self.queued().await?.into_iter().map(|(k, _)| k).collect())
    }

    pub(super) async fn depth(&self) -> Result<QueueDepth, StateError> {
        let pending = self.pending().await?;
        let oldest = pending
            .first()
            .and_then(|k| suffix_time_ms(k.strip_prefix(QUEUE_PREFIX)?));
        Ok(QueueDepth {
            entries: pending.len() as u64,
            oldest_age_seconds: oldest
                .map_or(0.0, |at| now_ms().saturating_sub(at) as f64 / 1000.0),
        })
    }

    pub(super) async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StateError> {
        let mut out = Vec::new();
        for (key, value) in self
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

    pub(super) async fn run(&self, ingest: &Ingest, mut stop: watch::Receiver<bool>) {
        let opts = &ingest.options;
        let mut failures: HashMap<String, u32> = HashMap::new();
        let mut backoff = opts.retry_initial;
        loop {
            if *stop.borrow() {
                break;
            }
            let pending = match self.queued().await {
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
                    _ = ingest.wake.notified() => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
                continue;
            }
            let mut must_wait = false;
            for (key, body) in pending {
                if *stop.borrow() {
                    break;
                }
                let reason = match ingest.apply(&key, &body).await {
                    Ingested::Applied => {
                        if let Err(e) = self.store.delete(Table::WebhookQueue, &key).await {
                            // It will be applied again, which is harmless.
                            tracing::error!(key = %key, error = %e, "cannot remove an applied webhook from the queue");
                        }
                        failures.remove(&key);
                        backoff = opts.retry_initial;
                        continue;
                    }
                    Ingested::Malformed(reason) => {
                        self.dead_letter(ingest, &key, &body, &reason, 1).await;
                        failures.remove(&key);
                        backoff = opts.retry_initial;
                        continue;
                    }
                    Ingested::Failed(reason) => reason,
                };
                let n = failures.entry(key.clone()).or_insert(0);
                *n += 1;
                if *n >= opts.max_attempts.max(1) {
                    let attempts = *n;
                    failures.remove(&key);
                    self.dead_letter(ingest, &key, &body, &reason, attempts)
                        .await;
                } else {
                    ingest.count_retry();
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
            if must_wait {
                if wait_or_stop(&mut stop, backoff).await {
                    break;
                }
                backoff = (backoff * 2).min(opts.retry_max);
            }
        }
    }

    async fn dead_letter(
        &self,
        ingest: &Ingest,
        key: &str,
        body: &[u8],
        reason: &str,
        attempts: u32,
    ) {
        let suffix = key.strip_prefix(QUEUE_PREFIX).unwrap_or(key);
        let dead_key = format!("{DEAD_LETTER_PREFIX}{suffix}");
        let value = json!({
            "reason": reason,
            "attempts": attempts,
            "dead_at_ms": now_ms(),
            "body": base64::engine::general_purpose::STANDARD.encode(body),
        });
        let stored = self
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
        if let Err(e) = self.store.delete(Table::WebhookQueue, key).await {
            tracing::error!(key = %key, error = %e, "cannot remove a dead-lettered webhook from the queue");
        }
        ingest.count_dead_letter(&dead_key, attempts, reason);
    }
}

#[cfg(test)]
mod tests {
    use super::super::types::suffix_time_ms;

    #[test]
    fn a_queue_key_gives_its_receive_time() {
        assert_eq!(
            suffix_time_ms("0001767225600000-3-ab12"),
            Some(1_767_225_600_000)
        );
        assert_eq!(suffix_time_ms("dead"), None);
    }
}
