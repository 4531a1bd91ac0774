//! One webhook delivery as the sandbox reports it (`Sandbox::webhook_deliveries`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// Finished deliveries, oldest first (bounded by the dispatcher).
pub(crate) type DeliveryLog = Arc<Mutex<VecDeque<WebhookDelivery>>>;

/// What a delivery carries, for tests and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookKind {
    /// A `statuses` webhook (`sent`, `delivered`, `read` or `failed`) for an accepted send.
    Status,
    /// A `messages` webhook for a simulated inbound message.
    Inbound,
    /// A `message_template_status_update` webhook when a review ends.
    TemplateStatus,
}

/// One webhook the sandbox tried to deliver.
#[derive(Clone)]
pub struct WebhookDelivery {
    /// What it carries.
    pub kind: WebhookKind,
    /// The exact body POSTed.
    pub body: Vec<u8>,
    /// The `X-Hub-Signature-256` header sent with it.
    pub signature: String,
    /// Attempts made (1 when the first one succeeded).
    pub attempts: u32,
    /// HTTP status of the last attempt, if the callback answered.
    pub last_status: Option<u16>,
    /// Whether the callback answered 2xx.
    pub delivered: bool,
}

impl WebhookDelivery {
    /// The body parsed as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

impl std::fmt::Debug for WebhookDelivery {
    // Inbound bodies carry message text: keep it out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookDelivery")
            .field("kind", &self.kind)
            .field("bytes", &self.body.len())
            .field("attempts", &self.attempts)
            .field("last_status", &self.last_status)
            .field("delivered", &self.delivered)
            .finish()
    }
}
