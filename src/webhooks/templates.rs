//! Template webhooks: status changes (what `window_policy = enforce` relies
//! on) and edited template text (what the host's rules render).

use serde_json::{Map, Value};

use crate::host::Host;
use crate::store;

/// A `message_template_status_update`: the template's new status, unless
/// the record is newer or the same. `Ok(false)`: ignored.
pub(super) fn apply_status(host: &dyn Host, value: &Value, time: i64) -> Result<bool, String> {
    let name = value
        .get("message_template_name")
        .and_then(Value::as_str)
        .filter(|n| store::safe_id(n));
    let language = value
        .get("message_template_language")
        .and_then(Value::as_str)
        .filter(|l| store::safe_id(l));
    let event = value
        .get("event")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty());
    let (Some(name), Some(language), Some(event)) = (name, language, event) else {
        return Ok(false);
    };
    let key = store::template_key(name, language);
    let existing = match store::read_json(host, &key) {
        Ok(v) => v,
        Err(e) if e.contains("not valid JSON") => None,
        Err(e) => return Err(e),
    };
    if let Some(prev) = existing
        .as_ref()
        .and_then(|r| r.get("updated_at"))
        .and_then(Value::as_i64)
        && prev > time
    {
        return Ok(false);
    }
    if existing.as_ref().is_some_and(|r| {
        r.get("status").and_then(Value::as_str) == Some(event)
            && r.get("updated_at").and_then(Value::as_i64) == Some(time)
    }) {
        return Ok(false);
    }
    let mut rec = Map::new();
    rec.insert("status".into(), Value::from(event));
    rec.insert("updated_at".into(), Value::from(time));
    rec.insert("source".into(), Value::from("webhook"));
    if let Some(r) = value.get("reason").and_then(Value::as_str) {
        rec.insert("reason".into(), Value::from(r));
    }
    // What a status update does not repeat is kept from the record.
    let category = value
        .get("message_template_category")
        .or_else(|| existing.as_ref().and_then(|r| r.get("category")));
    if let Some(c) = category.filter(|c| c.is_string()) {
        rec.insert("category".into(), c.clone());
    }
    if let Some(b) = existing.as_ref().and_then(|r| r.get("body_only")) {
        rec.insert("body_only".into(), b.clone());
    }
    if let Some(id) = value.get("message_template_id").and_then(|v| {
        v.as_str()
            .map(str::to_string)
            .or_else(|| v.as_i64().map(|n| n.to_string()))
    }) {
        rec.insert("template_id".into(), Value::from(id));
    }
    store::write_json(host, &key, &Value::Object(rec), Some(store::TPL_TTL))?;
    Ok(true)
}

/// An edited template's text, kept for the host's rules (as
/// `whatsapp_list_templates` keeps it). Payload:
/// https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/message_template_components_update
pub(super) fn apply_text(host: &dyn Host, value: &Value) -> Result<bool, String> {
    let text = |k: &str| value.get(k).and_then(Value::as_str);
    let name = text("message_template_name").filter(|n| store::safe_id(n));
    let language = text("message_template_language").filter(|l| store::safe_id(l));
    let (Some(name), Some(language), Some(body)) =
        (name, language, text("message_template_element"))
    else {
        return Ok(false);
    };
    let mut rec = Map::new();
    rec.insert("body".into(), Value::from(body));
    if let Some(header) = text("message_template_title") {
        rec.insert("header".into(), Value::from(header));
    }
    let key = store::template_text_key(name, language);
    store::write_json(host, &key, &Value::Object(rec), Some(store::TPL_TTL))?;
    Ok(true)
}
