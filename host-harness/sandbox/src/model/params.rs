//! Reading request parameters (a JSON object: query and body merged) the way Graph does.

use serde_json::{Map, Value};

use crate::graph_error::{GraphError, GraphResult};

/// A string or a number as text (Graph takes `"5"` and `5` alike where it expects text).
pub(crate) fn string_like(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// How a value is quoted back in an error: its text, or its JSON.
pub(crate) fn value_text(v: &Value) -> String {
    string_like(v).unwrap_or_else(|| v.to_string())
}

/// `messaging_product` is required and must be `whatsapp` (any case).
pub(crate) fn require_whatsapp_product(params: &Map<String, Value>) -> GraphResult<()> {
    match params.get("messaging_product") {
        None | Some(Value::Null) => Err(GraphError::required_param("messaging_product")),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("whatsapp") => Ok(()),
        Some(other) => Err(GraphError::enum_param(
            "messaging_product",
            &["WHATSAPP"],
            &value_text(other),
        )),
    }
}
