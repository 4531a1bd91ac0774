//! Graph API requests and the mapping of their outcomes to tool errors.

use serde_json::Value;

use crate::error::{ErrorKind, ToolError};
use crate::host::{CredentialError, Host, HttpError, HttpRequest, HttpResponse, Method};
use crate::retry;
use crate::settings;
use crate::text::{encode_query_value, excerpt, json_i64};

pub const SCOPE_MESSAGING: &str = "whatsapp_business_messaging";
pub const SCOPE_MANAGEMENT: &str = "whatsapp_business_management";

/// What kind of call a request is, for error mapping.
#[derive(Debug, Clone, Copy)]
pub struct CallKind {
    /// A non-idempotent send: a lost answer means the outcome is unknown.
    pub is_send: bool,
    /// The permission the endpoint needs, named in permission errors.
    pub scope: &'static str,
}

pub const SEND: CallKind = CallKind {
    is_send: true,
    scope: SCOPE_MESSAGING,
};
pub const MANAGE: CallKind = CallKind {
    is_send: false,
    scope: SCOPE_MANAGEMENT,
};
pub const READ_MESSAGING: CallKind = CallKind {
    is_send: false,
    scope: SCOPE_MESSAGING,
};
pub const PROFILE: CallKind = CallKind {
    is_send: false,
    scope: "whatsapp_business_management and whatsapp_business_messaging",
};

/// Builds `{root}/{path}?{query}` with percent-encoded query values.
pub fn build_url(root: &str, path: &str, query: &[(&str, String)]) -> String {
    let mut url = format!("{root}/{path}");
    for (i, (k, v)) in query.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(k);
        url.push('=');
        url.push_str(&encode_query_value(v));
    }
    url
}

/// A Graph client bound to the host and the configured API root.
pub struct Graph<'a> {
    host: &'a dyn Host,
    pub root: String,
    credential: String,
    timeout_ms: u32,
    /// Unix ms by which the whole tool call must be done; retries stop short of it.
    deadline_ms: u64,
}

impl<'a> Graph<'a> {
    pub fn new(host: &'a dyn Host) -> Result<Self, ToolError> {
        Ok(Graph {
            host,
            root: settings::api_root(host)?,
            credential: settings::credential(host),
            timeout_ms: settings::timeout_ms(host),
            deadline_ms: host.now_unix_ms() + settings::call_deadline_ms(host),
        })
    }

    pub fn url(&self, path: &str, query: &[(&str, String)]) -> String {
        build_url(&self.root, path, query)
    }

    fn request(&self, method: Method, url: String, body: Option<&Value>) -> HttpRequest {
        let mut headers = vec![("accept".to_string(), "application/json".to_string())];
        let body = body.map(|b| {
            headers.push(("content-type".to_string(), "application/json".to_string()));
            b.to_string().into_bytes()
        });
        HttpRequest {
            method,
            url,
            headers,
            body,
            timeout_ms: Some(self.timeout_ms),
        }
    }

    pub fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        kind: CallKind,
    ) -> Result<Value, ToolError> {
        let req = self.request(Method::Get, self.url(path, query), None);
        self.execute(&req, kind)
    }

    pub fn post(&self, path: &str, body: &Value, kind: CallKind) -> Result<Value, ToolError> {
        let req = self.request(Method::Post, self.url(path, &[]), Some(body));
        self.execute(&req, kind)
    }

    pub fn delete(
        &self,
        path: &str,
        query: &[(&str, String)],
        kind: CallKind,
    ) -> Result<Value, ToolError> {
        let req = self.request(Method::Delete, self.url(path, query), None);
        self.execute(&req, kind)
    }

    /// Sends `req`, repeating it while `retry` says it is safe and the call
    /// deadline leaves room for another attempt.
    fn execute(&self, req: &HttpRequest, kind: CallKind) -> Result<Value, ToolError> {
        let mut req = req.clone();
        let mut attempt = 0;
        loop {
            let result = self.host.send(&req, Some(&self.credential));
            let outcome = retry::Outcome::of(&result);
            let mapped = match result {
                Ok(resp) => map_response(&resp, kind),
                Err(e) => Err(map_http_error(&e, kind)),
            };
            let Err(error) = mapped else { return mapped };
            let now = self.host.now_unix_ms();
            let Some(delay) = retry::delay_ms(outcome, req.method, attempt, now % 1001) else {
                return Err(error.after_attempts(attempt + 1));
            };
            // Another attempt needs the delay plus time for the request itself.
            let remaining = self.deadline_ms.saturating_sub(now + delay);
            if remaining < MIN_ATTEMPT_MS {
                return Err(error.after_attempts(attempt + 1));
            }
            self.host.sleep_ms(delay);
            req.timeout_ms = Some(
                self.timeout_ms
                    .min(u32::try_from(remaining).unwrap_or(u32::MAX)),
            );
            attempt += 1;
        }
    }
}

/// The least time worth giving a retried request.
const MIN_ATTEMPT_MS: u64 = 1_000;

/// A 2xx JSON body, or the tool error the response stands for.
pub fn map_response(resp: &HttpResponse, kind: CallKind) -> Result<Value, ToolError> {
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
        return Err(map_graph_error(resp.status, err, kind));
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
pub fn map_http_error(e: &HttpError, kind: CallKind) -> ToolError {
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
        HttpError::Credential(CredentialError::NotGranted(name)) => ToolError::new(
            ErrorKind::Denied,
            "Credential not granted",
            format!("the access-token credential `{name}` is not granted to this connector"),
            "Nothing was sent. Connect the WhatsApp account (`host-harness connect`) or ask the operator to grant the credential named by config `credential`.",
        ),
        HttpError::Credential(CredentialError::Unavailable(why)) => ToolError::new(
            ErrorKind::Denied,
            "Credential unavailable",
            format!("the access token cannot be used now: {why}"),
            "Nothing was sent. Reconnect the account (`host-harness connect`) or replace the token, then retry.",
        ),
    }
}

/// Short title, hint and retryability for a Graph/WhatsApp error code.
pub fn describe_code(code: i64, details: &str, scope: &str) -> (&'static str, String, bool) {
    let s = |x: &str| x.to_string();
    match code {
        0 => (
            "Authentication failed",
            s(
                "The access token could not be authenticated (expired or invalidated): reconnect the account (`host-harness connect`) or replace the token.",
            ),
            false,
        ),
        1 => (
            "Unknown API error",
            s(
                "Meta could not process the request (invalid request or a server problem): check the arguments, then retry once after a short wait; see metastatus.com if it persists.",
            ),
            true,
        ),
        2 => (
            "API service unavailable",
            s("Temporary downtime or overload at Meta: retry later with exponential backoff."),
            true,
        ),
        3 => (
            "Capability or permission missing",
            format!(
                "The app lacks the capability for this call: check that the token has {scope} and that the app has the WhatsApp product."
            ),
            false,
        ),
        4 => (
            "Too many API calls",
            s(
                "The app-level rate limit was reached: wait and retry with backoff (the x-app-usage header shows the usage); spread calls out.",
            ),
            true,
        ),
        10 => (
            "Permission denied",
            format!(
                "The token lacks a permission: grant {scope} to the app or system user and assign the WhatsApp account to it, then reconnect (`host-harness connect`)."
            ),
            false,
        ),
        17 => (
            "User request limit reached",
            s("Too many calls for this user: wait a few minutes and retry with backoff."),
            true,
        ),
        33 => (
            "Phone number deleted",
            s(
                "The sending phone number was deleted from the WhatsApp Business Account: check `phone-number-id`.",
            ),
            false,
        ),
        100 => ("Invalid parameter", hint_100(details), false),
        190 => (
            "Access token expired or invalid",
            s(
                "The access token expired or is invalid: reconnect the account (`host-harness connect`) or replace the token, then retry.",
            ),
            false,
        ),
        200..=299 => (
            "Permission denied",
            format!(
                "The token has no access to this WhatsApp asset: grant {scope} (with the WABA and phone number assigned to the system user or app), then reconnect (`host-harness connect`)."
            ),
            false,
        ),
        368 => (
            "Temporarily blocked for policy violations",
            s(
                "The account is temporarily blocked for policy violations: check Business Support Home / WhatsApp Manager for the restriction and appeal there; retrying will not help.",
            ),
            false,
        ),
        80007 => (
            "WABA rate limit reached",
            s(
                "The WhatsApp Business Account's management rate limit (200 or 5000 calls per hour) was hit: wait before listing, creating or deleting templates again.",
            ),
            true,
        ),
        130429 => (
            "Throughput limit reached",
            s(
                "The phone number's send rate (80 messages per second by default) was exceeded: slow down and retry this message after a short backoff.",
            ),
            true,
        ),
        130472 => (
            "User in a marketing experiment",
            s(
                "Meta withheld this marketing message because the user is part of an experiment: do not retry; reach them with a utility template or later.",
            ),
            false,
        ),
        130497 => (
            "Country restricted",
            s("Messages to users in this country are restricted for this business: do not retry."),
            false,
        ),
        131000 => (
            "Something went wrong",
            s(
                "A generic WhatsApp failure: retry once or twice with backoff; if it persists, contact Meta support with the fbtrace id.",
            ),
            true,
        ),
        131005 => (
            "Access denied",
            format!(
                "The token lacks the permission for this call: grant {scope} and reconnect (`host-harness connect`)."
            ),
            false,
        ),
        131008 => (
            "Required parameter missing",
            format!("A required parameter is missing: {details}. Add it and call again."),
            false,
        ),
        131009 => (
            "Parameter value not valid",
            format!("A parameter value is not valid: {details}. Fix it and call again."),
            false,
        ),
        131016 => (
            "Service unavailable",
            s("WhatsApp is temporarily unavailable: retry later with backoff."),
            true,
        ),
        131021 => (
            "Recipient cannot be sender",
            s("`to` is the business's own number: send to a different user."),
            false,
        ),
        131026 => (
            "Message undeliverable",
            s(
                "The recipient cannot receive this message (not on WhatsApp, an old app version, terms not accepted, or the business is blocked): check the number; do not retry the same message.",
            ),
            false,
        ),
        131030 => (
            "Recipient not in allowed list",
            s(
                "With a test number only up to 5 allowed recipients can be messaged: add this number in App Dashboard > WhatsApp > API Setup (To field), or use a production number.",
            ),
            false,
        ),
        131031 => (
            "Business account locked",
            s(
                "The WhatsApp Business Account is locked (policy violation or a wrong two-step PIN): check WhatsApp Manager; retrying will not help.",
            ),
            false,
        ),
        131037 => (
            "Display name not approved",
            s(
                "The sending number needs an approved display name before it can send: finish display-name review in WhatsApp Manager.",
            ),
            false,
        ),
        131042 => (
            "Payment issue",
            s(
                "There is a billing problem with the WhatsApp Business Account: fix the payment method in Business Settings, then retry.",
            ),
            false,
        ),
        131045 => (
            "Phone number not registered correctly",
            s(
                "The phone number's certificate or registration is wrong: register the number again (POST /{phone-number-id}/register).",
            ),
            false,
        ),
        131047 => (
            "Re-engagement message",
            s(
                "More than 24 hours have passed since the user last wrote, so free-form messages are not allowed: use whatsapp_send_template with an APPROVED template (see whatsapp_list_templates).",
            ),
            false,
        ),
        131048 => (
            "Spam rate limit hit",
            s(
                "Messages were restricted because many users blocked or reported this number: stop sending to new users for a while and improve message quality; retrying now will not help.",
            ),
            false,
        ),
        131049 => (
            "Not delivered to maintain engagement",
            s(
                "Meta chose not to deliver this marketing message (per-user marketing limit): wait at least 24 hours before sending this user another marketing template.",
            ),
            true,
        ),
        131050 => (
            "User stopped marketing messages",
            s(
                "The user opted out of marketing messages from this business: never resend marketing to them; utility or service messages may still be allowed.",
            ),
            false,
        ),
        131051 => (
            "Unsupported message type",
            s(
                "This message type is not supported: use text, image, video, document or audio, or a template.",
            ),
            false,
        ),
        131052 => (
            "Media download error",
            s("The user's media could not be downloaded: ask the user to send it again."),
            true,
        ),
        131053 => (
            "Media upload error",
            s(
                "Meta could not fetch or process the media: the media link must be publicly reachable over HTTPS without login or redirects, with a supported type and size (image JPEG/PNG ≤ 5 MB, video MP4/3GP ≤ 16 MB, audio ≤ 16 MB, document ≤ 100 MB); fix the file, then send again.",
            ),
            false,
        ),
        131056 => (
            "Pair rate limit hit",
            s(
                "Too many messages to this same user in a short time (about 1 every 6 seconds): wait 4^X seconds before retrying this recipient (1 s, 4 s, 16 s, … for X = 0, 1, 2, …); other recipients are not affected.",
            ),
            true,
        ),
        131057 => (
            "Account in maintenance mode",
            s(
                "The business account is in maintenance mode (for example a throughput upgrade): retry in a few minutes.",
            ),
            true,
        ),
        131062 => (
            "Business-scoped user id not supported",
            s("This recipient id (BSUID) is not supported for this send: use the phone number."),
            false,
        ),
        131063 => (
            "Marketing templates disabled",
            s(
                "Marketing templates cannot be sent through the Cloud API for this account: use a utility template or enable marketing messages.",
            ),
            false,
        ),
        131064 => (
            "Messaging limit from misclassification",
            s(
                "The template was misclassified and its sends are limited: recategorise the template.",
            ),
            false,
        ),
        132000 => (
            "Template parameter count mismatch",
            s(
                "Give exactly as many parameters as the template has placeholders (body, header and buttons): see body_parameter_count and header_parameter_count in whatsapp_list_templates.",
            ),
            false,
        ),
        132001 => (
            "Template does not exist",
            s(
                "No APPROVED template has this name in this language: check the name and language with whatsapp_list_templates (status APPROVED, exact language code such as en_US).",
            ),
            false,
        ),
        132005 => (
            "Template text too long",
            s(
                "With the parameters filled in, the template text exceeds the limit: shorten the parameter values.",
            ),
            false,
        ),
        132007 => (
            "Template format policy violated",
            s(
                "A parameter breaks the formatting rules (for example newlines, tabs or more than 4 consecutive spaces in a body parameter): clean the parameter values.",
            ),
            false,
        ),
        132012 => (
            "Template parameter format mismatch",
            s(
                "A parameter has the wrong type for its placeholder (for example text where the header expects an image, or positional parameters for a NAMED template): match the template's components from whatsapp_list_templates.",
            ),
            false,
        ),
        132015 => (
            "Template paused",
            s(
                "The template is paused for low quality: send another APPROVED template or wait until it is unpaused.",
            ),
            false,
        ),
        132016 => (
            "Template disabled",
            s(
                "The template was disabled after repeated pauses: create a new template (whatsapp_create_template) or use another.",
            ),
            false,
        ),
        132068 => (
            "Flow blocked",
            s("The Flow in this template is blocked: fix the Flow in WhatsApp Manager."),
            false,
        ),
        132069 => (
            "Flow throttled",
            s("The Flow is throttled: retry later."),
            true,
        ),
        133010 => (
            "Account not registered",
            s(
                "The phone number is not registered with the Cloud API: register it (POST /{phone-number-id}/register with a PIN) and retry.",
            ),
            false,
        ),
        133016 => (
            "Registration rate limit",
            s("Too many register/deregister attempts for this number: wait before trying again."),
            true,
        ),
        135000 => (
            "Generic user error",
            s(
                "Meta rejected the request for an unspecified reason: check the arguments; contact Meta support with the fbtrace id if it persists.",
            ),
            false,
        ),
        137000 => (
            "Identity key hash mismatch",
            s(
                "The user's identity changed (reinstalled WhatsApp or new phone): confirm the user, then send again.",
            ),
            false,
        ),
        _ => ("WhatsApp API error", String::new(), false),
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

/// Maps a Graph `error` object (parsed leniently) to a tool error.
pub fn map_graph_error(http_status: u16, err: &Value, kind: CallKind) -> ToolError {
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
    let (title, hint, retryable) = match code {
        Some(c) => describe_code(c, &details, kind.scope),
        None => ("WhatsApp API error", String::new(), false),
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
    ToolError(Box::new(crate::error::ToolErrorData {
        kind: ErrorKind::ApiError,
        code,
        title,
        details,
        hint,
        retryable: retryable || transient,
        field: None,
        fbtrace_id: fbtrace,
        http_status: Some(http_status),
    }))
}

/// A webhook error item (`statuses[].errors[]`) with the same hints:
/// `{code, title, details, hint, retryable}`.
pub fn webhook_error(err: &Value) -> Value {
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
