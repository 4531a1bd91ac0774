//! The queue between the model and the dispatcher: the model schedules webhooks here while it
//! holds its lock; the dispatcher delivers them later.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::failures::Failure;
use super::payload::{envelope, messages_value, schedule};
use super::record::WebhookKind;
use crate::config::SandboxConfig;
use crate::util;

pub(crate) enum Job {
    /// POST `body` at `at`.
    Deliver {
        at: Instant,
        kind: WebhookKind,
        body: Vec<u8>,
    },
    /// A template review ends at this instant: bring the templates up to date then, so the
    /// status-update webhook goes out without waiting for a request.
    ReviewDue(Instant),
}

/// The sending side, kept in the sandbox state. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Outbox {
    tx: mpsc::UnboundedSender<Job>,
    callback: Arc<Mutex<Option<String>>>,
}

/// The receiving side, taken once by the dispatcher.
pub(crate) struct Inbox {
    pub(super) rx: mpsc::UnboundedReceiver<Job>,
    pub(super) callback: Arc<Mutex<Option<String>>>,
}

pub(crate) fn channel(callback: Option<String>) -> (Outbox, Inbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    let callback = Arc::new(Mutex::new(callback));
    (
        Outbox {
            tx,
            callback: callback.clone(),
        },
        Inbox { rx, callback },
    )
}

/// What the status webhooks of one accepted message need.
pub(crate) struct AcceptedSend<'a> {
    pub(crate) id: &'a str,
    pub(crate) wa_id: &'a str,
    /// Lower-case template category (`marketing`, `utility`, `authentication`), or `None` for
    /// a free-form (service) message.
    pub(crate) template_category: Option<String>,
    pub(crate) at: SystemTime,
    pub(crate) failure: Option<Failure>,
}

impl Outbox {
    /// Whether webhooks are being delivered (a callback is set).
    pub(crate) fn enabled(&self) -> bool {
        self.callback().is_some()
    }

    pub(crate) fn callback(&self) -> Option<String> {
        self.callback
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn set_callback(&self, url: Option<String>) {
        *self.callback.lock().unwrap_or_else(|e| e.into_inner()) = url;
    }

    fn push(&self, job: Job) {
        // The dispatcher is gone only when the sandbox is shutting down.
        let _ = self.tx.send(job);
    }

    /// Queues a template webhook of `field` (`message_template_quality_update`,
    /// `template_category_update`) with `value`, now.
    pub(crate) fn template_update(&self, cfg: &SandboxConfig, field: &str, value: Value) {
        if !self.enabled() {
            return;
        }
        let time = util::unix_secs(SystemTime::now());
        self.push(Job::Deliver {
            at: Instant::now(),
            kind: WebhookKind::TemplateStatus,
            body: envelope(cfg, field, value, Some(time)),
        });
    }

    /// Schedules the status webhooks of an accepted send.
    pub(crate) fn message_statuses(&self, cfg: &SandboxConfig, send: AcceptedSend<'_>) {
        if !self.enabled() {
            return;
        }
        let b = &cfg.webhooks;
        let accepted = util::unix_secs(send.at);
        let events: Vec<(Duration, Value)> = match &send.failure {
            Some(failure) => vec![(
                b.sent_after,
                json!({
                    "id": send.id,
                    "status": "failed",
                    "timestamp": accepted.to_string(),
                    "recipient_id": send.wa_id,
                    "errors": [failure.to_json()],
                }),
            )],
            None => {
                let (category, billable, pricing_type) = match &send.template_category {
                    Some(c) => (c.as_str(), true, "regular"),
                    None => ("service", false, "free_customer_service"),
                };
                let conversation_id = util::random_hex(16);
                let pricing = json!({
                    "billable": billable,
                    "pricing_model": "PMP",
                    "type": pricing_type,
                    "category": category,
                });
                let mut out = Vec::new();
                for (status, after) in [
                    ("sent", b.sent_after),
                    ("delivered", b.delivered_after),
                    ("read", b.read_after),
                ] {
                    let ts = accepted + after.as_secs();
                    let mut conversation = json!({
                        "id": conversation_id,
                        "origin": {"type": category},
                    });
                    if status == "sent" {
                        conversation["expiration_timestamp"] =
                            Value::from((accepted + 24 * 3600).to_string());
                    }
                    out.push((
                        after,
                        json!({
                            "id": send.id,
                            "status": status,
                            "timestamp": ts.to_string(),
                            "recipient_id": send.wa_id,
                            "conversation": conversation,
                            "pricing": pricing,
                        }),
                    ));
                }
                out
            }
        };
        let now = Instant::now();
        for (after, status) in schedule(events, b) {
            let body = envelope(
                cfg,
                "messages",
                messages_value(cfg, json!({"statuses": [status]})),
                None,
            );
            self.push(Job::Deliver {
                at: now + after,
                kind: WebhookKind::Status,
                body,
            });
        }
    }

    /// Delivers a message user `wa_id` (profile name `name`) wrote: `message` is the
    /// webhook's `messages[0]`, built by the model.
    pub(crate) fn inbound(&self, cfg: &SandboxConfig, wa_id: &str, name: &str, message: Value) {
        if !self.enabled() {
            return;
        }
        let value = messages_value(
            cfg,
            json!({
                "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                "messages": [message],
            }),
        );
        self.push(Job::Deliver {
            at: Instant::now(),
            kind: WebhookKind::Inbound,
            body: envelope(cfg, "messages", value, None),
        });
    }

    /// Delivers a `message_template_status_update` (`event` is `APPROVED`, `REJECTED`, …).
    pub(crate) fn template_status(
        &self,
        cfg: &SandboxConfig,
        template_id: &str,
        name: &str,
        language: &str,
        event: &str,
        reason: Option<&str>,
    ) {
        if !self.enabled() {
            return;
        }
        // Meta sends the template id as a JSON number.
        let id: Value = template_id
            .parse::<u64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(template_id));
        let value = json!({
            "event": event,
            "message_template_id": id,
            "message_template_name": name,
            "message_template_language": language,
            "reason": reason.unwrap_or("NONE"),
        });
        let time = util::unix_secs(SystemTime::now());
        self.push(Job::Deliver {
            at: Instant::now(),
            kind: WebhookKind::TemplateStatus,
            body: envelope(cfg, "message_template_status_update", value, Some(time)),
        });
    }

    /// Asks the dispatcher to apply a template review when it falls due.
    pub(crate) fn review_due(&self, at: Instant) {
        if self.enabled() {
            self.push(Job::ReviewDue(at));
        }
    }
}
