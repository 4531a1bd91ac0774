//! [`Webhooks`]: the endpoint's queue over one runtime, on the backend the state store
//! chose.

use std::sync::Arc;

use tokio::sync::{Notify, watch};

use super::file::FileQueue;
use super::ingest::{Counters, Ingest};
use super::ingest_lock::IngestLock;
use super::stream::StreamQueue;
use super::stream_worker;
use super::types::{DeadLetter, QueueDepth, WebhookOptions, WebhookStats};
use crate::caps::vault;
use crate::inbox_events::{InboxEvents, InboxNotifier};
use crate::runtime::Runtime;
use crate::store::StateError;

/// The endpoint and its queue over one runtime. Cheap to clone.
#[derive(Clone)]
pub struct Webhooks {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    ingest: Ingest,
}

enum Backend {
    File(FileQueue),
    Stream {
        stream: StreamQueue,
        /// The state's queue table on Redis: empty unless `state copy` brought a file
        /// queue's entries over; the worker moves waiting ones into the stream.
        table: FileQueue,
    },
}

impl Webhooks {
    /// The queue lives in the runtime's state store: a Redis Stream when the store is Redis,
    /// else the file's queue table.
    pub fn new(runtime: Arc<Runtime>, options: WebhookOptions) -> Webhooks {
        Webhooks::telling(runtime, options, crate::inbox_events::global().clone())
    }

    /// [`Webhooks::new`] telling `events` (and, with Redis, the other replicas) of the
    /// customers with new messages.
    pub(crate) fn telling(
        runtime: Arc<Runtime>,
        options: WebhookOptions,
        events: InboxEvents,
    ) -> Webhooks {
        let store = runtime.capabilities().state.clone();
        let inbox = InboxNotifier::new(events, store.redis());
        let backend = match store.redis() {
            Some(redis) => Backend::Stream {
                stream: StreamQueue::new(redis, store.seal().clone()),
                table: FileQueue::new(store.clone()),
            },
            None => Backend::File(FileQueue::new(store)),
        };
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
                backend,
                ingest: Ingest {
                    lock: IngestLock::for_runtime(&runtime),
                    inbox,
                    runtime,
                    options,
                    wake: Notify::new(),
                    counters: Counters::default(),
                },
            }),
        }
    }

    pub(crate) fn runtime(&self) -> &Runtime {
        &self.inner.ingest.runtime
    }

    pub(crate) fn options(&self) -> &WebhookOptions {
        &self.inner.ingest.options
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.inner.ingest.counters
    }

    /// Counters since start.
    pub fn stats(&self) -> WebhookStats {
        self.inner.ingest.stats()
    }

    /// Keys of the deliveries waiting for the component, oldest first (with Redis: the
    /// stream's entries, whichever replica holds them).
    pub async fn pending(&self) -> Result<Vec<String>, StateError> {
        match &self.inner.backend {
            Backend::File(q) => q.pending().await,
            Backend::Stream { stream, table } => {
                let mut pending = table.pending().await?;
                pending.extend(stream.pending().await?);
                Ok(pending)
            }
        }
    }

    /// How many deliveries wait and the age of the oldest (the queue metrics).
    pub async fn depth(&self) -> Result<QueueDepth, StateError> {
        match &self.inner.backend {
            Backend::File(q) => q.depth().await,
            Backend::Stream { stream, .. } => stream.depth().await,
        }
    }

    /// The deliveries that could not be applied, kept 30 days.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StateError> {
        match &self.inner.backend {
            Backend::File(q) => q.dead_letters().await,
            Backend::Stream { stream, table } => {
                let mut dead = table.dead_letters().await?;
                dead.extend(stream.dead_letters().await?);
                Ok(dead)
            }
        }
    }

    /// Stores an authentic delivery; returns its queue key once it is durable.
    pub(crate) async fn enqueue(&self, body: Vec<u8>) -> Result<String, StateError> {
        let key = match &self.inner.backend {
            Backend::File(q) => q.enqueue(body).await?,
            Backend::Stream { stream, .. } => stream.enqueue(&body).await?,
        };
        self.inner.ingest.wake.notify_one();
        Ok(key)
    }

    /// Applies queued deliveries one at a time until `stop` turns true (or its sender is
    /// dropped). Starts with whatever the queue already holds.
    pub(crate) async fn run_worker(&self, stop: watch::Receiver<bool>) {
        tracing::debug!("webhook worker started");
        match &self.inner.backend {
            Backend::File(q) => q.run(&self.inner.ingest, stop).await,
            Backend::Stream { stream, table } => {
                stream_worker::run(stream, table, &self.inner.ingest, stop).await
            }
        }
        tracing::debug!("webhook worker stopped");
    }
}
