//! Lenient reading of JSON numbers: Meta sends some numbers as strings.

use serde_json::Value;

/// An integer from a JSON number or numeric string (codes, Unix seconds).
pub(crate) fn json_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
