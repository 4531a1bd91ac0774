//! "Customer X has new messages": a process-wide broadcast from the webhook
//! worker to whoever wants to hear of it (the MCP server's resource
//! subscriptions).
//!
//! The webhook worker publishes, after each successful ingest, the
//! customers who got a new inbound message stored by it ([`InboxNotifier`]).
//! Its own listeners hear of it at once. With the state on Redis, the other
//! replicas sharing that store hear of it too, through Redis pub/sub
//! ([`redis_fanout`]), each event once. Pub/sub is fire-and-forget: a
//! replica not subscribed at that moment (Redis restarting, its connection
//! being re-established) misses the event; its clients can still read the
//! message through the tools or resources, and the tools'
//! `next_check_after` hint tells them when to look again. With the file
//! store there is one process, and nothing travels.
//!
//! The events carry nothing but the customer's number, never content, and
//! are never logged.

mod redis_fanout;

use std::sync::OnceLock;

use tokio::sync::broadcast;

use crate::runtime::Runtime;
use crate::store::RedisHandle;
pub(crate) use redis_fanout::RedisFanout;

/// Events a slow listener may fall behind by before it misses some (it is
/// then told it lagged, and treats every conversation as changed).
const CAPACITY: usize = 1024;

/// A broadcast of the customers with new inbound messages.
#[derive(Clone, Debug)]
pub struct InboxEvents {
    sender: broadcast::Sender<String>,
}

impl Default for InboxEvents {
    fn default() -> Self {
        InboxEvents::new()
    }
}

impl InboxEvents {
    /// A broadcast nobody listens to yet.
    pub fn new() -> InboxEvents {
        let (sender, _) = broadcast::channel(CAPACITY);
        InboxEvents { sender }
    }

    /// Tells every listener that each of `customers` (E.164 with `+`) has
    /// new messages. Costs nothing when nobody listens.
    pub fn published(&self, customers: &[String]) {
        for customer in customers {
            // An error only means nobody listens now: nothing to tell.
            let _ = self.sender.send(customer.clone());
        }
    }

    /// A listener for the customers published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.sender.subscribe()
    }
}

/// The broadcast of this process: fed by the webhook worker, heard by the
/// MCP server.
pub fn global() -> &'static InboxEvents {
    static GLOBAL: OnceLock<InboxEvents> = OnceLock::new();
    GLOBAL.get_or_init(InboxEvents::new)
}

/// Forwards into [`global`] what the other replicas sharing `runtime`'s
/// Redis store publish, while it is kept; `None` with the file store. For a
/// process serving MCP without the webhook endpoint (the endpoint's
/// `Webhooks` already does this).
pub fn follow_other_replicas(runtime: &Runtime) -> Option<OtherReplicas> {
    let redis = runtime.capabilities().state.redis()?;
    Some(OtherReplicas {
        _fanout: RedisFanout::start(redis, |customer| global().published(&[customer])),
    })
}

/// The subscription [`follow_other_replicas`] keeps up; dropping it stops it.
pub struct OtherReplicas {
    _fanout: RedisFanout,
}

impl OtherReplicas {
    /// The fan-out kept up.
    #[cfg(test)]
    pub(crate) fn fanout(&self) -> &RedisFanout {
        &self._fanout
    }
}

/// What the webhook worker tells after an ingest: this process's
/// listeners, and with Redis the other replicas' too.
pub(crate) struct InboxNotifier {
    local: InboxEvents,
    fanout: Option<RedisFanout>,
}

impl InboxNotifier {
    /// Tells `local`'s listeners, and fans out over `redis` when there is
    /// one (which needs a Tokio runtime; without one, only `local` hears).
    pub(crate) fn new(local: InboxEvents, redis: Option<&RedisHandle>) -> InboxNotifier {
        let fanout = match redis {
            Some(redis) if tokio::runtime::Handle::try_current().is_ok() => {
                let local = local.clone();
                Some(RedisFanout::start(redis, move |customer| {
                    local.published(&[customer])
                }))
            }
            Some(_) => {
                tracing::warn!(
                    "no async runtime: other replicas are not told of the messages this one \
                     ingests"
                );
                None
            }
            None => None,
        };
        InboxNotifier { local, fanout }
    }

    /// Tells that each of `customers` (E.164 with `+`) has new messages:
    /// this process's listeners now, the other replicas' in the background.
    pub(crate) fn published(&self, customers: &[String]) {
        self.local.published(customers);
        if let Some(fanout) = &self.fanout {
            fanout.publish(customers);
        }
    }

    /// The fan-out over Redis, if any.
    #[cfg(test)]
    pub(crate) fn fanout(&self) -> Option<&RedisFanout> {
        self.fanout.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_listener_hears_each_customer_published_after_it_subscribed() {
        let events = InboxEvents::new();
        events.published(&["+15550000001".to_string()]);
        let mut listener = events.subscribe();
        events.published(&["+15550000002".to_string(), "+15550000003".to_string()]);
        assert_eq!(listener.recv().await.unwrap(), "+15550000002");
        assert_eq!(listener.recv().await.unwrap(), "+15550000003");
        assert!(listener.try_recv().is_err());
    }
}
