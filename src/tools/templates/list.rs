//! whatsapp_list_templates: the WABA's templates with their placeholder counts,
//! remembering each status seen.

use serde_json::{Map, Value, json};

use crate::args::{Args, as_array, as_str, enum_error};
use crate::checks::{check_language, check_template_name, check_token};
use crate::error::ToolError;
use crate::graph::{Graph, MANAGE};
use crate::host::Host;
use crate::json::str_of;
use crate::placeholders::{Placeholder, placeholders};
use crate::settings;
use crate::store;
use crate::time::now_seconds;

const TEMPLATE_STATUSES: &[&str] = &[
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
/// Template categories (https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates#categories).
pub(super) const CATEGORIES: &[&str] = &["MARKETING", "UTILITY", "AUTHENTICATION"];
const LIST_FIELDS: &str = "id,name,language,status,category,sub_category,previous_category,parameter_format,components,quality_score,rejected_reason";

pub(crate) fn list_templates(host: &dyn Host, args: &Args) -> Result<Value, ToolError> {
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
    let before = args.str_opt("before")?;
    if let Some(b) = before {
        if after.is_some() {
            return Err(ToolError::invalid(
                "before",
                "Two paging directions",
                "`before` and `after` were both given; a page is read in one direction",
                "Give `after` (a `next_cursor`) for the next page or `before` (a `previous_cursor`) for the previous one.",
            ));
        }
        check_token(
            "before",
            b,
            2048,
            "a paging cursor",
            "the `previous_cursor` of the current page",
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
    if let Some(b) = before {
        query.push(("before", b.to_string()));
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
        remember_template_text(host, t);
    }
    let mut out = Map::new();
    out.insert("count".into(), Value::from(templates.len()));
    out.insert("templates".into(), Value::Array(templates));
    let paging = resp.get("paging");
    // Graph gives `next` / `previous` only when there is such a page.
    for (link, cursor, key) in [
        ("next", "after", "next_cursor"),
        ("previous", "before", "previous_cursor"),
    ] {
        let has_page = paging
            .and_then(|p| p.get(link))
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        if has_page
            && let Some(c) = paging
                .and_then(|p| p.get("cursors"))
                .and_then(|c| c.get(cursor))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        {
            out.insert(key.into(), Value::from(c));
        }
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
    let quality = t.get("quality_score");
    if let Some(q) = quality.and_then(|q| q.get("score")).and_then(Value::as_str) {
        out.insert("quality_score".into(), Value::from(q));
    }
    if let Some(date) = quality.and_then(|q| q.get("date")).and_then(Value::as_u64) {
        out.insert("quality_score_date".into(), Value::from(date));
    }
    if let Some(r) = str_of(t, "rejected_reason").filter(|r| !r.is_empty() && *r != "NONE") {
        out.insert("rejected_reason".into(), Value::from(r));
    }
    // `previous_category` is set when Meta re-categorised the template.
    for key in ["sub_category", "previous_category"] {
        if let Some(v) = str_of(t, key).filter(|v| !v.is_empty()) {
            out.insert(key.into(), Value::from(v));
        }
    }
    Value::Object(out)
}

/// Remembers the status (and category, and whether the template is body
/// only) seen in a listing when they differ from the record.
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
    let rec = crate::tools::template_gate::record_from_listing(t, now, "list");
    if let Ok(Some(old)) = store::read_json(host, &key)
        && ["status", "category", "body_only"]
            .iter()
            .all(|k| rec.get(*k).is_none_or(|v| old.get(*k) == Some(v)))
    {
        return;
    }
    let _ = store::write_json(host, &key, &Value::Object(rec), Some(store::TPL_TTL));
}

/// Keeps the template's body and header text (when changed), so that rules
/// judge a send of it as rendered for the recipient.
fn remember_template_text(host: &dyn Host, t: &Value) {
    let (Some(name), Some(language)) = (str_of(t, "name"), str_of(t, "language")) else {
        return;
    };
    if name.is_empty() || language.is_empty() {
        return;
    }
    let mut rec = Map::new();
    for (from, to) in [("body_text", "body"), ("header_text", "header")] {
        if let Some(text) = str_of(t, from) {
            rec.insert(to.into(), Value::from(text));
        }
    }
    let rec = Value::Object(rec);
    let key = store::template_text_key(name, language);
    if store::read_json(host, &key).ok().flatten().as_ref() == Some(&rec) {
        return;
    }
    let _ = store::write_json(host, &key, &rec, Some(store::TPL_TTL));
}
