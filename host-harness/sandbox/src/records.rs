//! What the sandbox reports to its caller: requests received, templates held, messages
//! accepted and received. Plain records, a leaf.

use std::time::SystemTime;

use crate::util;

/// One request the sandbox received (control endpoints excluded). Its `Debug` output hides the
/// `authorization` header and secret query parameters (`access_token`, `input_token`,
/// `client_secret`, `code`, `fb_exchange_token`).
#[derive(Clone)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path as received (not percent-decoded).
    pub path: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    /// Header names are lower-case.
    pub headers: Vec<(String, String)>,
    /// The body as received (empty when it was over the cap).
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: SystemTime,
}

impl std::fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                if n == "authorization" {
                    (n.as_str(), "<redacted>")
                } else {
                    (n.as_str(), v.as_str())
                }
            })
            .collect();
        let query = self.query.as_ref().map(|q| {
            q.split('&')
                .map(|kv| match kv.split_once('=') {
                    // Secrets Graph takes as query parameters (OAuth, `debug_token`).
                    Some((
                        name @ ("access_token" | "input_token" | "client_secret" | "code"
                        | "fb_exchange_token"),
                        _,
                    )) => format!("{name}=<redacted>"),
                    _ => kv.to_string(),
                })
                .collect::<Vec<_>>()
                .join("&")
        });
        f.debug_struct("RecordedRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &query)
            .field("headers", &headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .field("at", &self.at)
            .finish()
    }
}

impl RecordedRequest {
    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The query string, percent-decoded into pairs.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        util::query_pairs(self.query.as_deref())
    }
}

/// A template as the sandbox holds it (status already brought up to date).
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateSnapshot {
    /// The template id (digits).
    pub id: String,
    /// Its name, e.g. `hello_world`.
    pub name: String,
    /// Its language code, e.g. `en_US`.
    pub language: String,
    /// `AUTHENTICATION`, `MARKETING` or `UTILITY`.
    pub category: String,
    /// `PENDING`, `APPROVED` or `REJECTED`.
    pub status: String,
    /// `POSITIONAL` or `NAMED`.
    pub parameter_format: String,
    /// The components as stored (types upper-case), as Meta returns them.
    pub components: serde_json::Value,
    /// Why the review rejected it (`INVALID_FORMAT`), if it did.
    pub rejected_reason: Option<String>,
}

/// A send the sandbox accepted.
#[derive(Clone, Debug)]
pub struct SentMessage {
    /// `wamid.…`
    pub id: String,
    /// `to` exactly as the client sent it.
    pub to: String,
    /// `to` normalised to digits.
    pub wa_id: String,
    /// The message `type` (`text`, `template`, `image`…).
    pub kind: String,
    /// `(name, language code)` for template sends.
    pub template: Option<(String, String)>,
    /// When it was accepted.
    pub at: SystemTime,
    /// The request body as received.
    pub request: serde_json::Value,
}

/// A message a user wrote to the business (a simulated inbound message), as the sandbox
/// holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedMessage {
    /// `wamid.…`, the id its webhook carried.
    pub id: String,
    /// The user's WhatsApp id (digits).
    pub from: String,
    /// The webhook's message `type`: `text`, `interactive`, `button`, `image` or `reaction`.
    pub kind: String,
    /// The message as the webhook carried it (`messages[0]`).
    pub message: serde_json::Value,
    /// When the user sent it.
    pub at: SystemTime,
    /// Whether the business marked it (or a later message from the same user) read.
    pub read: bool,
}
