//! Meta's rules for the body of a send: recipient, type, and each type's own object
//! (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages).
//! Checks that need no state; `messages` adds the stateful ones.

use serde_json::{Map, Value};

use super::params::string_like;
use crate::graph_error::{GraphError, GraphResult};
use crate::util::{self, char_len};

/// Message types a send may use. Graph validates `type` as an enum parameter, so an unknown
/// type is a code-100 parameter error; 131051 ("Unsupported message type") is what Meta
/// reports for message kinds it cannot handle at delivery, mostly inbound ones.
const TYPES: &[&str] = &[
    "audio",
    "contacts",
    "document",
    "image",
    "interactive",
    "location",
    "reaction",
    "sticker",
    "template",
    "text",
    "video",
];

const MEDIA_TYPES: &[&str] = &["audio", "document", "image", "sticker", "video"];

/// What a validated send is, before the stateful checks.
pub(crate) struct Outgoing {
    pub(crate) to: String,
    pub(crate) wa_id: String,
    pub(crate) individual: bool,
    pub(crate) kind: String,
    pub(crate) template: Option<TemplateSend>,
    /// The media `link`, for media sends by link.
    pub(crate) link: Option<String>,
    /// The message a reaction is to.
    pub(crate) reacts_to: Option<String>,
}

/// The `template` object of a send.
pub(crate) struct TemplateSend {
    pub(crate) name: String,
    pub(crate) lang: String,
    pub(crate) components: Vec<Value>,
}

/// `{"messaging_product":"whatsapp","status":"read","message_id":"wamid…"[,
/// "typing_indicator":{"type":"text"}]}` (read receipts and typing indicators).
pub(crate) fn mark_read(params: &Map<String, Value>) -> GraphResult<()> {
    let status = params
        .get("status")
        .and_then(string_like)
        .unwrap_or_default();
    if !status.eq_ignore_ascii_case("read") {
        return Err(GraphError::enum_param("status", &["READ"], &status));
    }
    match params.get("message_id").and_then(Value::as_str) {
        Some(id) if !id.trim().is_empty() => {}
        _ => return Err(GraphError::required_param("message_id")),
    }
    // `{"type": "text"}` shows the typing indicator (the one type Meta documents).
    match params.get("typing_indicator") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(t)) => {
            let kind = t.get("type").and_then(string_like).unwrap_or_default();
            if kind.eq_ignore_ascii_case("text") {
                Ok(())
            } else {
                Err(GraphError::enum_param(
                    "typing_indicator['type']",
                    &["TEXT"],
                    &kind,
                ))
            }
        }
        Some(_) => Err(GraphError::invalid_param(
            "Param typing_indicator must be an object such as {\"type\": \"text\"}.",
        )),
    }
}

pub(crate) fn validate(params: &Map<String, Value>) -> GraphResult<Outgoing> {
    let recipient_type = match params.get("recipient_type") {
        None | Some(Value::Null) => "individual".to_owned(),
        Some(v) => {
            let s = string_like(v).unwrap_or_default();
            let lower = s.to_ascii_lowercase();
            if lower != "individual" && lower != "group" {
                return Err(GraphError::enum_param(
                    "recipient_type",
                    &["GROUP", "INDIVIDUAL"],
                    &s,
                ));
            }
            lower
        }
    };
    let individual = recipient_type == "individual";
    let to = match params.get("to").and_then(string_like) {
        Some(t) if !t.trim().is_empty() => t,
        _ => return Err(GraphError::required_param("to")),
    };
    let wa_id = if individual {
        util::normalize_phone(&to).map(|d| util::wa_id_for(&d)).ok_or_else(|| {
            GraphError::invalid_value(format!(
                "Param to must be a valid WhatsApp phone number in international format (country code first, e.g. 16505551234) - got \"{to}\"."
            ))
        })?
    } else {
        to.trim().to_owned()
    };
    let kind = match params.get("type") {
        // Meta: "If omitted, defaults to text".
        None | Some(Value::Null) => "text".to_owned(),
        Some(v) => {
            let s = string_like(v).unwrap_or_default();
            let lower = s.to_ascii_lowercase();
            if !TYPES.contains(&lower.as_str()) {
                let upper: Vec<String> = TYPES.iter().map(|t| t.to_ascii_uppercase()).collect();
                let upper: Vec<&str> = upper.iter().map(String::as_str).collect();
                return Err(GraphError::enum_param("type", &upper, &s));
            }
            lower
        }
    };
    if let Some(ctx) = params.get("context") {
        let ok = ctx
            .get("message_id")
            .and_then(Value::as_str)
            .is_some_and(|m| !m.trim().is_empty());
        if !ok {
            return Err(GraphError::invalid_param(
                "Param context['message_id'] must be the id of a message (wamid…).",
            ));
        }
    }
    if let Some(data) = params.get("biz_opaque_callback_data") {
        match data.as_str() {
            Some(s) if s.len() <= 512 => {}
            Some(_) => {
                return Err(GraphError::invalid_param(
                    "Param biz_opaque_callback_data must be at most 512 characters long.",
                ));
            }
            None => {
                return Err(GraphError::invalid_param(
                    "Param biz_opaque_callback_data must be a string.",
                ));
            }
        }
    }
    if kind == "contacts" {
        let ok = params
            .get("contacts")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_object));
        if !ok {
            return Err(GraphError::missing_param(
                "Parameter 'contacts' (a non-empty array of contact objects) is required.",
            ));
        }
        return Ok(Outgoing {
            to,
            wa_id,
            individual,
            kind,
            template: None,
            link: None,
            reacts_to: None,
        });
    }
    let Some(obj) = params.get(&kind).and_then(Value::as_object) else {
        return Err(GraphError::missing_param(format!(
            "Parameter '{kind}' is required for messages of type {kind}."
        )));
    };
    let mut template = None;
    match kind.as_str() {
        "text" => validate_text(obj)?,
        t if MEDIA_TYPES.contains(&t) => validate_media(t, obj)?,
        "template" => template = Some(validate_template_shape(obj)?),
        "location" => {
            for k in ["latitude", "longitude"] {
                let ok = obj.get(k).is_some_and(|v| {
                    v.as_f64().is_some() || v.as_str().is_some_and(|s| s.parse::<f64>().is_ok())
                });
                if !ok {
                    return Err(GraphError::missing_param(format!(
                        "Parameter 'location.{k}' is required."
                    )));
                }
            }
        }
        "interactive" => super::interactive_rules::validate(obj)?,
        "reaction" => {
            if obj
                .get("message_id")
                .and_then(Value::as_str)
                .is_none_or(|s| s.trim().is_empty())
            {
                return Err(GraphError::missing_param(
                    "Parameter 'reaction.message_id' is required.",
                ));
            }
            if !obj.get("emoji").is_some_and(Value::is_string) {
                return Err(GraphError::missing_param(
                    "Parameter 'reaction.emoji' is required.",
                ));
            }
        }
        _ => {}
    }
    let link = MEDIA_TYPES
        .contains(&kind.as_str())
        .then(|| obj.get("link").and_then(Value::as_str).map(str::to_owned))
        .flatten();
    let reacts_to = (kind == "reaction")
        .then(|| {
            obj.get("message_id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .flatten();
    Ok(Outgoing {
        to,
        wa_id,
        individual,
        kind,
        template,
        link,
        reacts_to,
    })
}

fn validate_text(obj: &Map<String, Value>) -> GraphResult<()> {
    let body = match obj.get("body") {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(GraphError::missing_param(
                "Parameter 'text.body' is required.",
            ));
        }
        Some(_) => {
            return Err(GraphError::invalid_param(
                "Param text['body'] must be a string.",
            ));
        }
    };
    if char_len(body) > 4096 {
        return Err(GraphError::invalid_param(format!(
            "Param text['body'] must be at most 4096 characters long; it has {}.",
            char_len(body)
        )));
    }
    if let Some(p) = obj.get("preview_url")
        && !p.is_boolean()
    {
        return Err(GraphError::invalid_param(
            "Param text['preview_url'] must be a boolean.",
        ));
    }
    Ok(())
}

fn validate_media(t: &str, obj: &Map<String, Value>) -> GraphResult<()> {
    let id = obj
        .get("id")
        .and_then(string_like)
        .filter(|s| !s.trim().is_empty());
    let link = obj
        .get("link")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty());
    match (&id, link) {
        (None, None) => {
            return Err(GraphError::missing_param(format!(
                "Parameter '{t}.id' or '{t}.link' is required."
            )));
        }
        (Some(_), Some(_)) => {
            return Err(GraphError::invalid_param(format!(
                "Only one of {t}['id'] and {t}['link'] may be set."
            )));
        }
        (None, Some(link)) => {
            let lower = link.to_ascii_lowercase();
            let host = lower.split_once("://").map(|(_, r)| r).unwrap_or("");
            if !(lower.starts_with("https://") || lower.starts_with("http://")) || host.is_empty() {
                return Err(GraphError::invalid_value(format!(
                    "Param {t}['link'] must be a public http(s) URL - got \"{link}\"."
                )));
            }
        }
        (Some(_), None) => {}
    }
    if let Some(caption) = obj.get("caption") {
        if t == "audio" || t == "sticker" {
            return Err(GraphError::invalid_param(format!(
                "Param {t}['caption'] is not supported: {t} messages have no caption."
            )));
        }
        let Some(caption) = caption.as_str() else {
            return Err(GraphError::invalid_param(format!(
                "Param {t}['caption'] must be a string."
            )));
        };
        if char_len(caption) > 1024 {
            return Err(GraphError::invalid_param(format!(
                "Param {t}['caption'] must be at most 1024 characters long; it has {}.",
                char_len(caption)
            )));
        }
    }
    if let Some(filename) = obj.get("filename") {
        if t != "document" {
            return Err(GraphError::invalid_param(format!(
                "Param {t}['filename'] is not supported: only document messages have a filename."
            )));
        }
        if !filename.is_string() {
            return Err(GraphError::invalid_param(
                "Param document['filename'] must be a string.",
            ));
        }
    }
    Ok(())
}

fn validate_template_shape(obj: &Map<String, Value>) -> GraphResult<TemplateSend> {
    let name = match obj.get("name").and_then(Value::as_str) {
        Some(n) if !n.trim().is_empty() => n.to_owned(),
        _ => {
            return Err(GraphError::missing_param(
                "Parameter 'template.name' is required.",
            ));
        }
    };
    let lang = match obj.get("language") {
        Some(Value::Object(l)) => {
            if let Some(p) = l.get("policy") {
                let p = string_like(p).unwrap_or_default();
                if !p.eq_ignore_ascii_case("deterministic") {
                    return Err(GraphError::enum_param(
                        "template['language']['policy']",
                        &["DETERMINISTIC"],
                        &p,
                    ));
                }
            }
            match l.get("code").and_then(Value::as_str) {
                Some(c) if !c.trim().is_empty() => c.to_owned(),
                _ => {
                    return Err(GraphError::missing_param(
                        "Parameter 'template.language.code' is required.",
                    ));
                }
            }
        }
        None | Some(Value::Null) => {
            return Err(GraphError::missing_param(
                "Parameter 'template.language' is required.",
            ));
        }
        Some(_) => {
            return Err(GraphError::invalid_param(
                "Param template['language'] must be an object such as {\"code\": \"en_US\"}.",
            ));
        }
    };
    let components = match obj.get("components") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => {
            return Err(GraphError::invalid_param(
                "Param template['components'] must be an array.",
            ));
        }
    };
    Ok(TemplateSend {
        name,
        lang,
        components,
    })
}
