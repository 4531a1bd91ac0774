//! Host-side views of the component's tool descriptors and tool errors,
//! parsed once and serialisable for the CLI, MCP and the audit log.

use serde::Serialize;
use serde_json::Value;

use crate::runtime::bindings::tools as wit;

/// Whether a tool reads, writes or deletes; policies enable tools by category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Reads state; changes nothing.
    Read,
    /// Sends messages or changes settings.
    Write,
    /// Deletes something.
    Delete,
}

/// MCP behaviour hints, named as MCP names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Annotations {
    /// The tool changes nothing.
    pub read_only_hint: bool,
    /// The tool may overwrite or delete existing data.
    pub destructive_hint: bool,
    /// Repeating the call with the same arguments has no further effect.
    pub idempotent_hint: bool,
    /// The tool reaches outside the host (the WhatsApp Cloud API).
    pub open_world_hint: bool,
}

/// A tool as the component describes it, with its schemas parsed.
#[derive(Clone, Debug, Serialize)]
pub struct ToolDescriptor {
    /// MCP tool name, for example `whatsapp_send_message`.
    pub name: String,
    /// Human-readable title.
    pub title: String,
    /// What the tool does and how to use it well; written for a model.
    pub description: String,
    /// Read, write or delete.
    pub category: Category,
    /// JSON Schema (2020-12) of the arguments; always an object.
    pub input_schema: Value,
    /// JSON Schema (2020-12) of a successful result; always an object.
    pub output_schema: Value,
    /// Behaviour hints.
    pub annotations: Annotations,
    /// OAuth scopes the access token must have for this tool.
    pub scopes: Vec<String>,
}

impl ToolDescriptor {
    pub(crate) fn from_wit(d: wit::ToolDescriptor) -> anyhow::Result<ToolDescriptor> {
        let parse = |what: &str, text: &str| -> anyhow::Result<Value> {
            let value: Value = serde_json::from_str(text)
                .map_err(|e| anyhow::anyhow!("tool `{}` has an invalid {what}: {e}", d.name))?;
            anyhow::ensure!(
                value.is_object(),
                "tool `{}`: {what} is not a JSON object",
                d.name
            );
            Ok(value)
        };
        Ok(ToolDescriptor {
            input_schema: parse("input schema", &d.input_schema)?,
            output_schema: parse("output schema", &d.output_schema)?,
            category: match d.category {
                wit::Category::Read => Category::Read,
                wit::Category::Write => Category::Write,
                wit::Category::Delete => Category::Delete,
            },
            annotations: Annotations {
                read_only_hint: d.annotations.read_only,
                destructive_hint: d.annotations.destructive,
                idempotent_hint: d.annotations.idempotent,
                open_world_hint: d.annotations.open_world,
            },
            name: d.name,
            title: d.title,
            description: d.description,
            scopes: d.scopes,
        })
    }
}

/// The class of a tool failure: the component's classes plus the host's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The arguments broke a rule; nothing was sent.
    InvalidArguments,
    /// No tool has this name (for this client).
    UnknownTool,
    /// The Graph API answered with an error; `code` is Meta's error code.
    ApiError,
    /// The request could not be completed on the wire and was not delivered.
    Transport,
    /// The request may have reached WhatsApp but no answer came back.
    OutcomeUnknown,
    /// The host refused the call (allowlist, credential, policy, scope).
    Denied,
    /// The message or resource is not known.
    NotFound,
    /// Local state or configuration is missing or broken.
    Internal,
    /// The call ran out of time (host deadline).
    Timeout,
    /// The component trapped or exceeded a resource limit.
    ComponentFailure,
}

/// A failed tool call, as a model should see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ToolError {
    /// The class of failure.
    pub kind: ErrorKind,
    /// Meta's numeric error code, for API errors and errors shaped like them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    /// Short title, for example `Re-engagement message`.
    pub title: String,
    /// What happened, with specifics.
    pub details: String,
    /// What to do next.
    pub hint: String,
    /// Whether repeating the same call later may succeed.
    pub retryable: bool,
    /// The argument at fault, as a JSON pointer-like path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Meta's trace id, for support requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fbtrace_id: Option<String>,
    /// HTTP status of the API response, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Meta's error subcode, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_subcode: Option<i64>,
    /// Meta's title for the user (`error_user_title`), when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_user_title: Option<String>,
    /// Meta's message for the user (`error_user_msg`), when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_user_msg: Option<String>,
    /// For rate limits: seconds until Meta expects the quota back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u32>,
    /// Which guardrail refused the call, for host-side denials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl ToolError {
    /// A non-retryable error with only the required parts.
    pub fn new(
        kind: ErrorKind,
        title: impl Into<String>,
        details: impl Into<String>,
        hint: impl Into<String>,
    ) -> ToolError {
        ToolError {
            kind,
            code: None,
            title: title.into(),
            details: details.into(),
            hint: hint.into(),
            retryable: false,
            field: None,
            fbtrace_id: None,
            http_status: None,
            error_subcode: None,
            error_user_title: None,
            error_user_msg: None,
            retry_after_seconds: None,
            rule: None,
        }
    }

    /// The same error, marked retryable or not.
    pub fn retryable(mut self, retryable: bool) -> ToolError {
        self.retryable = retryable;
        self
    }

    pub(crate) fn from_wit(e: wit::ToolError) -> ToolError {
        ToolError {
            kind: match e.kind {
                wit::ErrorKind::InvalidArguments => ErrorKind::InvalidArguments,
                wit::ErrorKind::UnknownTool => ErrorKind::UnknownTool,
                wit::ErrorKind::ApiError => ErrorKind::ApiError,
                wit::ErrorKind::Transport => ErrorKind::Transport,
                wit::ErrorKind::OutcomeUnknown => ErrorKind::OutcomeUnknown,
                wit::ErrorKind::Denied => ErrorKind::Denied,
                wit::ErrorKind::NotFound => ErrorKind::NotFound,
                wit::ErrorKind::Internal => ErrorKind::Internal,
            },
            code: e.code,
            title: e.title,
            details: e.details,
            hint: e.hint,
            retryable: e.retryable,
            field: e.field,
            fbtrace_id: e.fbtrace_id,
            http_status: e.http_status,
            error_subcode: e.error_subcode,
            error_user_title: e.error_user_title,
            error_user_msg: e.error_user_msg,
            retry_after_seconds: e.retry_after_seconds,
            rule: None,
        }
    }

    /// One line a model can act on: what failed, why, and what to do.
    pub fn one_line(&self) -> String {
        let mut line = match self.code {
            Some(code) => format!("Error {code} ({})", self.title),
            None => self.title.clone(),
        };
        if let Some(field) = &self.field {
            line.push_str(&format!(" in `{field}`"));
        }
        if !self.details.is_empty() {
            line.push_str(": ");
            line.push_str(&self.details);
        }
        if !self.hint.is_empty() {
            // End the sentence first, so the details do not run into the hint.
            line.truncate(line.trim_end().len());
            if !line.ends_with(['.', '!', '?']) {
                line.push('.');
            }
            line.push_str(" Hint: ");
            line.push_str(&self.hint);
        }
        line.replace(['\n', '\r'], " ")
    }

    /// `{"error": {...}}`, the structured form for MCP and the CLI.
    pub fn to_json(&self) -> Value {
        serde_json::json!({ "error": self })
    }
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.one_line())
    }
}

impl std::error::Error for ToolError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_line_form_ends_the_details_with_a_period_before_the_hint() {
        let e = ToolError::new(
            ErrorKind::InvalidArguments,
            "Invalid phone number",
            "the number has no country code",
            "Give the full number, e.g. +16505551234.",
        );
        assert_eq!(
            e.one_line(),
            "Invalid phone number: the number has no country code. \
             Hint: Give the full number, e.g. +16505551234."
        );
    }

    #[test]
    fn the_one_line_form_does_not_double_a_period_the_details_already_end_with() {
        let e = ToolError::new(
            ErrorKind::ApiError,
            "Rate limited",
            "Too many calls. ",
            "Wait a minute.",
        );
        assert_eq!(
            e.one_line(),
            "Rate limited: Too many calls. Hint: Wait a minute."
        );
    }

    #[test]
    fn the_one_line_form_without_details_ends_the_title_before_the_hint() {
        let e = ToolError::new(ErrorKind::ApiError, "Rate limited", "", "Wait a minute.");
        assert_eq!(e.one_line(), "Rate limited. Hint: Wait a minute.");
    }
}
