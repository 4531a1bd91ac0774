//! Small readers of JSON values: lenient integers (Meta sends some numbers
//! as strings) and string fields.

use serde_json::Value;

/// An integer from a JSON number or numeric string (codes, Unix seconds).
pub(crate) fn json_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The string under `key` of a JSON object, if any.
pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}
