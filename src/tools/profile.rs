//! whatsapp_get_business_profile, whatsapp_update_business_profile.

use serde_json::{Map, Value, json};

use crate::args::{Args, as_array, as_str};
use crate::checks::{check_len, check_token, is_email};
use crate::error::ToolError;
use crate::graph::{Graph, PROFILE};
use crate::host::Host;
use crate::settings;

pub(crate) const PROFILE_FIELDS: &[&str] = &[
    "about",
    "address",
    "description",
    "email",
    "profile_picture_url",
    "websites",
    "vertical",
];

pub(crate) const VERTICALS: &[&str] = &[
    "OTHER",
    "AUTO",
    "BEAUTY",
    "APPAREL",
    "EDU",
    "ENTERTAIN",
    "EVENT_PLAN",
    "FINANCE",
    "GROCERY",
    "GOVT",
    "HOTEL",
    "HEALTH",
    "NONPROFIT",
    "PROF_SERVICES",
    "RETAIL",
    "TRAVEL",
    "RESTAURANT",
    "ALCOHOL",
    "ONLINE_GAMBLING",
    "PHYSICAL_GAMBLING",
    "OTC_DRUGS",
];

pub(crate) fn get_business_profile(host: &dyn Host, args: &Args) -> Result<Value, ToolError> {
    let mut fields: Vec<&str> = Vec::new();
    if let Some(v) = args.get("fields") {
        let items = as_array(v, "fields")?;
        if items.is_empty() {
            return Err(ToolError::invalid(
                "fields",
                "Empty field list",
                "`fields` is an empty list",
                "Leave `fields` out for the whole profile, or name fields such as [\"about\", \"email\"].",
            ));
        }
        for (i, item) in items.iter().enumerate() {
            let f = format!("fields[{i}]");
            let s = as_str(item, &f)?;
            let Some(known) = PROFILE_FIELDS.iter().find(|k| **k == s) else {
                return Err(ToolError::invalid(
                    f,
                    "Unknown profile field",
                    format!("`{s}` is not a business profile field"),
                    format!("Use any of {}.", PROFILE_FIELDS.join(", ")),
                ));
            };
            if fields.contains(known) {
                return Err(ToolError::invalid(
                    f,
                    "Duplicate field",
                    format!("`{s}` is listed twice"),
                    "List each field once.",
                ));
            }
            fields.push(known);
        }
    } else {
        fields.extend_from_slice(PROFILE_FIELDS);
    }
    let pnid = settings::phone_number_id(host)?;
    let graph = Graph::new(host)?;
    let resp = graph.get(
        &format!("{pnid}/whatsapp_business_profile"),
        &[("fields", fields.join(","))],
        PROFILE,
    )?;
    let item = resp
        .get("data")
        .and_then(|d| d.get(0))
        .or_else(|| resp.get("business_profile"))
        .cloned();
    let item = match item {
        Some(i) => i
            .get("business_profile")
            .filter(|b| b.is_object())
            .cloned()
            .unwrap_or(i),
        None => Value::Object(Map::new()),
    };
    let mut profile = Map::new();
    if let Value::Object(m) = item {
        for (k, v) in m {
            if k != "messaging_product" && !v.is_null() {
                profile.insert(k, v);
            }
        }
    }
    Ok(json!({ "profile": profile }))
}

pub(crate) fn update_business_profile(host: &dyn Host, args: &Args) -> Result<Value, ToolError> {
    let mut body = Map::new();
    body.insert("messaging_product".into(), Value::from("whatsapp"));
    let mut updated: Vec<&str> = Vec::new();
    if let Some(about) = args.str_opt("about")? {
        check_len("about", about, 1, 139, "the about text")?;
        // Meta refuses an `about` of only white space ("String cannot be empty").
        if about.trim().is_empty() {
            return Err(ToolError::invalid(
                "about",
                "Empty value",
                "`about` contains only spaces; WhatsApp requires visible text",
                "Give the about text, for example \"Succulent specialists!\" (up to 139 characters).",
            ));
        }
        body.insert("about".into(), Value::from(about));
        updated.push("about");
    }
    if let Some(address) = args.str_opt("address")? {
        check_len("address", address, 0, 256, "the address")?;
        body.insert("address".into(), Value::from(address));
        updated.push("address");
    }
    if let Some(description) = args.str_opt("description")? {
        // 512 per Meta's reference (Meta's OpenAPI file says 256, which the
        // reference contradicts):
        // https://developers.facebook.com/docs/whatsapp/cloud-api/reference/business-profiles
        check_len("description", description, 0, 512, "the description")?;
        body.insert("description".into(), Value::from(description));
        updated.push("description");
    }
    if let Some(email) = args.str_opt("email")? {
        check_len("email", email, 0, 128, "the e-mail address")?;
        if !email.is_empty() && !is_email(email) {
            return Err(ToolError::invalid(
                "email",
                "Invalid e-mail address",
                format!("`email` is `{email}`, which is not a valid e-mail address"),
                "Give an address like support@example.com (or an empty string to clear it).",
            ));
        }
        body.insert("email".into(), Value::from(email));
        updated.push("email");
    }
    if let Some(v) = args.get("websites") {
        let items = as_array(v, "websites")?;
        if items.len() > 2 {
            return Err(ToolError::invalid(
                "websites",
                "Too many websites",
                format!(
                    "`websites` has {} entries; a business profile has at most 2",
                    items.len()
                ),
                "Keep the two most important websites.",
            ));
        }
        let mut sites = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let f = format!("websites[{i}]");
            let s = as_str(item, &f)?;
            check_len(&f, s, 1, 256, "a website URL")?;
            let lower = s.to_ascii_lowercase();
            let ok = (lower.starts_with("https://") || lower.starts_with("http://"))
                && s.len() > 8
                && !s.chars().any(|c| c.is_whitespace() || c.is_control());
            if !ok {
                return Err(ToolError::invalid(
                    f,
                    "Invalid website",
                    format!("`{s}` is not an http:// or https:// URL without spaces"),
                    "Give full URLs starting with https://, for example https://www.example.com.",
                ));
            }
            sites.push(Value::from(s));
        }
        body.insert("websites".into(), Value::Array(sites));
        updated.push("websites");
    }
    if let Some(vertical) = args.str_opt("vertical")? {
        if !VERTICALS.contains(&vertical) {
            return Err(ToolError::invalid(
                "vertical",
                "Invalid industry",
                format!(
                    "`vertical` is `{vertical}`; expected one of {}",
                    VERTICALS.join(", ")
                ),
                "Pick the closest industry from the list (upper case), or OTHER.",
            ));
        }
        body.insert("vertical".into(), Value::from(vertical));
        updated.push("vertical");
    }
    if let Some(handle) = args.str_opt("profile_picture_handle")? {
        check_token(
            "profile_picture_handle",
            handle,
            4096,
            "an upload handle",
            "\"4::aW1hZ2UvanBlZw==:ARb…\"",
        )?;
        body.insert("profile_picture_handle".into(), Value::from(handle));
        updated.push("profile_picture_handle");
    }
    if updated.is_empty() {
        return Err(ToolError::invalid(
            "arguments",
            "Nothing to update",
            "no profile field was given",
            "Give at least one of about, address, description, email, websites, vertical or profile_picture_handle.",
        ));
    }
    let pnid = settings::phone_number_id(host)?;
    let graph = Graph::new(host)?;
    let resp = graph.post(
        &format!("{pnid}/whatsapp_business_profile"),
        &Value::Object(body),
        PROFILE,
    )?;
    let success = resp
        .get("success")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(json!({ "success": success, "updated_fields": updated }))
}
