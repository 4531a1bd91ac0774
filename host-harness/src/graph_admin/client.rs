//! The host's own Graph client: builds each request from its parts, sends
//! it without following redirects, and turns the answer into JSON or an
//! [`AdminError`] that carries no secret.

use std::time::Duration;

use serde_json::Value;
use url::Url;
use zeroize::Zeroizing;

use super::errors::{AdminError, unexpected_input};
use super::json;
use whatsapp_host::caps::vault::Secret;

/// The largest answer read from Graph.
const MAX_BODY: usize = 1 << 20;

/// Host-side Graph client.
#[derive(Clone)]
pub struct GraphAdmin {
    client: reqwest::Client,
    base_url: String,
    version: String,
}

impl std::fmt::Debug for GraphAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphAdmin")
            .field("base_url", &self.base_url)
            .field("version", &self.version)
            .finish()
    }
}

/// One request: the pieces the client turns into a URL.
pub(crate) struct Call<'a> {
    pub(crate) name: &'static str,
    pub(crate) method: reqwest::Method,
    pub(crate) path: &'a [&'a str],
    pub(crate) query: Vec<(&'a str, &'a str)>,
    pub(crate) bearer: Option<&'a Secret>,
    /// Secrets of this request that must never come back in a message.
    pub(crate) secrets: Vec<&'a [u8]>,
}

impl GraphAdmin {
    /// `base_url` like `https://graph.facebook.com`, `version` like `v23.0`.
    pub fn new(base_url: &str, version: &str) -> anyhow::Result<GraphAdmin> {
        whatsapp_host::install_crypto_provider();
        let base = Url::parse(base_url)
            .map_err(|e| anyhow::anyhow!("the Graph base URL `{base_url}` is not a URL: {e}"))?;
        whatsapp_host::caps::allowlist::Origin::of(&base)
            .map_err(|e| anyhow::anyhow!("the Graph base URL `{base_url}`: {e}"))?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!(
                "whatsapp-connector-host/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()?;
        Ok(GraphAdmin {
            client,
            base_url: base_url.trim_end_matches('/').to_string(),
            version: version.to_string(),
        })
    }

    /// For the configured API (`[whatsapp] api_base_url`, `api_version`).
    pub(crate) fn from_settings(
        settings: &whatsapp_host::config::Settings,
    ) -> anyhow::Result<GraphAdmin> {
        settings.whatsapp.check_api_transport()?;
        GraphAdmin::new(
            &settings.whatsapp.api_base_url,
            &settings.whatsapp.api_version,
        )
    }

    /// The API's base URL, without a trailing slash.
    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The Graph API version, like `v23.0`.
    pub(crate) fn version(&self) -> &str {
        &self.version
    }

    /// `GET` authorised by `token` (the only secret of the request).
    pub(crate) async fn get(
        &self,
        name: &'static str,
        token: &Secret,
        path: &[&str],
        query: Vec<(&str, &str)>,
    ) -> Result<Value, AdminError> {
        self.send(Call {
            name,
            method: reqwest::Method::GET,
            path,
            query,
            bearer: Some(token),
            secrets: vec![token.expose()],
        })
        .await
    }

    /// Sends `call` and returns Graph's JSON answer, or why there is none.
    pub(crate) async fn send(&self, call: Call<'_>) -> Result<Value, AdminError> {
        let name = call.name;
        let mut url = Url::parse(&self.base_url).map_err(|e| AdminError::Unexpected {
            call: name,
            status: 0,
            reason: format!("bad base URL: {e}"),
        })?;
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| AdminError::Unexpected {
                    call: name,
                    status: 0,
                    reason: "the base URL cannot carry a path".into(),
                })?;
            segments.pop_if_empty().push(&self.version);
            for s in call.path {
                segments.push(s);
            }
        }
        if !call.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(call.query.iter().copied());
        }
        // The URL may hold secrets (documented query parameters): it is held
        // in zeroized memory and never logged.
        let url = Zeroizing::new(String::from(url));
        let mut builder = self.client.request(call.method.clone(), url.as_str());
        if let Some(bearer) = call.bearer {
            let token = text(bearer).map_err(|r| unexpected_input(name, r))?;
            let header = Zeroizing::new(format!("Bearer {token}"));
            let mut value = reqwest::header::HeaderValue::from_str(&header).map_err(|_| {
                unexpected_input(name, "a secret cannot be sent in a header".into())
            })?;
            value.set_sensitive(true);
            builder = builder.header(reqwest::header::AUTHORIZATION, value);
        }
        tracing::debug!(call = name, "graph admin: request");
        let response = builder.send().await.map_err(|e| self.transport(name, &e))?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        let mut response = response;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_BODY {
                        return Err(AdminError::Unexpected {
                            call: name,
                            status,
                            reason: format!("the answer is larger than {MAX_BODY} bytes"),
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(self.transport(name, &e)),
            }
        }
        let body = Zeroizing::new(body);
        tracing::debug!(call = name, status, "graph admin: answer");
        let value: Value = serde_json::from_slice(&body).map_err(|_| AdminError::Unexpected {
            call: name,
            status,
            reason: "the answer is not JSON".into(),
        })?;
        if let Some(error) = value.get("error").filter(|e| e.is_object()) {
            let redact = |s: &str| redact(s, &call.secrets);
            return Err(AdminError::Graph {
                call: name,
                status,
                code: error.get("code").and_then(json::i64_of).unwrap_or(0),
                subcode: error.get("error_subcode").and_then(json::i64_of),
                message: redact(
                    error
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("(no message)"),
                ),
            });
        }
        if !(200..300).contains(&status) {
            return Err(AdminError::Unexpected {
                call: name,
                status,
                reason: "an error status without a Graph error body".into(),
            });
        }
        Ok(value)
    }

    fn transport(&self, call: &'static str, e: &reqwest::Error) -> AdminError {
        AdminError::Transport {
            call,
            base: self.base_url.clone(),
            reason: whatsapp_host::caps::http::describe_failure(e),
        }
    }
}

/// A secret as text for a URL or header. Tokens are printable ASCII; anything
/// else is refused before it reaches the wire.
pub(crate) fn text(secret: &Secret) -> Result<&str, String> {
    let s = std::str::from_utf8(secret.expose()).map_err(|_| "a secret is not valid UTF-8")?;
    if s.is_empty() || s.bytes().any(|b| !(0x21..0x7f).contains(&b)) {
        return Err("a secret is empty or contains spaces or non-ASCII characters".into());
    }
    Ok(s)
}

/// Replaces every occurrence of each secret in `text` by `<redacted>`.
fn redact(text: &str, secrets: &[&[u8]]) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        if let Ok(s) = std::str::from_utf8(secret)
            && s.len() >= 4
        {
            out = out.replace(s, "<redacted>");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_from_messages() {
        assert_eq!(
            redact("bad token EAAGsecret1 here", &[b"EAAGsecret1", b"x"]),
            "bad token <redacted> here"
        );
    }
}
