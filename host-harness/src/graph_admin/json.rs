//! Lenient readers for Graph's JSON, which sends ids and numbers either as
//! JSON numbers or as strings.

use serde_json::Value;

/// A string, or a number as its decimal text.
pub(crate) fn string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The node's `id`.
pub(crate) fn id_of(v: &Value) -> Option<String> {
    string(v.get("id")?)
}

/// A non-negative integer, or a string holding one.
pub(crate) fn u64_of(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// An integer, or a string holding one (surrounding spaces allowed).
pub(crate) fn i64_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
