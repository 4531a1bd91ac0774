//! The Graph client: builds requests, sends them with the access-token
//! credential, and repeats them while `retry` says it is safe.

use std::cell::OnceCell;

use serde_json::Value;

use super::call_kind::CallKind;
use super::errors::{map_credential_error, map_http_error, map_response};
use super::retry;
use crate::encoding::encode_query_value;
use crate::error::ToolError;
use crate::host::{CredentialHandle, Host, HttpRequest, Method};
use crate::settings;

/// Builds `{root}/{path}?{query}` with percent-encoded query values.
fn build_url(root: &str, path: &str, query: &[(&str, String)]) -> String {
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
pub(crate) struct Graph<'a> {
    host: &'a dyn Host,
    root: String,
    /// The name of the access-token credential (config `credential`).
    credential_name: String,
    /// The access-token credential, opened on the first request and used by
    /// every request and retry of the call after it.
    credential: OnceCell<CredentialHandle>,
    timeout_ms: u32,
    /// Unix ms by which the whole tool call must be done; retries stop short of it.
    deadline_ms: u64,
}

impl<'a> Graph<'a> {
    /// A client for the configured API root; fails on a broken setting.
    pub(crate) fn new(host: &'a dyn Host) -> Result<Self, ToolError> {
        Ok(Graph {
            host,
            root: settings::api_root(host)?,
            credential_name: settings::credential(host),
            credential: OnceCell::new(),
            timeout_ms: settings::timeout_ms(host),
            deadline_ms: host.now_unix_ms() + settings::call_deadline_ms(host),
        })
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> String {
        build_url(&self.root, path, query)
    }

    /// The access-token credential, opened once per client (so once per call).
    /// Nothing is sent when it cannot be opened.
    fn credential(&self) -> Result<CredentialHandle, ToolError> {
        if let Some(&handle) = self.credential.get() {
            return Ok(handle);
        }
        let handle = self
            .host
            .open_credential(&self.credential_name)
            .map_err(|e| map_credential_error(&e))?;
        Ok(*self.credential.get_or_init(|| handle))
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

    /// `GET {root}/{path}?{query}`.
    pub(crate) fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        kind: CallKind,
    ) -> Result<Value, ToolError> {
        self.execute(
            &self.request(Method::Get, self.url(path, query), None),
            kind,
        )
    }

    /// `POST {root}/{path}` with a JSON body.
    pub(crate) fn post(
        &self,
        path: &str,
        body: &Value,
        kind: CallKind,
    ) -> Result<Value, ToolError> {
        self.execute(
            &self.request(Method::Post, self.url(path, &[]), Some(body)),
            kind,
        )
    }

    /// `DELETE {root}/{path}?{query}`.
    pub(crate) fn delete(
        &self,
        path: &str,
        query: &[(&str, String)],
        kind: CallKind,
    ) -> Result<Value, ToolError> {
        self.execute(
            &self.request(Method::Delete, self.url(path, query), None),
            kind,
        )
    }

    /// Sends `req`, repeating it while `retry` says it is safe and the call
    /// deadline leaves room for another attempt.
    fn execute(&self, req: &HttpRequest, kind: CallKind) -> Result<Value, ToolError> {
        let credential = self.credential()?;
        let mut req = req.clone();
        let mut attempt = 0;
        loop {
            let result = self.host.send(&req, Some(credential));
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
