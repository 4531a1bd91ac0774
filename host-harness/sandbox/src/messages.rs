//! `POST /{v}/{phone-number-id}/messages` (reference §2.1-2.3) and
//! `GET /{v}/{phone-number-id}/message_history` (§2.4).

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::SentMessage;
use super::error::{GraphError, GraphResult};
use super::http::{GraphRequest, paginate};
use super::state::{SentRecord, Shared};
use super::templates::{ParamFormat, Status, Template};
use super::util::{self, char_len};
use super::webhooks::{self, AcceptedSend, Failure};

/// The customer-service window.
const WINDOW: Duration = Duration::from_secs(24 * 3600);

/// How failures found while accepting a send are reported. Meta answers some in the HTTP
/// response and others (131047 often, 131026 and 131053 always) only later, in a `failed`
/// status webhook. Without a webhook callback the sandbox answers 131047 synchronously (nothing
/// else could report it); with one it accepts the send and fails it by webhook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FailureMode {
    Sync,
    Webhook,
}

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

fn window_closed() -> GraphError {
    GraphError::new(
        StatusCode::BAD_REQUEST,
        131047,
        "(#131047) Re-engagement message",
    )
    .details(
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
    )
}

fn throughput_hit() -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, 130429, "(#130429) Rate limit hit")
        .details("Cloud API message throughput has been reached.")
        .transient(true)
}

fn pair_limit_hit() -> GraphError {
    GraphError::new(
        StatusCode::BAD_REQUEST,
        131056,
        "(#131056) (Business Account, Consumer Account) pair rate limit hit",
    )
    .details(
        "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.",
    )
}

fn template_missing(name: &str, lang: &str) -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        132001,
        "(#132001) Template name does not exist in the translation",
    )
    .details(format!("template name ({name}) does not exist in {lang}"))
}

fn param_count_mismatch(section: &str, given: usize, expected: usize) -> GraphError {
    GraphError::new(
        StatusCode::BAD_REQUEST,
        132000,
        "(#132000) Number of parameters does not match the expected number of params",
    )
    .details(format!(
        "{section}: number of localizable_params ({given}) does not match the expected number of params ({expected})"
    ))
}

fn format_mismatch(details: impl Into<String>) -> GraphError {
    GraphError::new(
        StatusCode::BAD_REQUEST,
        132012,
        "(#132012) Parameter format does not match format in the created template",
    )
    .details(details)
}

fn string_like(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// What a validated send is, before the stateful checks.
struct Outgoing {
    to: String,
    wa_id: String,
    individual: bool,
    kind: String,
    template: Option<TemplateSend>,
    /// The media `link`, for media sends by link.
    link: Option<String>,
}

struct TemplateSend {
    name: String,
    lang: String,
    components: Vec<Value>,
}

pub(crate) fn send(shared: &Shared, req: &GraphRequest) -> GraphResult<Value> {
    let params = req.params()?;
    match params.get("messaging_product") {
        None | Some(Value::Null) => return Err(GraphError::required_param("messaging_product")),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("whatsapp") => {}
        Some(other) => {
            let got = string_like(other).unwrap_or_else(|| other.to_string());
            return Err(GraphError::enum_param(
                "messaging_product",
                &["WHATSAPP"],
                &got,
            ));
        }
    }
    if params.contains_key("status") {
        return mark_read(&params);
    }
    let out = validate(&params)?;
    accept(shared, out, Value::Object(params))
}

/// `{"messaging_product":"whatsapp","status":"read","message_id":"wamid…"}` (read receipts and
/// typing indicators).
fn mark_read(params: &Map<String, Value>) -> GraphResult<Value> {
    let status = params
        .get("status")
        .and_then(string_like)
        .unwrap_or_default();
    if !status.eq_ignore_ascii_case("read") {
        return Err(GraphError::enum_param("status", &["READ"], &status));
    }
    match params.get("message_id").and_then(Value::as_str) {
        Some(id) if !id.trim().is_empty() => Ok(json!({"success": true})),
        _ => Err(GraphError::required_param("message_id")),
    }
}

fn validate(params: &Map<String, Value>) -> GraphResult<Outgoing> {
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
        util::normalize_phone(&to).ok_or_else(|| {
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
        "interactive" => {
            if obj.get("type").and_then(Value::as_str).is_none() {
                return Err(GraphError::missing_param(
                    "Parameter 'interactive.type' is required.",
                ));
            }
            if !obj.get("action").is_some_and(Value::is_object) {
                return Err(GraphError::missing_param(
                    "Parameter 'interactive.action' is required.",
                ));
            }
        }
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
    Ok(Outgoing {
        to,
        wa_id,
        individual,
        kind,
        template,
        link,
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

const PARAM_TYPES: &[&str] = &[
    "action",
    "coupon_code",
    "currency",
    "date_time",
    "document",
    "image",
    "location",
    "payload",
    "product",
    "text",
    "video",
];

/// One `parameters[]` entry: checks its own shape, returns its type.
fn check_param(section: &str, p: &Value) -> GraphResult<String> {
    let Some(p) = p.as_object() else {
        return Err(GraphError::invalid_param(format!(
            "{section}: each parameter must be an object."
        )));
    };
    let ty_raw = p.get("type").and_then(Value::as_str).unwrap_or("");
    if ty_raw.is_empty() {
        return Err(GraphError::missing_param(format!(
            "{section}: Parameter 'type' is required for each parameter."
        )));
    }
    let ty = ty_raw.to_ascii_lowercase();
    if !PARAM_TYPES.contains(&ty.as_str()) {
        let upper: Vec<String> = PARAM_TYPES.iter().map(|t| t.to_ascii_uppercase()).collect();
        let upper: Vec<&str> = upper.iter().map(String::as_str).collect();
        return Err(GraphError::enum_param(
            &format!("{section} parameter type"),
            &upper,
            ty_raw,
        ));
    }
    let missing = |what: &str| {
        GraphError::missing_param(format!(
            "{section}: Parameter '{what}' is required for parameters of type {ty}."
        ))
    };
    match ty.as_str() {
        "text" if p.get("text").and_then(Value::as_str).is_none() => {
            return Err(missing("text"));
        }
        "currency" => {
            let c = p.get("currency");
            let ok = c.is_some_and(|c| {
                c.get("fallback_value").is_some_and(Value::is_string)
                    && c.get("code").is_some_and(Value::is_string)
                    && c.get("amount_1000").is_some_and(Value::is_number)
            });
            if !ok {
                return Err(missing(
                    "currency.fallback_value, currency.code, currency.amount_1000",
                ));
            }
        }
        "date_time"
            if p.get("date_time")
                .and_then(|d| d.get("fallback_value"))
                .and_then(Value::as_str)
                .is_none() =>
        {
            return Err(missing("date_time.fallback_value"));
        }
        "image" | "video" | "document" => {
            let ok = p.get(&ty).is_some_and(|m| {
                m.get("id").and_then(string_like).is_some()
                    || m.get("link").and_then(Value::as_str).is_some()
            });
            if !ok {
                return Err(missing(&format!("{ty}.id or {ty}.link")));
            }
        }
        _ => {}
    }
    Ok(ty)
}

fn params_of(section: &str, comp: &Map<String, Value>) -> GraphResult<Vec<Value>> {
    match comp.get("parameters") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => Ok(a.clone()),
        Some(_) => Err(GraphError::invalid_param(format!(
            "{section}: parameters must be an array."
        ))),
    }
}

/// Named templates: every text parameter names its variable, and the names match.
fn check_names(
    section: &str,
    params: &[Value],
    expected: &[String],
    format: ParamFormat,
) -> GraphResult<()> {
    if format != ParamFormat::Named {
        return Ok(());
    }
    let mut names = Vec::new();
    for p in params {
        match p.get("parameter_name").and_then(Value::as_str) {
            Some(n) if !n.is_empty() => names.push(n.to_owned()),
            _ => {
                return Err(format_mismatch(format!(
                    "{section}: the template uses NAMED parameters, so each parameter needs a parameter_name."
                )));
            }
        }
    }
    let mut a = names.clone();
    let mut b = expected.to_vec();
    a.sort();
    b.sort();
    if a != b {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            132000,
            "(#132000) Number of parameters does not match the expected number of params",
        )
        .details(format!(
            "{section}: parameter names ({}) do not match the expected params ({})",
            names.join(", "),
            expected.join(", ")
        )));
    }
    Ok(())
}

/// Compares a template send's parameters with the approved template.
fn check_template_params(t: &Template, components: &[Value]) -> GraphResult<()> {
    let mut header: Option<Vec<Value>> = None;
    let mut body: Option<Vec<Value>> = None;
    let mut button_indexes: Vec<(usize, usize)> = Vec::new(); // (index, #params)
    for c in components {
        let Some(c) = c.as_object() else {
            return Err(GraphError::invalid_param(
                "Param template['components'] must hold objects.",
            ));
        };
        let ty = c
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        match ty.as_str() {
            "header" => {
                let ps = params_of("header", c)?;
                for p in &ps {
                    check_param("header", p)?;
                }
                header = Some(ps);
            }
            "body" => {
                let ps = params_of("body", c)?;
                for p in &ps {
                    check_param("body", p)?;
                }
                body = Some(ps);
            }
            "button" => {
                if c.get("sub_type").and_then(Value::as_str).is_none() {
                    return Err(GraphError::missing_param(
                        "buttons: Parameter 'sub_type' is required for button components.",
                    ));
                }
                let index = match c.get("index") {
                    Some(Value::String(s)) => s.trim().parse::<usize>().ok(),
                    Some(Value::Number(n)) => n.as_u64().map(|n| n as usize),
                    _ => None,
                };
                let Some(index) = index.filter(|i| *i <= 9) else {
                    return Err(GraphError::missing_param(
                        "buttons: Parameter 'index' (0-9) is required for button components.",
                    ));
                };
                let ps = params_of("buttons", c)?;
                for p in &ps {
                    check_param("buttons", p)?;
                }
                button_indexes.push((index, ps.len()));
            }
            "" => {
                return Err(GraphError::missing_param(
                    "Parameter 'type' is required for each template component.",
                ));
            }
            // carousel, limited_time_offer, order_status…: not modelled, accepted as sent.
            _ => {}
        }
    }

    // Header.
    let header_params = header.unwrap_or_default();
    match t.header_format() {
        None | Some("TEXT") => {
            let expected = t.params_of("HEADER");
            if header_params.len() != expected.len() {
                return Err(param_count_mismatch(
                    "header",
                    header_params.len(),
                    expected.len(),
                ));
            }
            check_names("header", &header_params, &expected, t.parameter_format)?;
        }
        Some(fmt @ ("IMAGE" | "VIDEO" | "DOCUMENT" | "GIF" | "LOCATION")) => {
            // GIF headers are sent as video.
            let want = if fmt == "GIF" { "VIDEO" } else { fmt };
            let got = header_params
                .first()
                .and_then(|p| p.get("type"))
                .and_then(Value::as_str)
                .map(|s| s.to_ascii_uppercase());
            if got.as_deref() != Some(want) || header_params.len() != 1 {
                return Err(format_mismatch(format!(
                    "header: Format mismatch, expected {fmt}, received {}",
                    got.unwrap_or_else(|| "UNKNOWN".into())
                )));
            }
        }
        Some(_) => {}
    }

    // Body.
    let body_params = body.unwrap_or_default();
    let expected = t.params_of("BODY");
    if body_params.len() != expected.len() {
        return Err(param_count_mismatch(
            "body",
            body_params.len(),
            expected.len(),
        ));
    }
    check_names("body", &body_params, &expected, t.parameter_format)?;

    // Buttons with a variable need their parameter.
    for (index, label) in t.buttons_needing_params() {
        let given = button_indexes.iter().any(|(i, n)| *i == index && *n > 0);
        if !given {
            return Err(GraphError::missing_param(format!(
                "buttons: Button at index {index} of type {label} requires a parameter"
            )));
        }
    }
    Ok(())
}

fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        times.pop_front();
    }
}

fn accept(shared: &Shared, out: Outgoing, request: Value) -> GraphResult<Value> {
    let cfg = &shared.cfg;
    let now = Instant::now();
    let now_sys = SystemTime::now();
    let mut st = shared.lock();
    st.refresh_templates(cfg, now);

    // Failures Meta may report asynchronously; see FailureMode.
    let mode = if st.outbox.enabled() {
        FailureMode::Webhook
    } else {
        FailureMode::Sync
    };
    let window_failure = if out.template.is_none() && out.individual {
        let open = st.last_inbound.get(&out.wa_id).is_some_and(|last| {
            match now_sys.duration_since(*last) {
                Ok(age) => age < WINDOW,
                // A last message "in the future" (clock games in tests) counts as now.
                Err(_) => true,
            }
        });
        !open
    } else {
        false
    };
    let mut delivery_failure = None;
    if window_failure {
        match mode {
            FailureMode::Sync => return Err(window_closed()),
            FailureMode::Webhook => delivery_failure = Some(Failure::window_closed()),
        }
    }
    if mode == FailureMode::Webhook && delivery_failure.is_none() {
        if out.individual && webhooks::undeliverable(&out.wa_id) {
            delivery_failure = Some(Failure::undeliverable());
        } else if let Some(link) = out
            .link
            .as_deref()
            .filter(|l| webhooks::media_unfetchable(l))
        {
            delivery_failure = Some(Failure::media_unfetchable(link));
        }
    }

    let mut template_category = None;
    if let Some(ts) = &out.template {
        let t = st
            .templates
            .iter()
            .find(|t| t.name == ts.name && t.language == ts.lang)
            .filter(|t| t.status == Status::Approved)
            .ok_or_else(|| template_missing(&ts.name, &ts.lang))?;
        check_template_params(t, &ts.components)?;
        template_category = Some(t.category.to_ascii_lowercase());
    }

    if let Some(limit) = cfg.throughput_per_second {
        prune(&mut st.send_times, now, Duration::from_secs(1));
        if st.send_times.len() >= limit as usize {
            return Err(throughput_hit());
        }
    }
    if let Some(pair) = cfg.pair_limit {
        if st.pair_times.len() > 10_000 {
            // Forget recipients whose window has passed, so the map stays small.
            st.pair_times.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < pair.window)
            });
        }
        let times = st.pair_times.entry(out.wa_id.clone()).or_default();
        prune(times, now, pair.window);
        if times.len() >= pair.burst as usize {
            return Err(pair_limit_hit());
        }
    }

    // Accepted.
    let id = util::wamid(&out.wa_id);
    if cfg.throughput_per_second.is_some() {
        st.send_times.push_back(now);
    }
    if cfg.pair_limit.is_some() {
        st.pair_times
            .entry(out.wa_id.clone())
            .or_default()
            .push_back(now);
    }
    st.outbox.message_statuses(
        cfg,
        AcceptedSend {
            id: &id,
            wa_id: &out.wa_id,
            template_category,
            at: now_sys,
            failure: delivery_failure.clone(),
        },
    );
    st.push_sent(
        SentMessage {
            id: id.clone(),
            to: out.to.clone(),
            wa_id: out.wa_id.clone(),
            kind: out.kind.clone(),
            template: out.template.map(|t| (t.name, t.lang)),
            at: now_sys,
            request,
        },
        delivery_failure.map(|f| f.code),
    );
    drop(st);
    tracing::debug!(kind = %out.kind, "sandbox: message accepted");
    Ok(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": out.to, "wa_id": out.wa_id}],
        "messages": [{"id": id, "message_status": "accepted"}],
    }))
}

// ----------------------------------------------------------------------------------------
// message_history

fn history_entry(r: &SentRecord, with_events: bool, now: SystemTime) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(r.history_id));
    m.insert("message_id".into(), json!(r.msg.id));
    if with_events {
        let sent_at = util::unix_secs(r.msg.at);
        if let Some(code) = r.failure {
            m.insert(
                "events".into(),
                json!({"data": [{
                    "id": format!("{}1", r.history_id),
                    "delivery_status": "FAILED",
                    "timestamp": sent_at,
                    "webhook_update_state": "DELIVERED",
                    "error_description": format!("(#{code}) the message could not be delivered"),
                }]}),
            );
            return Value::Object(m);
        }
        let mut events = vec![json!({
            "id": format!("{}1", r.history_id),
            "delivery_status": "SENT",
            "timestamp": sent_at,
            // The sandbox does not track per-event webhook delivery here.
            "webhook_update_state": "PENDING",
        })];
        // The simulated handset receives the message a second after it was sent.
        let delivered = r.msg.at + Duration::from_secs(1);
        if now >= delivered {
            events.push(json!({
                "id": format!("{}2", r.history_id),
                "delivery_status": "DELIVERED",
                "timestamp": util::unix_secs(delivered),
                "webhook_update_state": "PENDING",
            }));
        }
        m.insert("events".into(), json!({ "data": events }));
    }
    Value::Object(m)
}

pub(crate) fn history(shared: &Shared, req: &GraphRequest) -> GraphResult<Value> {
    // The spec's default fields are `id,message_id`; events only when asked for.
    let with_events = req
        .fields()
        .is_some_and(|f| f.iter().any(|x| x == "events" || x.starts_with("events{")));
    let now = SystemTime::now();
    let st = shared.lock();
    if let Some(mid) = req.query("message_id") {
        let Some(r) = st.sent.iter().find(|r| r.msg.id == mid) else {
            return Err(GraphError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                100,
                "The requested message_id was not found in the message history",
            )
            .kind("GraphMethodException")
            .details(format!(
                "No message with id {mid} was sent from this phone number."
            )));
        };
        return Ok(json!({ "data": [history_entry(r, with_events, now)] }));
    }
    let items: Vec<(u64, Value)> = st
        .sent
        .iter()
        .rev()
        .map(|r| (r.seq, history_entry(r, with_events, now)))
        .collect();
    drop(st);
    paginate(shared, req, items)
}
