//! Argument parsing with precise, actionable validation errors.

use serde_json::{Map, Value};

use crate::error::ToolError;
use crate::text::char_len;

/// The JSON type name used in error messages.
pub fn type_name(v: &Value) -> &'static str {
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
pub fn reject_unknown(
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
pub struct Args {
    map: Map<String, Value>,
}

impl Args {
    /// Parses `text` as a JSON object (empty text counts as `{}`) and rejects
    /// unknown properties.
    pub fn parse(text: &str, allowed: &[&str]) -> Result<Args, ToolError> {
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

    pub fn get(&self, key: &str) -> Option<&Value> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn str_opt(&self, key: &str) -> Result<Option<&str>, ToolError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => as_str(v, key).map(Some),
        }
    }

    pub fn str_req(&self, key: &str, example: &str) -> Result<&str, ToolError> {
        match self.get(key) {
            None => Err(missing(key, example)),
            Some(v) => as_str(v, key),
        }
    }

    pub fn bool_opt(&self, key: &str) -> Result<Option<bool>, ToolError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(wrong_type(key, v, "a boolean (true or false)")),
        }
    }

    pub fn int_opt(&self, key: &str) -> Result<Option<i64>, ToolError> {
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

pub fn missing(field: &str, example: &str) -> ToolError {
    ToolError::invalid(
        field,
        "Missing argument",
        format!("`{field}` is required"),
        format!("Add `{field}`, for example {example}."),
    )
}

pub fn wrong_type(field: &str, v: &Value, expected: &str) -> ToolError {
    ToolError::invalid(
        field,
        "Wrong argument type",
        format!("`{field}` is {}; expected {expected}", type_name(v)),
        format!("Pass `{field}` as {expected}."),
    )
}

pub fn as_str<'a>(v: &'a Value, field: &str) -> Result<&'a str, ToolError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(wrong_type(field, other, "a string")),
    }
}

pub fn as_object<'a>(v: &'a Value, field: &str) -> Result<&'a Map<String, Value>, ToolError> {
    match v {
        Value::Object(m) => Ok(m),
        other => Err(wrong_type(field, other, "an object")),
    }
}

pub fn as_array<'a>(v: &'a Value, field: &str) -> Result<&'a Vec<Value>, ToolError> {
    match v {
        Value::Array(a) => Ok(a),
        other => Err(wrong_type(field, other, "an array")),
    }
}

/// Checks `min..=max` characters (Unicode scalar values).
pub fn check_len(
    field: &str,
    s: &str,
    min: usize,
    max: usize,
    what: &str,
) -> Result<(), ToolError> {
    let n = char_len(s);
    if n < min {
        return Err(ToolError::invalid(
            field,
            if min == 1 {
                "Empty value"
            } else {
                "Value too short"
            },
            if n == 0 {
                format!(
                    "`{field}` is empty; {what} needs at least {min} character{}",
                    if min == 1 { "" } else { "s" }
                )
            } else {
                format!("`{field}` has {n} characters; {what} needs at least {min}")
            },
            format!("Give a non-empty `{field}`."),
        ));
    }
    if n > max {
        return Err(ToolError::invalid(
            field,
            "Value too long",
            format!("`{field}` has {n} characters; {what} allows at most {max}"),
            format!("Shorten `{field}` to {max} characters or fewer."),
        ));
    }
    Ok(())
}

/// Checks a string against a character-class rule; `allowed` describes it.
pub fn check_chars(
    field: &str,
    s: &str,
    ok: impl Fn(char) -> bool,
    allowed: &str,
    example: &str,
) -> Result<(), ToolError> {
    if let Some(bad) = s.chars().find(|c| !ok(*c)) {
        return Err(ToolError::invalid(
            field,
            "Invalid characters",
            format!("`{field}` is `{s}`, which contains `{bad}`; only {allowed} are allowed"),
            format!("Use only {allowed}, for example {example}."),
        ));
    }
    Ok(())
}

/// Template names: lower-case letters, digits and underscores, 1..=512.
pub fn check_template_name(field: &str, s: &str) -> Result<(), ToolError> {
    check_len(field, s, 1, 512, "a template name")?;
    check_chars(
        field,
        s,
        |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_',
        "lower-case letters a-z, digits and underscores",
        "`order_update`",
    )
}

/// Language codes like `en`, `en_US`, `pt_BR`, `zh_Hant` (lenient).
pub fn check_language(field: &str, s: &str) -> Result<(), ToolError> {
    let (lang, region) = match s.split_once('_') {
        Some((l, r)) => (l, Some(r)),
        None => (s, None),
    };
    let lang_ok = (2..=3).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_lowercase());
    let region_ok = region
        .is_none_or(|r| (2..=4).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric()));
    if lang_ok && region_ok {
        return Ok(());
    }
    Err(ToolError::invalid(
        field,
        "Invalid language code",
        format!(
            "`{field}` is `{s}`; expected a WhatsApp language code like `en`, `en_US` or `pt_BR` (lower-case language, optional `_` and region)"
        ),
        "Use the template's exact language code as shown by whatsapp_list_templates, for example `en_US` (not `en-US` or `English`).",
    ))
}

/// Printable ASCII without spaces, 1..=max (ids, cursors).
pub fn check_token(
    field: &str,
    s: &str,
    max: usize,
    what: &str,
    example: &str,
) -> Result<(), ToolError> {
    check_len(field, s, 1, max, what)?;
    check_chars(
        field,
        s,
        |c| c.is_ascii_graphic(),
        "printable ASCII characters without spaces",
        example,
    )
}

/// Digits only (numeric Graph ids).
pub fn check_digits(
    field: &str,
    s: &str,
    max: usize,
    what: &str,
    example: &str,
) -> Result<(), ToolError> {
    check_len(field, s, 1, max, what)?;
    check_chars(field, s, |c| c.is_ascii_digit(), "digits", example)
}
