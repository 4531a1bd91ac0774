//! whatsapp_get_message_status: served from the webhook-fed local record.

use serde_json::{Map, Value, json};

use crate::args::Args;
use crate::checks::check_token;
use crate::error::{ErrorKind, ToolError};
use crate::graph::{Graph, READ_MESSAGING};
use crate::host::Host;
use crate::json::json_i64;
use crate::settings;
use crate::store::{self, current_status, status_rank};
use crate::time::rfc3339;

fn store_error(e: String) -> ToolError {
    ToolError::internal(
        "State store unavailable",
        format!("the message records could not be read: {e}"),
        "Retry in a moment; if it persists, ask the operator to check the host's kv store.",
    )
    .retryable(true)
}

fn timeline_entry(status: &str, ts: i64) -> Value {
    json!({"status": status, "timestamp": ts, "at": rfc3339(ts)})
}

pub(crate) fn get_message_status(host: &dyn Host, args: &Args) -> Result<Value, ToolError> {
    let id = args.str_req(
        "message_id",
        "\"wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA\"",
    )?;
    check_token(
        "message_id",
        id,
        512,
        "a message id",
        "\"wamid.HBgL…\" as returned by a send tool",
    )?;
    let msg = store::read_json(host, &store::msg_key(id)).map_err(store_error)?;
    let st = store::read_json(host, &store::status_key(id)).map_err(store_error)?;
    let configured = settings::webhooks_configured(host);
    let webhooks = configured || st.is_some();

    if msg.is_none() && st.is_none() {
        if settings::history_fallback(host)
            && let Some(v) = history_fallback(host, id, webhooks)?
        {
            return Ok(v);
        }
        let how = if webhooks {
            ""
        } else {
            " Webhooks are not configured, so only sends through this connector are known: to receive delivery statuses, run the host with `serve --webhook` and subscribe the app to the WhatsApp Business Account (POST /{waba-id}/subscribed_apps)."
        };
        return Err(ToolError::new(
            ErrorKind::NotFound,
            "Unknown message id",
            format!("no message with id `{id}` is recorded"),
            format!(
                "Check the id (copy the `message_id` a send tool returned, starting with wamid.). Statuses only exist for messages sent through this connector, for 30 days.{how}"
            ),
        )
        .retryable(false));
    }

    let mut timeline: Vec<(i64, u8, String)> = Vec::new();
    let mut out = Map::new();
    out.insert("message_id".into(), Value::from(id));
    let mut base_status = "accepted".to_string();
    if let Some(m) = &msg {
        if let Some(s) = m.get("message_status").and_then(Value::as_str) {
            base_status = s.to_string();
        }
        if let Some(ts) = m.get("accepted_at").and_then(Value::as_i64) {
            timeline.push((ts, 0, base_status.clone()));
        }
        if let Some(r) = m
            .get("wa_id")
            .or_else(|| m.get("to"))
            .and_then(Value::as_str)
        {
            out.insert("recipient".into(), Value::from(r));
        }
        if let Some(t) = m.get("type").and_then(Value::as_str) {
            out.insert("message_type".into(), Value::from(t));
        }
        if let Some(t) = m.get("template").filter(|t| t.is_object()) {
            out.insert("template".into(), t.clone());
        }
    }
    let mut errors = Vec::new();
    let mut status = base_status;
    if let Some(s) = &st {
        let events = s
            .get("events")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for e in &events {
            if let (Some(name), Some(ts)) = (
                e.get("status").and_then(Value::as_str),
                e.get("timestamp").and_then(Value::as_i64),
            ) {
                timeline.push((ts, status_rank(name), name.to_string()));
            }
        }
        if let Some(c) = current_status(&events) {
            status = c;
        }
        if !out.contains_key("recipient")
            && let Some(r) = s
                .get("recipient_id")
                .or_else(|| s.get("recipient_user_id"))
                .and_then(Value::as_str)
        {
            out.insert("recipient".into(), Value::from(r));
        }
        if let Some(e) = s.get("errors").and_then(Value::as_array) {
            errors = e.clone();
        }
        for key in ["pricing", "conversation"] {
            if let Some(v) = s.get(key).filter(|v| v.is_object()) {
                out.insert(key.into(), v.clone());
            }
        }
    }
    timeline.sort_by_key(|a| (a.0, a.1));
    out.insert("status".into(), Value::from(status.as_str()));
    out.insert(
        "timeline".into(),
        Value::Array(
            timeline
                .iter()
                .map(|(ts, _, s)| timeline_entry(s, *ts))
                .collect(),
        ),
    );
    out.insert("errors".into(), Value::Array(errors));
    out.insert("webhooks_configured".into(), Value::from(webhooks));
    let note = if st.is_none() && !webhooks {
        Some(
            "Only the send is recorded: webhooks are not configured, so sent/delivered/read/failed updates cannot arrive. Run the host with `serve --webhook` and subscribe the app to the WhatsApp Business Account to track delivery.",
        )
    } else if st.is_none() {
        Some(
            "No delivery update has arrived yet; WhatsApp reports sent, delivered, read and failed asynchronously, usually within seconds.",
        )
    } else if status == "failed" {
        Some("The message failed; see errors for the reason and what to do.")
    } else {
        None
    };
    if let Some(n) = note {
        out.insert("note".into(), Value::from(n));
    }
    Ok(Value::Object(out))
}

/// Best-effort `GET /{pnid}/message_history?message_id=…`. `Ok(None)` when
/// the endpoint is not available (permission or not found).
fn history_fallback(host: &dyn Host, id: &str, webhooks: bool) -> Result<Option<Value>, ToolError> {
    let pnid = settings::phone_number_id(host)?;
    let graph = Graph::new(host)?;
    let query = [
        ("message_id", id.to_string()),
        (
            "fields",
            "id,message_id,events{delivery_status,timestamp,error_description}".to_string(),
        ),
    ];
    let resp = match graph.get(&format!("{pnid}/message_history"), &query, READ_MESSAGING) {
        Ok(v) => v,
        Err(e)
            if e.kind == ErrorKind::ApiError
                && (matches!(e.code, Some(10 | 100) | Some(200..=299))
                    || e.http_status == Some(404)) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let Some(item) = resp.get("data").and_then(|d| d.get(0)) else {
        return Ok(None);
    };
    let events = item
        .get("events")
        .and_then(|e| e.get("data").or(Some(e)))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut timeline: Vec<(i64, u8, String)> = Vec::new();
    let mut errors = Vec::new();
    for e in &events {
        let Some(s) = e.get("delivery_status").and_then(Value::as_str) else {
            continue;
        };
        let s = s.to_ascii_lowercase();
        if let Some(ts) = e.get("timestamp").and_then(json_i64) {
            timeline.push((ts, status_rank(&s), s.clone()));
        }
        if let Some(d) = e
            .get("error_description")
            .and_then(Value::as_str)
            .filter(|d| !d.is_empty())
        {
            errors.push(json!({"title": "Delivery failed", "details": d, "hint": "See the error description; fix the cause before sending again.", "retryable": false}));
        }
    }
    if timeline.is_empty() {
        return Ok(None);
    }
    timeline.sort_by_key(|a| (a.0, a.1));
    let evs: Vec<Value> = timeline
        .iter()
        .map(|(_, _, s)| json!({"status": s}))
        .collect();
    let status = current_status(&evs).unwrap_or_else(|| "unknown".into());
    Ok(Some(json!({
        "message_id": id,
        "status": status,
        "timeline": timeline.iter().map(|(ts, _, s)| timeline_entry(s, *ts)).collect::<Vec<_>>(),
        "errors": errors,
        "webhooks_configured": webhooks,
        "note": "Not sent through this connector (or not recorded); this status comes from Meta's message_history endpoint.",
    })))
}
