//! The inbox broadcast across the replicas sharing one Redis store.
//!
//! Each replica PUBLISHes the customers it ingested new messages for on
//! `<namespace>:inbox-events`, and keeps a dedicated connection SUBSCRIBEd to
//! it, forwarding what the other replicas published into its own broadcast
//! (`InboxEvents`). A message reads `<origin> <customer>`: `origin` is a
//! random id of this fan-out, so a replica skips its own messages (it has
//! already told its listeners, without waiting for Redis).
//!
//! Redis pub/sub is fire-and-forget: a replica that is not subscribed at
//! the moment (Redis restarting, its connection being re-established)
//! misses the event. A PING every 15 s notices a connection that died
//! without closing. Publishing never blocks ingest: it runs in a task of
//! its own, and a failure is logged as a count, without the numbers.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_core::Stream;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::store::RedisHandle;

/// The first wait before reconnecting, doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long connecting, subscribing or a ping may take before it is retried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How often an idle subscription is checked with a PING (often in tests, so
/// that they exercise it).
#[cfg(not(test))]
const HEARTBEAT: Duration = Duration::from_secs(15);
#[cfg(test)]
const HEARTBEAT: Duration = Duration::from_millis(20);

/// This replica's side of the fan-out: publishes its customers, and
/// forwards the others' into the local broadcast while it lives.
pub(crate) struct RedisFanout {
    redis: RedisHandle,
    channel: String,
    origin: Arc<str>,
    #[cfg(test)]
    subscriptions: watch::Receiver<u64>,
    listener: AbortHandle,
}

impl Drop for RedisFanout {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl RedisFanout {
    /// Starts listening on `redis`'s channel, handing each customer another
    /// replica published to `deliver`; needs a Tokio runtime.
    pub(crate) fn start(
        redis: &RedisHandle,
        deliver: impl Fn(String) + Send + 'static,
    ) -> RedisFanout {
        let channel = redis.key("inbox-events");
        let origin: Arc<str> = format!("{:016x}", rand::random::<u64>()).into();
        let (subscribed, _subscriptions) = watch::channel(0);
        let listener = tokio::spawn(listen(
            redis.client().clone(),
            redis.name().to_string(),
            channel.clone(),
            origin.clone(),
            deliver,
            subscribed,
        ))
        .abort_handle();
        RedisFanout {
            redis: redis.clone(),
            channel,
            origin,
            #[cfg(test)]
            subscriptions: _subscriptions,
            listener,
        }
    }

    /// Tells the other replicas that each of `customers` has new messages,
    /// in the background.
    pub(crate) fn publish(&self, customers: &[String]) {
        if customers.is_empty() {
            return;
        }
        let messages: Vec<String> = customers
            .iter()
            .map(|customer| format!("{} {customer}", self.origin))
            .collect();
        let mut connection = self.redis.connection();
        let channel = self.channel.clone();
        let store = self.redis.name().to_string();
        tokio::spawn(async move {
            let mut pipe = redis::pipe();
            for message in &messages {
                pipe.publish(&channel, message).ignore();
            }
            if let Err(e) = pipe.query_async::<()>(&mut connection).await {
                tracing::warn!(
                    store = %store,
                    events = messages.len(),
                    error = %e,
                    "could not tell the other replicas of new inbox messages; their \
                     subscribed clients are not notified of them"
                );
            }
        });
    }

    /// How many times the listener has (re)subscribed: it changes each time
    /// the subscription is established again.
    #[cfg(test)]
    pub(crate) fn subscriptions(&self) -> watch::Receiver<u64> {
        self.subscriptions.clone()
    }
}

/// Subscribes, forwards, and on any loss of the connection subscribes again
/// after a growing pause; runs until aborted.
async fn listen(
    client: redis::Client,
    store: String,
    channel: String,
    origin: Arc<str>,
    deliver: impl Fn(String),
    subscribed: watch::Sender<u64>,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let connected = tokio::time::timeout(CONNECT_TIMEOUT, async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        })
        .await;
        match connected {
            Ok(Ok(pubsub)) => {
                backoff = FIRST_BACKOFF;
                subscribed.send_modify(|n| *n += 1);
                let (mut sink, mut messages) = pubsub.split();
                let mut heartbeat = tokio::time::interval(HEARTBEAT);
                heartbeat.tick().await;
                loop {
                    tokio::select! {
                        message = next_message(&mut messages) => {
                            let Some(message) = message else { break };
                            if let Some(customer) =
                                from_another_replica(message.get_payload_bytes(), &origin)
                            {
                                deliver(customer);
                            }
                        }
                        _ = heartbeat.tick() => {
                            // A connection that died without closing (a network cut) only
                            // shows when asked: reconnect rather than wait forever.
                            let answered =
                                tokio::time::timeout(CONNECT_TIMEOUT, sink.ping::<redis::Value>()).await;
                            if !matches!(answered, Ok(Ok(_))) {
                                break;
                            }
                        }
                    }
                }
                tracing::warn!(
                    store = %store,
                    "lost the inbox events subscription; reconnecting (clients here miss \
                     other replicas' new messages meanwhile)"
                );
            }
            Ok(Err(e)) => tracing::debug!(store = %store, error = %e,
                "cannot subscribe to the inbox events yet; retrying"),
            Err(_) => tracing::debug!(store = %store,
                "subscribing to the inbox events timed out; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// The next message of `messages`; `None` once the connection is gone.
async fn next_message(messages: &mut redis::aio::PubSubStream) -> Option<redis::Msg> {
    std::future::poll_fn(|cx| Pin::new(&mut *messages).poll_next(cx)).await
}

/// The customer of a message another replica published; `None` for this
/// replica's own and for anything that is not `<origin> +<digits>`.
pub(super) fn from_another_replica(payload: &[u8], own: &str) -> Option<String> {
    let text = std::str::from_utf8(payload).ok()?;
    let (origin, customer) = text.split_once(' ')?;
    let digits = customer.strip_prefix('+')?;
    let is_number = (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    (origin != own && is_number).then(|| customer.to_string())
}

#[cfg(test)]
#[path = "redis_fanout_tests.rs"]
mod tests;
