//! The kv key schema and JSON records.
//!
//! | key | writer | value |
//! |---|---|---|
//! | `msg/<wamid>` | a successful send (once) | `{id, to, wa_id?, user_id?, type, template?: {name, language}, accepted_at, message_status}` |
//! | `msgst/<wamid>` | webhook ingest only | `{events: [{status, timestamp}], recipient_id?, recipient_user_id?, pricing?, conversation?, errors: [...], biz_opaque_callback_data?}` |
//! | `win/<digits or BSUID>` | webhook ingest | `{last_inbound}` (Unix seconds; only the time, never content) |
//! | `tpl/<name>/<language>` | ingest, create_template, list_templates, an enforce-policy refresh | `{status, reason?, template_id?, category?, body_only?, updated_at, source}` |
//! | `tpltext/<name>/<language>` | list_templates, ingest (`message_template_components_update`) | `{body?, header?}`: the template's text, so the host's policy judges a send as the recipient will read it |
//! | `pref/<digits or BSUID>` | webhook ingest (`user_preferences`) | `{marketing: "stop" \| "resume", timestamp}` |
//! | `wa/<digits sent>` | a send whose `wa_id` differs from `to` | `{wa_id}` (so the window of `wa_id` is found) |
//!
//! The send and the webhook ingest write different keys, so the two writers
//! never race; the host serialises ingest calls.

use serde_json::Value;

use crate::host::Host;

/// TTL of message records and statuses (30 days).
pub(crate) const MSG_TTL: u32 = 30 * 86_400;
/// TTL of inbound-window records (30 days; the window itself is 24 h).
pub(crate) const WIN_TTL: u32 = 30 * 86_400;
/// TTL of remembered template statuses (90 days).
pub(crate) const TPL_TTL: u32 = 90 * 86_400;

pub(crate) fn msg_key(wamid: &str) -> String {
    format!("msg/{wamid}")
}

pub(crate) fn status_key(wamid: &str) -> String {
    format!("msgst/{wamid}")
}

pub(crate) fn window_key(user: &str) -> String {
    format!("win/{user}")
}

pub(crate) fn alias_key(to: &str) -> String {
    format!("wa/{to}")
}

pub(crate) fn preference_key(user: &str) -> String {
    format!("pref/{user}")
}

pub(crate) fn template_key(name: &str, language: &str) -> String {
    format!("tpl/{name}/{language}")
}

/// The host's policy reads this key (see the table above): keep both in step.
pub(crate) fn template_text_key(name: &str, language: &str) -> String {
    format!("tpltext/{name}/{language}")
}

/// Reads a JSON value; `Ok(None)` when missing. A corrupt value is an error.
pub(crate) fn read_json(host: &dyn Host, key: &str) -> Result<Option<Value>, String> {
    match host.kv_get(key)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("stored value under `{key}` is not valid JSON: {e}")),
    }
}

pub(crate) fn write_json(
    host: &dyn Host,
    key: &str,
    value: &Value,
    ttl: Option<u32>,
) -> Result<(), String> {
    host.kv_set(key, value.to_string().as_bytes(), ttl)
}

/// Rank of a delivery state: later states win, `failed` is terminal.
pub(crate) fn status_rank(status: &str) -> u8 {
    match status {
        "accepted" | "held_for_quality_assessment" | "paused" => 0,
        "sent" => 1,
        "delivered" => 2,
        "read" => 3,
        "played" => 4,
        "failed" => 100,
        _ => 0,
    }
}

/// The current state from webhook events: `failed` if any failure was seen,
/// else the highest ranked state. `None` when there are no events.
pub(crate) fn current_status(events: &[Value]) -> Option<String> {
    let mut best: Option<&str> = None;
    for e in events {
        let Some(s) = e.get("status").and_then(Value::as_str) else {
            continue;
        };
        if best.is_none_or(|b| status_rank(s) > status_rank(b)) {
            best = Some(s);
        }
    }
    best.map(str::to_string)
}

/// A kv-safe id: printable ASCII without spaces, at most 512 bytes.
pub(crate) fn safe_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 512 && s.bytes().all(|b| b.is_ascii_graphic())
}
