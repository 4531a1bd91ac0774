//! The interactive forms of whatsapp_send_message: reply buttons, a list and
//! a call-to-action URL button, each with an optional text header and footer.
//! The tool's `text` is the body.
//!
//! Limits are Meta's:
//! https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-reply-buttons-messages,
//! https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages,
//! https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-cta-url-messages.

use serde_json::{Map, Value, json};

use crate::args::{Args, as_array, as_object, as_str, reject_unknown, str_field};
use crate::checks::{char_len, check_len};
use crate::error::ToolError;

/// Body text of an interactive message, at most.
pub(crate) const BODY_MAX: usize = 1024;
/// The arguments that make a message interactive.
const FORMS: [&str; 3] = ["buttons", "list", "cta_url"];
/// The arguments only an interactive message can carry.
const DECORATIONS: [&str; 2] = ["header", "footer"];

/// The `interactive` object for `text`, or `None` when the call asks for a
/// plain text message.
pub(crate) fn interactive(args: &Args, text: &str) -> Result<Option<Value>, ToolError> {
    let forms: Vec<&str> = FORMS.into_iter().filter(|f| args.has(f)).collect();
    let Some(&form) = forms.first() else {
        if let Some(d) = DECORATIONS.into_iter().find(|d| args.has(d)) {
            return Err(ToolError::invalid(
                d,
                "Header or footer without buttons",
                format!(
                    "`{d}` was given, but only interactive messages (`buttons`, `list` or `cta_url`) carry a header or footer"
                ),
                format!(
                    "Add `buttons`, `list` or `cta_url`, or remove `{d}` and put its text in `text`."
                ),
            ));
        }
        return Ok(None);
    };
    if forms.len() > 1 {
        return Err(ToolError::invalid(
            forms[1],
            "Several interactive forms",
            format!(
                "`{}` and `{}` were both given; a message carries one interactive form",
                forms[0], forms[1]
            ),
            "Keep one of `buttons`, `list` and `cta_url`, and send the other as a second message.",
        ));
    }
    if args.has("preview_url") {
        return Err(ToolError::invalid(
            "preview_url",
            "No link preview on interactive messages",
            format!(
                "`preview_url` was given with `{form}`; only plain text messages show a link preview"
            ),
            "Remove `preview_url`.",
        ));
    }
    if char_len(text) > BODY_MAX {
        return Err(ToolError::invalid(
            "text",
            "Value too long",
            format!(
                "`text` has {} characters; the body of an interactive message allows at most {BODY_MAX}",
                char_len(text)
            ),
            format!(
                "Shorten `text` to {BODY_MAX} characters, or send it as a plain text message first."
            ),
        ));
    }
    let value = args.get(form).unwrap_or(&Value::Null);
    let (kind, action) = match form {
        "buttons" => ("button", reply_buttons(value)?),
        "list" => ("list", list(value)?),
        _ => ("cta_url", cta_url(value)?),
    };
    let mut out = Map::new();
    out.insert("type".into(), Value::from(kind));
    if let Some(header) = args.str_opt("header")? {
        check_len("header", header, 1, 60, "an interactive message header")?;
        out.insert("header".into(), json!({"type": "text", "text": header}));
    }
    out.insert("body".into(), json!({ "text": text }));
    if let Some(footer) = args.str_opt("footer")? {
        check_len("footer", footer, 1, 60, "an interactive message footer")?;
        out.insert("footer".into(), json!({ "text": footer }));
    }
    out.insert("action".into(), action);
    Ok(Some(Value::Object(out)))
}

/// An id: 1..=max characters without leading or trailing spaces (Meta trims
/// nothing and refuses them).
fn check_id(path: &str, id: &str, max: usize, what: &str) -> Result<(), ToolError> {
    check_len(path, id, 1, max, what)?;
    if id.trim() != id {
        return Err(ToolError::invalid(
            path,
            "Spaces around an id",
            format!("`{path}` is `{id}`, which starts or ends with a space"),
            "Remove the leading and trailing spaces.",
        ));
    }
    Ok(())
}

fn duplicate(path: &str, what: &str, value: &str) -> ToolError {
    ToolError::invalid(
        path,
        "Duplicate value",
        format!("`{path}` is `{value}`, which another {what} already uses; each must be unique"),
        format!("Give every {what} a different value."),
    )
}

fn reply_buttons(value: &Value) -> Result<Value, ToolError> {
    let items = as_array(value, "buttons")?;
    if items.is_empty() || items.len() > 3 {
        return Err(ToolError::invalid(
            "buttons",
            "Wrong number of buttons",
            format!(
                "`buttons` has {} items; a reply-buttons message has 1 to 3",
                items.len()
            ),
            "Give 1 to 3 buttons, or use `list` for up to 10 choices.",
        ));
    }
    let mut seen: Vec<(&str, &str)> = Vec::new();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("buttons[{i}]");
        let obj = as_object(item, &path)?;
        reject_unknown(obj, &["id", "title"], &path)?;
        let id_path = format!("{path}.id");
        let id = str_field(obj, "id", &path, "\"confirm\"")?;
        check_id(&id_path, id, 256, "a reply button id")?;
        let title_path = format!("{path}.title");
        let title = str_field(obj, "title", &path, "\"Confirm\"")?;
        check_len(&title_path, title, 1, 20, "a reply button title")?;
        if seen.iter().any(|(other, _)| *other == id) {
            return Err(duplicate(&id_path, "button id", id));
        }
        if seen.iter().any(|(_, other)| *other == title) {
            return Err(duplicate(&title_path, "button title", title));
        }
        seen.push((id, title));
        out.push(json!({"type": "reply", "reply": {"id": id, "title": title}}));
    }
    Ok(json!({ "buttons": out }))
}

fn list(value: &Value) -> Result<Value, ToolError> {
    let obj = as_object(value, "list")?;
    reject_unknown(obj, &["button", "sections"], "list")?;
    let button = str_field(obj, "button", "list", "\"Choose a slot\"")?;
    check_len("list.button", button, 1, 20, "the list's button label")?;
    let sections = match obj.get("sections") {
        None | Some(Value::Null) => {
            return Err(ToolError::invalid(
                "list.sections",
                "Missing argument",
                "`list.sections` is required",
                "Add `list.sections`, for example [{\"rows\": [{\"id\": \"mon\", \"title\": \"Monday\"}]}].",
            ));
        }
        Some(v) => as_array(v, "list.sections")?,
    };
    if sections.is_empty() || sections.len() > 10 {
        return Err(ToolError::invalid(
            "list.sections",
            "Wrong number of sections",
            format!(
                "`list.sections` has {} items; a list has 1 to 10 sections",
                sections.len()
            ),
            "Give 1 to 10 sections.",
        ));
    }
    let titled = sections.len() > 1;
    let mut row_ids: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for (s, section) in sections.iter().enumerate() {
        let path = format!("list.sections[{s}]");
        let obj = as_object(section, &path)?;
        reject_unknown(obj, &["title", "rows"], &path)?;
        let mut section_out = Map::new();
        let title_path = format!("{path}.title");
        match obj.get("title") {
            None | Some(Value::Null) if titled => {
                return Err(ToolError::invalid(
                    &title_path,
                    "Missing section title",
                    format!(
                        "`{title_path}` is missing; a list with more than one section needs a title on each"
                    ),
                    format!("Add `{title_path}` (up to 24 characters)."),
                ));
            }
            None | Some(Value::Null) => {}
            Some(v) => {
                let title = as_str(v, &title_path)?;
                check_len(&title_path, title, 1, 24, "a list section title")?;
                section_out.insert("title".into(), Value::from(title));
            }
        }
        let rows_path = format!("{path}.rows");
        let rows = match obj.get("rows") {
            None | Some(Value::Null) => {
                return Err(ToolError::invalid(
                    &rows_path,
                    "Missing argument",
                    format!("`{rows_path}` is required"),
                    format!(
                        "Add `{rows_path}`, for example [{{\"id\": \"mon\", \"title\": \"Monday\"}}]."
                    ),
                ));
            }
            Some(v) => as_array(v, &rows_path)?,
        };
        if rows.is_empty() {
            return Err(ToolError::invalid(
                &rows_path,
                "Empty section",
                format!("`{rows_path}` is empty; each section has at least one row"),
                "Add a row, or remove the section.",
            ));
        }
        let mut rows_out = Vec::new();
        for (r, row) in rows.iter().enumerate() {
            let row_path = format!("{rows_path}[{r}]");
            let obj = as_object(row, &row_path)?;
            reject_unknown(obj, &["id", "title", "description"], &row_path)?;
            let id_path = format!("{row_path}.id");
            let id = str_field(obj, "id", &row_path, "\"mon\"")?;
            check_id(&id_path, id, 200, "a list row id")?;
            if row_ids.contains(&id) {
                return Err(duplicate(&id_path, "row id", id));
            }
            row_ids.push(id);
            let title_path = format!("{row_path}.title");
            let title = str_field(obj, "title", &row_path, "\"Monday\"")?;
            check_len(&title_path, title, 1, 24, "a list row title")?;
            let mut row_out = json!({"id": id, "title": title});
            match obj.get("description") {
                None | Some(Value::Null) => {}
                Some(v) => {
                    let desc_path = format!("{row_path}.description");
                    let desc = as_str(v, &desc_path)?;
                    check_len(&desc_path, desc, 1, 72, "a list row description")?;
                    row_out["description"] = Value::from(desc);
                }
            }
            rows_out.push(row_out);
        }
        section_out.insert("rows".into(), Value::Array(rows_out));
        out.push(Value::Object(section_out));
    }
    if row_ids.len() > 10 {
        return Err(ToolError::invalid(
            "list.sections",
            "Too many rows",
            format!(
                "the list has {} rows across its sections; a list has at most 10 rows in total",
                row_ids.len()
            ),
            "Keep at most 10 rows in total, or split the choices over two messages.",
        ));
    }
    Ok(json!({"button": button, "sections": out}))
}

fn cta_url(value: &Value) -> Result<Value, ToolError> {
    let obj = as_object(value, "cta_url")?;
    reject_unknown(obj, &["display_text", "url"], "cta_url")?;
    let text = str_field(obj, "display_text", "cta_url", "\"See the order\"")?;
    check_len("cta_url.display_text", text, 1, 20, "a URL button label")?;
    let url = str_field(obj, "url", "cta_url", "\"https://example.com/orders/1042\"")?;
    check_len("cta_url.url", url, 1, 2000, "a URL button's link")?;
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    let bad_chars = url.chars().any(|c| c.is_whitespace() || c.is_control());
    if host.is_none_or(|h| h.is_empty() || h.contains('@')) || bad_chars {
        return Err(ToolError::invalid(
            "cta_url.url",
            "Invalid URL",
            format!(
                "`cta_url.url` is `{url}`; the button opens an http:// or https:// web address with a host, no spaces and no user:password@"
            ),
            "Give a URL like https://example.com/orders/1042 (percent-encode spaces as %20).",
        ));
    }
    Ok(json!({"name": "cta_url", "parameters": {"display_text": text, "url": url}}))
}
