//! Validation of template send parameters: `body_parameters`,
//! `header_parameters` and full Graph `components`.

use serde_json::{Map, Value, json};

use crate::args::{
    Args, as_array, as_object, as_str, reject_unknown, str_field, type_name, wrong_type,
};
use crate::checks::{check_len, check_web_url, plain_http_warning};
use crate::error::ToolError;

mod cards;

/// Body parameter limits: 1024 characters when the template has a header or
/// buttons, 32768 when it is body only. Which applies depends on the
/// template, not on the call, so the call is checked against the larger one
/// here and against the template's own when it is known (`template_gate`).
pub(crate) const BODY_TEXT_MAX: usize = 1024;
const BODY_ONLY_TEXT_MAX: usize = 32_768;
const HEADER_TEXT_MAX: usize = 60;
const BUTTON_TEXT_MAX: usize = 2000;

fn is_param_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn check_param_name(field: &str, s: &str) -> Result<(), ToolError> {
    if is_param_name(s) {
        return Ok(());
    }
    Err(ToolError::invalid(
        field,
        "Invalid parameter name",
        format!(
            "parameter name `{s}` is not valid; named placeholders use lower-case letters, digits and underscores"
        ),
        "Use the placeholder's name exactly as in the template, for example first_name for {{first_name}}.",
    ))
}

/// `body_parameters`/`header_parameters`: a list (positional) or an object
/// (named) of strings → Graph text parameters.
fn simple_params(
    field: &str,
    v: &Value,
    max_len: usize,
    max_count: Option<usize>,
) -> Result<Vec<Value>, ToolError> {
    let mut out = Vec::new();
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let f = format!("{field}[{i}]");
                let s = as_str(item, &f)?;
                check_len(&f, s, 1, max_len, "a template text parameter")?;
                out.push(json!({"type": "text", "text": s}));
            }
        }
        Value::Object(map) => {
            for (name, item) in map {
                let f = format!("{field}.{name}");
                check_param_name(&f, name)?;
                let s = as_str(item, &f)?;
                check_len(&f, s, 1, max_len, "a template text parameter")?;
                out.push(json!({"type": "text", "parameter_name": name, "text": s}));
            }
        }
        other => {
            return Err(ToolError::invalid(
                field,
                "Wrong argument type",
                format!(
                    "`{field}` is {}; expected a list of strings (for {{{{1}}}}-style templates) or an object of name → string (for named templates)",
                    type_name(other)
                ),
                format!(
                    "Pass `{field}` as [\"Mark\", \"FALL25\"] or {{\"first_name\": \"Mark\"}}."
                ),
            ));
        }
    }
    if out.is_empty() {
        return Err(ToolError::invalid(
            field,
            "Empty parameters",
            format!("`{field}` is empty"),
            format!(
                "Give one value per placeholder, or leave `{field}` out for a template without placeholders."
            ),
        ));
    }
    if let Some(max) = max_count
        && out.len() > max
    {
        return Err(ToolError::invalid(
            field,
            "Too many parameters",
            format!(
                "`{field}` has {} values; a text header has at most {max} placeholder",
                out.len()
            ),
            "Give a single header value.",
        ));
    }
    Ok(out)
}

/// The Graph send components from the arguments (possibly empty).
pub(crate) fn components(args: &Args) -> Result<Vec<Value>, ToolError> {
    let full = match args.get("components") {
        None => Vec::new(),
        Some(v) => {
            let items = as_array(v, "components")?;
            if items.is_empty() {
                return Err(ToolError::invalid(
                    "components",
                    "Empty components",
                    "`components` is an empty list",
                    "Leave `components` out for a template without parameters, or give its header/body/button components.",
                ));
            }
            items.clone()
        }
    };
    let types: Vec<String> = full
        .iter()
        .map(|c| {
            c.get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_ascii_lowercase()
        })
        .collect();
    let has_in_full = |t: &str| types.iter().any(|x| x == t);
    if args.has("body_parameters") && has_in_full("body") {
        return Err(ToolError::invalid(
            "body_parameters",
            "Body given twice",
            "both `body_parameters` and a `body` entry in `components` were given",
            "Use one of them: drop `body_parameters`, or remove the body entry from `components`.",
        ));
    }
    if args.has("header_parameters") && has_in_full("header") {
        return Err(ToolError::invalid(
            "header_parameters",
            "Header given twice",
            "both `header_parameters` and a `header` entry in `components` were given",
            "Use one of them: drop `header_parameters`, or remove the header entry from `components`.",
        ));
    }
    let body_max = BODY_ONLY_TEXT_MAX;

    let mut out = Vec::new();
    if let Some(v) = args.get("header_parameters") {
        let params = simple_params("header_parameters", v, HEADER_TEXT_MAX, Some(1))?;
        out.push(json!({"type": "header", "parameters": params}));
    }
    if let Some(v) = args.get("body_parameters") {
        let params = simple_params("body_parameters", v, body_max, None)?;
        out.push(json!({"type": "body", "parameters": params}));
    }
    let mut seen_header = false;
    let mut seen_body = false;
    let mut button_indexes: Vec<String> = Vec::new();
    for (i, c) in full.iter().enumerate() {
        let path = format!("components[{i}]");
        let comp = match cards::special(&path, c)? {
            Some(comp) => comp,
            None => component(&path, c, body_max)?,
        };
        match comp.get("type").and_then(Value::as_str) {
            Some("header") if seen_header => return Err(duplicate(&path, "header")),
            Some("header") => seen_header = true,
            Some("body") if seen_body => return Err(duplicate(&path, "body")),
            Some("body") => seen_body = true,
            Some("button") => {
                let idx = comp
                    .get("index")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                if button_indexes.contains(&idx) {
                    return Err(ToolError::invalid(
                        format!("{path}.index"),
                        "Duplicate button index",
                        format!("two button components have index \"{idx}\""),
                        "Give each button component the index of a different button of the template (\"0\" for the first).",
                    ));
                }
                button_indexes.push(idx);
            }
            _ => {}
        }
        out.push(comp);
    }
    Ok(out)
}

fn duplicate(path: &str, t: &str) -> ToolError {
    ToolError::invalid(
        format!("{path}.type"),
        "Duplicate component",
        format!("`components` has more than one `{t}` component"),
        format!("Merge all {t} parameters into one `{t}` component, in placeholder order."),
    )
}

fn component(path: &str, c: &Value, body_max: usize) -> Result<Value, ToolError> {
    let obj = as_object(c, path)?;
    reject_unknown(obj, &["type", "sub_type", "index", "parameters"], path)?;
    let tf = format!("{path}.type");
    // Meta's own examples write BUTTON/CATALOG in upper case; it accepts both.
    let t_given = match obj.get("type") {
        None => return Err(crate::args::missing(&tf, "\"body\"")),
        Some(v) => as_str(v, &tf)?,
    };
    let t_lower = t_given.to_ascii_lowercase();
    let t = t_lower.as_str();
    if !matches!(t, "header" | "body" | "button") {
        return Err(ToolError::invalid(
            tf,
            "Invalid component type",
            format!("component type is `{t_given}`; expected header, body or button"),
            "Use header, body or button when sending (whatsapp_list_templates shows HEADER/BODY/BUTTONS: those are the definition's names; a definition's BUTTONS is a `button` per button when sending).",
        ));
    }
    let mut out = Map::new();
    out.insert("type".into(), Value::from(t));
    if t == "button" {
        let sf = format!("{path}.sub_type");
        let sub_given = match obj.get("sub_type") {
            None => return Err(crate::args::missing(&sf, "\"quick_reply\" or \"url\"")),
            Some(v) => as_str(v, &sf)?,
        };
        let sub = sub_given.to_ascii_lowercase();
        if sub.is_empty() || !sub.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(ToolError::invalid(
                sf,
                "Invalid button sub_type",
                format!(
                    "`sub_type` is `{sub_given}`; expected a button kind such as quick_reply, url, copy_code, flow, catalog or mpm"
                ),
                "Use the sub_type of the template's button, for example url for a URL button.",
            ));
        }
        let xf = format!("{path}.index");
        // Meta's examples send the index as a string ("0") and as a number (0).
        let index = match obj.get("index") {
            None => return Err(crate::args::missing(&xf, "\"0\"")),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) if n.as_u64().is_some() => n.to_string(),
            Some(v) => {
                return Err(wrong_type(
                    &xf,
                    v,
                    "the button's position, \"0\" to \"9\" (a string or a whole number)",
                ));
            }
        };
        let index = index.as_str();
        if !(index.len() == 1 && index.as_bytes()[0].is_ascii_digit()) {
            return Err(ToolError::invalid(
                xf,
                "Invalid button index",
                format!("`index` is \"{index}\"; expected the button's position, \"0\" to \"9\""),
                "Give the zero-based position of the button in the template, as a string, for example \"0\".",
            ));
        }
        out.insert("sub_type".into(), Value::from(sub.as_str()));
        out.insert("index".into(), Value::from(index));
    } else {
        for k in ["sub_type", "index"] {
            if obj.contains_key(k) {
                return Err(ToolError::invalid(
                    format!("{path}.{k}"),
                    "Unexpected property",
                    format!("`{k}` is only for button components, not {t}"),
                    format!("Remove `{k}` from the {t} component."),
                ));
            }
        }
    }
    let pf = format!("{path}.parameters");
    let params = match obj.get("parameters") {
        None => {
            return Err(crate::args::missing(
                &pf,
                "[{\"type\": \"text\", \"text\": \"Mark\"}]",
            ));
        }
        Some(v) => as_array(v, &pf)?,
    };
    if params.is_empty() {
        return Err(ToolError::invalid(
            pf,
            "Empty parameters",
            format!("the {t} component has no parameters"),
            "Give the parameters, or leave the component out when the template part has no placeholders.",
        ));
    }
    if t == "header" && params.len() > 1 {
        return Err(ToolError::invalid(
            pf,
            "Too many header parameters",
            format!(
                "the header component has {} parameters; a header takes exactly one (text or media)",
                params.len()
            ),
            "Give one header parameter.",
        ));
    }
    let text_max = match t {
        "header" => HEADER_TEXT_MAX,
        "body" => body_max,
        _ => BUTTON_TEXT_MAX,
    };
    let mut checked = Vec::with_capacity(params.len());
    for (j, p) in params.iter().enumerate() {
        checked.push(parameter(&format!("{pf}[{j}]"), p, t, text_max)?);
    }
    out.insert("parameters".into(), Value::Array(checked));
    Ok(Value::Object(out))
}

fn parameter(path: &str, p: &Value, component: &str, text_max: usize) -> Result<Value, ToolError> {
    let obj = as_object(p, path)?;
    let tf = format!("{path}.type");
    let t = str_field(obj, "type", path, "\"text\"")?;
    let allowed_media = component == "header";
    let in_button = component == "button";
    let keys: &[&str] = match t {
        "text" => &["type", "text", "parameter_name"],
        "currency" => &["type", "currency", "parameter_name"],
        "date_time" => &["type", "date_time", "parameter_name"],
        "image" | "video" | "document" if allowed_media => &["type", "image", "video", "document"],
        "location" if allowed_media => &["type", "location"],
        "payload" if in_button => &["type", "payload"],
        "coupon_code" if in_button => &["type", "coupon_code"],
        "action" if in_button => &["type", "action"],
        _ => {
            return Err(ToolError::invalid(
                tf,
                "Invalid parameter type",
                format!("parameter type `{t}` is not valid in a {component} component"),
                match component {
                    "header" => "Header parameters are text, image, video, document or location.",
                    "body" => "Body parameters are text, currency or date_time.",
                    _ => {
                        "Button parameters are payload (quick_reply), text (url), coupon_code (copy_code) or action (flow, catalog, mpm)."
                    }
                },
            ));
        }
    };
    reject_unknown(obj, keys, path)?;
    if let Some(v) = obj.get("parameter_name") {
        let f = format!("{path}.parameter_name");
        check_param_name(&f, as_str(v, &f)?)?;
    }
    match t {
        "text" => {
            let s = str_field(obj, "text", path, "\"Mark\"")?;
            check_len(
                &format!("{path}.text"),
                s,
                1,
                text_max,
                &format!("a {component} text parameter"),
            )?;
        }
        "currency" => {
            let f = format!("{path}.currency");
            let c = as_object(obj.get("currency").ok_or_else(|| crate::args::missing(&f, "{\"fallback_value\": \"$100.99\", \"code\": \"USD\", \"amount_1000\": 100990}"))?, &f)?;
            reject_unknown(c, &["fallback_value", "code", "amount_1000"], &f)?;
            let fb = str_field(c, "fallback_value", &f, "\"$100.99\"")?;
            check_len(
                &format!("{f}.fallback_value"),
                fb,
                1,
                1024,
                "a fallback value",
            )?;
            let code = str_field(c, "code", &f, "\"USD\"")?;
            if !(code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())) {
                return Err(ToolError::invalid(
                    format!("{f}.code"),
                    "Invalid currency code",
                    format!(
                        "`code` is `{code}`; expected an ISO 4217 code of three upper-case letters"
                    ),
                    "Use a code like USD or EUR.",
                ));
            }
            match c.get("amount_1000") {
                Some(Value::Number(n)) if n.as_i64().is_some() => {}
                None => {
                    return Err(crate::args::missing(
                        &format!("{f}.amount_1000"),
                        "100990 (for 100.99)",
                    ));
                }
                Some(v) => {
                    return Err(wrong_type(
                        &format!("{f}.amount_1000"),
                        v,
                        "a whole number: the amount times 1000",
                    ));
                }
            }
        }
        "date_time" => {
            let f = format!("{path}.date_time");
            let d = as_object(
                obj.get("date_time").ok_or_else(|| {
                    crate::args::missing(&f, "{\"fallback_value\": \"February 25, 1977\"}")
                })?,
                &f,
            )?;
            let fb = str_field(d, "fallback_value", &f, "\"February 25, 1977\"")?;
            check_len(
                &format!("{f}.fallback_value"),
                fb,
                1,
                1024,
                "a fallback value",
            )?;
        }
        "image" | "video" | "document" => {
            for other in ["image", "video", "document"] {
                if other != t && obj.contains_key(other) {
                    return Err(ToolError::invalid(
                        format!("{path}.{other}"),
                        "Mismatched media object",
                        format!("a `{t}` parameter carries a `{other}` object"),
                        format!("Put the media under `{t}`."),
                    ));
                }
            }
            let f = format!("{path}.{t}");
            let m = as_object(
                obj.get(t).ok_or_else(|| {
                    crate::args::missing(&f, "{\"link\": \"https://example.com/a.jpg\"}")
                })?,
                &f,
            )?;
            let allowed: &[&str] = if t == "document" {
                &["link", "id", "filename"]
            } else {
                &["link", "id"]
            };
            reject_unknown(m, allowed, &f)?;
            match (m.get("link"), m.get("id")) {
                (Some(l), None) => {
                    let lf = format!("{f}.link");
                    check_web_url(as_str(l, &lf)?, 2048)
                        .map_err(|(d, h)| ToolError::invalid(lf, "Invalid media link", d, h))?;
                }
                (None, Some(id)) => {
                    let idf = format!("{f}.id");
                    crate::checks::check_token(
                        &idf,
                        as_str(id, &idf)?,
                        128,
                        "a media id",
                        "\"1013859600285441\"",
                    )?;
                }
                _ => {
                    return Err(ToolError::invalid(
                        f,
                        "Media needs link or id",
                        format!(
                            "the {t} header parameter needs exactly one of `link` (http or https) or `id`"
                        ),
                        "Give a public https:// `link` or the `id` of an uploaded file.",
                    ));
                }
            }
            if let Some(v) = m.get("filename") {
                let ff = format!("{f}.filename");
                check_len(&ff, as_str(v, &ff)?, 1, 240, "a document file name")?;
            }
        }
        "location" => {
            let f = format!("{path}.location");
            let l = as_object(
                obj.get("location").ok_or_else(|| {
                    crate::args::missing(&f, "{\"latitude\": 37.48, \"longitude\": -122.15}")
                })?,
                &f,
            )?;
            reject_unknown(l, &["latitude", "longitude", "name", "address"], &f)?;
            for (k, lim, lim_s) in [("latitude", 90.0, "90"), ("longitude", 180.0, "180")] {
                let kf = format!("{f}.{k}");
                let ok = match l.get(k) {
                    Some(Value::Number(n)) => n.as_f64().is_some_and(|x| x.abs() <= lim),
                    _ => false,
                };
                if !ok {
                    return Err(ToolError::invalid(
                        kf,
                        "Invalid coordinate",
                        format!("`{k}` is missing or not a number within ±{lim_s}"),
                        "Give decimal degrees, for example 37.483307 and -122.148981.",
                    ));
                }
            }
        }
        "payload" => {
            let s = str_field(obj, "payload", path, "\"STOP_PROMOTIONS\"")?;
            check_len(
                &format!("{path}.payload"),
                s,
                1,
                1000,
                "a quick-reply payload",
            )?;
        }
        "coupon_code" => {
            let s = str_field(obj, "coupon_code", path, "\"FALL25\"")?;
            check_len(&format!("{path}.coupon_code"), s, 1, 15, "a coupon code")?;
        }
        "action" => {
            let f = format!("{path}.action");
            as_object(
                obj.get("action")
                    .ok_or_else(|| crate::args::missing(&f, "{\"flow_token\": \"…\"}"))?,
                &f,
            )?;
        }
        _ => {}
    }
    Ok(p.clone())
}

/// Warnings for header media sent by plain `http://` link (accepted, as
/// Meta documents, but https is recommended).
pub(crate) fn plain_http_links(components: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, c) in components.iter().enumerate() {
        let params = c.get("parameters").and_then(Value::as_array);
        for (j, p) in params.into_iter().flatten().enumerate() {
            for media in ["image", "video", "document"] {
                let plain = p
                    .get(media)
                    .and_then(|m| m.get("link"))
                    .and_then(Value::as_str)
                    .is_some_and(|l| {
                        l.get(..7)
                            .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
                    });
                if plain {
                    out.push(plain_http_warning(&format!(
                        "components[{i}].parameters[{j}].{media}.link"
                    )));
                }
            }
        }
    }
    out
}
