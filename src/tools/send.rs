//! whatsapp_send_message, whatsapp_send_template, whatsapp_send_media.
//!
//! `to` is sent as normalised E.164 digits without `+` (the form of `wa_id`),
//! and reported the same way.

use serde_json::{Map, Value, json};

use super::{interactive, media_upload, template_gate, template_params};
use crate::args::Args;
use crate::checks::{
    char_len, check_digits, check_language, check_len, check_template_name, check_token,
    check_web_url, plain_http_warning, with_warnings,
};
use crate::error::{ErrorKind, ToolError};
use crate::graph::{Graph, SEND};
use crate::host::Host;
use crate::phone;
use crate::settings::{self, WindowPolicy};
use crate::store;
use crate::time::now_seconds;
use crate::window::{self, Window, WindowState};

/// Validates and normalises `to`.
pub(crate) fn recipient(args: &Args) -> Result<String, ToolError> {
    let to = args.str_req("to", "\"+16505551234\"")?;
    phone::normalise(to)
        .map_err(|(details, hint)| ToolError::invalid("to", "Invalid phone number", details, hint))
}

/// A message ready to send.
pub(super) struct Outgoing {
    pub(super) to: String,
    pub(super) msg_type: String,
    pub(super) content: Value,
    pub(super) reply_to: Option<String>,
    /// (name, language) for templates.
    pub(super) template: Option<(String, String)>,
}

pub(crate) fn send_message(host: &dyn Host, args: &Args) -> Result<Value, ToolError> {
    let to = recipient(args)?;
    let text = args.str_req("text", "\"Hello!\"")?;
    check_len("text", text, 1, 4096, "a text message")?;
    let reply_to = reply_to(args)?;
    if let Some(content) = interactive::interactive(args, text)? {
        return send(
            host,
            Outgoing {
                to,
                msg_type: "interactive".into(),
                content,
                reply_to,
                template: None,
            },
        );
    }
    let preview_url = args.bool_opt("preview_url")?;
    let mut content = Map::new();
    content.insert("body".into(), Value::from(text));
    if let Some(p) = preview_url {
        content.insert("preview_url".into(), Value::from(p));
    }
    send(
        host,
        Outgoing {
            to,
            msg_type: "text".into(),
            content: Value::Object(content),
            reply_to,
            template: None,
        },
    )
}

/// `reply_to`: the `wamid.` of the message this one answers, sent as
/// `context.message_id` so WhatsApp shows it quoted.
fn reply_to(args: &Args) -> Result<Option<String>, ToolError> {
    const EXAMPLE: &str = "\"wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA\"";
    let Some(id) = args.str_opt("reply_to")? else {
        return Ok(None);
    };
    check_token("reply_to", id, 512, "a message id", EXAMPLE)?;
    if !id.starts_with("wamid.") || id.len() == "wamid.".len() {
        return Err(ToolError::invalid(
            "reply_to",
            "Not a message id",
            format!("`reply_to` is `{id}`; WhatsApp message ids start with `wamid.`"),
            format!(
                "Give the id of the message to answer, as whatsapp_send_* returned it or a webhook reported it, for example {EXAMPLE}."
            ),
        ));
    }
    Ok(Some(id.to_string()))
}

pub(crate) fn send_template(host: &dyn Host, args: &Args) -> Result<Value, ToolError> {
    let to = recipient(args)?;
    let name = args.str_req("name", "\"order_update\"")?;
    check_template_name("name", name)?;
    let language = args.str_req("language", "\"en_US\"")?;
    check_language("language", language)?;
    let components = template_params::components(args)?;
    let reply_to = reply_to(args)?;
    template_gate::check_body_limit(host, args, name, language, &components)?;
    let warnings = args
        .get("components")
        .and_then(Value::as_array)
        .map(|c| template_params::plain_http_links(c))
        .unwrap_or_default();
    let mut content = Map::new();
    content.insert("name".into(), Value::from(name));
    content.insert(
        "language".into(),
        json!({"code": language, "policy": "deterministic"}),
    );
    if !components.is_empty() {
        content.insert("components".into(), Value::Array(components));
    }
    send(
        host,
        Outgoing {
            to,
            msg_type: "template".into(),
            content: Value::Object(content),
            reply_to,
            template: Some((name.to_string(), language.to_string())),
        },
    )
    .map(|result| with_warnings(result, &warnings))
}

pub(crate) fn send_media(host: &dyn Host, args: &Args) -> Result<Value, ToolError> {
    let to = recipient(args)?;
    let media_type = args.str_req("media_type", "\"image\"")?;
    if !matches!(media_type, "image" | "video" | "document" | "audio") {
        return Err(ToolError::invalid(
            "media_type",
            "Invalid media type",
            format!("`media_type` is `{media_type}`; expected image, video, document or audio"),
            "Use one of image, video, document, audio (lower case).",
        ));
    }
    let reply_to = reply_to(args)?;
    let link = args.str_opt("link")?;
    let media_id = args.str_opt("media_id")?;
    let upload = args.bool_opt("upload")?.unwrap_or(false);
    let mime_type = args.str_opt("mime_type")?;
    check_upload_args(upload, link.is_some(), mime_type)?;
    let mut content = Map::new();
    let mut warnings = Vec::new();
    match (link, media_id) {
        (Some(_), Some(_)) => {
            return Err(ToolError::invalid(
                "media_id",
                "Both link and media_id given",
                "`link` and `media_id` were both given; a media message takes exactly one of them",
                "Remove one: keep `media_id` for an uploaded file, or `link` for a public https:// URL.",
            ));
        }
        (None, None) => {
            return Err(ToolError::invalid(
                "link",
                "Missing media source",
                "neither `link` nor `media_id` was given; a media message needs exactly one",
                "Add `link` (a public https:// URL Meta can download) or `media_id` (the id of an uploaded file).",
            ));
        }
        (Some(link), None) if upload => media_upload::check_fetch_link(link)?,
        (Some(link), None) => {
            let plain_http = check_web_url(link, 2048).map_err(|(details, hint)| {
                ToolError::invalid("link", "Invalid media link", details, hint)
            })?;
            if plain_http {
                warnings.push(plain_http_warning("link"));
            }
            content.insert("link".into(), Value::from(link));
        }
        (None, Some(id)) => {
            check_digits("media_id", id, 64, "a media id", "\"1013859600285441\"")?;
            content.insert("id".into(), Value::from(id));
        }
    }
    if let Some(caption) = args.str_opt("caption")? {
        if media_type == "audio" {
            return Err(ToolError::invalid(
                "caption",
                "Audio has no caption",
                "`caption` was given for an audio message; WhatsApp audio messages cannot carry a caption",
                "Remove `caption`, or send the text separately with whatsapp_send_message.",
            ));
        }
        check_len("caption", caption, 1, 1024, "a media caption")?;
        content.insert("caption".into(), Value::from(caption));
    }
    if let Some(filename) = args.str_opt("filename")? {
        if media_type != "document" {
            return Err(ToolError::invalid(
                "filename",
                "Filename only for documents",
                format!(
                    "`filename` was given for a {media_type} message; only documents carry a file name"
                ),
                "Remove `filename`, or set `media_type` to document.",
            ));
        }
        if let Some(w) = check_filename(filename)? {
            warnings.push(w);
        }
        content.insert("filename".into(), Value::from(filename));
    }
    // Everything is checked before the gateway fetches anything.
    let uploaded = match link.filter(|_| upload) {
        Some(link) => {
            // A refusal `send` would give must come before the upload, or the
            // upload is wasted.
            refuse_outside_window(host, &to)?;
            let kind = media_upload::kind_of(media_type);
            let id = media_upload::upload(host, link, kind, mime_type)?;
            content.insert("id".into(), Value::from(id.as_str()));
            Some(id)
        }
        None => None,
    };
    let mut result = send(
        host,
        Outgoing {
            to,
            msg_type: media_type.to_string(),
            content: Value::Object(content),
            reply_to,
            template: None,
        },
    )?;
    if let (Some(id), Value::Object(map)) = (uploaded, &mut result) {
        map.insert("uploaded_media_id".into(), Value::from(id));
    }
    Ok(with_warnings(result, &warnings))
}

/// `upload` needs a `link` to fetch; `mime_type` only means something with it.
fn check_upload_args(
    upload: bool,
    has_link: bool,
    mime_type: Option<&str>,
) -> Result<(), ToolError> {
    if upload && !has_link {
        return Err(ToolError::invalid(
            "upload",
            "Nothing to upload",
            "`upload` is true but no `link` was given; the gateway uploads the file at `link`",
            "Give the file's URL as `link`, or drop `upload` to send an already uploaded `media_id`.",
        ));
    }
    if let Some(mime) = mime_type {
        if !upload {
            return Err(ToolError::invalid(
                "mime_type",
                "mime_type only with upload",
                "`mime_type` was given without `upload: true`; it tells the gateway the type of the file it uploads",
                "Remove `mime_type`, or set `upload` to true.",
            ));
        }
        check_token("mime_type", mime, 100, "a MIME type", "\"image/jpeg\"")?;
    }
    Ok(())
}

/// Checks a document file name; a missing extension is only warned about
/// (Meta recommends one, for the file icon, but does not require it).
fn check_filename(name: &str) -> Result<Option<String>, ToolError> {
    check_len("filename", name, 1, 240, "a document file name")?;
    if name
        .chars()
        .any(|c| c.is_control() || c == '/' || c == '\\')
    {
        return Err(ToolError::invalid(
            "filename",
            "Invalid file name",
            format!("`filename` is `{name}`, which contains a path separator or control character"),
            "Give a plain file name such as invoice.pdf.",
        ));
    }
    let ext_ok = name.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty()
            && (1..=10).contains(&char_len(ext))
            && ext.chars().all(|c| c.is_alphanumeric())
    });
    Ok((!ext_ok).then(|| {
        format!(
            "`filename` `{name}` has no extension; WhatsApp picks the file icon from it, so add one (for example invoice.pdf) next time."
        )
    }))
}

fn window_refusal(window: &Window) -> ToolError {
    let details = match window.last_inbound {
        Some(last) => format!(
            "the user last wrote at {}, more than 24 hours ago; the connector's window-policy is enforce, so free-form messages outside the customer-service window are refused",
            crate::time::rfc3339(last)
        ),
        None => "no inbound message from this user is recorded in the last 24 hours; the connector's window-policy is enforce, so free-form messages outside the customer-service window are refused".to_string(),
    };
    ToolError::new(
        ErrorKind::Denied,
        "Re-engagement message",
        details,
        "Nothing was sent. Use whatsapp_send_template with an APPROVED template (see whatsapp_list_templates); free-form messages become possible again for 24 hours after the user replies.",
    )
    .with_code(131047)
}

/// Under `window_policy = enforce`, a free-form message to a user whose
/// window is not open is refused (as `send` does), before anything else.
fn refuse_outside_window(host: &dyn Host, to: &str) -> Result<(), ToolError> {
    if settings::window_policy(host)? != WindowPolicy::Enforce {
        return Ok(());
    }
    let webhooks = settings::webhooks_configured(host);
    let window = window::lookup(host, to, now_seconds(host), webhooks);
    match window.state {
        WindowState::Open => Ok(()),
        _ => Err(window_refusal(&window)),
    }
}

pub(super) fn send(host: &dyn Host, out: Outgoing) -> Result<Value, ToolError> {
    let policy = settings::window_policy(host)?;
    let pnid = settings::phone_number_id(host)?;
    let graph = Graph::new(host)?;
    let now = now_seconds(host);
    let webhooks = settings::webhooks_configured(host);
    let window = window::lookup(host, &out.to, now, webhooks);
    let free_form = out.template.is_none();

    let mut warnings: Vec<String> = Vec::new();
    if free_form {
        match (policy, window.state) {
            (WindowPolicy::Enforce, WindowState::Open) | (WindowPolicy::Off, _) => {}
            (WindowPolicy::Enforce, _) => return Err(window_refusal(&window)),
            (WindowPolicy::Warn, WindowState::Closed) => warnings.push(
                "No inbound message from this user is recorded in the last 24 hours: WhatsApp will likely reject this free-form message asynchronously with error 131047 (check whatsapp_get_message_status). Use whatsapp_send_template to reach users outside the window.".to_string(),
            ),
            (WindowPolicy::Warn, WindowState::Unknown) => warnings.push(
                "The 24-hour customer-service window could not be checked (no inbound history: webhooks are not configured). If the user has not written in the last 24 hours this message will fail with error 131047; use whatsapp_send_template then.".to_string(),
            ),
            (WindowPolicy::Warn, WindowState::Open) => {}
        }
    } else if let (WindowPolicy::Enforce, Some((name, lang))) = (policy, &out.template) {
        template_gate::enforce(host, &graph, name, lang, &out.to, now)?;
    }

    let mut body = Map::new();
    body.insert("messaging_product".into(), Value::from("whatsapp"));
    body.insert("recipient_type".into(), Value::from("individual"));
    body.insert("to".into(), Value::from(out.to.as_str()));
    body.insert("type".into(), Value::from(out.msg_type.as_str()));
    body.insert(out.msg_type.clone(), out.content.clone());
    if let Some(id) = &out.reply_to {
        body.insert("context".into(), json!({"message_id": id}));
    }
    let resp = graph.post(&format!("{pnid}/messages"), &Value::Object(body), SEND)?;

    let message = resp.get("messages").and_then(|m| m.get(0));
    let Some(message_id) = message
        .and_then(|m| m.get("id"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return Err(ToolError::new(
            ErrorKind::OutcomeUnknown,
            "Outcome unknown",
            "the API answered with success but without a message id, so the message cannot be tracked",
            "The message was probably accepted. Do not resend blindly; check the conversation before sending again.",
        ));
    };
    let message_status = message
        .and_then(|m| m.get("message_status"))
        .and_then(Value::as_str)
        .unwrap_or("accepted");
    let contact = resp.get("contacts").and_then(|c| c.get(0));
    let wa_id = contact
        .and_then(|c| c.get("wa_id"))
        .and_then(Value::as_str)
        .map(str::trim);
    let user_id = contact
        .and_then(|c| c.get("user_id"))
        .and_then(Value::as_str);

    let mut record = Map::new();
    record.insert("id".into(), Value::from(message_id));
    record.insert("to".into(), Value::from(out.to.as_str()));
    if let Some(w) = wa_id {
        record.insert("wa_id".into(), Value::from(w));
    }
    if let Some(u) = user_id {
        record.insert("user_id".into(), Value::from(u));
    }
    record.insert("type".into(), Value::from(out.msg_type.as_str()));
    if let Some((name, language)) = &out.template {
        record.insert(
            "template".into(),
            json!({"name": name, "language": language}),
        );
    }
    record.insert("accepted_at".into(), Value::from(now));
    record.insert("message_status".into(), Value::from(message_status));
    let recorded = match store::write_json(
        host,
        &store::msg_key(message_id),
        &Value::Object(record),
        Some(store::MSG_TTL),
    ) {
        Ok(()) => true,
        Err(e) => {
            warnings.push(format!(
                "The message was sent, but its record could not be stored ({e}); whatsapp_get_message_status will not know it."
            ));
            false
        }
    };
    // The inbox files it under the id WhatsApp knows the customer by, as
    // inbound messages are.
    let customer = wa_id
        .filter(|w| !w.is_empty() && crate::inbox::safe_customer(w))
        .unwrap_or(&out.to);
    if let Err(e) = crate::inbox::record_outbound(
        host,
        customer,
        message_id,
        &out.msg_type,
        &out.content,
        out.reply_to.as_deref(),
        now,
    ) {
        warnings.push(format!(
            "The message was sent, but the inbox could not record it ({e}); whatsapp_get_messages will not show it."
        ));
    }
    if let Some(w) = wa_id.filter(|w| *w != out.to && !w.is_empty()) {
        // Best effort: lets the window of the user's WhatsApp id be found next time.
        let _ = store::write_json(
            host,
            &store::alias_key(&out.to),
            &serde_json::json!({ "wa_id": w }),
            Some(store::WIN_TTL),
        );
    }
    if message_status == "held_for_quality_assessment" {
        warnings.push("Meta is holding this template message for a quality assessment (template pacing); it is delivered or dropped later.".to_string());
    } else if message_status == "paused" {
        warnings.push(
            "Meta reported the message as paused: the template may be paused for low quality."
                .to_string(),
        );
    }

    let mut result = Map::new();
    result.insert("message_id".into(), Value::from(message_id));
    result.insert("to".into(), Value::from(out.to.as_str()));
    if let Some(w) = wa_id {
        result.insert("wa_id".into(), Value::from(w));
    }
    result.insert("message_status".into(), Value::from(message_status));
    result.insert("recorded".into(), Value::from(recorded));
    result.insert("window".into(), window.to_json());
    if !warnings.is_empty() {
        result.insert("warning".into(), Value::from(warnings.join(" ")));
    }
    Ok(Value::Object(result))
}
