//! Handing one delivery to the component, and the counters of what became of them: what
//! both backends' workers share.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;

use super::ingest_lock::IngestLock;
use super::types::{MALFORMED_PREFIX, WebhookOptions, WebhookStats};
use crate::inbox_events::InboxNotifier;
use crate::runtime::Runtime;

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    pub(crate) rejected: AtomicU64,
    ingested: AtomicU64,
    retries: AtomicU64,
    dead_lettered: AtomicU64,
    foreign: AtomicU64,
}

/// What the component made of one delivery.
pub(super) enum Ingested {
    Applied,
    /// It can never be applied (the component's verdict): dead-letter it now.
    Malformed(String),
    /// It may apply later (a trap, a timeout, a store error): retry.
    Failed(String),
}

/// The runtime the deliveries go to, the worker's settings, and its counters.
pub(super) struct Ingest {
    pub(super) runtime: Arc<Runtime>,
    pub(super) options: WebhookOptions,
    /// Fires on each local enqueue.
    pub(super) wake: Notify,
    pub(super) counters: Counters,
    /// Serialises ingest across the replicas sharing a Redis store.
    pub(super) lock: IngestLock,
    /// Who hears of the customers with new messages.
    pub(super) inbox: InboxNotifier,
}

impl Ingest {
    pub(super) fn stats(&self) -> WebhookStats {
        let c = &self.counters;
        WebhookStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            ingested: c.ingested.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            dead_lettered: c.dead_lettered.load(Ordering::Relaxed),
            foreign: c.foreign.load(Ordering::Relaxed),
        }
    }

    /// Waits for a local enqueue, at most `d`.
    pub(super) async fn woken_within(&self, d: std::time::Duration) {
        let _ = tokio::time::timeout(d, self.wake.notified()).await;
    }

    /// Has the component ingest one delivery (`label` names it in logs).
    pub(super) async fn apply(&self, label: &str, body: &[u8]) -> Ingested {
        let held = match self.lock.acquire().await {
            Ok(held) => held,
            Err(reason) => return Ingested::Failed(reason),
        };
        let ingested = self.runtime.webhook_ingest(body).await;
        self.lock.release(held).await;
        let report = match ingested {
            Ok(Ok(report)) => report,
            Ok(Err(reason)) if reason.starts_with(MALFORMED_PREFIX) => {
                return Ingested::Malformed(reason);
            }
            Ok(Err(reason)) => return Ingested::Failed(reason),
            Err(e) => return Ingested::Failed(e.one_line()),
        };
        let counters = &self.counters;
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
        // Clients subscribed to these conversations' resources hear of the new messages.
        self.inbox.published(&report.conversations);
        Ingested::Applied
    }

    pub(super) fn count_retry(&self) {
        self.counters.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_dead_letter(&self, key: &str, attempts: u32, reason: &str) {
        self.counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            key = %key,
            attempts,
            reason = %reason,
            "webhook could not be applied; moved to the dead letters"
        );
    }
}
