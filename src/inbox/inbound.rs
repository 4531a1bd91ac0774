//! Inbound messages of a webhook delivery, as inbox records.
//!
//! The shapes are those of the Cloud API's `messages` webhook:
//! https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components
//! Only what an agent needs to answer is kept: text, the chosen button or
//! list row, media ids (never bytes), locations, contact names and numbers,
//! reactions and the quoted message.

use serde_json::{Map, Value, json};

use super::{INBOUND_PREFIX, id_key, put_message, retention, safe_customer};
use crate::host::Host;
use crate::json::json_i64;
use crate::store;

/// Longest text kept from one field (WhatsApp's own text limit is 4096).
const MAX_TEXT_CHARS: usize = 4096;

/// Stores inbound message `m` (with the delivery's `contacts`) in the inbox.
/// `Some(customer)` (E.164 with `+`) when it was new; `None` when the inbox
/// is off, the message was already stored, or it has no usable id or sender.
pub(crate) fn store_inbound(
    host: &dyn Host,
    m: &Value,
    contacts: &[Value],
    now: i64,
) -> Result<Option<String>, String> {
    let Some(ttl) = retention(host) else {
        return Ok(None);
    };
    let Some(wamid) = m
        .get("id")
        .and_then(Value::as_str)
        .filter(|i| store::safe_id(i))
    else {
        return Ok(None);
    };
    let sender = m
        .get("from")
        .or_else(|| m.get("from_user_id"))
        .and_then(Value::as_str)
        .or_else(|| {
            (contacts.len() == 1)
                .then(|| contacts[0].get("wa_id").and_then(Value::as_str))
                .flatten()
        });
    let Some(customer) = sender.filter(|c| safe_customer(c)) else {
        return Ok(None);
    };
    if host.kv_get(&id_key(wamid))?.is_some() {
        return Ok(None);
    }
    let ts = m.get("timestamp").and_then(json_i64).unwrap_or(now);
    put_message(host, customer, &record(m, wamid, ts), ttl)?;
    update_summary(host, customer, profile_name(contacts, customer), ts, ttl)?;
    Ok(Some(super::display_customer(customer)))
}

/// The profile name of the contact whose `wa_id` is `customer` (or of the
/// only contact).
fn profile_name<'a>(contacts: &'a [Value], customer: &str) -> Option<&'a str> {
    let name = |c: &'a Value| {
        c.get("profile")
            .and_then(|p| p.get("name"))
            .and_then(Value::as_str)
    };
    contacts
        .iter()
        .find(|c| c.get("wa_id").and_then(Value::as_str) == Some(customer))
        .and_then(name)
        .or_else(|| (contacts.len() == 1).then(|| name(&contacts[0])).flatten())
        .filter(|n| !n.trim().is_empty())
}

fn update_summary(
    host: &dyn Host,
    customer: &str,
    name: Option<&str>,
    ts: i64,
    ttl: u32,
) -> Result<(), String> {
    let key = format!("{INBOUND_PREFIX}{customer}");
    let mut summary = match store::read_json(host, &key) {
        Ok(Some(Value::Object(m))) => m,
        Ok(_) => Map::new(),
        Err(e) if e.contains("not valid JSON") => Map::new(),
        Err(e) => return Err(e),
    };
    let last = summary.get("last_inbound").and_then(Value::as_i64);
    summary.insert(
        "last_inbound".into(),
        Value::from(last.map_or(ts, |l| l.max(ts))),
    );
    if let Some(name) = name {
        summary.insert("name".into(), Value::from(clip(name, 256)));
    }
    store::write_json(host, &key, &Value::Object(summary), Some(ttl))
}

fn clip(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_str()
}

/// Copies the string fields `names` of `from` into a new object.
fn strings(from: &Value, names: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for name in names {
        if let Some(v) = from.get(*name).and_then(Value::as_str) {
            out.insert((*name).to_string(), Value::from(clip(v, MAX_TEXT_CHARS)));
        }
    }
    out
}

/// The inbox record of inbound message `m`.
fn record(m: &Value, wamid: &str, ts: i64) -> Map<String, Value> {
    let kind = m
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty() && t.len() <= 64)
        .unwrap_or("unknown");
    let mut r = Map::new();
    r.insert("id".into(), Value::from(wamid));
    r.insert("direction".into(), Value::from("inbound"));
    r.insert("ts".into(), Value::from(ts));
    r.insert("type".into(), Value::from(kind));
    let body = m.get(kind).unwrap_or(&Value::Null);
    match kind {
        "text" => {
            if let Some(t) = str_at(body, &["body"]) {
                r.insert("text".into(), Value::from(clip(t, MAX_TEXT_CHARS)));
            }
        }
        "interactive" => {
            // button_reply, list_reply; a Flow's nfm_reply carries its body.
            let sub = body.get("type").and_then(Value::as_str).unwrap_or("");
            let reply = body.get(sub).unwrap_or(&Value::Null);
            let picked = strings(reply, &["id", "title", "description"]);
            if let Some(t) = picked
                .get("title")
                .cloned()
                .or_else(|| str_at(reply, &["body"]).map(Value::from))
            {
                r.insert("text".into(), t);
            }
            if !picked.is_empty() {
                r.insert("reply".into(), Value::Object(picked));
            }
        }
        "button" => {
            // A template's quick-reply button: its text and payload.
            let mut reply = Map::new();
            if let Some(p) = str_at(body, &["payload"]) {
                reply.insert("id".into(), Value::from(clip(p, MAX_TEXT_CHARS)));
            }
            if let Some(t) = str_at(body, &["text"]) {
                reply.insert("title".into(), Value::from(clip(t, MAX_TEXT_CHARS)));
                r.insert("text".into(), Value::from(clip(t, MAX_TEXT_CHARS)));
            }
            r.insert("reply".into(), Value::Object(reply));
        }
        "image" | "video" | "audio" | "document" | "sticker" => {
            let mut media = strings(body, &["id", "mime_type", "filename"]);
            media.insert("type".into(), Value::from(kind));
            r.insert("media".into(), Value::Object(media));
            if let Some(c) = str_at(body, &["caption"]) {
                r.insert("caption".into(), Value::from(clip(c, MAX_TEXT_CHARS)));
            }
        }
        "location" => {
            let mut loc = strings(body, &["name", "address", "url"]);
            for axis in ["latitude", "longitude"] {
                if let Some(n) = body.get(axis).and_then(Value::as_f64) {
                    loc.insert(axis.into(), Value::from(n));
                }
            }
            r.insert("location".into(), Value::Object(loc));
        }
        "contacts" => {
            let cards: Vec<Value> = m
                .get("contacts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .take(20)
                .map(contact_card)
                .collect();
            r.insert("contacts".into(), Value::Array(cards));
        }
        "reaction" => {
            r.insert(
                "reaction".into(),
                json!({
                    "message_id": str_at(body, &["message_id"]).unwrap_or(""),
                    // No emoji: the customer removed their reaction.
                    "emoji": str_at(body, &["emoji"]).map(|e| clip(e, 16)).unwrap_or_default(),
                }),
            );
        }
        _ => {}
    }
    if let Some(quoted) = str_at(m, &["context", "id"]).filter(|i| store::safe_id(i)) {
        r.insert("reply_to".into(), Value::from(quoted));
    }
    let forwarded = ["forwarded", "frequently_forwarded"]
        .iter()
        .any(|f| m.get("context").and_then(|c| c.get(*f)) == Some(&Value::Bool(true)));
    if forwarded {
        r.insert("forwarded".into(), Value::Bool(true));
    }
    r
}

/// A shared contact card: its formatted name and phone numbers.
fn contact_card(card: &Value) -> Value {
    let mut out = Map::new();
    if let Some(n) = str_at(card, &["name", "formatted_name"]) {
        out.insert("name".into(), Value::from(clip(n, 256)));
    }
    let phones: Vec<Value> = card
        .get("phones")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("phone").and_then(Value::as_str))
        .take(20)
        .map(|p| Value::from(clip(p, 64)))
        .collect();
    out.insert("phones".into(), Value::Array(phones));
    Value::Object(out)
}
