//! whatsapp_list_templates, whatsapp_create_template, whatsapp_delete_template.

use serde_json::{Map, Value, json};

use super::now_seconds;
use crate::args::{
    Args, as_array, as_object, as_str, check_digits, check_language, check_len,
    check_template_name, check_token, reject_unknown, wrong_type,
};
use crate::error::ToolError;
use crate::graph::{Graph, MANAGE};
use crate::host::Host;
use crate::settings;
use crate::store;
use crate::text::{Placeholder, check_https_url, placeholders};

pub const TEMPLATE_STATUSES: &[&str] = &[
    "APPROVED",
    "PENDING",
    "REJECTED",
    "PAUSED",
    "DISABLED",
    "IN_APPEAL",
    "PENDING_DELETION",
    "DELETED",
    "FLAGGED",
    "REINSTATED",
    "LIMIT_EXCEEDED",
    "ARCHIVED",
    "UNARCHIVED",
    "LOCKED",
];
pub const CATEGORIES: &[&str] = &["MARKETING", "UTILITY", "AUTHENTICATION"];
const LIST_FIELDS: &str =
    "id,name,language,status,category,parameter_format,components,quality_score,rejected_reason";

fn enum_error(field: &str, value: &str, allowed: &[&str]) -> ToolError {
    ToolError::invalid(
        field,
        "Invalid value",
        format!(
            "`{field}` is `{value}`; expected one of {}",
            allowed.join(", ")
        ),
        format!("Use one of {} (upper case).", allowed.join(", ")),
    )
}

pub fn list_templates(host: &dyn Host, arguments: &str) -> Result<Value, ToolError> {
    let args = Args::parse(
        arguments,
        &["status", "category", "language", "name", "limit", "after"],
    )?;
    let mut statuses: Vec<String> = Vec::new();
    if let Some(v) = args.get("status") {
        let items = as_array(v, "status")?;
        if items.is_empty() {
            return Err(ToolError::invalid(
                "status",
                "Empty status filter",
                "`status` is an empty list",
                "Leave `status` out for all templates, or give statuses such as [\"APPROVED\"].",
            ));
        }
        for (i, item) in items.iter().enumerate() {
            let f = format!("status[{i}]");
            let s = as_str(item, &f)?;
            if !TEMPLATE_STATUSES.contains(&s) {
                return Err(enum_error(&f, s, TEMPLATE_STATUSES));
            }
            if statuses.iter().any(|x| x == s) {
                return Err(ToolError::invalid(
                    f,
                    "Duplicate status",
                    format!("`{s}` is listed twice"),
                    "List each status once.",
                ));
            }
            statuses.push(s.to_string());
        }
    }
    let category = args.str_opt("category")?;
    if let Some(c) = category
        && !CATEGORIES.contains(&c)
    {
        return Err(enum_error("category", c, CATEGORIES));
    }
    let language = args.str_opt("language")?;
    if let Some(l) = language {
        check_language("language", l)?;
    }
    let name = args.str_opt("name")?;
    if let Some(n) = name {
        check_template_name("name", n)?;
    }
    let limit = args.int_opt("limit")?.unwrap_or(25);
    if !(1..=100).contains(&limit) {
        return Err(ToolError::invalid(
            "limit",
            "Limit out of range",
            format!("`limit` is {limit}; expected 1 to 100"),
            "Use a limit from 1 to 100 (default 25) and page with `after`.",
        ));
    }
    let after = args.str_opt("after")?;
    if let Some(a) = after {
        check_token(
            "after",
            a,
            2048,
            "a paging cursor",
            "the `next_cursor` of the previous page",
        )?;
    }
    let waba = settings::waba_id(host)?;
    let graph = Graph::new(host)?;

    let mut query: Vec<(&str, String)> = vec![
        ("fields", LIST_FIELDS.to_string()),
        ("limit", limit.to_string()),
    ];
    if let Some(n) = name {
        query.push(("name", n.to_string()));
    }
    if !statuses.is_empty() {
        query.push(("status", statuses.join(",")));
    }
    if let Some(c) = category {
        query.push(("category", c.to_string()));
    }
    if let Some(l) = language {
        query.push(("language", l.to_string()));
    }
    if let Some(a) = after {
        query.push(("after", a.to_string()));
    }
    let resp = graph.get(&format!("{waba}/message_templates"), &query, MANAGE)?;
    let now = now_seconds(host);
    let data = resp
        .get("data")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let templates: Vec<Value> = data
        .iter()
        .filter(|t| t.is_object())
        .map(summarise_template)
        .collect();
    for t in &templates {
        refresh_template_status(host, t, now);
    }
    let mut out = Map::new();
    out.insert("count".into(), Value::from(templates.len()));
    out.insert("templates".into(), Value::Array(templates));
    let paging = resp.get("paging");
    let has_next = paging
        .and_then(|p| p.get("next"))
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    if has_next
        && let Some(c) = paging
            .and_then(|p| p.get("cursors"))
            .and_then(|c| c.get("after"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    {
        out.insert("next_cursor".into(), Value::from(c));
    }
    Ok(Value::Object(out))
}

/// Placeholders of `text` as (count, names); malformed text counts as none.
fn count_placeholders(text: &str) -> (usize, Vec<String>) {
    let Ok(ps) = placeholders(text) else {
        return (0, Vec::new());
    };
    let mut max = 0u32;
    let mut names: Vec<String> = Vec::new();
    for p in ps {
        match p {
            Placeholder::Positional(n) => max = max.max(n),
            Placeholder::Named(n) => {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        }
    }
    if names.is_empty() {
        (max as usize, names)
    } else {
        (names.len(), names)
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// One template for the model: Graph fields plus placeholder counts.
fn summarise_template(t: &Value) -> Value {
    let mut out = Map::new();
    for key in ["id", "name", "language", "status", "category"] {
        out.insert(key.into(), Value::from(str_of(t, key).unwrap_or("")));
    }
    let components = t
        .get("components")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut body_count = 0;
    let mut header_count = 0;
    let mut named = false;
    let mut buttons_params: Vec<Value> = Vec::new();
    for c in &components {
        let ctype = str_of(c, "type").unwrap_or("").to_ascii_uppercase();
        match ctype.as_str() {
            "BODY" => {
                if let Some(text) = str_of(c, "text") {
                    let (n, names) = count_placeholders(text);
                    body_count = n;
                    out.insert("body_text".into(), Value::from(text));
                    if !names.is_empty() {
                        named = true;
                        out.insert("body_parameter_names".into(), Value::from(names));
                    }
                }
            }
            "HEADER" => {
                let format = str_of(c, "format").unwrap_or("TEXT");
                out.insert("header_format".into(), Value::from(format));
                if let Some(text) = str_of(c, "text") {
                    let (n, names) = count_placeholders(text);
                    header_count = n;
                    out.insert("header_text".into(), Value::from(text));
                    if !names.is_empty() {
                        named = true;
                        out.insert("header_parameter_names".into(), Value::from(names));
                    }
                } else if format != "TEXT" {
                    // A media header needs one media parameter when sending.
                    header_count = 1;
                }
            }
            "BUTTONS" => {
                let buttons = c
                    .get("buttons")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for (i, b) in buttons.iter().enumerate() {
                    let btype = str_of(b, "type").unwrap_or("").to_ascii_uppercase();
                    let needs = match btype.as_str() {
                        "URL" if str_of(b, "url").is_some_and(|u| u.contains("{{")) => {
                            Some(("url", "text"))
                        }
                        "COPY_CODE" => Some(("copy_code", "coupon_code")),
                        "OTP" => Some(("url", "text")),
                        _ => None,
                    };
                    if let Some((sub, ptype)) = needs {
                        buttons_params.push(json!({"index": i.to_string(), "sub_type": sub, "parameter_type": ptype}));
                    }
                }
            }
            _ => {}
        }
    }
    let format = str_of(t, "parameter_format")
        .map(str::to_string)
        .unwrap_or_else(|| {
            if named {
                "NAMED".into()
            } else {
                "POSITIONAL".into()
            }
        });
    out.insert("parameter_format".into(), Value::from(format));
    out.insert("body_parameter_count".into(), Value::from(body_count));
    out.insert("header_parameter_count".into(), Value::from(header_count));
    out.insert("button_parameters".into(), Value::Array(buttons_params));
    out.insert("components".into(), Value::Array(components));
    if let Some(q) = t
        .get("quality_score")
        .and_then(|q| q.get("score"))
        .and_then(Value::as_str)
    {
        out.insert("quality_score".into(), Value::from(q));
    }
    if let Some(r) = str_of(t, "rejected_reason").filter(|r| !r.is_empty() && *r != "NONE") {
        out.insert("rejected_reason".into(), Value::from(r));
    }
    Value::Object(out)
}

/// Remembers the status seen in a listing when it differs from the record.
fn refresh_template_status(host: &dyn Host, t: &Value, now: i64) {
    let (Some(name), Some(language), Some(status)) = (
        str_of(t, "name"),
        str_of(t, "language"),
        str_of(t, "status"),
    ) else {
        return;
    };
    if name.is_empty() || language.is_empty() || status.is_empty() {
        return;
    }
    let key = store::template_key(name, language);
    if let Ok(Some(rec)) = store::read_json(host, &key)
        && str_of(&rec, "status") == Some(status)
    {
        return;
    }
    let mut rec = Map::new();
    rec.insert("status".into(), Value::from(status));
    rec.insert("updated_at".into(), Value::from(now));
    rec.insert("source".into(), Value::from("list"));
    if let Some(id) = str_of(t, "id").filter(|s| !s.is_empty()) {
        rec.insert("template_id".into(), Value::from(id));
    }
    if let Some(r) = str_of(t, "rejected_reason") {
        rec.insert("reason".into(), Value::from(r));
    }
    let _ = store::write_json(host, &key, &Value::Object(rec), Some(store::TPL_TTL));
}

pub fn delete_template(host: &dyn Host, arguments: &str) -> Result<Value, ToolError> {
    let args = Args::parse(arguments, &["name", "template_id"])?;
    let name = args.str_req("name", "\"order_update\"")?;
    check_template_name("name", name)?;
    let template_id = args.str_opt("template_id")?;
    if let Some(id) = template_id {
        check_digits(
            "template_id",
            id,
            32,
            "a template id",
            "\"1192339204654487\"",
        )?;
    }
    let waba = settings::waba_id(host)?;
    let graph = Graph::new(host)?;
    let mut query = vec![("name", name.to_string())];
    if let Some(id) = template_id {
        query.push(("hsm_id", id.to_string()));
    }
    let resp = graph.delete(&format!("{waba}/message_templates"), &query, MANAGE)?;
    let success = resp
        .get("success")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut out = Map::new();
    out.insert("success".into(), Value::from(success));
    out.insert("name".into(), Value::from(name));
    if let Some(id) = template_id {
        out.insert("template_id".into(), Value::from(id));
    }
    out.insert(
        "scope".into(),
        Value::from(if template_id.is_some() {
            "single"
        } else {
            "all_languages"
        }),
    );
    Ok(Value::Object(out))
}

// ---- create ----------------------------------------------------------------

/// The placeholders a text uses, checked against the parameter format.
/// Returns the positional count or the named list (in order).
enum Used {
    Positional(u32),
    Named(Vec<String>),
}

fn used_placeholders(field: &str, text: &str, named_format: bool) -> Result<Used, ToolError> {
    let ps = placeholders(text).map_err(|d| {
        ToolError::invalid(
            field,
            "Malformed placeholder",
            d,
            "Write placeholders as {{1}}, {{2}}, … (POSITIONAL) or {{first_name}} (NAMED).",
        )
    })?;
    if named_format {
        let mut names = Vec::new();
        for p in ps {
            match p {
                Placeholder::Named(n) => {
                    if !names.contains(&n) {
                        names.push(n);
                    }
                }
                Placeholder::Positional(n) => {
                    return Err(ToolError::invalid(
                        field,
                        "Placeholder does not match parameter_format",
                        format!("`{{{{{n}}}}}` is positional but `parameter_format` is NAMED"),
                        "Use named placeholders like {{first_name}}, or set parameter_format to POSITIONAL.",
                    ));
                }
            }
        }
        Ok(Used::Named(names))
    } else {
        let mut nums = Vec::new();
        for p in ps {
            match p {
                Placeholder::Positional(n) => nums.push(n),
                Placeholder::Named(n) => {
                    return Err(ToolError::invalid(
                        field,
                        "Placeholder does not match parameter_format",
                        format!(
                            "`{{{{{n}}}}}` is named but `parameter_format` is POSITIONAL (the default)"
                        ),
                        "Set parameter_format to NAMED, or use {{1}}, {{2}}, … placeholders.",
                    ));
                }
            }
        }
        nums.sort_unstable();
        nums.dedup();
        for (i, n) in nums.iter().enumerate() {
            if *n != i as u32 + 1 {
                let got = nums
                    .iter()
                    .map(|n| format!("{{{{{n}}}}}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(ToolError::invalid(
                    field,
                    "Placeholders not consecutive",
                    format!(
                        "the placeholders are {got}; positional placeholders must be {{{{1}}}} to {{{{n}}}} without gaps"
                    ),
                    "Number the placeholders 1, 2, 3, … in order.",
                ));
            }
        }
        Ok(Used::Positional(nums.len() as u32))
    }
}

fn example_obj<'a>(
    c: &'a Map<String, Value>,
    path: &str,
) -> Result<Option<&'a Map<String, Value>>, ToolError> {
    match c.get("example") {
        None => Ok(None),
        Some(v) => as_object(v, &format!("{path}.example")).map(Some),
    }
}

fn example_strings(v: &Value, field: &str) -> Result<Vec<String>, ToolError> {
    let items = as_array(v, field)?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let s = as_str(item, &f)?;
        check_len(&f, s, 1, 1024, "an example value")?;
        out.push(s.to_string());
    }
    Ok(out)
}

/// Checks that `example` covers exactly the placeholders used.
fn check_examples(
    path: &str,
    c: &Map<String, Value>,
    used: &Used,
    positional_key: &str,
    named_key: &str,
    nested: bool,
) -> Result<(), ToolError> {
    let ex = example_obj(c, path)?;
    let ef = format!("{path}.example");
    match used {
        Used::Positional(0) => Ok(()),
        Used::Named(v) if v.is_empty() => Ok(()),
        Used::Positional(n) => {
            let n = *n as usize;
            let field = format!("{ef}.{positional_key}");
            let Some(v) = ex.and_then(|e| e.get(positional_key)) else {
                let sample = (1..=n)
                    .map(|i| format!("\"value {i}\""))
                    .collect::<Vec<_>>()
                    .join(", ");
                let shape = if nested {
                    format!("[[{sample}]]")
                } else {
                    format!("[{sample}]")
                };
                return Err(ToolError::invalid(
                    field,
                    "Missing example values",
                    format!(
                        "the text has {n} placeholder{} but no `example.{positional_key}`",
                        if n == 1 { "" } else { "s" }
                    ),
                    format!(
                        "Add \"example\": {{\"{positional_key}\": {shape}}} with one realistic value per placeholder."
                    ),
                ));
            };
            let values = if nested {
                let outer = as_array(v, &field)?;
                if outer.len() != 1 {
                    return Err(ToolError::invalid(
                        field,
                        "Wrong example shape",
                        format!(
                            "`{positional_key}` has {} lists; expected exactly one list of values",
                            outer.len()
                        ),
                        format!(
                            "Use \"{positional_key}\": [[\"v1\", \"v2\"]] (a list inside a list)."
                        ),
                    ));
                }
                example_strings(&outer[0], &format!("{field}[0]"))?
            } else {
                example_strings(v, &field)?
            };
            if values.len() != n {
                return Err(ToolError::invalid(
                    field,
                    "Wrong number of example values",
                    format!(
                        "the text has {n} placeholder{} but {} example value{}",
                        if n == 1 { "" } else { "s" },
                        values.len(),
                        if values.len() == 1 { "" } else { "s" }
                    ),
                    "Give exactly one example value per placeholder, in order.",
                ));
            }
            Ok(())
        }
        Used::Named(names) => {
            let field = format!("{ef}.{named_key}");
            let Some(v) = ex.and_then(|e| e.get(named_key)) else {
                return Err(ToolError::invalid(
                    field,
                    "Missing example values",
                    format!(
                        "the text uses {} but has no `example.{named_key}`",
                        names
                            .iter()
                            .map(|n| format!("{{{{{n}}}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    format!(
                        "Add \"example\": {{\"{named_key}\": [{{\"param_name\": \"{}\", \"example\": \"…\"}}]}} with one entry per placeholder.",
                        names[0]
                    ),
                ));
            };
            let items = as_array(v, &field)?;
            let mut given: Vec<String> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let f = format!("{field}[{i}]");
                let o = as_object(item, &f)?;
                reject_unknown(o, &["param_name", "example"], &f)?;
                let pn = match o.get("param_name") {
                    Some(v) => as_str(v, &format!("{f}.param_name"))?,
                    None => {
                        return Err(crate::args::missing(
                            &format!("{f}.param_name"),
                            "\"first_name\"",
                        ));
                    }
                };
                let exv = match o.get("example") {
                    Some(v) => as_str(v, &format!("{f}.example"))?,
                    None => return Err(crate::args::missing(&format!("{f}.example"), "\"Mark\"")),
                };
                check_len(&format!("{f}.example"), exv, 1, 1024, "an example value")?;
                if !names.iter().any(|n| n == pn) {
                    return Err(ToolError::invalid(
                        format!("{f}.param_name"),
                        "Example for an unknown placeholder",
                        format!(
                            "`{pn}` is not a placeholder of the text (it uses {})",
                            names.join(", ")
                        ),
                        "Give examples only for the placeholders the text uses.",
                    ));
                }
                given.push(pn.to_string());
            }
            if let Some(missing) = names.iter().find(|n| !given.contains(n)) {
                return Err(ToolError::invalid(
                    field,
                    "Missing example value",
                    format!("placeholder {{{{{missing}}}}} has no example"),
                    format!("Add {{\"param_name\": \"{missing}\", \"example\": \"…\"}}."),
                ));
            }
            Ok(())
        }
    }
}

fn text_field<'a>(c: &'a Map<String, Value>, path: &str) -> Result<Option<&'a str>, ToolError> {
    match c.get("text") {
        None => Ok(None),
        Some(v) => as_str(v, &format!("{path}.text")).map(Some),
    }
}

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

fn check_create_component(
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
        None => return Err(crate::args::missing(&tf, "\"BODY\"")),
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
                format!("component type is `{t}`; expected HEADER, BODY, FOOTER or BUTTONS"),
                "Use upper-case HEADER, BODY, FOOTER or BUTTONS when creating a template.",
            ));
        }
    };
    reject_unknown(c, allowed_keys, path)?;
    let text = text_field(c, path)?;
    let text_f = format!("{path}.text");
    match t {
        "HEADER" => {
            let format = match c.get("format") {
                None => "TEXT",
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
                    return Err(crate::args::missing(&text_f, "\"Your order {{1}}\""));
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
                None => {
                    return Err(crate::args::missing(
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
                None => return Err(crate::args::missing(&text_f, "\"Reply STOP to opt out\"")),
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
        "BUTTONS" => check_buttons(path, c)?,
        _ => {}
    }
    Ok(t.to_string())
}

fn check_buttons(path: &str, c: &Map<String, Value>) -> Result<(), ToolError> {
    let bf = format!("{path}.buttons");
    let buttons = match c.get("buttons") {
        None => {
            return Err(crate::args::missing(
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
            None => return Err(crate::args::missing(&tf, "\"QUICK_REPLY\"")),
            Some(v) => as_str(v, &tf)?,
        };
        if !BUTTON_TYPES.contains(&t) {
            return Err(enum_error(&tf, t, BUTTON_TYPES));
        }
        let text_f = format!("{p}.text");
        match o.get("text") {
            Some(v) => check_len(&text_f, as_str(v, &text_f)?, 1, 25, "a button label")?,
            None if t == "OTP" || t == "COPY_CODE" => {}
            None => return Err(crate::args::missing(&text_f, "\"Shop now\"")),
        }
        match t {
            "URL" => {
                let uf = format!("{p}.url");
                let url = match o.get("url") {
                    None => {
                        return Err(crate::args::missing(
                            &uf,
                            "\"https://example.com/shop?promo={{1}}\"",
                        ));
                    }
                    Some(v) => as_str(v, &uf)?,
                };
                check_https_url(url, 2000)
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
                    None => return Err(crate::args::missing(&pf, "\"+16467043595\"")),
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

pub fn create_template(host: &dyn Host, arguments: &str) -> Result<Value, ToolError> {
    let args = Args::parse(
        arguments,
        &[
            "name",
            "language",
            "category",
            "parameter_format",
            "components",
            "allow_category_change",
        ],
    )?;
    let name = args.str_req("name", "\"order_update\"")?;
    check_template_name("name", name)?;
    let language = args.str_req("language", "\"en_US\"")?;
    check_language("language", language)?;
    let category = args.str_req("category", "\"UTILITY\"")?;
    if !CATEGORIES.contains(&category) {
        return Err(enum_error("category", category, CATEGORIES));
    }
    let parameter_format = args.str_opt("parameter_format")?;
    if let Some(f) = parameter_format
        && !matches!(f, "POSITIONAL" | "NAMED")
    {
        return Err(enum_error("parameter_format", f, &["POSITIONAL", "NAMED"]));
    }
    let named = parameter_format == Some("NAMED");
    let allow_change = args.bool_opt("allow_category_change")?;
    let components = match args.get("components") {
        None => {
            return Err(crate::args::missing(
                "components",
                "[{\"type\": \"BODY\", \"text\": \"Your order has shipped.\"}]",
            ));
        }
        Some(v) => as_array(v, "components")?,
    };
    let mut types: Vec<String> = Vec::new();
    for (i, c) in components.iter().enumerate() {
        let path = format!("components[{i}]");
        let t = check_create_component(&path, c, named, category)?;
        if types.contains(&t) {
            return Err(ToolError::invalid(
                format!("{path}.type"),
                "Duplicate component",
                format!("there is more than one {t} component"),
                format!("Give at most one {t} component (exactly one BODY)."),
            ));
        }
        types.push(t);
    }
    if !types.iter().any(|t| t == "BODY") {
        return Err(ToolError::invalid(
            "components",
            "Missing BODY",
            "the template has no BODY component; exactly one is required",
            "Add {\"type\": \"BODY\", \"text\": \"…\"}.",
        ));
    }
    let waba = settings::waba_id(host)?;
    let graph = Graph::new(host)?;
    let mut body = Map::new();
    body.insert("name".into(), Value::from(name));
    body.insert("language".into(), Value::from(language));
    body.insert("category".into(), Value::from(category));
    if let Some(f) = parameter_format {
        body.insert("parameter_format".into(), Value::from(f));
    }
    if let Some(a) = allow_change {
        body.insert("allow_category_change".into(), Value::from(a));
    }
    body.insert("components".into(), Value::Array(components.clone()));
    let resp = graph.post(
        &format!("{waba}/message_templates"),
        &Value::Object(body),
        MANAGE,
    )?;
    let id = str_of(&resp, "id").unwrap_or("").to_string();
    let status = str_of(&resp, "status").unwrap_or("PENDING").to_string();
    let got_category = str_of(&resp, "category").unwrap_or(category).to_string();
    let now = now_seconds(host);
    let mut rec = Map::new();
    rec.insert("status".into(), Value::from(status.as_str()));
    rec.insert("updated_at".into(), Value::from(now));
    rec.insert("source".into(), Value::from("create"));
    if !id.is_empty() {
        rec.insert("template_id".into(), Value::from(id.as_str()));
    }
    let _ = store::write_json(
        host,
        &store::template_key(name, language),
        &Value::Object(rec),
        Some(store::TPL_TTL),
    );
    let mut note = match status.as_str() {
        "APPROVED" => "The template is APPROVED and can be sent now with whatsapp_send_template.".to_string(),
        "REJECTED" => "Meta rejected the template; see whatsapp_list_templates for the rejected_reason, fix it and create it again under a new name.".to_string(),
        _ => format!("Submitted for review; the template is {status} and can be sent only once APPROVED (usually minutes, up to 24 hours). Check with whatsapp_list_templates."),
    };
    if got_category != category {
        note.push_str(&format!(
            " Meta assigned category {got_category} instead of {category}."
        ));
    }
    Ok(json!({
        "id": id,
        "name": name,
        "language": language,
        "status": status,
        "category": got_category,
        "note": note,
    }))
}
