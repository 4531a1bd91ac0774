//! The inbox: what customers wrote and what this gateway sent them, kept in
//! `kv` only when the operator turned it on (`inbox-enabled`), each record
//! expiring after the retention (`inbox-retention-seconds`) by the kv TTL.
//!
//! | key | writer | value |
//! |---|---|---|
//! | `inbox/m/<customer>/<inverted time>/<wamid>` | ingest (inbound), a send (outbound) | the message: `{id, direction, ts, type, text?, caption?, media?, reply?, location?, contacts?, template?, reply_to?, reaction?, forwarded?}` |
//! | `inbox/id/<wamid>` | the writer of the message | `{customer, key}`: dedupe, and whose message an id is |
//! | `inbox/c/<customer>` | ingest only | `{last_inbound, name?}` |
//! | `inbox/o/<customer>` | a send only | `{last_outbound}` |
//! | `inbox/r/<customer>` | `whatsapp_mark_as_read` only | `{read_through}`: inbound messages up to this time are read |
//!
//! The inverted time (`9999999999 - unix seconds`, ten digits) makes an
//! ascending `kv.scan` of one customer's prefix return the newest first.
//! Each summary key has one writer, so ingest, sends and read receipts never
//! overwrite each other's updates.
//!
//! `<customer>` is the WhatsApp id (the number's digits, without `+`) as the
//! window records already use it. Numbers stay readable in keys: hashing
//! them would not hide them (the space of phone numbers is small enough to
//! enumerate), while the values, which hold the content, are sealed by the
//! host.

use serde_json::{Map, Value, json};

use crate::host::Host;
use crate::settings;
use crate::store;

pub(crate) mod inbound;
pub(crate) mod read;

/// Seconds the tools' results suggest waiting before polling again.
pub(crate) const NEXT_CHECK_AFTER_SECONDS: u64 = 30;

const INVERT_FROM: i64 = 9_999_999_999;

/// The retention, when the inbox is on.
pub(crate) fn retention(host: &dyn Host) -> Option<u32> {
    settings::inbox_enabled(host).then(|| settings::inbox_retention_seconds(host))
}

/// A customer id usable in keys: printable ASCII without `/`.
pub(crate) fn safe_customer(s: &str) -> bool {
    store::safe_id(s) && s.len() <= 64 && !s.contains('/')
}

/// `+digits` for a number, the id itself otherwise (a business-scoped user id).
pub(crate) fn display_customer(customer: &str) -> String {
    if !customer.is_empty() && customer.bytes().all(|b| b.is_ascii_digit()) {
        format!("+{customer}")
    } else {
        customer.to_string()
    }
}

pub(crate) fn messages_prefix(customer: &str) -> String {
    format!("inbox/m/{customer}/")
}

fn message_key(customer: &str, ts: i64, wamid: &str) -> String {
    let inverted = INVERT_FROM - ts.clamp(0, INVERT_FROM);
    format!("{}{inverted:010}/{wamid}", messages_prefix(customer))
}

pub(crate) fn id_key(wamid: &str) -> String {
    format!("inbox/id/{wamid}")
}

pub(crate) const INBOUND_PREFIX: &str = "inbox/c/";
pub(crate) const OUTBOUND_PREFIX: &str = "inbox/o/";
pub(crate) const READ_PREFIX: &str = "inbox/r/";

pub(crate) fn read_key(customer: &str) -> String {
    format!("{READ_PREFIX}{customer}")
}

/// Stores `record` (with `id`, `direction`, `ts`) as a message of
/// `customer`, then the id index; the index last, so a retry after a failure
/// in between writes the same records again.
fn put_message(
    host: &dyn Host,
    customer: &str,
    record: &Map<String, Value>,
    ttl: u32,
) -> Result<(), String> {
    let wamid = record.get("id").and_then(Value::as_str).unwrap_or("");
    let ts = record.get("ts").and_then(Value::as_i64).unwrap_or(0);
    let key = message_key(customer, ts, wamid);
    store::write_json(host, &key, &Value::Object(record.clone()), Some(ttl))?;
    store::write_json(
        host,
        &id_key(wamid),
        &json!({"customer": customer, "key": key}),
        Some(ttl),
    )
}

/// What the inbox knows of a message id: whose it is and its record.
pub(crate) struct Known {
    pub(crate) customer: String,
    pub(crate) record: Value,
}

/// The message `wamid` when the inbox holds it.
pub(crate) fn lookup(host: &dyn Host, wamid: &str) -> Result<Option<Known>, String> {
    if !store::safe_id(wamid) {
        return Ok(None);
    }
    let Some(index) = store::read_json(host, &id_key(wamid))? else {
        return Ok(None);
    };
    let (Some(customer), Some(key)) = (
        index.get("customer").and_then(Value::as_str),
        index.get("key").and_then(Value::as_str),
    ) else {
        return Ok(None);
    };
    Ok(store::read_json(host, key)?.map(|record| Known {
        customer: customer.to_string(),
        record,
    }))
}

/// Records a message this gateway sent (`msg_type` with its `content` as
/// sent) as outbound in `customer`'s conversation. Nothing when the inbox
/// is off.
pub(crate) fn record_outbound(
    host: &dyn Host,
    customer: &str,
    wamid: &str,
    msg_type: &str,
    content: &Value,
    reply_to: Option<&str>,
    now: i64,
) -> Result<(), String> {
    let Some(ttl) = retention(host) else {
        return Ok(());
    };
    if !safe_customer(customer) || !store::safe_id(wamid) {
        return Ok(());
    }
    let mut record = Map::new();
    record.insert("id".into(), Value::from(wamid));
    record.insert("direction".into(), Value::from("outbound"));
    record.insert("ts".into(), Value::from(now));
    record.insert("type".into(), Value::from(msg_type));
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(Value::from);
    match msg_type {
        "text" => {
            if let Some(t) = text(content.get("body")) {
                record.insert("text".into(), t);
            }
        }
        "interactive" => {
            if let Some(t) = text(content.get("body").and_then(|b| b.get("text"))) {
                record.insert("text".into(), t);
            }
        }
        "template" => {
            record.insert(
                "template".into(),
                json!({
                    "name": content.get("name").cloned().unwrap_or(Value::Null),
                    "language": content.get("language").and_then(|l| l.get("code")).cloned().unwrap_or(Value::Null),
                }),
            );
        }
        "reaction" => {
            record.insert("reaction".into(), content.clone());
        }
        media => {
            let mut m = Map::new();
            m.insert("type".into(), Value::from(media));
            for (from, to) in [("id", "id"), ("link", "link"), ("filename", "filename")] {
                if let Some(v) = text(content.get(from)) {
                    m.insert(to.into(), v);
                }
            }
            record.insert("media".into(), Value::Object(m));
            if let Some(c) = text(content.get("caption")) {
                record.insert("caption".into(), c);
            }
        }
    }
    if let Some(r) = reply_to {
        record.insert("reply_to".into(), Value::from(r));
    }
    put_message(host, customer, &record, ttl)?;
    let key = format!("{OUTBOUND_PREFIX}{customer}");
    let last = store::read_json(host, &key)
        .ok()
        .flatten()
        .and_then(|v| v.get("last_outbound").and_then(Value::as_i64));
    store::write_json(
        host,
        &key,
        &json!({"last_outbound": last.map_or(now, |l| l.max(now))}),
        Some(ttl),
    )
}

/// Counts the inbound messages of `customer` up to `ts` as read.
pub(crate) fn mark_read_through(
    host: &dyn Host,
    customer: &str,
    ts: i64,
    ttl: u32,
) -> Result<(), String> {
    let key = read_key(customer);
    let current = read_through(host, customer)?;
    if current.is_some_and(|c| c >= ts) {
        return Ok(());
    }
    store::write_json(host, &key, &json!({"read_through": ts}), Some(ttl))
}

/// The time up to which `customer`'s inbound messages are read.
pub(crate) fn read_through(host: &dyn Host, customer: &str) -> Result<Option<i64>, String> {
    Ok(store::read_json(host, &read_key(customer))?
        .and_then(|v| v.get("read_through").and_then(Value::as_i64)))
}

/// Every entry under `prefix`, page by page.
pub(crate) fn scan_all(host: &dyn Host, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    const PAGE: u32 = 500;
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    loop {
        let after = out.last().map(|(k, _)| k.clone());
        let page = host.kv_scan(prefix, after.as_deref(), PAGE)?;
        let full = page.len() == PAGE as usize;
        out.extend(page);
        if !full {
            return Ok(out);
        }
    }
}
