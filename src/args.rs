//! Argument parsing with precise, actionable validation errors.

use serde_json::{Map, Value};

use crate::error::ToolError;

/// The JSON type name used in error messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Rejects keys of `obj` not in `allowed`, naming them.
pub(crate) fn reject_unknown(
    obj: &Map<String, Value>,
    allowed: &[&str],
    path: &str,
) -> Result<(), ToolError> {
    let unknown: Vec<&str> = obj
        .keys()
        .map(String::as_str)
        .filter(|k| !allowed.contains(k))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let field = match (path.is_empty(), unknown.len()) {
        (true, 1) => unknown[0].to_string(),
        (false, 1) => format!("{path}.{}", unknown[0]),
        (true, _) => String::new(),
        (false, _) => path.to_string(),
    };
    let names = unknown
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let accepted = allowed
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut e = ToolError::invalid(
        field,
        "Unknown argument",
        format!(
            "{} {names} {} not accepted{}",
            if unknown.len() == 1 {
                "property"
            } else {
                "properties"
            },
            if unknown.len() == 1 { "is" } else { "are" },
            if path.is_empty() {
                String::new()
            } else {
                format!(" in `{path}`")
            }
        ),
        format!("Remove it; the accepted properties are {accepted}."),
    );
    if e.field.as_deref() == Some("") {
        e.field = None;
    }
    Err(e)
}

/// The tool's arguments: a JSON object with only the allowed keys.
pub(crate) struct Args {
    map: Map<String, Value>,
}

impl Args {
    /// Parses `text` as a JSON object (empty text counts as `{}`) and rejects
    /// unknown properties.
    pub(crate) fn parse(text: &str, allowed: &[&str]) -> Result<Args, ToolError> {
        let map = if text.trim().is_empty() {
            Map::new()
        } else {
            match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(m)) => m,
                Ok(other) => {
                    return Err(ToolError::new(
                        crate::error::ErrorKind::InvalidArguments,
                        "Arguments are not an object",
                        format!("the arguments are {}, not a JSON object", type_name(&other)),
                        "Pass the arguments as a JSON object, for example {\"to\": \"+16505551234\", \"text\": \"Hello\"}.",
                    ));
                }
                Err(e) => {
                    return Err(ToolError::new(
                        crate::error::ErrorKind::InvalidArguments,
                        "Arguments are not valid JSON",
                        format!("the arguments could not be parsed as JSON: {e}"),
                        "Pass the arguments as a JSON object.",
                    ));
                }
            }
        };
        reject_unknown(&map, allowed, "")?;
        Ok(Args { map })
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(crate) fn str_opt(&self, key: &str) -> Result<Option<&str>, ToolError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => as_str(v, key).map(Some),
        }
    }

    pub(crate) fn str_req(&self, key: &str, example: &str) -> Result<&str, ToolError> {
        match self.get(key) {
            None => Err(missing(key, example)),
            Some(v) => as_str(v, key),
        }
    }

    pub(crate) fn bool_opt(&self, key: &str) -> Result<Option<bool>, ToolError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(wrong_type(key, v, "a boolean (true or false)")),
        }
    }

    pub(crate) fn int_opt(&self, key: &str) -> Result<Option<i64>, ToolError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => Ok(Some(i)),
                None => Err(wrong_type(key, &Value::Number(n.clone()), "a whole number")),
            },
            Some(v) => Err(wrong_type(key, v, "a whole number")),
        }
    }
}

/// The string `key` of `obj`, an object at `path` (`path.key` names it in
/// errors); absent or null is missing.
pub(crate) fn str_field<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
    example: &str,
) -> Result<&'a str, ToolError> {
    let field = format!("{path}.{key}");
    match obj.get(key) {
        None | Some(Value::Null) => Err(missing(&field, example)),
        Some(v) => as_str(v, &field),
    }
}

pub(crate) fn missing(field: &str, example: &str) -> ToolError {
    ToolError::invalid(
        field,
        "Missing argument",
        format!("`{field}` is required"),
        format!("Add `{field}`, for example {example}."),
    )
}

pub(crate) fn wrong_type(field: &str, v: &Value, expected: &str) -> ToolError {
    ToolError::invalid(
        field,
        "Wrong argument type",
        format!("`{field}` is {}; expected {expected}", type_name(v)),
        format!("Pass `{field}` as {expected}."),
    )
}

pub(crate) fn as_str<'a>(v: &'a Value, field: &str) -> Result<&'a str, ToolError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(wrong_type(field, other, "a string")),
    }
}

pub(crate) fn as_object<'a>(
    v: &'a Value,
    field: &str,
) -> Result<&'a Map<String, Value>, ToolError> {
    match v {
        Value::Object(m) => Ok(m),
        other => Err(wrong_type(field, other, "an object")),
    }
}

pub(crate) fn as_array<'a>(v: &'a Value, field: &str) -> Result<&'a Vec<Value>, ToolError> {
    match v {
        Value::Array(a) => Ok(a),
        other => Err(wrong_type(field, other, "an array")),
    }
}

/// `value` of `field` is not one of `allowed`.
pub(crate) fn enum_error(field: &str, value: &str, allowed: &[&str]) -> ToolError {
    ToolError::invalid(
        field,
        "Invalid value",
        format!(
            "`{field}` is `{value}`; expected one of {}",
            allowed.join(", ")
        ),
        format!("Use one of {} (upper case).", allowed.join(", ")),
    )
}
