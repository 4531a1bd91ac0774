//! "Customer X has new messages": a process-wide broadcast from the webhook
//! worker to whoever wants to hear of it (the MCP server's resource
//! subscriptions).
//!
//! The webhook worker publishes, after each successful ingest, the
//! customers who got a new inbound message stored by it. Only this process
//! hears of it: with several replicas sharing one state store, a message
//! ingested by another replica notifies that replica's clients, not this
//! one's (a client can still read it through the tools or resources, and
//! the tools' `next_check_after` hint tells it when to look again).
//!
//! The events carry nothing but the customer's number, never content, and
//! are never logged.

use std::sync::OnceLock;

use tokio::sync::broadcast;

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
