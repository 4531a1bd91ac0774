//! What a template send is checked against when the connector knows the
//! template: its recorded status (refused under `window-policy = enforce`
//! only when Meta refuses it too, after one refresh of a stale record), the
//! user's marketing opt-out, and the template-dependent body limit.
//!
//! Template statuses: https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates/template-status
//! Marketing opt-outs (`user_preferences` webhooks): https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/user_preferences

use serde_json::{Map, Value};

use super::template_params::BODY_TEXT_MAX;
use crate::args::Args;
use crate::checks::char_len;
use crate::error::{ErrorKind, ToolError};
use crate::graph::{Graph, MANAGE};
use crate::host::Host;
use crate::json::str_of;
use crate::settings;
use crate::store;

/// A refused status recorded longer ago than this is fetched again before
/// refusing: statuses change without a webhook reaching the connector (no
/// webhooks configured). Five minutes keeps a model that retries a refused
/// send from spending the WABA's hourly management quota (error 80007) on
/// refreshes. The PENDING a create answered is stale as soon as review runs,
/// so it is fetched on the first refusal whatever its age.
pub(crate) const REFRESH_AFTER_S: i64 = 300;

/// Whether a refusing record must be fetched again before it is trusted.
fn is_stale(rec: &Map<String, Value>, now: i64) -> bool {
    let updated = rec.get("updated_at").and_then(Value::as_i64).unwrap_or(0);
    rec.get("source").and_then(Value::as_str) == Some("create")
        || now.saturating_sub(updated) >= REFRESH_AFTER_S
}

/// The send error Meta gives for a template in `status`, or `None` when Meta
/// sends templates in that status (APPROVED, and FLAGGED or REINSTATED, which
/// are still approved; unknown statuses are left to Meta).
pub(crate) fn refused_status_code(status: &str) -> Option<i64> {
    match status.to_ascii_uppercase().as_str() {
        "PAUSED" => Some(132015),
        "DISABLED" => Some(132016),
        "PENDING" | "REJECTED" | "IN_APPEAL" | "PENDING_DELETION" | "DELETED" | "ARCHIVED"
        | "LOCKED" | "LIMIT_EXCEEDED" => Some(132001),
        _ => None,
    }
}

/// The recorded template, if any.
pub(crate) fn recorded(host: &dyn Host, name: &str, language: &str) -> Option<Map<String, Value>> {
    match store::read_json(host, &store::template_key(name, language)) {
        Ok(Some(Value::Object(m))) => Some(m),
        _ => None,
    }
}

/// Whether a template definition has only a body (no header, no buttons),
/// from its `components` as Meta lists them.
pub(crate) fn body_only(components: &[Value]) -> bool {
    components.iter().all(|c| {
        // Carousels and offers count as more than a body, like headers and buttons.
        str_of(c, "type").is_some_and(|t| {
            !["HEADER", "BUTTONS", "CAROUSEL", "LIMITED_TIME_OFFER"]
                .iter()
                .any(|x| t.eq_ignore_ascii_case(x))
        })
    })
}

/// Checks body parameters against the template's limit when the record
/// says the template has a header or buttons (1024 characters then).
pub(crate) fn check_body_limit(
    host: &dyn Host,
    args: &Args,
    name: &str,
    language: &str,
    components: &[Value],
) -> Result<(), ToolError> {
    // The argument that gave body parameter `j`, for the error.
    let body_in_components = args
        .get("components")
        .and_then(Value::as_array)
        .and_then(|c| {
            c.iter()
                .position(|c| str_of(c, "type").is_some_and(|t| t.eq_ignore_ascii_case("body")))
        });
    let field_of = |j: usize| match body_in_components {
        Some(i) if !args.has("body_parameters") => format!("components[{i}].parameters[{j}].text"),
        _ => format!("body_parameters[{j}]"),
    };
    let Some(rec) = recorded(host, name, language) else {
        return Ok(());
    };
    if rec.get("body_only").and_then(Value::as_bool) != Some(false) {
        return Ok(());
    }
    let body = components
        .iter()
        .find(|c| str_of(c, "type").is_some_and(|t| t.eq_ignore_ascii_case("body")));
    let params = body
        .and_then(|b| b.get("parameters"))
        .and_then(Value::as_array);
    for (j, p) in params.into_iter().flatten().enumerate() {
        let Some(text) = str_of(p, "text") else {
            continue;
        };
        let n = char_len(text);
        if n > BODY_TEXT_MAX {
            return Err(ToolError::invalid(
                field_of(j),
                "Value too long",
                format!(
                    "body parameter {} has {n} characters; template `{name}` has a header or buttons, so each body parameter allows at most {BODY_TEXT_MAX} (32768 only for body-only templates)",
                    j + 1
                ),
                format!("Shorten the value to {BODY_TEXT_MAX} characters or fewer."),
            ));
        }
    }
    Ok(())
}

/// Under `window-policy = enforce`: refuses a template Meta would refuse
/// (its status, after refreshing a stale record with one GET) and a
/// MARKETING template to a user who opted out of marketing messages.
pub(crate) fn enforce(
    host: &dyn Host,
    graph: &Graph<'_>,
    name: &str,
    language: &str,
    to: &str,
    now: i64,
) -> Result<(), ToolError> {
    let mut rec = recorded(host, name, language);
    let mut refresh_note = String::new();
    if let Some(r) = &rec
        && r.get("status")
            .and_then(Value::as_str)
            .is_some_and(|s| refused_status_code(s).is_some())
        && is_stale(r, now)
    {
        match refresh(host, graph, name, language, r, now) {
            Ok(Some(fresh)) => rec = Some(fresh),
            Ok(None) => {}
            Err(e) => refresh_note = format!(" (checking it again with Meta failed: {})", e.title),
        }
    }
    let Some(rec) = rec else {
        return Ok(());
    };
    let rec = Value::Object(rec);
    if let Some(status) = str_of(&rec, "status")
        && let Some(code) = refused_status_code(status)
    {
        let reason = str_of(&rec, "reason")
            .filter(|r| !r.is_empty() && *r != "NONE")
            .map(|r| format!(" (reason: {r})"))
            .unwrap_or_default();
        let hint = match code {
            132015 => {
                "Nothing was sent. The template is paused for low quality: send another APPROVED template, or wait until Meta unpauses it."
            }
            132016 => {
                "Nothing was sent. The template was disabled after repeated pauses: create a new one (whatsapp_create_template) or use another APPROVED template."
            }
            _ => {
                "Nothing was sent. Pick an APPROVED template with whatsapp_list_templates (status APPROVED), or wait for approval."
            }
        };
        return Err(ToolError::new(
            ErrorKind::Denied,
            "Template not sendable",
            format!("template `{name}` in `{language}` has status {status}{reason}{refresh_note}; Meta sends only APPROVED templates (FLAGGED and REINSTATED included)"),
            hint,
        )
        .with_code(code));
    }
    if str_of(&rec, "category").is_some_and(|c| c.eq_ignore_ascii_case("MARKETING"))
        && opted_out_of_marketing(host, to)
    {
        return Err(ToolError::new(
            ErrorKind::Denied,
            "User stopped marketing messages",
            format!("the user told WhatsApp to stop marketing messages from this business, and template `{name}` is MARKETING"),
            "Nothing was sent. Do not send marketing templates to this user; a UTILITY template or, inside the 24-hour window, a free-form message may still be sent. The opt-out ends if the user resumes marketing messages.",
        )
        .with_code(131050));
    }
    Ok(())
}

/// One GET of the template (by id when recorded, else by name); writes
/// and returns the fresh record, `None` when Meta no longer lists it.
fn refresh(
    host: &dyn Host,
    graph: &Graph<'_>,
    name: &str,
    language: &str,
    old: &Map<String, Value>,
    now: i64,
) -> Result<Option<Map<String, Value>>, ToolError> {
    const FIELDS: &str = "id,name,language,status,category,components,rejected_reason";
    let template = match old.get("template_id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => {
            Some(graph.get(id, &[("fields", FIELDS.to_string())], MANAGE)?)
        }
        _ => {
            let waba = settings::waba_id(host)?;
            let listing = graph.get(
                &format!("{waba}/message_templates"),
                &[
                    ("name", name.to_string()),
                    ("fields", FIELDS.to_string()),
                    ("limit", "100".to_string()),
                ],
                MANAGE,
            )?;
            listing
                .get("data")
                .and_then(Value::as_array)
                .and_then(|d| {
                    d.iter().find(|t| {
                        str_of(t, "name") == Some(name) && str_of(t, "language") == Some(language)
                    })
                })
                .cloned()
        }
    };
    let Some(t) = template.filter(|t| str_of(t, "status").is_some()) else {
        return Ok(None);
    };
    let fresh = record_from_listing(&t, now, "refresh");
    let _ = store::write_json(
        host,
        &store::template_key(name, language),
        &Value::Object(fresh.clone()),
        Some(store::TPL_TTL),
    );
    Ok(Some(fresh))
}

/// A template record from a template object as Meta lists it.
pub(crate) fn record_from_listing(t: &Value, now: i64, source: &str) -> Map<String, Value> {
    let mut rec = Map::new();
    if let Some(s) = str_of(t, "status") {
        rec.insert("status".into(), Value::from(s));
    }
    rec.insert("updated_at".into(), Value::from(now));
    rec.insert("source".into(), Value::from(source));
    if let Some(id) = str_of(t, "id").filter(|s| !s.is_empty()) {
        rec.insert("template_id".into(), Value::from(id));
    }
    if let Some(r) = str_of(t, "rejected_reason") {
        rec.insert("reason".into(), Value::from(r));
    }
    if let Some(c) = str_of(t, "category").filter(|c| !c.is_empty()) {
        rec.insert("category".into(), Value::from(c));
    }
    if let Some(comps) = t.get("components").and_then(Value::as_array) {
        rec.insert("body_only".into(), Value::from(body_only(comps)));
    }
    rec
}

/// Whether the last `user_preferences` webhook for `user` (or the WhatsApp
/// id a send learnt for it) said to stop marketing messages.
pub(crate) fn opted_out_of_marketing(host: &dyn Host, user: &str) -> bool {
    let stopped = |id: &str| {
        store::read_json(host, &store::preference_key(id))
            .ok()
            .flatten()
            .and_then(|v| {
                v.get("marketing")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .is_some_and(|m| m == "stop")
    };
    if stopped(user) {
        return true;
    }
    store::read_json(host, &store::alias_key(user))
        .ok()
        .flatten()
        .and_then(|a| a.get("wa_id").and_then(Value::as_str).map(str::to_string))
        .is_some_and(|w| stopped(&w))
}
