//! Meta's rules for each component of a new template: body, header, footer, buttons, and the
//! `{{…}}` variables with their samples.
//! https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates/components

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::template::{ParamFormat, distinct, placeholders};
use crate::graph_error::{GraphError, GraphResult};
use crate::util::char_len;

pub(crate) const COMPONENT_TYPES: &[&str] = &[
    "BODY",
    "BUTTONS",
    "CAROUSEL",
    "FOOTER",
    "HEADER",
    "LIMITED_TIME_OFFER",
];
const HEADER_FORMATS: &[&str] = &[
    "DOCUMENT", "GIF", "IMAGE", "LOCATION", "PRODUCT", "TEXT", "VIDEO",
];
const BUTTON_TYPES: &[&str] = &[
    "CATALOG",
    "COPY_CODE",
    "FLOW",
    "MPM",
    "OTP",
    "PHONE_NUMBER",
    "QUICK_REPLY",
    "SPM",
    "URL",
    "VOICE_CALL",
];

/// Template-creation errors: Graph answers `Invalid parameter` with a user-facing title/message.
pub(crate) fn template_error(title: &str, details: impl Into<String>) -> GraphError {
    let details = details.into();
    GraphError::new(StatusCode::BAD_REQUEST, 100, "Invalid parameter")
        .transient(false)
        .user(title, details.clone())
        .details(details)
}

fn text_field<'a>(comp: &'a Map<String, Value>, section: &str) -> GraphResult<Option<&'a str>> {
    match comp.get("text") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(template_error(
            "Invalid component",
            format!("{section}: text must be a string."),
        )),
    }
}

/// The non-empty text of a header or footer, at most 60 characters. `missing` is the error's
/// title and message; `too_long` the title when it is longer.
fn short_text<'a>(
    comp: &'a Map<String, Value>,
    section: &str,
    missing: (&str, &str),
    too_long: &str,
) -> GraphResult<&'a str> {
    let Some(text) = text_field(comp, section)?.filter(|t| !t.trim().is_empty()) else {
        return Err(template_error(
            missing.0,
            format!("{section}: {}", missing.1),
        ));
    };
    if char_len(text) > 60 {
        return Err(template_error(
            too_long,
            format!(
                "{section}: text must be at most 60 characters; it has {}.",
                char_len(text)
            ),
        ));
    }
    Ok(text)
}

/// Where a component keeps its variable samples, and how many variables it may have.
struct VarSpec {
    section: &'static str,
    /// `body_text` (nested: `[[…]]`) or `header_text` (flat: `[…]`).
    positional_key: &'static str,
    named_key: &'static str,
    nested: bool,
    max_params: Option<usize>,
}

const BODY_VARS: VarSpec = VarSpec {
    section: "BODY",
    positional_key: "body_text",
    named_key: "body_text_named_params",
    nested: true,
    max_params: None,
};

const HEADER_VARS: VarSpec = VarSpec {
    section: "HEADER",
    positional_key: "header_text",
    named_key: "header_text_named_params",
    nested: false,
    max_params: Some(1),
};

/// Checks `{{…}}` variables of `text` against `format` and the component's examples.
fn check_variables(
    spec: &VarSpec,
    text: &str,
    format: ParamFormat,
    comp: &Map<String, Value>,
) -> GraphResult<()> {
    let VarSpec {
        section,
        positional_key,
        named_key,
        nested,
        max_params,
    } = *spec;
    let all = placeholders(text);
    if all.is_empty() {
        return Ok(());
    }
    let names = distinct(all);
    if let Some(max) = max_params
        && names.len() > max
    {
        return Err(template_error(
            "Too many variables",
            format!(
                "{section}: at most {max} variable is allowed, found {}.",
                names.len()
            ),
        ));
    }
    let example = comp.get("example").and_then(Value::as_object);
    match format {
        ParamFormat::Positional => {
            let mut nums = Vec::new();
            for n in &names {
                match n.parse::<u32>() {
                    Ok(v) if v >= 1 && n.bytes().all(|b| b.is_ascii_digit()) => nums.push(v),
                    _ => {
                        return Err(template_error(
                            "Invalid variable",
                            format!(
                                "{section}: \"{{{{{n}}}}}\" is not a valid POSITIONAL variable. Use {{{{1}}}}, {{{{2}}}}, … or set parameter_format to NAMED."
                            ),
                        ));
                    }
                }
            }
            nums.sort_unstable();
            if nums.iter().enumerate().any(|(i, v)| *v as usize != i + 1) {
                return Err(template_error(
                    "Variables must be sequential",
                    format!(
                        "{section}: variables must be sequential, starting at {{{{1}}}} ({{{{1}}}}, {{{{2}}}}, …)."
                    ),
                ));
            }
            let values = example.and_then(|e| e.get(positional_key));
            let values = if nested {
                values
                    .and_then(Value::as_array)
                    .and_then(|outer| outer.first())
                    .and_then(Value::as_array)
            } else {
                values.and_then(Value::as_array)
            };
            let shape = if nested {
                format!("example.{positional_key}: [[…]]")
            } else {
                format!("example.{positional_key}: […]")
            };
            let Some(values) = values else {
                return Err(template_error(
                    "Missing variable samples",
                    format!(
                        "{section}: the text has {} variable(s), so sample values are required in {shape}.",
                        nums.len()
                    ),
                ));
            };
            if values.len() != nums.len() || values.iter().any(|v| !v.is_string()) {
                return Err(template_error(
                    "Wrong number of variable samples",
                    format!(
                        "{section}: {shape} must hold {} string(s), one per variable; it holds {}.",
                        nums.len(),
                        values.len()
                    ),
                ));
            }
        }
        ParamFormat::Named => {
            for n in &names {
                let valid = n
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
                    && n.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                if !valid {
                    return Err(template_error(
                        "Invalid variable",
                        format!(
                            "{section}: \"{{{{{n}}}}}\" is not a valid NAMED variable. Named variables use lowercase letters, digits and underscores, e.g. {{{{first_name}}}}."
                        ),
                    ));
                }
            }
            let samples = example
                .and_then(|e| e.get(named_key))
                .and_then(Value::as_array);
            let Some(samples) = samples else {
                return Err(template_error(
                    "Missing variable samples",
                    format!(
                        "{section}: the text has named variables, so samples are required in example.{named_key}: [{{\"param_name\": …, \"example\": …}}]."
                    ),
                ));
            };
            for n in &names {
                let found = samples.iter().any(|s| {
                    s.get("param_name").and_then(Value::as_str) == Some(n.as_str())
                        && s.get("example").is_some_and(Value::is_string)
                });
                if !found {
                    return Err(template_error(
                        "Missing variable samples",
                        format!("{section}: example.{named_key} has no sample for \"{n}\"."),
                    ));
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn validate_body(
    obj: &Map<String, Value>,
    format: ParamFormat,
    is_auth: bool,
) -> GraphResult<()> {
    let text = text_field(obj, "BODY")?;
    if is_auth {
        // Meta writes the authentication body itself ("{{1}} is your verification code")
        // and refuses text of the caller's.
        if text.is_some() {
            return Err(template_error(
                "Invalid body",
                "BODY: AUTHENTICATION templates can't have custom body text; use add_security_recommendation instead.",
            ));
        }
        return Ok(());
    }
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Err(template_error(
            "Missing body text",
            "BODY: text is required.",
        ));
    };
    if char_len(text) > 1024 {
        return Err(template_error(
            "Body too long",
            format!(
                "BODY: text must be at most 1024 characters; it has {}.",
                char_len(text)
            ),
        ));
    }
    let trimmed = text.trim();
    if !placeholders(text).is_empty() && (trimmed.starts_with("{{") || trimmed.ends_with("}}")) {
        return Err(template_error(
            "Variables can't be at the start or end of the template",
            "BODY: variables can't be at the start or end of the text; add words before the first and after the last variable.",
        )
        .subcode(2388299));
    }
    check_variables(&BODY_VARS, text, format, obj)
}

pub(crate) fn validate_header(
    obj: &Map<String, Value>,
    format: ParamFormat,
) -> GraphResult<String> {
    let f_raw = obj.get("format").and_then(Value::as_str).unwrap_or("");
    if f_raw.is_empty() {
        return Err(template_error(
            "Missing header format",
            "HEADER: format is required (TEXT, IMAGE, VIDEO, GIF, DOCUMENT, LOCATION or PRODUCT).",
        ));
    }
    let f = f_raw.to_ascii_uppercase();
    if !HEADER_FORMATS.contains(&f.as_str()) {
        return Err(GraphError::enum_param(
            "HEADER.format",
            HEADER_FORMATS,
            f_raw,
        ));
    }
    match f.as_str() {
        "TEXT" => {
            let text = short_text(
                obj,
                "HEADER",
                ("Missing header text", "text is required for a TEXT header."),
                "Header too long",
            )?;
            check_variables(&HEADER_VARS, text, format, obj)?;
        }
        "IMAGE" | "VIDEO" | "GIF" | "DOCUMENT" => {
            let ok = obj
                .get("example")
                .and_then(|e| e.get("header_handle"))
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string));
            if !ok {
                return Err(template_error(
                    "Missing media sample",
                    format!(
                        "HEADER: a {f} header needs a sample in example.header_handle: [\"<handle from the Resumable Upload API>\"]."
                    ),
                ));
            }
        }
        _ => {}
    }
    Ok(f)
}

pub(crate) fn validate_footer(obj: &Map<String, Value>, is_auth: bool) -> GraphResult<()> {
    if is_auth {
        if let Some(m) = obj.get("code_expiration_minutes")
            && !m.as_u64().is_some_and(|m| (1..=90).contains(&m))
        {
            return Err(template_error(
                "Invalid code expiration",
                "FOOTER: code_expiration_minutes must be an integer between 1 and 90.",
            ));
        }
        return Ok(());
    }
    let text = short_text(
        obj,
        "FOOTER",
        ("Missing footer text", "text is required."),
        "Footer too long",
    )?;
    if !placeholders(text).is_empty() {
        return Err(template_error(
            "Invalid footer",
            "FOOTER: the footer can't contain variables.",
        ));
    }
    Ok(())
}

pub(crate) fn validate_buttons(obj: &Map<String, Value>, is_auth: bool) -> GraphResult<Vec<Value>> {
    let Some(buttons) = obj.get("buttons").and_then(Value::as_array) else {
        return Err(template_error(
            "Missing buttons",
            "BUTTONS: buttons must be a non-empty array.",
        ));
    };
    if buttons.is_empty() || buttons.len() > 10 {
        return Err(template_error(
            "Invalid buttons",
            format!(
                "BUTTONS: a template has 1 to 10 buttons; found {}.",
                buttons.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(buttons.len());
    let mut has_otp = false;
    for (i, b) in buttons.iter().enumerate() {
        let Some(b) = b.as_object() else {
            return Err(template_error(
                "Invalid button",
                format!("BUTTONS: buttons[{i}] must be an object."),
            ));
        };
        let ty_raw = b.get("type").and_then(Value::as_str).unwrap_or("");
        let ty = ty_raw.to_ascii_uppercase();
        if !BUTTON_TYPES.contains(&ty.as_str()) {
            return Err(GraphError::enum_param(
                &format!("buttons[{i}].type"),
                BUTTON_TYPES,
                ty_raw,
            ));
        }
        has_otp |= ty == "OTP";
        let text = b.get("text").and_then(Value::as_str);
        let needs_text = matches!(
            ty.as_str(),
            "QUICK_REPLY" | "URL" | "PHONE_NUMBER" | "FLOW" | "VOICE_CALL"
        );
        if needs_text && text.is_none_or(|t| t.trim().is_empty()) {
            return Err(template_error(
                "Missing button text",
                format!("BUTTONS: buttons[{i}] ({ty}) needs a text."),
            ));
        }
        if let Some(t) = text
            && char_len(t) > 25
        {
            return Err(template_error(
                "Button text too long",
                format!(
                    "BUTTONS: buttons[{i}].text must be at most 25 characters; it has {}.",
                    char_len(t)
                ),
            ));
        }
        match ty.as_str() {
            "URL" => {
                let url = b.get("url").and_then(Value::as_str).unwrap_or("");
                let lower = url.to_ascii_lowercase();
                if !(lower.starts_with("https://") || lower.starts_with("http://"))
                    || char_len(url) > 2000
                {
                    return Err(template_error(
                        "Invalid URL button",
                        format!(
                            "BUTTONS: buttons[{i}].url must be an http(s) URL of at most 2000 characters."
                        ),
                    ));
                }
                let vars = placeholders(url);
                if !vars.is_empty() {
                    if vars.len() > 1 || !url.trim_end().ends_with("}}") {
                        return Err(template_error(
                            "Invalid URL button",
                            format!(
                                "BUTTONS: buttons[{i}].url can have one variable, at the end of the URL."
                            ),
                        ));
                    }
                    let has_example = b
                        .get("example")
                        .and_then(Value::as_array)
                        .is_some_and(|a| a.first().is_some_and(Value::is_string));
                    if !has_example {
                        return Err(template_error(
                            "Missing variable samples",
                            format!(
                                "BUTTONS: buttons[{i}].url has a variable, so a sample is required in example: [\"…\"]."
                            ),
                        ));
                    }
                }
            }
            "PHONE_NUMBER" => {
                let p = b.get("phone_number").and_then(Value::as_str).unwrap_or("");
                if p.trim().is_empty() || char_len(p) > 20 {
                    return Err(template_error(
                        "Invalid phone number button",
                        format!(
                            "BUTTONS: buttons[{i}].phone_number is required (at most 20 characters)."
                        ),
                    ));
                }
            }
            "OTP" if !is_auth => {
                return Err(template_error(
                    "Invalid button",
                    format!(
                        "BUTTONS: buttons[{i}] is an OTP button, which only AUTHENTICATION templates can have."
                    ),
                ));
            }
            _ => {}
        }
        let mut b = b.clone();
        b.insert("type".into(), json!(ty));
        out.push(Value::Object(b));
    }
    if is_auth && !has_otp {
        return Err(template_error(
            "Missing OTP button",
            "BUTTONS: AUTHENTICATION templates need an OTP button.",
        ));
    }
    Ok(out)
}
