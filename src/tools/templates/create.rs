//! whatsapp_create_template: checks the whole template before submitting it
//! for review, and remembers the status Meta answers.

use serde_json::{Map, Value, json};

use super::components::{check_create_component, plain_http_buttons, upper_case_names};
use super::list::CATEGORIES;
use super::special::{
    check_carousel, check_category, check_limited_time_offer, check_template_rules,
};
use crate::args::{Args, as_array, as_object, enum_error, missing};
use crate::checks::{check_language, check_template_name};
use crate::error::ToolError;
use crate::graph::{Graph, MANAGE};
use crate::host::Host;
use crate::json::str_of;
use crate::settings;
use crate::store;
use crate::time::now_seconds;

pub(crate) fn create_template(host: &dyn Host, args: &Args) -> Result<Value, ToolError> {
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
    let ttl = message_send_ttl(args)?;
    let components = match args.get("components") {
        None => {
            return Err(missing(
                "components",
                "[{\"type\": \"BODY\", \"text\": \"Your order has shipped.\"}]",
            ));
        }
        Some(v) => as_array(v, "components")?,
    };
    let components: Vec<Value> = components.iter().map(upper_case_names).collect();
    let components = &components;
    let mut types: Vec<String> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let mut lto_expires = false;
    check_category(components, category)?;
    for (i, c) in components.iter().enumerate() {
        let path = format!("components[{i}]");
        let t = match c.get("type").and_then(Value::as_str) {
            Some(t @ "CAROUSEL") => {
                check_carousel(&path, as_object(c, &path)?, named, category)?;
                for (k, card) in c["cards"].as_array().into_iter().flatten().enumerate() {
                    for (j, cc) in card["components"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .enumerate()
                    {
                        let p = format!("{path}.cards[{k}].components[{j}]");
                        warnings.extend(plain_http_buttons(&p, cc));
                    }
                }
                t.to_string()
            }
            Some(t @ "LIMITED_TIME_OFFER") => {
                lto_expires = check_limited_time_offer(&path, as_object(c, &path)?)?;
                t.to_string()
            }
            _ => check_create_component(&path, c, named, category)?,
        };
        warnings.extend(plain_http_buttons(&path, c));
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
    check_template_rules(components, &types, lto_expires)?;
    if category == "AUTHENTICATION" && !types.iter().any(|t| t == "BUTTONS") {
        return Err(ToolError::invalid(
            "components",
            "Missing OTP button",
            "an AUTHENTICATION template needs a BUTTONS component with an OTP button",
            "Add {\"type\": \"BUTTONS\", \"buttons\": [{\"type\": \"OTP\", \"otp_type\": \"COPY_CODE\", \"text\": \"Copy code\"}]}.",
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
    if let Some(t) = ttl {
        body.insert("message_send_ttl_seconds".into(), Value::from(t));
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
    rec.insert("category".into(), Value::from(got_category.as_str()));
    rec.insert(
        "body_only".into(),
        Value::from(crate::tools::template_gate::body_only(components)),
    );
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
    Ok(crate::checks::with_warnings(
        json!({
            "id": id,
            "name": name,
            "language": language,
            "status": status,
            "category": got_category,
            "note": note,
        }),
        &warnings,
    ))
}

/// `message_send_ttl_seconds`: how long WhatsApp keeps trying to deliver a
/// message of this template. Meta's ranges depend on the category (from 30 s
/// for authentication and utility up to 30 days for marketing:
/// https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates/time-to-live);
/// the widest bounds are checked here and Meta judges the category's.
fn message_send_ttl(args: &Args) -> Result<Option<i64>, ToolError> {
    const RANGE: std::ops::RangeInclusive<i64> = 30..=2_592_000;
    let Some(ttl) = args.int_opt("message_send_ttl_seconds")? else {
        return Ok(None);
    };
    if !RANGE.contains(&ttl) {
        return Err(ToolError::invalid(
            "message_send_ttl_seconds",
            "Time-to-live out of range",
            format!(
                "`message_send_ttl_seconds` is {ttl}; WhatsApp accepts 30 seconds to 30 days (2592000), narrower per category"
            ),
            "Give seconds from 30 (authentication and utility: up to 900 and 43200) to 2592000 (marketing: from 43200), or leave it out for Meta's default.",
        ));
    }
    Ok(Some(ttl))
}
