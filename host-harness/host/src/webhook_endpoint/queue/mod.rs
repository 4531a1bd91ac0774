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
//! Ingest calls are serialised on purpose, the component's kv read-modify-writes assume it:
//! within a replica by its one worker, across the replicas sharing a Redis store by a lock
//! in Redis around each ingest (`ingest_lock`).
//!
//! Bodies hold customers' messages: they are sealed at rest (queued deliveries and dead
//! letters alike) in both backends.

mod file;
mod hooks;
#[cfg(test)]
mod inbox_fanout_tests;
mod ingest;
mod ingest_lock;
#[cfg(test)]
mod ingest_lock_tests;
mod stream;
#[cfg(test)]
mod stream_tests;
mod stream_worker;
#[cfg(test)]
mod test_support;
mod types;

pub use hooks::Webhooks;
pub(crate) use types::{DEFAULT_CLAIM_TIMEOUT, DEFAULT_MAX_BODY_BYTES};
pub use types::{DeadLetter, QueueDepth, WebhookOptions, WebhookStats};
