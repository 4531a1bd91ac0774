//! A call's arguments on their way to the component: parsed once, judged by
//! the rules as parsed, and written out once for the component.

use serde_json::{Map, Value};

use crate::tool::{ErrorKind, ToolError};

/// The arguments of one call.
pub(super) enum Arguments<'a> {
    /// A JSON object (from MCP, or text that parsed as one): the rules judge
    /// it and the component gets its JSON text, so both read the same
    /// values even if the original text had duplicate keys.
    Object(Value),
    /// Text that is not a JSON object (`parsed` holds it if it is other
    /// JSON): passed to the component as it is, unless a rule must read it.
    Other {
        text: &'a str,
        parsed: Option<Value>,
    },
}

impl<'a> Arguments<'a> {
    /// A JSON object given as such.
    pub(super) fn from_object(map: Map<String, Value>) -> Arguments<'static> {
        Arguments::Object(Value::Object(map))
    }

    /// Arguments given as JSON text (the CLI).
    pub(super) fn text(text: &'a str) -> Arguments<'a> {
        match serde_json::from_str(text) {
            Ok(value @ Value::Object(_)) => Arguments::Object(value),
            parsed => Arguments::Other {
                text,
                parsed: parsed.ok(),
            },
        }
    }

    /// What the audit log records.
    pub(super) fn parsed(&self) -> Option<&Value> {
        match self {
            Arguments::Object(value) => Some(value),
            Arguments::Other { parsed, .. } => parsed.as_ref(),
        }
    }

    /// The object for the rules to judge; `None` if it is not one.
    pub(super) fn object(&self) -> Option<&Value> {
        match self {
            Arguments::Object(value) => Some(value),
            Arguments::Other { .. } => None,
        }
    }

    /// The JSON text the component gets: written here, once.
    pub(super) fn to_text(&self) -> std::borrow::Cow<'a, str> {
        match self {
            Arguments::Object(value) => value.to_string().into(),
            Arguments::Other { text, .. } => (*text).into(),
        }
    }
}

/// Why rules cannot judge arguments that are not a JSON object.
pub(super) fn not_an_object() -> ToolError {
    let mut e = ToolError::new(
        ErrorKind::InvalidArguments,
        "Invalid arguments",
        "the arguments are not a JSON object",
        "pass the arguments as a JSON object, e.g. {\"to\": \"+16505551234\", \
         \"text\": \"Hello\"}",
    );
    e.field = Some("arguments".into());
    e
}
