//! The webhook endpoint: where Meta (or the sandbox) delivers webhooks, and
//! the durable queue that hands them to the component.
//!
//! `server` answers HTTP: the host refuses unsigned, forged and tokenless
//! requests itself (`signature`), before any instance exists; the component
//! then verifies what passed (token, signature) and an authentic delivery is
//! stored in the `queue` (the state file's queue table, or a Redis Stream the
//! replicas share when the state is on Redis) before the 200 goes out; the
//! queue's worker then has the component ingest it.

mod queue;
mod server;
mod signature;

pub(crate) use queue::{DEFAULT_CLAIM_TIMEOUT, DEFAULT_MAX_BODY_BYTES};
pub use queue::{DeadLetter, QueueDepth, WebhookOptions, WebhookStats, Webhooks};
pub use server::{DEFAULT_ADDR, WebhookServer, bind, callback_url};
