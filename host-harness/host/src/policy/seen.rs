//! What a text rule looks at: every string and number a message will
//! carry, and the message as the recipient reads it.
//!
//! A rule naming a field sees that field's values, and the rendering of
//! that field (its values joined with spaces, or substituted into the
//! template's text when it is known). A rule naming no field sees every
//! value except the recipient (`to`), every rendering, and all the values
//! joined with spaces: a card number split over two parameters, or over a
//! caption and a file name, is one number to the reader.

use std::ops::Range;

use serde_json::Value;

use super::phone::is_recipient_field;
use crate::store::{StateStore, Table};

/// The tool whose parameters are substituted into a template's text.
const SEND_TEMPLATE: &str = "whatsapp_send_template";

/// The text of the template a send names, as the component last listed it
/// (`whatsapp_list_templates`).
#[derive(Debug, Default)]
pub(crate) struct KnownTemplate {
    pub(crate) body: Option<String>,
    pub(crate) header: Option<String>,
}

/// The text of the template `args` names, when `tool` sends a template and
/// the component has stored it (key `tpltext/<name>/<language>` of its kv
/// table, written by `whatsapp_list_templates`). Unreadable: `None`, and
/// rules see the parameters joined with spaces instead.
pub(crate) async fn known_template(
    state: &StateStore,
    tool: &str,
    args: &Value,
) -> Option<KnownTemplate> {
    if tool != SEND_TEMPLATE {
        return None;
    }
    let name = args.get("name")?.as_str()?;
    let language = args.get("language")?.as_str()?;
    let key = format!("tpltext/{name}/{language}");
    let bytes = state.get(Table::Kv, &key).await.ok()??;
    let record: Value = serde_json::from_slice(&bytes).ok()?;
    let text = |k: &str| record.get(k).and_then(Value::as_str).map(str::to_string);
    Some(KnownTemplate {
        body: text("body"),
        header: text("header"),
    })
}

/// One text a rule looks at, in pieces: what the caller supplied, and the
/// template's own fixed text around it.
#[derive(Debug)]
pub(crate) struct Seen {
    /// The argument it comes from (`None`: the whole message).
    pub(crate) field: Option<String>,
    /// How a denial names it.
    pub(crate) place: String,
    pieces: Vec<(String, bool)>,
}

impl Seen {
    fn value(field: &str, text: String) -> Seen {
        Seen {
            field: Some(field.to_string()),
            place: format!("`{field}`"),
            pieces: vec![(text, true)],
        }
    }

    /// The text in the form `f` makes of each piece, with the byte ranges
    /// that came from the caller. Matches only inside the template's fixed
    /// text do not count: the operator and Meta approved that text.
    pub(crate) fn form(&self, f: fn(&str) -> String) -> (String, Vec<Range<usize>>) {
        let mut text = String::new();
        let mut supplied = Vec::new();
        for (piece, from_caller) in &self.pieces {
            let start = text.len();
            text.push_str(&f(piece));
            if *from_caller {
                supplied.push(start..text.len());
            }
        }
        (text, supplied)
    }
}

/// Whether a match at `m` touches text the caller supplied.
pub(crate) fn counts(m: Range<usize>, supplied: &[Range<usize>]) -> bool {
    supplied
        .iter()
        .any(|s| m.start < s.end && s.start < m.end.max(m.start + 1))
}

/// The values (strings and numbers, as JSON writes numbers) of `field`, or
/// of every argument except the recipient when `field` is `None`.
pub(crate) fn values<'a>(args: &'a Value, field: Option<&'a str>) -> Vec<(&'a str, String)> {
    let mut out = Vec::new();
    for (name, value) in arguments(args, field) {
        let mut found = Vec::new();
        leaves(value, &mut found);
        out.extend(found.into_iter().map(|t| (name, t)));
    }
    out
}

/// What a text rule on `field` (or on no field) looks at.
pub(crate) fn seen(
    args: &Value,
    field: Option<&str>,
    template: Option<&KnownTemplate>,
) -> Vec<Seen> {
    let mut out: Vec<Seen> = values(args, field)
        .into_iter()
        .map(|(name, text)| Seen::value(name, text))
        .collect();
    for (name, value) in arguments(args, field) {
        out.extend(renderings(name, value, template));
    }
    if field.is_none() {
        let all: Vec<String> = values(args, None).into_iter().map(|(_, t)| t).collect();
        if all.len() > 1 {
            out.push(Seen {
                field: None,
                place: "the message as a whole".into(),
                pieces: vec![(all.join(" "), true)],
            });
        }
    }
    out
}

/// The arguments a rule on `field` reads: that one, or all but recipients.
fn arguments<'a>(args: &'a Value, field: Option<&'a str>) -> Vec<(&'a str, &'a Value)> {
    let present = |v: &&Value| !v.is_null();
    match field {
        Some(field) => args
            .get(field)
            .filter(present)
            .map(|v| vec![(field, v)])
            .unwrap_or_default(),
        None => args
            .as_object()
            .map(|map| {
                map.iter()
                    .filter(|(name, v)| !is_recipient_field(name) && present(v))
                    .map(|(name, v)| (name.as_str(), v))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Every string and number in `value`, depth first (object keys are names,
/// not text: left out).
fn leaves(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| leaves(v, out)),
        Value::Object(map) => map.values().for_each(|v| leaves(v, out)),
        Value::Bool(_) | Value::Null => {}
    }
}

fn leaf_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// How the values of argument `name` read once sent: joined with spaces,
/// and substituted into the template's text when it is known.
fn renderings(name: &str, value: &Value, template: Option<&KnownTemplate>) -> Vec<Seen> {
    let rendered = |pieces: Vec<(String, bool)>| Seen {
        field: Some(name.to_string()),
        place: format!("`{name}` as the recipient reads it"),
        pieces,
    };
    let mut out = Vec::new();
    let mut joined_of = |value: &Value| {
        let mut found = Vec::new();
        leaves(value, &mut found);
        if found.len() > 1 {
            out.push(rendered(vec![(found.join(" "), true)]));
        }
    };
    match name {
        "components" => value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("parameters"))
            .for_each(&mut joined_of),
        _ => joined_of(value),
    }
    let Some(template) = template else {
        return out;
    };
    let text_for = |part: &str| match part {
        "body" => template.body.as_deref(),
        "header" => template.header.as_deref(),
        _ => None,
    };
    match name {
        "body_parameters" | "header_parameters" => {
            let part = name.trim_end_matches("_parameters");
            if let Some(text) = text_for(part) {
                out.push(rendered(substitute(text, |key| parameter(value, key))));
            }
        }
        "components" => {
            for c in value.as_array().into_iter().flatten() {
                let part = c.get("type").and_then(Value::as_str).unwrap_or("");
                let (Some(text), Some(params)) = (text_for(part), c.get("parameters")) else {
                    continue;
                };
                out.push(rendered(substitute(text, |key| {
                    component_parameter(params, key)
                })));
            }
        }
        _ => {}
    }
    out
}

/// The value for placeholder `key` (`1`, `2`… or a name) in
/// `body_parameters` / `header_parameters` (a list or a name → value map).
fn parameter(params: &Value, key: &str) -> Option<String> {
    match params {
        Value::Array(items) => {
            let n: usize = key.parse().ok()?;
            leaf_text(items.get(n.checked_sub(1)?)?)
        }
        Value::Object(map) => leaf_text(map.get(key)?),
        _ => None,
    }
}

/// The value for placeholder `key` among a component's `parameters`: the
/// n-th parameter, or the one whose `parameter_name` is `key`; its `text`,
/// or all its values joined when it is typed (currency, date_time…).
fn component_parameter(params: &Value, key: &str) -> Option<String> {
    let items = params.as_array()?;
    let param = match key.parse::<usize>() {
        Ok(n) => items.get(n.checked_sub(1)?)?,
        Err(_) => items
            .iter()
            .find(|p| p.get("parameter_name").and_then(Value::as_str) == Some(key))?,
    };
    if let Some(text) = param.get("text").and_then(leaf_text) {
        return Some(text);
    }
    let mut found = Vec::new();
    leaves(param, &mut found);
    Some(found.join(" "))
}

/// `text` with each `{{key}}` replaced by `value(key)`, in pieces: the
/// fixed text (`false`) and the substituted values (`true`). A placeholder
/// without a value stays as written.
fn substitute(text: &str, value: impl Fn(&str) -> Option<String>) -> Vec<(String, bool)> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open + 2..].find("}}") else {
            break;
        };
        let key = rest[open + 2..open + 2 + close].trim();
        let end = open + 2 + close + 2;
        match value(key) {
            Some(v) => {
                pieces.push((rest[..open].to_string(), false));
                pieces.push((v, true));
            }
            None => pieces.push((rest[..end].to_string(), false)),
        }
        rest = &rest[end..];
    }
    pieces.push((rest.to_string(), false));
    pieces
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::policy::text::normalise;

    fn texts(seen: &[Seen]) -> Vec<String> {
        seen.iter().map(|s| s.form(normalise).0).collect()
    }

    #[test]
    fn parameters_are_seen_alone_joined_and_in_the_known_template() {
        let args = json!({"to": "+16505551234", "name": "pay", "language": "en",
                          "body_parameters": ["re", "fund"]});
        let known = KnownTemplate {
            body: Some("Your {{1}}{{2}} is ready".into()),
            header: None,
        };
        let seen = seen(&args, Some("body_parameters"), Some(&known));
        assert_eq!(
            texts(&seen),
            ["re", "fund", "re fund", "Your refund is ready"]
        );
        let (text, supplied) = seen[3].form(normalise);
        assert_eq!(&text[supplied[0].clone()], "re");
        assert!(!counts(0..4, &supplied), "the template's own text");
        assert!(counts(5..11, &supplied));
    }

    #[test]
    fn rules_on_no_field_never_see_the_recipient_and_see_nested_numbers() {
        let args = json!({"to": "+4915123456789", "name": "flow", "language": "en",
            "components": [{"type": "button", "sub_type": "flow", "index": "0",
              "parameters": [{"type": "action", "action": {"flow_action_data": {"card": 4111111111111111u64}}}]}]});
        let all = texts(&seen(&args, None, None));
        assert!(all.iter().all(|t| !t.contains("4915123456789")), "{all:?}");
        assert!(all.iter().any(|t| t == "4111111111111111"), "{all:?}");
    }

    #[test]
    fn named_parameters_fill_named_placeholders() {
        let pieces = substitute("Hi {{ first_name }}, {{missing}}", |k| {
            (k == "first_name").then(|| "Ann".to_string())
        });
        let text: String = pieces.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(text, "Hi Ann, {{missing}}");
    }
}
