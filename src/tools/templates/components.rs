//! For template creation: the checks of each component (HEADER, BODY,
//! FOOTER, BUTTONS) against Meta's rules for new templates
//! (https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates/components).

use serde_json::{Map, Value};

use super::examples::{Used, check_examples, example_obj, used_placeholders};
use crate::args::{as_array, as_object, as_str, enum_error, missing, reject_unknown, wrong_type};
use crate::checks::{check_len, check_web_url, plain_http_warning};
use crate::error::ToolError;
use crate::placeholders::placeholders;

const HEADER_FORMATS: &[&str] = &[
    "TEXT", "IMAGE", "VIDEO", "GIF", "DOCUMENT", "LOCATION", "PRODUCT",
];
const BUTTON_TYPES: &[&str] = &[
    "QUICK_REPLY",
    "URL",
    "PHONE_NUMBER",
    "COPY_CODE",
    "OTP",
    "FLOW",
    "MPM",
    "CATALOG",
    "VOICE_CALL",
    "SPM",
];

/// A component with its `type`, a header's `format` and its buttons' `type`
/// in upper case: Meta's create examples write `body` as well as `BODY`,
/// and the upper-case form is the one it documents and lists back.
pub(super) fn upper_case_names(v: &Value) -> Value {
    let mut v = v.clone();
    let upper = |o: &mut Map<String, Value>, key: &str| {
        if let Some(s) = o.get(key).and_then(Value::as_str) {
            let u = s.to_ascii_uppercase();
            o.insert(key.into(), Value::from(u));
        }
    };
    if let Some(o) = v.as_object_mut() {
        upper(o, "type");
        upper(o, "format");
        if let Some(buttons) = o.get_mut("buttons").and_then(Value::as_array_mut) {
            for b in buttons.iter_mut().filter_map(Value::as_object_mut) {
                upper(b, "type");
                upper(b, "otp_type");
            }
        }
        // The components of carousel cards, likewise.
        if let Some(cards) = o.get_mut("cards").and_then(Value::as_array_mut) {
            for card in cards.iter_mut().filter_map(Value::as_object_mut) {
                if let Some(cs) = card.get_mut("components").and_then(Value::as_array_mut) {
                    for c in cs.iter_mut() {
                        *c = upper_case_names(c);
                    }
                }
            }
        }
    }
    v
}

/// Warnings for URL buttons with a plain `http://` URL (accepted, as Meta
/// documents, but https is recommended).
pub(super) fn plain_http_buttons(path: &str, v: &Value) -> Vec<String> {
    let buttons = v.get("buttons").and_then(Value::as_array);
    buttons
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(_, b)| {
            b.get("url").and_then(Value::as_str).is_some_and(|u| {
                u.get(..7)
                    .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
            })
        })
        .map(|(i, _)| plain_http_warning(&format!("{path}.buttons[{i}].url")))
        .collect()
}

fn text_field<'a>(c: &'a Map<String, Value>, path: &str) -> Result<Option<&'a str>, ToolError> {
    match c.get("text") {
        None => Ok(None),
        Some(v) => as_str(v, &format!("{path}.text")).map(Some),
    }
}

pub(super) fn check_create_component(
    path: &str,
    v: &Value,
    named: bool,
    category: &str,
) -> Result<String, ToolError> {
    let c = as_object(v, path)?;
    reject_unknown(
        c,
        &[
            "type",
            "format",
            "text",
            "example",
            "buttons",
            "add_security_recommendation",
            "code_expiration_minutes",
        ],
        path,
    )?;
    let tf = format!("{path}.type");
    let t = match c.get("type") {
        None => return Err(missing(&tf, "\"BODY\"")),
        Some(v) => as_str(v, &tf)?,
    };
    let allowed_keys: &[&str] = match t {
        "HEADER" => &["type", "format", "text", "example"],
        "BODY" => &["type", "text", "example", "add_security_recommendation"],
        "FOOTER" => &["type", "text", "code_expiration_minutes"],
        "BUTTONS" => &["type", "buttons"],
        _ => {
            return Err(ToolError::invalid(
                tf,
                "Invalid component type",
                format!(
                    "component type is `{t}`; expected HEADER, BODY, FOOTER, BUTTONS, CAROUSEL or LIMITED_TIME_OFFER"
                ),
                "Use HEADER, BODY, FOOTER, BUTTONS, CAROUSEL or LIMITED_TIME_OFFER (upper or lower case).",
            ));
        }
    };
    reject_unknown(c, allowed_keys, path)?;
    let text = text_field(c, path)?;
    let text_f = format!("{path}.text");
    match t {
        "HEADER" if category == "AUTHENTICATION" => {
            return Err(ToolError::invalid(
                tf,
                "Header in an authentication template",
                "AUTHENTICATION templates cannot have a HEADER; Meta writes their text itself",
                "Remove the HEADER component.",
            ));
        }
        "HEADER" => {
            // Meta requires `format` and rejects a header without it.
            let format = match c.get("format") {
                None => {
                    return Err(missing(
                        &format!("{path}.format"),
                        "\"TEXT\" (or IMAGE, VIDEO, GIF, DOCUMENT, LOCATION, PRODUCT)",
                    ));
                }
                Some(v) => as_str(v, &format!("{path}.format"))?,
            };
            if !HEADER_FORMATS.contains(&format) {
                return Err(enum_error(
                    &format!("{path}.format"),
                    format,
                    HEADER_FORMATS,
                ));
            }
            if format == "TEXT" {
                let Some(text) = text else {
                    return Err(missing(&text_f, "\"Your order {{1}}\""));
                };
                check_len(&text_f, text, 1, 60, "a template text header")?;
                let used = used_placeholders(&text_f, text, named)?;
                let count = match &used {
                    Used::Positional(n) => *n as usize,
                    Used::Named(v) => v.len(),
                };
                if count > 1 {
                    return Err(ToolError::invalid(
                        text_f,
                        "Too many header placeholders",
                        format!(
                            "the header text has {count} placeholders; a text header allows at most 1"
                        ),
                        "Keep one placeholder in the header and move the rest to the body.",
                    ));
                }
                check_examples(
                    path,
                    c,
                    &used,
                    "header_text",
                    "header_text_named_params",
                    false,
                )?;
            } else {
                if text.is_some() {
                    return Err(ToolError::invalid(
                        text_f,
                        "Text on a media header",
                        format!("a {format} header has no text"),
                        "Remove `text`, or use format TEXT.",
                    ));
                }
                if matches!(format, "IMAGE" | "VIDEO" | "GIF" | "DOCUMENT") {
                    let handle = example_obj(c, path)?
                        .and_then(|e| e.get("header_handle"))
                        .and_then(Value::as_array)
                        .is_some_and(|a| {
                            a.len() == 1 && a[0].as_str().is_some_and(|s| !s.is_empty())
                        });
                    if !handle {
                        return Err(ToolError::invalid(
                            format!("{path}.example.header_handle"),
                            "Missing media example",
                            format!(
                                "a {format} header needs a sample file: `example.header_handle` with one upload handle"
                            ),
                            "Upload a sample with Meta's Resumable Upload API and pass \"example\": {\"header_handle\": [\"4::aW…\"]}.",
                        ));
                    }
                }
            }
        }
        "BODY" => {
            match text {
                None if category == "AUTHENTICATION" => {}
                Some(_) if category == "AUTHENTICATION" => {
                    return Err(ToolError::invalid(
                        text_f,
                        "Text in an authentication body",
                        "AUTHENTICATION templates have a fixed body (\"{{1}} is your verification code.\"); Meta refuses body text",
                        "Remove `text` from the BODY; use \"add_security_recommendation\": true for the security line.",
                    ));
                }
                None => {
                    return Err(missing(
                        &text_f,
                        "\"Hi {{1}}, your order {{2}} has shipped.\"",
                    ));
                }
                Some(text) => {
                    check_len(&text_f, text, 1, 1024, "a template body")?;
                    let used = used_placeholders(&text_f, text, named)?;
                    check_examples(path, c, &used, "body_text", "body_text_named_params", true)?;
                }
            }
            if let Some(v) = c.get("add_security_recommendation")
                && !v.is_boolean()
            {
                return Err(wrong_type(
                    &format!("{path}.add_security_recommendation"),
                    v,
                    "a boolean",
                ));
            }
        }
        "FOOTER" => {
            match text {
                None if c.contains_key("code_expiration_minutes") => {}
                None => return Err(missing(&text_f, "\"Reply STOP to opt out\"")),
                Some(text) => {
                    check_len(&text_f, text, 1, 60, "a template footer")?;
                    if text.contains("{{") {
                        return Err(ToolError::invalid(
                            text_f,
                            "Placeholder in footer",
                            "the footer contains a placeholder; footers cannot have placeholders",
                            "Move the variable part to the body.",
                        ));
                    }
                }
            }
            if let Some(v) = c.get("code_expiration_minutes")
                && !v.as_i64().is_some_and(|m| (1..=90).contains(&m))
            {
                return Err(ToolError::invalid(
                    format!("{path}.code_expiration_minutes"),
                    "Invalid expiration",
                    "`code_expiration_minutes` must be a whole number from 1 to 90",
                    "Use for example 10.",
                ));
            }
        }
        "BUTTONS" => check_buttons(path, c, category)?,
        _ => {}
    }
    Ok(t.to_string())
}

fn check_buttons(path: &str, c: &Map<String, Value>, category: &str) -> Result<(), ToolError> {
    let bf = format!("{path}.buttons");
    let buttons = match c.get("buttons") {
        None => {
            return Err(missing(
                &bf,
                "[{\"type\": \"QUICK_REPLY\", \"text\": \"Stop promotions\"}]",
            ));
        }
        Some(v) => as_array(v, &bf)?,
    };
    if buttons.is_empty() || buttons.len() > 10 {
        return Err(ToolError::invalid(
            bf,
            "Wrong number of buttons",
            format!(
                "BUTTONS has {} buttons; a template has 1 to 10",
                buttons.len()
            ),
            "Give between 1 and 10 buttons.",
        ));
    }
    for (i, b) in buttons.iter().enumerate() {
        let p = format!("{bf}[{i}]");
        let o = as_object(b, &p)?;
        reject_unknown(
            o,
            &[
                "type",
                "text",
                "url",
                "phone_number",
                "example",
                "otp_type",
                "autofill_text",
                "package_name",
                "signature_hash",
                "supported_apps",
                "zero_tap_terms_accepted",
                "flow_id",
                "flow_name",
                "flow_json",
                "flow_action",
                "navigate_screen",
            ],
            &p,
        )?;
        let tf = format!("{p}.type");
        let t = match o.get("type") {
            None => return Err(missing(&tf, "\"QUICK_REPLY\"")),
            Some(v) => as_str(v, &tf)?,
        };
        if !BUTTON_TYPES.contains(&t) {
            return Err(enum_error(&tf, t, BUTTON_TYPES));
        }
        if (t == "OTP") != (category == "AUTHENTICATION") {
            return Err(if t == "OTP" {
                ToolError::invalid(
                    tf,
                    "OTP button outside authentication",
                    format!(
                        "an OTP button is only allowed in AUTHENTICATION templates; this one is {category}"
                    ),
                    "Use a COPY_CODE or URL button, or create the template with category AUTHENTICATION.",
                )
            } else {
                ToolError::invalid(
                    tf,
                    "Authentication templates take an OTP button",
                    format!("AUTHENTICATION templates have only OTP buttons; this one is {t}"),
                    "Use {\"type\": \"OTP\", \"otp_type\": \"COPY_CODE\", \"text\": \"Copy code\"}.",
                )
            });
        }
        let text_f = format!("{p}.text");
        match o.get("text") {
            Some(v) => check_len(&text_f, as_str(v, &text_f)?, 1, 25, "a button label")?,
            None if t == "OTP" || t == "COPY_CODE" => {}
            None => return Err(missing(&text_f, "\"Shop now\"")),
        }
        match t {
            "URL" => {
                let uf = format!("{p}.url");
                let url = match o.get("url") {
                    None => {
                        return Err(missing(&uf, "\"https://example.com/shop?promo={{1}}\""));
                    }
                    Some(v) => as_str(v, &uf)?,
                };
                check_web_url(url, 2000)
                    .map_err(|(d, h)| ToolError::invalid(uf.clone(), "Invalid button URL", d, h))?;
                let ps = placeholders(url).map_err(|d| {
                    ToolError::invalid(
                        uf.clone(),
                        "Malformed placeholder",
                        d,
                        "Use a single trailing {{1}}.",
                    )
                })?;
                if ps.len() > 1 || (ps.len() == 1 && !url.ends_with("{{1}}")) {
                    return Err(ToolError::invalid(
                        uf,
                        "Invalid URL placeholder",
                        "a button URL may have one placeholder, {{1}}, at the very end",
                        "Write the URL like https://example.com/order/{{1}}.",
                    ));
                }
                if ps.len() == 1 {
                    let ok = o.get("example").and_then(Value::as_array).is_some_and(|a| {
                        a.len() == 1 && a[0].as_str().is_some_and(|s| !s.is_empty())
                    });
                    if !ok {
                        return Err(ToolError::invalid(
                            format!("{p}.example"),
                            "Missing example value",
                            "the button URL has a {{1}} placeholder but no example",
                            "Add \"example\": [\"summer2023\"] (the value substituted for {{1}}).",
                        ));
                    }
                }
            }
            "PHONE_NUMBER" => {
                let pf = format!("{p}.phone_number");
                let n = match o.get("phone_number") {
                    None => return Err(missing(&pf, "\"+16467043595\"")),
                    Some(v) => as_str(v, &pf)?,
                };
                crate::phone::normalise(n)
                    .map_err(|(d, h)| ToolError::invalid(pf, "Invalid phone number", d, h))?;
            }
            _ => {}
        }
    }
    Ok(())
}
