//! Reading the inbox: conversation summaries, unread counts, and messages
//! in the tools' output shape.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{INBOUND_PREFIX, OUTBOUND_PREFIX, READ_PREFIX, messages_prefix, scan_all};
use crate::host::Host;
use crate::store;
use crate::time::rfc3339;

/// Most inbound messages counted as unread per conversation.
pub(crate) const MAX_UNREAD_COUNTED: u64 = 1000;

/// One conversation, merged from its summary keys.
#[derive(Debug, Default, Clone)]
pub(crate) struct Summary {
    pub(crate) customer: String,
    pub(crate) name: Option<String>,
    pub(crate) last_inbound: Option<i64>,
    pub(crate) last_outbound: Option<i64>,
    pub(crate) read_through: Option<i64>,
}

impl Summary {
    /// The time of the last message, either way.
    pub(crate) fn last_at(&self) -> i64 {
        self.last_inbound
            .max(self.last_outbound)
            .unwrap_or_default()
    }

    /// Whether an inbound message came after the last read receipt.
    pub(crate) fn has_unread(&self) -> bool {
        self.last_inbound
            .is_some_and(|i| self.read_through.is_none_or(|r| i > r))
    }
}

fn parse(bytes: &[u8]) -> Option<Value> {
    serde_json::from_slice(bytes).ok()
}

/// Every conversation the inbox holds, in no particular order.
pub(crate) fn summaries(host: &dyn Host) -> Result<Vec<Summary>, String> {
    let mut all: BTreeMap<String, Summary> = BTreeMap::new();
    for (prefix, field) in [
        (INBOUND_PREFIX, "last_inbound"),
        (OUTBOUND_PREFIX, "last_outbound"),
        (READ_PREFIX, "read_through"),
    ] {
        for (key, bytes) in scan_all(host, prefix)? {
            let customer = &key[prefix.len()..];
            let Some(v) = parse(&bytes) else { continue };
            let s = all.entry(customer.to_string()).or_insert_with(|| Summary {
                customer: customer.to_string(),
                ..Summary::default()
            });
            let t = v.get(field).and_then(Value::as_i64);
            match field {
                "last_inbound" => {
                    s.last_inbound = t;
                    s.name = v.get("name").and_then(Value::as_str).map(str::to_string);
                }
                "last_outbound" => s.last_outbound = t,
                _ => s.read_through = t,
            }
        }
    }
    // A read receipt alone (its messages expired) is no conversation.
    Ok(all
        .into_values()
        .filter(|s| s.last_inbound.is_some() || s.last_outbound.is_some())
        .collect())
}

/// Inbound messages of `customer` after `read_through`, up to [`MAX_UNREAD_COUNTED`].
pub(crate) fn unread_count(
    host: &dyn Host,
    customer: &str,
    read_through: Option<i64>,
) -> Result<u64, String> {
    let prefix = messages_prefix(customer);
    let mut after: Option<String> = None;
    let mut count = 0;
    loop {
        let page = host.kv_scan(&prefix, after.as_deref(), 100)?;
        let full = page.len() == 100;
        for (key, bytes) in &page {
            let Some(v) = parse(bytes) else { continue };
            let ts = v.get("ts").and_then(Value::as_i64).unwrap_or(0);
            if read_through.is_some_and(|r| ts <= r) {
                // Newest first: everything from here on is read.
                return Ok(count);
            }
            if v.get("direction").and_then(Value::as_str) == Some("inbound") {
                count += 1;
                if count >= MAX_UNREAD_COUNTED {
                    return Ok(count);
                }
            }
            after = Some(key.clone());
        }
        if !full {
            return Ok(count);
        }
    }
}

/// The key form of the customer the inbox holds for `digits`: the number
/// as given, else its other spelling (Brazil's extra 9, ...), else the
/// WhatsApp id an earlier send learnt for it. The number as given when the
/// inbox holds none of them.
pub(crate) fn resolve_customer(host: &dyn Host, digits: &str) -> Result<String, String> {
    let mut candidates = crate::phone::aliases(digits);
    if let Ok(Some(alias)) = store::read_json(host, &store::alias_key(digits))
        && let Some(wa_id) = alias.get("wa_id").and_then(Value::as_str)
    {
        candidates.push(wa_id.to_string());
    }
    for c in candidates.iter().filter(|c| super::safe_customer(c)) {
        if !host.kv_scan(&messages_prefix(c), None, 1)?.is_empty() {
            return Ok(c.clone());
        }
    }
    Ok(digits.to_string())
}

/// A stored message in the tools' output shape: `ts` becomes `at`; an
/// outbound message gets its delivery status, an inbound one `read`.
pub(crate) fn render(host: &dyn Host, record: &Value, read_through: Option<i64>) -> Value {
    let mut out = Map::new();
    let Some(rec) = record.as_object() else {
        return Value::Object(out);
    };
    for (k, v) in rec {
        if k != "ts" {
            out.insert(k.clone(), v.clone());
        }
    }
    let ts = rec.get("ts").and_then(Value::as_i64).unwrap_or(0);
    out.insert("at".into(), Value::from(rfc3339(ts)));
    let id = rec.get("id").and_then(Value::as_str).unwrap_or("");
    if rec.get("direction").and_then(Value::as_str) == Some("outbound") {
        out.insert("status".into(), Value::from(outbound_status(host, id)));
    } else {
        out.insert(
            "read".into(),
            Value::Bool(read_through.is_some_and(|r| ts <= r)),
        );
    }
    Value::Object(out)
}

/// The delivery state webhooks reported for a sent message, else what the
/// API answered at the send, else `accepted`.
fn outbound_status(host: &dyn Host, wamid: &str) -> String {
    let events = store::read_json(host, &store::status_key(wamid))
        .ok()
        .flatten()
        .and_then(|v| v.get("events").and_then(Value::as_array).cloned())
        .unwrap_or_default();
    if let Some(s) = store::current_status(&events) {
        return s;
    }
    store::read_json(host, &store::msg_key(wamid))
        .ok()
        .flatten()
        .and_then(|v| {
            v.get("message_status")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "accepted".to_string())
}
