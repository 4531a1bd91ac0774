//! Webhooks the sandbox delivers, the way Meta does (reference §3): signed POSTs of the
//! documented envelope to the configured callback, at least once, in no guaranteed order.
//!
//! What is delivered (only while a callback is configured):
//! - after each accepted send: `statuses` webhooks `sent` → `delivered` → `read` (at
//!   `WebhookBehaviour::{sent,delivered,read}_after`), or a single `failed` one carrying the
//!   error, for these documented rules:
//!   - **131047** a free-form (non-template) message to a user who has not written in the last
//!     24 hours. Meta accepts such a send and fails it later; so does the sandbox when a
//!     callback is set (without one it still answers 131047 synchronously);
//!   - **131026** a recipient whose number ends in `0000` (undeliverable);
//!   - **131053** a media `link` whose host is `unreachable.example` (or a subdomain of it) or
//!     whose path contains `/missing` (Meta cannot fetch it);
//! - `message_template_status_update` when a template's review ends (`APPROVED`, or `REJECTED`
//!   with reason `INVALID_FORMAT` for names starting with `reject_`), at the moment it ends;
//! - a `messages` webhook (contacts + messages) for every simulated inbound message.
//!
//! Each POST carries `X-Hub-Signature-256: sha256=<lower-case hex HMAC-SHA256 of the exact
//! body, keyed with the app secret>`. Bodies are JSON with non-ASCII characters escaped as
//! `\uXXXX` (lower-case hex), as Meta sends them: a receiver that re-serialises before checking
//! the signature fails on them. A delivery that gets no 2xx (or no answer) is retried with
//! exponential backoff, `max_attempts` times in all, then dropped.
//!
//! With `duplicate_and_reorder`, the status webhooks of each message go out in reverse order
//! (`read` first) and then each once more in natural order: a receiver must deduplicate and
//! never let a late `sent` overwrite `read`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::state::Shared;
use super::util;
use super::{SandboxConfig, WebhookBehaviour};

/// How many deliveries `Sandbox::webhook_deliveries` remembers.
const MAX_LOGGED_DELIVERIES: usize = 10_000;
/// Per-attempt timeout of a delivery.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
const ERROR_CODES_HREF: &str =
    "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/";

/// What a delivery carries, for tests and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookKind {
    Status,
    Inbound,
    TemplateStatus,
}

/// One webhook the sandbox tried to deliver.
#[derive(Clone)]
pub struct WebhookDelivery {
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
    rx: mpsc::UnboundedReceiver<Job>,
    callback: Arc<Mutex<Option<String>>>,
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

/// A status the sandbox reports for an accepted message.
#[derive(Clone, Debug)]
pub(crate) struct Failure {
    pub code: i64,
    pub title: &'static str,
    pub details: String,
}

impl Failure {
    pub fn window_closed() -> Failure {
        Failure {
            code: 131047,
            title: "Re-engagement message",
            details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number.".into(),
        }
    }

    pub fn undeliverable() -> Failure {
        Failure {
            code: 131026,
            title: "Message undeliverable",
            details: "Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number; the recipient has not accepted the new Terms of Service and Privacy Policy; the recipient is using an old WhatsApp version.".into(),
        }
    }

    pub fn media_unfetchable(link: &str) -> Failure {
        let host = link_host(link).unwrap_or_default();
        Failure {
            code: 131053,
            title: "Media upload error",
            details: format!(
                "Downloading media from weblink failed with http code 404, status message Not Found (host {host})."
            ),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "code": self.code,
            "title": self.title,
            "message": self.title,
            "error_data": {"details": self.details},
            "href": ERROR_CODES_HREF,
        })
    }
}

/// The host of an http(s) URL, lower-case, without port or credentials.
fn link_host(link: &str) -> Option<String> {
    let url = url::Url::parse(link.trim()).ok()?;
    url.host_str().map(str::to_ascii_lowercase)
}

/// The documented rule for media Meta cannot fetch: host `unreachable.example` (or below it),
/// or a path containing `/missing`.
pub(crate) fn media_unfetchable(link: &str) -> bool {
    let Ok(url) = url::Url::parse(link.trim()) else {
        return false;
    };
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    host == "unreachable.example"
        || host.ends_with(".unreachable.example")
        || url.path().to_ascii_lowercase().contains("/missing")
}

/// The documented rule for undeliverable recipients: numbers ending in `0000`.
pub(crate) fn undeliverable(wa_id: &str) -> bool {
    wa_id.len() > 4 && wa_id.ends_with("0000")
}

/// What the status webhooks of one accepted message need.
pub(crate) struct AcceptedSend<'a> {
    pub id: &'a str,
    pub wa_id: &'a str,
    /// Lower-case template category (`marketing`, `utility`, `authentication`), or `None` for
    /// a free-form (service) message.
    pub template_category: Option<String>,
    pub at: SystemTime,
    pub failure: Option<Failure>,
}

impl Outbox {
    /// Whether webhooks are being delivered (a callback is set).
    pub fn enabled(&self) -> bool {
        self.callback().is_some()
    }

    pub fn callback(&self) -> Option<String> {
        self.callback
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_callback(&self, url: Option<String>) {
        *self.callback.lock().unwrap_or_else(|e| e.into_inner()) = url;
    }

    fn push(&self, job: Job) {
        // The dispatcher is gone only when the sandbox is shutting down.
        let _ = self.tx.send(job);
    }

    /// Schedules the status webhooks of an accepted send.
    pub fn message_statuses(&self, cfg: &SandboxConfig, send: AcceptedSend<'_>) {
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

    /// Delivers an inbound text message from `from` (digits) sent at `at`.
    pub fn inbound(&self, cfg: &SandboxConfig, id: &str, from: &str, text: &str, at: SystemTime) {
        if !self.enabled() {
            return;
        }
        let value = messages_value(
            cfg,
            json!({
                "contacts": [{"profile": {"name": "Sandbox User"}, "wa_id": from}],
                "messages": [{
                    "from": from,
                    "id": id,
                    "timestamp": util::unix_secs(at).to_string(),
                    "type": "text",
                    "text": {"body": text},
                }],
            }),
        );
        self.push(Job::Deliver {
            at: Instant::now(),
            kind: WebhookKind::Inbound,
            body: envelope(cfg, "messages", value, None),
        });
    }

    /// Delivers a `message_template_status_update` (`event` is `APPROVED`, `REJECTED`, …).
    pub fn template_status(
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
    pub fn review_due(&self, at: Instant) {
        if self.enabled() {
            self.push(Job::ReviewDue(at));
        }
    }
}

/// Orders a message's status events for delivery: natural order at their delays, or, with
/// `duplicate_and_reorder`, reversed (the last state first) and then each again in order.
fn schedule(events: Vec<(Duration, Value)>, b: &WebhookBehaviour) -> Vec<(Duration, Value)> {
    if !b.duplicate_and_reorder {
        return events;
    }
    let delays: Vec<Duration> = events.iter().map(|(d, _)| *d).collect();
    let last = delays.iter().copied().max().unwrap_or_default();
    let step = delays
        .iter()
        .copied()
        .min()
        .unwrap_or_default()
        .max(Duration::from_millis(10));
    let mut out = Vec::with_capacity(events.len() * 2);
    for (slot, (_, event)) in events.iter().rev().enumerate() {
        out.push((delays[slot], event.clone()));
    }
    for (k, (_, event)) in events.into_iter().enumerate() {
        out.push((last + step * (k as u32 + 1), event));
    }
    out
}

fn messages_value(cfg: &SandboxConfig, extra: Value) -> Value {
    let mut value = json!({
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": cfg.display_phone_number,
            "phone_number_id": cfg.phone_number_id,
        },
    });
    if let (Some(obj), Value::Object(extra)) = (value.as_object_mut(), extra) {
        obj.extend(extra);
    }
    value
}

/// The documented envelope (§3.3), serialised the way Meta sends it.
fn envelope(cfg: &SandboxConfig, field: &str, value: Value, time: Option<u64>) -> Vec<u8> {
    let mut entry = json!({
        "id": cfg.waba_id,
        "changes": [{"field": field, "value": value}],
    });
    if let Some(t) = time {
        entry["time"] = Value::from(t);
    }
    let payload = json!({"object": "whatsapp_business_account", "entry": [entry]});
    escape_non_ascii(&payload.to_string()).into_bytes()
}

/// JSON text with every non-ASCII character written as `\uXXXX` (lower-case hex, surrogate
/// pairs beyond the BMP). Valid only for JSON produced by serde_json, where such characters
/// appear inside strings only.
pub(crate) fn escape_non_ascii(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// `sha256=<hex>` of `body` keyed with `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Runs until shutdown: waits for jobs and delivers each at its time, concurrently.
pub(crate) async fn dispatch(
    mut inbox: Inbox,
    shared: Weak<Shared>,
    log: Arc<Mutex<VecDeque<WebhookDelivery>>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let Some(cfg) = shared.upgrade().map(|s| s.cfg.clone()) else {
        return;
    };
    crate::install_crypto_provider();
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(ATTEMPT_TIMEOUT)
        .user_agent("facebookexternalua")
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "sandbox: cannot build the webhook client; no webhooks");
            return;
        }
    };
    let cfg = Arc::new(cfg);
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            job = inbox.rx.recv() => {
                let Some(job) = job else { break };
                match job {
                    Job::Deliver { at, kind, body } => {
                        let client = client.clone();
                        let cfg = cfg.clone();
                        let callback = inbox.callback.clone();
                        let log = log.clone();
                        tasks.spawn(async move {
                            tokio::time::sleep_until(at.into()).await;
                            let record = deliver(&client, &cfg, &callback, kind, body).await;
                            if let Some(record) = record {
                                let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                                if log.len() >= MAX_LOGGED_DELIVERIES {
                                    log.pop_front();
                                }
                                log.push_back(record);
                            }
                        });
                    }
                    Job::ReviewDue(at) => {
                        let shared = shared.clone();
                        tasks.spawn(async move {
                            tokio::time::sleep_until((at + Duration::from_millis(1)).into()).await;
                            if let Some(shared) = shared.upgrade() {
                                // Reading the templates applies due reviews, which emits the
                                // status-update webhook.
                                let _ = shared.template_snapshots();
                            }
                        });
                    }
                }
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

/// POSTs one webhook, retrying with backoff; `None` when no callback is set any more.
async fn deliver(
    client: &reqwest::Client,
    cfg: &SandboxConfig,
    callback: &Mutex<Option<String>>,
    kind: WebhookKind,
    body: Vec<u8>,
) -> Option<WebhookDelivery> {
    let signature = signature(cfg.app_secret.as_bytes(), &body);
    let b = &cfg.webhooks;
    let attempts_allowed = b.max_attempts.max(1);
    let mut backoff = b.retry_backoff;
    let mut record = WebhookDelivery {
        kind,
        body,
        signature,
        attempts: 0,
        last_status: None,
        delivered: false,
    };
    while record.attempts < attempts_allowed {
        if record.attempts > 0 {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
        let url = callback.lock().unwrap_or_else(|e| e.into_inner()).clone()?;
        record.attempts += 1;
        let sent = client
            .post(&url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", &record.signature)
            .body(record.body.clone())
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let status = resp.status();
                // Drain the body so the connection can be reused.
                let _ = resp.bytes().await;
                record.last_status = Some(status.as_u16());
                if status.is_success() {
                    record.delivered = true;
                    tracing::debug!(kind = ?kind, attempts = record.attempts, "sandbox: webhook delivered");
                    return Some(record);
                }
                tracing::debug!(kind = ?kind, status = %status, "sandbox: webhook refused; will retry");
            }
            Err(e) => {
                tracing::debug!(kind = ?kind, error = %e, "sandbox: webhook delivery failed; will retry");
            }
        }
    }
    tracing::warn!(
        kind = ?kind,
        attempts = record.attempts,
        "sandbox: webhook dropped after its last attempt"
    );
    Some(record)
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
mod tests;

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn non_ascii_is_escaped_with_lower_case_hex_and_surrogate_pairs() {
        let text = json!({"t": "Café 😀 /@"}).to_string();
        let escaped = escape_non_ascii(&text);
        assert_eq!(escaped, r#"{"t":"Caf\u00e9 \ud83d\ude00 /@"}"#);
        let back: Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back["t"], "Café 😀 /@");
    }

    #[test]
    fn the_signature_is_the_lower_case_hex_hmac_of_the_exact_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_documented_failure_rules_match_only_what_they_say() {
        assert!(undeliverable("16505550000"));
        assert!(!undeliverable("16505551234"));
        assert!(!undeliverable("0000"));
        assert!(media_unfetchable("https://unreachable.example/a.png"));
        assert!(media_unfetchable("https://cdn.unreachable.example/a.png"));
        assert!(media_unfetchable("https://shop.example.com/missing/a.pdf"));
        assert!(!media_unfetchable(
            "https://shop.example.com/receipts/1042.pdf"
        ));
        assert!(!media_unfetchable("https://notunreachable.example/a.png"));
    }

    #[test]
    fn reordering_sends_the_last_state_first_and_then_every_state_again() {
        let b = WebhookBehaviour {
            duplicate_and_reorder: true,
            ..WebhookBehaviour::default()
        };
        let events = vec![
            (b.sent_after, json!("sent")),
            (b.delivered_after, json!("delivered")),
            (b.read_after, json!("read")),
        ];
        let mut out = schedule(events, &b);
        out.sort_by_key(|(d, _)| *d);
        let order: Vec<&str> = out.iter().map(|(_, v)| v.as_str().unwrap()).collect();
        assert_eq!(
            order,
            ["read", "delivered", "sent", "sent", "delivered", "read"]
        );
    }
}
