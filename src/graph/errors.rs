//! What a Graph answer (or its absence) means for the model: the mapping of
//! responses, host errors and Graph error objects to tool errors.

use serde_json::Value;

use super::call_kind::{CallKind, SCOPE_MESSAGING};
use super::codes::{self, INVALID_PARAMETER};
use crate::checks::char_len;
use crate::error::{ErrorKind, ToolError, ToolErrorData};
use crate::host::{CredentialError, HttpError, HttpResponse};
use crate::json::json_i64;

/// A 2xx JSON body, or the tool error the response stands for.
pub(crate) fn map_response(resp: &HttpResponse, kind: CallKind) -> Result<Value, ToolError> {
    let parsed: Option<Value> = serde_json::from_slice(&resp.body).ok();
    if (200..300).contains(&resp.status) {
        return match parsed {
            Some(v) => Ok(v),
            None if kind.is_send => Err(ToolError::new(
                ErrorKind::OutcomeUnknown,
                "Outcome unknown",
                format!(
                    "the API answered HTTP {} but the body is not JSON ({}), so the message id is unknown",
                    resp.status,
                    excerpt(&resp.body, 120)
                ),
                "The message may have been sent. Do not resend blindly: check the recipient's conversation or whatsapp_get_message_status before trying again.",
            )
            .with_http_status(resp.status)),
            None => Err(ToolError::new(
                ErrorKind::Transport,
                "Unexpected response",
                format!(
                    "the API answered HTTP {} with a body that is not JSON: {}",
                    resp.status,
                    excerpt(&resp.body, 120)
                ),
                "Retry later; if it persists, check `api-base-url` points at the Graph API (a proxy or captive portal may be answering).",
            )
            .retryable(true)
            .with_http_status(resp.status)),
        };
    }
    if let Some(err) = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .filter(|e| e.is_object())
    {
        let mut e = map_graph_error(resp.status, err, kind);
        if e.code.is_some_and(is_quota_code) {
            e.retry_after_seconds = super::usage::regain_access_seconds(&resp.headers);
            if let Some(s) = e.retry_after_seconds {
                e.hint.push_str(&format!(
                    " Meta expects the quota back in about {s} seconds."
                ));
            }
        }
        return Err(e);
    }
    let retryable = resp.status >= 500 || resp.status == 429;
    let mut hint = if retryable {
        "A server or gateway between the connector and the Graph API failed; retry later."
            .to_string()
    } else if (300..400).contains(&resp.status) {
        "The API answered with a redirect, which is never followed; check `api-base-url` and `api-version`.".to_string()
    } else {
        "The answer did not come from the Graph API in its usual form; check `api-base-url` and retry later.".to_string()
    };
    if kind.is_send && resp.status >= 500 {
        hint.push_str(" For a send, the message may still have been accepted: check whatsapp_get_message_status or the conversation before resending.");
    }
    Err(ToolError::new(
        ErrorKind::Transport,
        format!("HTTP {} from the API", resp.status),
        format!(
            "HTTP {} with a non-Graph body: {}",
            resp.status,
            excerpt(&resp.body, 160)
        ),
        hint,
    )
    .retryable(retryable)
    .with_http_status(resp.status))
}

/// Maps a host HTTP error (no response) to a tool error.
pub(crate) fn map_http_error(e: &HttpError, kind: CallKind) -> ToolError {
    match e {
        HttpError::Denied(reason) => ToolError::new(
            ErrorKind::Denied,
            "Request denied by the host",
            format!("the host refused the request before sending it: {reason}"),
            "Nothing was sent. Ask the operator to allow the Graph API origin for this connector (and to bind the access-token credential to it).",
        ),
        HttpError::InvalidRequest(reason) => ToolError::internal(
            "Invalid request",
            format!("the host rejected the request as malformed: {reason}"),
            "Nothing was sent. This is a connector or configuration bug: check `api-base-url`, `phone-number-id` and `waba-id`.",
        ),
        HttpError::TooLarge(n) => ToolError::new(
            ErrorKind::Transport,
            "Response too large",
            format!("the API response exceeded the host's body cap ({n} bytes)"),
            if kind.is_send {
                "The request reached the API; do not resend blindly. For listings, ask for fewer items (smaller `limit`)."
            } else {
                "Ask for fewer items (a smaller `limit`, fewer `fields`)."
            },
        ),
        HttpError::Timeout {
            message,
            request_sent,
        }
        | HttpError::Transport {
            message,
            request_sent,
        } => {
            let what = if matches!(e, HttpError::Timeout { .. }) {
                "timed out"
            } else {
                "failed on the wire"
            };
            if kind.is_send && *request_sent {
                ToolError::new(
                    ErrorKind::OutcomeUnknown,
                    "Outcome unknown",
                    format!(
                        "the request {what} after it was sent ({message}); WhatsApp may or may not have accepted the message"
                    ),
                    "Do not resend blindly: the user may already have it. Check whatsapp_get_message_status once webhooks arrive, or the conversation, before sending again.",
                )
            } else {
                ToolError::new(
                    ErrorKind::Transport,
                    if matches!(e, HttpError::Timeout { .. }) {
                        "Request timed out"
                    } else {
                        "Network error"
                    },
                    format!("the request {what}: {message}"),
                    "Nothing reached WhatsApp that changes state; retry in a few seconds.",
                )
                .retryable(true)
            }
        }
    }
}

/// Maps a failure to open the access-token credential to a tool error.
pub(crate) fn map_credential_error(e: &CredentialError) -> ToolError {
    match e {
        CredentialError::NotGranted(name) => ToolError::new(
            ErrorKind::Denied,
            "Credential not granted",
            format!("the access-token credential `{name}` is not granted to this connector"),
            "Nothing was sent. Connect the WhatsApp account (`host-harness connect`) or ask the operator to grant the credential named by config `credential`.",
        ),
        CredentialError::Unavailable(why) => ToolError::new(
            ErrorKind::Denied,
            "Credential unavailable",
            format!("the access token cannot be used now: {why}"),
            "Nothing was sent. Reconnect the account (`host-harness connect`) or replace the token, then retry.",
        ),
    }
}

/// Short title, hint and retryability for a Graph/WhatsApp error code.
pub(crate) fn describe_code(code: i64, details: &str, scope: &str) -> (&'static str, String, bool) {
    if code == INVALID_PARAMETER {
        return ("Invalid parameter", hint_100(details), false);
    }
    match codes::lookup(code) {
        Some(info) => (
            info.title,
            info.hint
                .replace("{scope}", scope)
                .replace("{details}", details),
            info.retryable,
        ),
        None => ("WhatsApp API error", String::new(), false),
    }
}

/// For code 100: names the parameter found in `details`, when any.
fn hint_100(details: &str) -> String {
    let lower = details.to_ascii_lowercase();
    if lower.contains("does not exist")
        || lower.contains("doesn't exist")
        || lower.contains("not found")
    {
        return format!(
            "Meta could not find what the call names ({details}): check the exact name or id \
             (templates: whatsapp_list_templates) and call again."
        );
    }
    match parameter_name(details) {
        Some(p) => format!(
            "Meta rejected the parameter `{p}` ({details}): fix or remove it and call again."
        ),
        None => format!(
            "Meta rejected a parameter ({details}): fix the named parameter and call again."
        ),
    }
}

/// Extracts a parameter name from a Graph error message: the word after
/// `param`/`parameter`. Quoted values are not names, so they are not guessed.
fn parameter_name(details: &str) -> Option<String> {
    let lower = details.to_ascii_lowercase();
    for marker in ["parameter ", "param "] {
        if let Some(i) = lower.find(marker) {
            let rest = &details[i + marker.len()..];
            let word: String = rest
                .trim_start_matches(['"', '\'', '`'])
                .chars()
                .take_while(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '\'')
                })
                .collect();
            let word = word.trim_end_matches(['\'', '.']).to_string();
            if !word.is_empty() && word != "is" && word != "value" {
                return Some(word);
            }
        }
    }
    None
}

/// Codes whose quota is counted per hour or per rate-limit window, for which
/// Meta's usage headers say when access comes back.
pub(crate) fn is_quota_code(code: i64) -> bool {
    matches!(code, 4 | 17 | 32 | 613 | 80007)
}

/// A non-empty string field of a Graph error object.
fn text_field(err: &Value, key: &str) -> Option<String> {
    err.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Maps a Graph `error` object (parsed leniently) to a tool error.
pub(crate) fn map_graph_error(http_status: u16, err: &Value, kind: CallKind) -> ToolError {
    let code = err.get("code").and_then(json_i64);
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim();
    let details = err
        .get("error_data")
        .and_then(|d| d.get("details"))
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            err.get("error_user_msg")
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
        })
        .unwrap_or(message)
        .trim()
        .to_string();
    let details = if details.is_empty() {
        format!("HTTP {http_status} without an error message")
    } else {
        details
    };
    let fbtrace = err
        .get("fbtrace_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let transient = err
        .get("is_transient")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let subcode = err.get("error_subcode").and_then(json_i64);
    let (title, hint, retryable) = match code {
        Some(c) => describe_code(c, &details, kind.scope),
        None => ("WhatsApp API error", String::new(), false),
    };
    let (title, hint) = match (code, subcode) {
        (Some(c), Some(sc)) => match codes::lookup_subcode(c, sc) {
            Some((t, h)) => (t, h.to_string()),
            None => (title, hint),
        },
        _ => (title, hint),
    };
    let title = if title == "WhatsApp API error" {
        err.get("error_user_title")
            .and_then(Value::as_str)
            .filter(|t| !t.trim().is_empty())
            .unwrap_or(title)
            .to_string()
    } else {
        title.to_string()
    };
    let hint = if hint.is_empty() {
        let trace = fbtrace
            .as_deref()
            .map(|t| format!(", fbtrace_id {t}"))
            .unwrap_or_default();
        let code_s = code
            .map(|c| c.to_string())
            .unwrap_or_else(|| "none".to_string());
        format!(
            "Meta returned error code {code_s}{trace}: read the details, fix the request if it names a parameter, and look the code up at developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes; quote the fbtrace id to Meta support if it persists."
        )
    } else {
        hint
    };
    ToolError(Box::new(ToolErrorData {
        kind: ErrorKind::ApiError,
        code,
        title,
        details,
        hint,
        retryable: retryable || transient,
        field: None,
        fbtrace_id: fbtrace,
        http_status: Some(http_status),
        error_subcode: subcode,
        error_user_title: text_field(err, "error_user_title"),
        error_user_msg: text_field(err, "error_user_msg"),
        retry_after_seconds: None,
    }))
}

/// A webhook error item (`statuses[].errors[]`) with the same hints:
/// `{code, title, details, hint, retryable}`.
pub(crate) fn webhook_error(err: &Value) -> Value {
    let code = err.get("code").and_then(json_i64);
    let message = err.get("message").and_then(Value::as_str).unwrap_or("");
    let details = err
        .get("error_data")
        .and_then(|d| d.get("details"))
        .and_then(Value::as_str)
        .unwrap_or(message)
        .to_string();
    let (title, mut hint, retryable) = match code {
        Some(c) => describe_code(c, &details, SCOPE_MESSAGING),
        None => ("WhatsApp error", String::new(), false),
    };
    let title = if title == "WhatsApp API error" || title == "WhatsApp error" {
        err.get("title")
            .and_then(Value::as_str)
            .unwrap_or(title)
            .to_string()
    } else {
        title.to_string()
    };
    if hint.is_empty() {
        hint = format!(
            "Meta reported error code {}: see developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes.",
            code.map(|c| c.to_string())
                .unwrap_or_else(|| "none".to_string())
        );
    }
    let mut out = serde_json::Map::new();
    if let Some(c) = code {
        out.insert("code".into(), c.into());
    }
    out.insert("title".into(), title.into());
    out.insert("details".into(), details.into());
    out.insert("hint".into(), hint.into());
    out.insert("retryable".into(), retryable.into());
    Value::Object(out)
}

/// A short, single-line, printable excerpt of a response body (HTML tags
/// removed), for error details.
pub(crate) fn excerpt(body: &[u8], max_chars: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    let mut in_tag = false;
    let mut last_space = true;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                if !last_space {
                    out.push(' ');
                    last_space = true;
                }
            }
            _ if in_tag => {}
            c if c.is_whitespace() || c.is_control() => {
                if !last_space {
                    out.push(' ');
                    last_space = true;
                }
            }
            c => {
                out.push(c);
                last_space = false;
            }
        }
        if char_len(&out) >= max_chars {
            out.push('…');
            break;
        }
    }
    out.trim().to_string()
}
