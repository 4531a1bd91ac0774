//! Meta's rules for the `interactive` object of a send: reply buttons, lists and CTA URL
//! buttons, with their header, body and footer limits
//! (https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-reply-buttons-messages,
//! …/interactive-list-messages, …/interactive-cta-url-messages). Other interactive kinds
//! (product, flow, …) are checked only for their `type` and `action`.

use serde_json::{Map, Value};

use crate::graph_error::{GraphError, GraphResult};
use crate::util::char_len;

const KINDS: &[&str] = &[
    "button",
    "call_permission_request",
    "catalog_message",
    "cta_url",
    "flow",
    "list",
    "location_request_message",
    "product",
    "product_list",
];

/// A required string at `path`, 1..=max characters; Meta reports a wrong length as 131009
/// naming the field and its bounds.
fn text<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
    max: usize,
) -> GraphResult<&'a str> {
    let Some(v) = obj.get(key).filter(|v| !v.is_null()) else {
        return Err(GraphError::missing_param(format!(
            "Parameter '{path}' is required."
        )));
    };
    let Some(s) = v.as_str() else {
        return Err(GraphError::invalid_param(format!(
            "Param {path} must be a string."
        )));
    };
    let n = char_len(s);
    if n == 0 || n > max {
        return Err(GraphError::invalid_value(format!(
            "{path} length invalid. Min length: 1, Max length: {max}; it has {n}."
        )));
    }
    Ok(s)
}

fn array<'a>(obj: &'a Map<String, Value>, key: &str, path: &str) -> GraphResult<&'a Vec<Value>> {
    match obj.get(key) {
        Some(Value::Array(a)) => Ok(a),
        None | Some(Value::Null) => Err(GraphError::missing_param(format!(
            "Parameter '{path}' is required."
        ))),
        Some(_) => Err(GraphError::invalid_param(format!(
            "Param {path} must be an array."
        ))),
    }
}

fn object<'a>(v: &'a Value, path: &str) -> GraphResult<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| GraphError::invalid_param(format!("Param {path} must be an object.")))
}

pub(crate) fn validate(obj: &Map<String, Value>) -> GraphResult<()> {
    let kind = match obj.get("type").and_then(Value::as_str) {
        Some(k) => k,
        None => {
            return Err(GraphError::missing_param(
                "Parameter 'interactive.type' is required.",
            ));
        }
    };
    if !KINDS.contains(&kind) {
        return Err(GraphError::enum_param("interactive['type']", KINDS, kind));
    }
    let Some(action) = obj.get("action").and_then(Value::as_object) else {
        return Err(GraphError::missing_param(
            "Parameter 'interactive.action' is required.",
        ));
    };
    if !matches!(kind, "button" | "list" | "cta_url") {
        return Ok(());
    }
    let body = obj
        .get("body")
        .and_then(Value::as_object)
        .ok_or_else(|| GraphError::missing_param("Parameter 'interactive.body' is required."))?;
    text(body, "text", "interactive.body.text", 1024)?;
    if let Some(footer) = obj.get("footer") {
        text(
            object(footer, "interactive.footer")?,
            "text",
            "interactive.footer.text",
            60,
        )?;
    }
    if let Some(header) = obj.get("header") {
        let header = object(header, "interactive.header")?;
        let htype = header.get("type").and_then(Value::as_str).unwrap_or("");
        let allowed: &[&str] = if kind == "list" {
            &["text"]
        } else {
            &["text", "image", "video", "document"]
        };
        if !allowed.contains(&htype) {
            return Err(GraphError::enum_param(
                "interactive['header']['type']",
                allowed,
                htype,
            ));
        }
        if htype == "text" {
            text(header, "text", "interactive.header.text", 60)?;
        } else if !header.get(htype).is_some_and(Value::is_object) {
            return Err(GraphError::missing_param(format!(
                "Parameter 'interactive.header.{htype}' is required."
            )));
        }
    }
    match kind {
        "button" => reply_buttons(action),
        "list" => list(action),
        _ => cta_url(action),
    }
}

fn reply_buttons(action: &Map<String, Value>) -> GraphResult<()> {
    let buttons = array(action, "buttons", "interactive.action.buttons")?;
    if buttons.is_empty() || buttons.len() > 3 {
        return Err(GraphError::invalid_value(format!(
            "interactive.action.buttons must have 1 to 3 buttons; it has {}.",
            buttons.len()
        )));
    }
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for (i, b) in buttons.iter().enumerate() {
        let path = format!("interactive.action.buttons[{i}]");
        let b = object(b, &path)?;
        if b.get("type").and_then(Value::as_str) != Some("reply") {
            return Err(GraphError::enum_param(
                &format!("{path}['type']"),
                &["reply"],
                b.get("type").and_then(Value::as_str).unwrap_or(""),
            ));
        }
        let reply = object(
            b.get("reply").unwrap_or(&Value::Null),
            &format!("{path}.reply"),
        )?;
        let id = text(reply, "id", &format!("{path}.reply.id"), 256)?;
        let title = text(reply, "title", &format!("{path}.reply.title"), 20)?;
        if id.trim() != id {
            return Err(GraphError::invalid_value(format!(
                "{path}.reply.id must not have leading or trailing spaces."
            )));
        }
        if seen.iter().any(|(i, t)| *i == id || *t == title) {
            return Err(GraphError::invalid_value(
                "Button titles and ids must be unique within a message.",
            ));
        }
        seen.push((id, title));
    }
    Ok(())
}

fn list(action: &Map<String, Value>) -> GraphResult<()> {
    text(action, "button", "interactive.action.button", 20)?;
    let sections = array(action, "sections", "interactive.action.sections")?;
    if sections.is_empty() || sections.len() > 10 {
        return Err(GraphError::invalid_value(format!(
            "interactive.action.sections must have 1 to 10 sections; it has {}.",
            sections.len()
        )));
    }
    let mut ids: Vec<&str> = Vec::new();
    for (s, section) in sections.iter().enumerate() {
        let path = format!("interactive.action.sections[{s}]");
        let section = object(section, &path)?;
        if sections.len() > 1 || section.contains_key("title") {
            text(section, "title", &format!("{path}.title"), 24)?;
        }
        let rows = array(section, "rows", &format!("{path}.rows"))?;
        if rows.is_empty() {
            return Err(GraphError::invalid_value(format!(
                "{path}.rows must have at least one row."
            )));
        }
        for (r, row) in rows.iter().enumerate() {
            let rpath = format!("{path}.rows[{r}]");
            let row = object(row, &rpath)?;
            let id = text(row, "id", &format!("{rpath}.id"), 200)?;
            text(row, "title", &format!("{rpath}.title"), 24)?;
            if row.contains_key("description") {
                text(row, "description", &format!("{rpath}.description"), 72)?;
            }
            if ids.contains(&id) {
                return Err(GraphError::invalid_value(
                    "Row ids must be unique within a list message.",
                ));
            }
            ids.push(id);
        }
    }
    if ids.len() > 10 {
        return Err(GraphError::invalid_value(format!(
            "A list message has at most 10 rows in total; it has {}.",
            ids.len()
        )));
    }
    Ok(())
}

fn cta_url(action: &Map<String, Value>) -> GraphResult<()> {
    if action.get("name").and_then(Value::as_str) != Some("cta_url") {
        return Err(GraphError::enum_param(
            "interactive['action']['name']",
            &["cta_url"],
            action.get("name").and_then(Value::as_str).unwrap_or(""),
        ));
    }
    let params = object(
        action.get("parameters").unwrap_or(&Value::Null),
        "interactive.action.parameters",
    )?;
    text(
        params,
        "display_text",
        "interactive.action.parameters.display_text",
        20,
    )?;
    let url = text(params, "url", "interactive.action.parameters.url", 2000)?;
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err(GraphError::invalid_value(format!(
            "interactive.action.parameters.url must be an http(s) URL - got \"{url}\"."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::validate;

    fn check(v: serde_json::Value) -> Result<(), String> {
        validate(v.as_object().unwrap()).map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn documented_interactive_forms_pass_and_out_of_limit_ones_fail() {
        let buttons = |titles: &[&str]| {
            json!({"type": "button", "body": {"text": "Pick"}, "action": {"buttons":
                titles.iter().enumerate().map(|(i, t)| json!({"type": "reply", "reply": {"id": i.to_string(), "title": t}})).collect::<Vec<_>>()}})
        };
        check(buttons(&["Yes", "No"])).unwrap();
        assert!(check(buttons(&["a", "b", "c", "d"])).is_err());
        assert!(check(buttons(&[&"x".repeat(21)])).is_err());
        assert!(check(buttons(&["Same", "Same"])).is_err());
        let list = |rows: usize, titled: bool| {
            let section = |n: usize, s: usize| {
                let mut v = json!({"rows": (0..n).map(|r| json!({"id": format!("{s}-{r}"), "title": "Row"})).collect::<Vec<_>>()});
                if titled {
                    v["title"] = json!("Section");
                }
                v
            };
            json!({"type": "list", "body": {"text": "Pick"}, "action": {"button": "Open",
                "sections": [section(rows, 0), section(1, 1)]}})
        };
        check(list(9, true)).unwrap();
        assert!(check(list(10, true)).is_err(), "11 rows in total");
        assert!(
            check(list(2, false)).is_err(),
            "titles needed with 2 sections"
        );
        let cta = |url: &str| {
            json!({"type": "cta_url", "body": {"text": "See"}, "footer": {"text": "f"},
                   "action": {"name": "cta_url", "parameters": {"display_text": "Open", "url": url}}})
        };
        check(cta("https://example.com")).unwrap();
        assert!(check(cta("javascript:alert(1)")).is_err());
        let mut long_body = buttons(&["Yes"]);
        long_body["body"]["text"] = json!("b".repeat(1025));
        assert!(check(long_body).is_err());
    }
}
