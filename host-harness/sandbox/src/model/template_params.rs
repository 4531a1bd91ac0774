//! A template send's parameters against the approved template: counts, names, header
//! formats, button parameters (errors 132000 and 132012).
//! https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates

use http::StatusCode;
use serde_json::{Map, Value};

use super::params::string_like;
use super::template::{ParamFormat, Template};
use crate::graph_error::{GraphError, GraphResult};

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
    // Quick-reply payloads, coupon codes and actions belong to buttons.
    if matches!(ty.as_str(), "payload" | "coupon_code" | "action") && section != "buttons" {
        return Err(GraphError::invalid_param(format!(
            "{section}: parameter type {ty} is only valid in button components."
        )));
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

/// A component's `parameters`, each checked for its own shape.
fn checked_params(section: &str, comp: &Map<String, Value>) -> GraphResult<Vec<Value>> {
    let ps = params_of(section, comp)?;
    for p in &ps {
        check_param(section, p)?;
    }
    Ok(ps)
}

/// The parameters of a text component (`section` as the error names it, `ty` as the template
/// stores it) match the template's variables in number and, for NAMED templates, in name.
fn check_text_params(t: &Template, section: &str, ty: &str, given: &[Value]) -> GraphResult<()> {
    let expected = t.params_of(ty);
    if given.len() != expected.len() {
        return Err(param_count_mismatch(section, given.len(), expected.len()));
    }
    check_names(section, given, &expected, t.parameter_format)
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
pub(crate) fn check_template_params(t: &Template, components: &[Value]) -> GraphResult<()> {
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
            "header" => header = Some(checked_params("header", c)?),
            "body" => body = Some(checked_params("body", c)?),
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
                let ps = checked_params("buttons", c)?;
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
        None | Some("TEXT") => check_text_params(t, "header", "HEADER", &header_params)?,
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
    check_text_params(t, "body", "BODY", &body_params)?;
    super::template_text::check_filled_text(t, &header_params, &body_params)?;

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
