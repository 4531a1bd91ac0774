//! The text a template send produces once its parameters are filled in: Meta refuses one that
//! is too long (132005) and parameters with newlines, tabs or more than four consecutive
//! spaces (132007).
//! https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/
//!
//! Limits (Meta's template component limits): a TEXT header 60 characters; the body 1024
//! characters, or 32,768 when the template has nothing but a body.

use http::StatusCode;
use serde_json::Value;

use super::template::{ParamFormat, Template, placeholders};
use crate::graph_error::{GraphError, GraphResult};
use crate::util::char_len;

const HEADER_MAX: usize = 60;
const BODY_MAX: usize = 1024;
const BODY_ONLY_MAX: usize = 32_768;

fn too_long(section: &str, len: usize, max: usize) -> GraphError {
    GraphError::new(
        StatusCode::BAD_REQUEST,
        132005,
        "(#132005) Translated text too long",
    )
    .details(format!(
        "{section}: the text with its parameters filled in has {len} characters; at most {max} are allowed."
    ))
}

fn policy_violation(section: &str) -> GraphError {
    GraphError::new(
        StatusCode::BAD_REQUEST,
        132007,
        "(#132007) Template Format Character Policy Violated",
    )
    .details(format!(
        "{section}: parameter text cannot have new-line/tab characters or more than 4 consecutive spaces."
    ))
}

/// A parameter's text as it appears in the message.
fn text_of(p: &Value) -> Option<&str> {
    p.get("text")
        .and_then(Value::as_str)
        .or_else(|| {
            p.pointer("/currency/fallback_value")
                .and_then(Value::as_str)
        })
        .or_else(|| {
            p.pointer("/date_time/fallback_value")
                .and_then(Value::as_str)
        })
}

fn breaks_format_policy(text: &str) -> bool {
    text.contains(['\n', '\r', '\t']) || text.contains("     ")
}

/// `text` with each `{{…}}` replaced by its parameter's text; its length in characters.
fn hydrated_len(t: &Template, text: &str, params: &[Value]) -> usize {
    let mut len = char_len(text);
    for name in placeholders(text) {
        let value = match t.parameter_format {
            ParamFormat::Named => params
                .iter()
                .find(|p| p.get("parameter_name").and_then(Value::as_str) == Some(name.as_str())),
            ParamFormat::Positional => name
                .parse::<usize>()
                .ok()
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| params.get(i)),
        };
        let filled = value.and_then(text_of).map(char_len).unwrap_or(0);
        len = len - char_len(&format!("{{{{{name}}}}}")).min(len) + filled;
    }
    len
}

/// Checks the filled-in header and body of a send whose parameters already match the template.
pub(crate) fn check_filled_text(t: &Template, header: &[Value], body: &[Value]) -> GraphResult<()> {
    for (section, params) in [("header", header), ("body", body)] {
        if params.iter().filter_map(text_of).any(breaks_format_policy) {
            return Err(policy_violation(section));
        }
    }
    if t.header_format().is_none_or(|f| f == "TEXT")
        && let Some(text) = t.component_text("HEADER")
    {
        let len = hydrated_len(t, text, header);
        if len > HEADER_MAX {
            return Err(too_long("header", len, HEADER_MAX));
        }
    }
    if let Some(text) = t.component_text("BODY") {
        let body_only = t
            .components
            .iter()
            .all(|c| c.get("type").and_then(Value::as_str) == Some("BODY"));
        let max = if body_only { BODY_ONLY_MAX } else { BODY_MAX };
        let len = hydrated_len(t, text, body);
        if len > max {
            return Err(too_long("body", len, max));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::template::seed;

    fn order_update() -> Template {
        seed()
            .into_iter()
            .find(|t| t.name == "order_update")
            .unwrap()
    }

    fn text(s: &str) -> Value {
        json!({"type": "text", "text": s})
    }

    #[test]
    fn newlines_tabs_and_five_spaces_in_a_parameter_break_meta_s_format_policy() {
        let t = order_update();
        for bad in ["a\nb", "a\tb", "a     b"] {
            let e = check_filled_text(&t, &[], &[text(bad), text("x")]).unwrap_err();
            assert_eq!(e.code, 132007, "{bad:?}");
        }
        assert!(check_filled_text(&t, &[], &[text("a    b"), text("x")]).is_ok());
    }

    #[test]
    fn a_body_filled_past_its_limit_is_too_long() {
        let mut t = order_update();
        assert!(check_filled_text(&t, &[], &[text(&"a".repeat(30_000)), text("x")]).is_ok());
        let e = check_filled_text(&t, &[], &[text(&"a".repeat(32_768)), text("x")]).unwrap_err();
        assert_eq!(e.code, 132005);
        // With a footer the body may have only 1024 characters.
        t.components
            .push(json!({"type": "FOOTER", "text": "Lucky Shrub"}));
        let e = check_filled_text(&t, &[], &[text(&"a".repeat(1000)), text("x")]).unwrap_err();
        assert_eq!(e.code, 132005);
    }
}
