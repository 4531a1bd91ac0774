//! Inbound webhooks: authenticate (`verify`) and apply (`ingest`).

use serde_json::{Map, Value, json};

use crate::encoding::{hex_decode, parse_query};
use crate::graph::webhook_error;
use crate::host::{CredentialError, Host};
use crate::json::json_i64;
use crate::settings;
use crate::store;

mod templates;

/// An HTTP request that arrived at the webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    /// `GET` (verification handshake) or `POST` (delivery).
    pub method: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The exact raw body bytes; signatures are computed over these.
    pub body: Vec<u8>,
}

/// What to answer and whether the host must keep the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// HTTP status to answer with.
    pub status: u16,
    /// Body to answer with (the raw `hub.challenge` for a handshake).
    pub body: Vec<u8>,
    /// True for an authentic POST delivery the host must store and pass to `ingest`.
    pub accept: bool,
}

/// What a delivery changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Message status updates applied (duplicates and stale updates excluded).
    pub statuses: u32,
    /// Inbound messages recorded.
    pub messages: u32,
    /// Template status changes recorded.
    pub template_updates: u32,
    /// Entries ignored as duplicates, stale or of fields the connector does not track.
    pub ignored: u32,
    /// Entries for another WhatsApp Business Account and changes for another
    /// phone number (several businesses can share one Meta app), skipped.
    pub foreign: u32,
    /// The customers (E.164 with `+`) who got a new inbound message stored
    /// in the inbox by this delivery; empty when the inbox is off.
    pub conversations: Vec<String>,
}

fn verdict(status: u16, body: &str, accept: bool) -> Verdict {
    Verdict {
        status,
        body: body.as_bytes().to_vec(),
        accept,
    }
}

fn credential_unavailable(what: &str, e: &CredentialError) -> Verdict {
    let why = match e {
        CredentialError::NotGranted(name) => {
            format!("the {what} credential `{name}` is not granted to the connector")
        }
        CredentialError::Unavailable(reason) => {
            format!("the {what} credential is unavailable: {reason}")
        }
    };
    verdict(503, &format!("Webhook not configured: {why}."), false)
}

/// Authenticates a webhook request. Records nothing.
///
/// GET: the subscription handshake (`hub.mode=subscribe`, `hub.verify_token`
/// compared by the host in constant time) → 200 with the raw challenge, else
/// 403. POST: `X-Hub-Signature-256` over the exact raw body → 401 when
/// missing, 403 when malformed or wrong, 200 `EVENT_RECEIVED` and accept when
/// valid. 503 when the credential is not available; 405 for other methods.
pub fn verify(host: &dyn Host, req: &WebhookRequest) -> Verdict {
    if req.method.eq_ignore_ascii_case("GET") {
        verify_handshake(host, &req.query)
    } else if req.method.eq_ignore_ascii_case("POST") {
        verify_signature(host, req)
    } else {
        verdict(405, "Method Not Allowed", false)
    }
}

fn verify_handshake(host: &dyn Host, query: &str) -> Verdict {
    let params = parse_query(query);
    let find = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name.as_bytes())
            .map(|(_, v)| v.clone())
    };
    let (Some(mode), Some(token), Some(challenge)) = (
        find("hub.mode"),
        find("hub.verify_token"),
        find("hub.challenge"),
    ) else {
        return verdict(403, "Forbidden", false);
    };
    if mode != b"subscribe" || token.is_empty() {
        return verdict(403, "Forbidden", false);
    }
    let cred = match host.open_credential(&settings::verify_token_credential(host)) {
        Ok(cred) => cred,
        Err(e) => return credential_unavailable("verify-token", &e),
    };
    if host.secret_equals(cred, &token) {
        Verdict {
            status: 200,
            body: challenge,
            accept: false,
        }
    } else {
        verdict(403, "Forbidden", false)
    }
}

fn verify_signature(host: &dyn Host, req: &WebhookRequest) -> Verdict {
    let Some((_, header)) = req
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-hub-signature-256"))
    else {
        return verdict(401, "Missing X-Hub-Signature-256", false);
    };
    let header = header.trim();
    let Some(hex) = header
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("sha256="))
        .map(|_| &header[7..])
    else {
        return verdict(403, "Invalid signature", false);
    };
    let Some(claimed) = hex_decode(hex.trim()).filter(|b| b.len() == 32) else {
        return verdict(403, "Invalid signature", false);
    };
    let cred = match host.open_credential(&settings::app_secret_credential(host)) {
        Ok(cred) => cred,
        Err(e) => return credential_unavailable("app-secret", &e),
    };
    match host.hmac_sha256(cred, &req.body) {
        Ok(mac) if ct_eq(&mac, &claimed) => verdict(200, "EVENT_RECEIVED", true),
        Ok(_) => verdict(403, "Invalid signature", false),
        Err(e) => credential_unavailable("app-secret", &e),
    }
}

/// Applies an authentic delivery's payload to state. Safe to repeat:
/// duplicate and stale updates are counted as ignored.
pub fn ingest(host: &dyn Host, body: &[u8]) -> Result<IngestReport, String> {
    let payload: Value =
        serde_json::from_slice(body).map_err(|e| format!("webhook body is not valid JSON: {e}"))?;
    let Some(obj) = payload.as_object() else {
        return Err("webhook body is not a JSON object".to_string());
    };
    let mut report = IngestReport::default();
    let ours = Ours::configured(host);
    let now = i64::try_from(host.now_unix_ms() / 1000).unwrap_or(i64::MAX);
    let entries = obj.get("entry").and_then(Value::as_array);
    let wrong_object = obj
        .get("object")
        .and_then(Value::as_str)
        .is_some_and(|o| o != "whatsapp_business_account");
    let Some(entries) = entries.filter(|_| !wrong_object) else {
        report.ignored += 1;
        return Ok(report);
    };
    for entry in entries {
        if !ours.account(entry) {
            report.foreign += 1;
            continue;
        }
        let entry_time = entry.get("time").and_then(json_i64);
        let Some(changes) = entry.get("changes").and_then(Value::as_array) else {
            report.ignored += 1;
            continue;
        };
        for change in changes {
            let field = change.get("field").and_then(Value::as_str).unwrap_or("");
            let Some(value) = change.get("value").filter(|v| v.is_object()) else {
                report.ignored += 1;
                continue;
            };
            match field {
                "messages" if !ours.number(value) => report.foreign += 1,
                "messages" => ingest_messages_change(host, value, now, &mut report)?,
                "user_preferences" => apply_user_preferences(host, value, now, &mut report)?,
                "message_template_status_update" => count(
                    &mut report,
                    templates::apply_status(host, value, entry_time.unwrap_or(now))?,
                ),
                "message_template_components_update" => {
                    count(&mut report, templates::apply_text(host, value)?)
                }
                _ => report.ignored += 1,
            }
        }
    }
    Ok(report)
}

/// The configured account and number: only their deliveries apply. An id
/// that is not configured is not checked.
struct Ours {
    waba_id: Option<String>,
    phone_number_id: Option<String>,
}

impl Ours {
    fn configured(host: &dyn Host) -> Ours {
        Ours {
            waba_id: settings::waba_id(host).ok(),
            phone_number_id: settings::phone_number_id(host).ok(),
        }
    }

    /// Whether an entry's `id` (the WhatsApp Business Account) is ours.
    fn account(&self, entry: &Value) -> bool {
        self.waba_id
            .as_deref()
            .is_none_or(|ours| id_text(entry.get("id")).as_deref() == Some(ours))
    }

    /// Whether a `messages` change's `metadata.phone_number_id` is ours.
    fn number(&self, value: &Value) -> bool {
        self.phone_number_id.as_deref().is_none_or(|ours| {
            id_text(value.get("metadata").and_then(|m| m.get("phone_number_id"))).as_deref()
                == Some(ours)
        })
    }
}

/// An id sent as a string (as documented) or as a number.
fn id_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn ingest_messages_change(
    host: &dyn Host,
    value: &Value,
    now: i64,
    report: &mut IngestReport,
) -> Result<(), String> {
    // Errors given beside the statuses rather than inside them belong to the
    // failed ones: they are recorded with each failed status of this value.
    let value_errors: Vec<Value> = value
        .get("errors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut statuses_seen = false;
    for s in value
        .get("statuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        statuses_seen = true;
        let s = with_value_errors(s, &value_errors);
        if apply_status(host, &s, now)? {
            report.statuses += 1;
        } else {
            report.ignored += 1;
        }
    }
    let contacts = value
        .get("contacts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for m in value
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let advanced = apply_inbound(host, m, &contacts, now)?;
        let stored = crate::inbox::inbound::store_inbound(host, m, &contacts, now)?;
        if let Some(customer) = &stored
            && !report.conversations.contains(customer)
        {
            report.conversations.push(customer.clone());
        }
        if advanced || stored.is_some() {
            report.messages += 1;
        } else {
            report.ignored += 1;
        }
    }
    if !statuses_seen {
        report.ignored += value_errors.len() as u32;
    }
    apply_user_preferences(host, value, now, report)?;
    Ok(())
}

/// A failed status with the value-level `errors` added to its own.
fn with_value_errors(status: &Value, value_errors: &[Value]) -> Value {
    let failed = status
        .get("status")
        .and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("failed"));
    if !failed || value_errors.is_empty() {
        return status.clone();
    }
    let mut s = status.clone();
    let mut errors = s
        .get("errors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for e in value_errors {
        if !errors.contains(e) {
            errors.push(e.clone());
        }
    }
    s["errors"] = Value::Array(errors);
    s
}

/// Records `user_preferences` items (a user stopping or resuming marketing
/// messages) under the user's id, the latest per user winning.
fn apply_user_preferences(
    host: &dyn Host,
    value: &Value,
    now: i64,
    report: &mut IngestReport,
) -> Result<(), String> {
    for p in value
        .get("user_preferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let user = p
            .get("wa_id")
            .or_else(|| p.get("user_id"))
            .and_then(Value::as_str)
            .filter(|u| store::safe_id(u));
        let marketing = p
            .get("category")
            .and_then(Value::as_str)
            .is_some_and(|c| c.eq_ignore_ascii_case("marketing_messages"));
        let choice = p
            .get("value")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .filter(|v| v == "stop" || v == "resume");
        let (Some(user), true, Some(choice)) = (user, marketing, choice) else {
            report.ignored += 1;
            continue;
        };
        let ts = p.get("timestamp").and_then(json_i64).unwrap_or(now);
        let key = store::preference_key(user);
        let last = match store::read_json(host, &key) {
            Ok(v) => v.and_then(|v| v.get("timestamp").and_then(Value::as_i64)),
            Err(e) if e.contains("not valid JSON") => None,
            Err(e) => return Err(e),
        };
        if last.is_some_and(|l| l > ts) {
            report.ignored += 1;
            continue;
        }
        store::write_json(
            host,
            &key,
            &json!({"marketing": choice, "timestamp": ts}),
            Some(store::WIN_TTL),
        )?;
    }
    Ok(())
}

/// Records one status; `false` when it was a duplicate or unusable.
fn apply_status(host: &dyn Host, s: &Value, now: i64) -> Result<bool, String> {
    let Some(id) = s
        .get("id")
        .and_then(Value::as_str)
        .filter(|i| store::safe_id(i))
    else {
        return Ok(false);
    };
    let Some(status) = s
        .get("status")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .filter(|x| !x.is_empty())
    else {
        return Ok(false);
    };
    let ts = s.get("timestamp").and_then(json_i64).unwrap_or(now);
    let key = store::status_key(id);
    let mut rec = match store::read_json(host, &key) {
        Ok(Some(Value::Object(m))) => m,
        Ok(_) => Map::new(),
        Err(e) if e.contains("not valid JSON") => Map::new(),
        Err(e) => return Err(e),
    };
    let mut events = rec
        .get("events")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(existing) = events
        .iter_mut()
        .find(|e| e.get("status").and_then(Value::as_str) == Some(status.as_str()))
    {
        // At-least-once delivery: one event per state; keep the earliest time.
        let old = existing
            .get("timestamp")
            .and_then(Value::as_i64)
            .unwrap_or(i64::MAX);
        if ts >= old {
            return Ok(false);
        }
        existing["timestamp"] = Value::from(ts);
    } else {
        events.push(json!({"status": status, "timestamp": ts}));
    }
    rec.insert("events".into(), Value::Array(events));
    for key in [
        "recipient_id",
        "recipient_user_id",
        "biz_opaque_callback_data",
    ] {
        if let Some(v) = s.get(key).and_then(Value::as_str).filter(|v| !v.is_empty()) {
            rec.insert(key.into(), Value::from(v));
        }
    }
    for key in ["pricing", "conversation"] {
        if let Some(v) = s.get(key).filter(|v| v.is_object()) {
            rec.insert(key.into(), v.clone());
        }
    }
    let mut errors = rec
        .get("errors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for e in s
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mapped = webhook_error(e);
        if !errors.contains(&mapped) {
            errors.push(mapped);
        }
    }
    rec.insert("errors".into(), Value::Array(errors));
    store::write_json(host, &key, &Value::Object(rec), Some(store::MSG_TTL))?;
    Ok(true)
}

/// Records the time of an inbound message (its content goes only to the
/// inbox, when on) under each id of the sender; `false` when no record
/// advanced.
fn apply_inbound(host: &dyn Host, m: &Value, contacts: &[Value], now: i64) -> Result<bool, String> {
    let ts = m.get("timestamp").and_then(json_i64).unwrap_or(now);
    let mut users: Vec<String> = Vec::new();
    for key in ["from", "from_user_id"] {
        if let Some(v) = m.get(key).and_then(Value::as_str) {
            users.push(v.to_string());
        }
    }
    if users.is_empty() && contacts.len() == 1 {
        for key in ["wa_id", "user_id"] {
            if let Some(v) = contacts[0].get(key).and_then(Value::as_str) {
                users.push(v.to_string());
            }
        }
    }
    let mut advanced = false;
    for user in users.iter().filter(|u| store::safe_id(u)) {
        let key = store::window_key(user);
        let last = match store::read_json(host, &key) {
            Ok(v) => v.and_then(|v| v.get("last_inbound").and_then(Value::as_i64)),
            Err(e) if e.contains("not valid JSON") => None,
            Err(e) => return Err(e),
        };
        if last.is_some_and(|l| l >= ts) {
            continue;
        }
        store::write_json(
            host,
            &key,
            &json!({"last_inbound": ts}),
            Some(store::WIN_TTL),
        )?;
        advanced = true;
    }
    Ok(advanced)
}

/// Counts a template change as applied, or as ignored (malformed, stale or a repeat).
fn count(report: &mut IngestReport, applied: bool) {
    if applied {
        report.template_updates += 1;
    } else {
        report.ignored += 1;
    }
}

/// Constant-time equality of two byte strings of public length.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    diff == 0
}
