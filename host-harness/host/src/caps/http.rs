//! Outbound HTTP for the component: allowlist first, then the credential
//! binding, then the wire. The host alone writes `Authorization`.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use http::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use super::allowlist::{Allowlist, Origin};
use super::vault::Credential;

/// Limits applied to every outbound request.
#[derive(Clone, Debug)]
pub struct HttpLimits {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub max_response_bytes: usize,
    pub max_request_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
            max_response_bytes: 4 * 1024 * 1024,
            max_request_bytes: 4 * 1024 * 1024,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

#[derive(Clone, Debug)]
pub struct OutboundRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub timeout: Option<Duration>,
}

#[derive(Clone, Debug)]
pub struct InboundResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Mirrors the WIT `http.error` variant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("denied: {0}")]
    Denied(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("timeout: {message}")]
    Timeout { message: String, request_sent: bool },
    #[error("response larger than {0} bytes")]
    TooLarge(u64),
    #[error("transport: {message}")]
    Transport { message: String, request_sent: bool },
}

/// Headers the host owns; a component that sets one is refused.
const RESERVED_HEADERS: [&str; 9] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "te",
    "upgrade",
];

/// What the host learned from a response that it must act on.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Observation {
    /// The API rejected the attached token (Graph code 190).
    pub token_rejected: bool,
}

pub struct OutboundHttp {
    client: reqwest::Client,
    allowlist: Allowlist,
    limits: HttpLimits,
}

impl OutboundHttp {
    pub fn new(allowlist: Allowlist, limits: HttpLimits) -> anyhow::Result<OutboundHttp> {
        crate::install_crypto_provider();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(limits.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!(
                "whatsapp-connector-host/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()?;
        Ok(OutboundHttp {
            client,
            allowlist,
            limits,
        })
    }

    /// Checks `req` without sending it: the URL, the headers, the allowlist
    /// and, with a credential, its binding. Nothing here touches DNS or sockets.
    pub fn check(
        &self,
        req: &OutboundRequest,
        credential: Option<&Credential>,
    ) -> Result<(Url, HeaderMap), HttpError> {
        let url = Url::parse(&req.url).map_err(|e| {
            HttpError::InvalidRequest(format!("`{}` is not a valid URL: {e}", req.url))
        })?;
        let origin = Origin::of(&url).map_err(HttpError::InvalidRequest)?;
        let mut headers = HeaderMap::new();
        for (name, value) in &req.headers {
            let lower = name.to_ascii_lowercase();
            if RESERVED_HEADERS.contains(&lower.as_str()) {
                return Err(HttpError::InvalidRequest(format!(
                    "header `{name}` is set by the host; pass a credential handle instead of \
                     an Authorization header"
                )));
            }
            let name = HeaderName::from_bytes(lower.as_bytes()).map_err(|_| {
                HttpError::InvalidRequest(format!("`{name}` is not a valid header name"))
            })?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                HttpError::InvalidRequest(format!("header `{name}` has an invalid value"))
            })?;
            headers.append(name, value);
        }
        if let Some(body) = &req.body
            && body.len() > self.limits.max_request_bytes
        {
            return Err(HttpError::InvalidRequest(format!(
                "request body of {} bytes exceeds the {}-byte limit",
                body.len(),
                self.limits.max_request_bytes
            )));
        }
        if !self.allowlist.allows(&origin) {
            return Err(HttpError::Denied(format!(
                "origin {origin} is not in the host's allowlist"
            )));
        }
        if let Some(credential) = credential
            && !credential.bound_to(&origin, url.path())
        {
            return Err(HttpError::Denied(format!(
                "credential `{}` is not bound to {origin}{}; the host attaches it only to the \
                 origins and paths it was issued for",
                credential.name,
                url.path()
            )));
        }
        Ok((url, headers))
    }

    /// Sends `req`, attaching `credential` as a bearer token. `deadline` is
    /// the end of the whole tool call: the request never outlives it.
    pub async fn send(
        &self,
        req: OutboundRequest,
        credential: Option<&Credential>,
        deadline: Instant,
    ) -> (Result<InboundResponse, HttpError>, Observation) {
        let (url, mut headers) = match self.check(&req, credential) {
            Ok(checked) => checked,
            Err(e) => return (Err(e), Observation::default()),
        };
        if let Some(credential) = credential {
            let mut value = Vec::with_capacity(7 + credential.secret.expose().len());
            value.extend_from_slice(b"Bearer ");
            value.extend_from_slice(credential.secret.expose());
            match HeaderValue::from_bytes(&value) {
                Ok(mut v) => {
                    v.set_sensitive(true);
                    headers.insert(http::header::AUTHORIZATION, v);
                }
                Err(_) => {
                    return (
                        Err(HttpError::Denied(format!(
                            "credential `{}` is not a valid bearer token",
                            credential.name
                        ))),
                        Observation::default(),
                    );
                }
            }
            zeroize::Zeroize::zeroize(&mut value);
        }
        let budget = req
            .timeout
            .unwrap_or(self.limits.request_timeout)
            .min(self.limits.request_timeout)
            .min(deadline.saturating_duration_since(Instant::now()));
        let method = match req.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Delete => reqwest::Method::DELETE,
        };
        let path = url.path().to_string();
        let origin = Origin::of(&url).map(|o| o.to_string()).unwrap_or_default();
        let mut builder = self.client.request(method.clone(), url).headers(headers);
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        let started = Instant::now();
        let result = match tokio::time::timeout(budget, self.exchange(builder)).await {
            Ok(result) => result,
            Err(_) => Err(HttpError::Timeout {
                message: format!("no complete response within {} ms", budget.as_millis()),
                // We cannot tell whether the request left: assume it did.
                request_sent: true,
            }),
        };
        let mut observation = Observation::default();
        match &result {
            Ok(response) => {
                observation.token_rejected = credential.is_some() && is_token_rejection(response);
                tracing::debug!(%method, %origin, %path, status = response.status,
                    elapsed_ms = started.elapsed().as_millis() as u64, "outbound request");
            }
            Err(e) => {
                tracing::debug!(%method, %origin, %path, error = %e, "outbound request failed")
            }
        }
        (result, observation)
    }

    async fn exchange(
        &self,
        builder: reqwest::RequestBuilder,
    ) -> Result<InboundResponse, HttpError> {
        let mut response = builder.send().await.map_err(|e| wire_error(&e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let cap = self.limits.max_response_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > cap as u64)
        {
            return Err(HttpError::TooLarge(cap as u64));
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| wire_error(&e))? {
            if body.len() + chunk.len() > cap {
                return Err(HttpError::TooLarge(cap as u64));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(InboundResponse {
            status,
            headers,
            body: body.to_vec(),
        })
    }
}

/// Classifies a reqwest failure; only a failure to connect proves nothing was sent.
fn wire_error(e: &reqwest::Error) -> HttpError {
    let request_sent = !e.is_connect();
    let message = describe_failure(e);
    if e.is_timeout() {
        HttpError::Timeout {
            message,
            request_sent,
        }
    } else {
        HttpError::Transport {
            message,
            request_sent,
        }
    }
}

/// What failed and why, without the URL (its query may carry parameters or,
/// for the host's own Graph calls, secrets).
pub fn describe_failure(e: &reqwest::Error) -> String {
    let mut message = String::from(if e.is_connect() {
        "connection failed"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_body() || e.is_decode() {
        "reading the response body failed"
    } else {
        "request failed"
    });
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

/// Graph answers an expired, revoked or invalid token with code 190.
fn is_token_rejection(response: &InboundResponse) -> bool {
    if response.status != 401 && response.status != 400 {
        return false;
    }
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(&response.body) else {
        return false;
    };
    let code = &body["error"]["code"];
    code.as_i64() == Some(190) || code.as_str() == Some("190")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::allowlist::Binding;
    use crate::caps::vault::{Kind, Secret};

    fn http(origins: &[&str]) -> OutboundHttp {
        OutboundHttp::new(
            Allowlist::new(origins.iter().map(|o| Origin::parse(o).unwrap())),
            HttpLimits::default(),
        )
        .unwrap()
    }

    fn get(url: &str) -> OutboundRequest {
        OutboundRequest {
            method: Method::Get,
            url: url.into(),
            headers: vec![],
            body: None,
            timeout: None,
        }
    }

    fn token() -> Credential {
        Credential {
            name: "whatsapp".into(),
            kind: Kind::AccessToken,
            secret: Secret::new("EAAtoken"),
            bindings: vec![Binding::parse("https://graph.facebook.com/v23.0/").unwrap()],
            scopes: vec![],
            expires_at: None,
        }
    }

    #[tokio::test]
    async fn requests_are_checked_before_any_connection() {
        let h = http(&["https://graph.facebook.com"]);
        type Case = (
            &'static str,
            Vec<(String, String)>,
            bool,
            fn(&HttpError) -> bool,
        );
        let cases: [Case; 7] = [
            ("https://evil.test/x", vec![], false, |e| {
                matches!(e, HttpError::Denied(_))
            }),
            (
                "https://graph.facebook.com.evil.test/v23.0/x",
                vec![],
                true,
                |e| matches!(e, HttpError::Denied(_)),
            ),
            ("https://graph.facebook.com/oauth/x", vec![], true, |e| {
                matches!(e, HttpError::Denied(_))
            }),
            ("http://graph.facebook.com/v23.0/x", vec![], true, |e| {
                matches!(e, HttpError::Denied(_))
            }),
            ("not a url", vec![], false, |e| {
                matches!(e, HttpError::InvalidRequest(_))
            }),
            (
                "https://graph.facebook.com/v23.0/x",
                vec![("Authorization".into(), "Bearer mine".into())],
                false,
                |e| matches!(e, HttpError::InvalidRequest(m) if m.contains("Authorization")),
            ),
            (
                "https://graph.facebook.com/v23.0/x",
                vec![("x-ok".into(), "bad\r\nvalue".into())],
                false,
                |e| matches!(e, HttpError::InvalidRequest(_)),
            ),
        ];
        let credential = token();
        for (url, headers, with_credential, expected) in cases {
            let mut req = get(url);
            req.headers = headers;
            let (result, _) = h
                .send(
                    req,
                    with_credential.then_some(&credential),
                    Instant::now() + Duration::from_secs(5),
                )
                .await;
            let err = result.unwrap_err();
            assert!(expected(&err), "{url}: {err:?}");
            assert!(!err.to_string().contains("EAAtoken"));
        }
    }

    #[test]
    fn a_bound_credential_passes_the_check() {
        let h = http(&["https://graph.facebook.com"]);
        assert!(
            h.check(
                &get("https://graph.facebook.com/v23.0/1/messages"),
                Some(&token())
            )
            .is_ok()
        );
    }

    #[test]
    fn token_rejections_are_recognised_by_code() {
        let resp = |status, body: &str| InboundResponse {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        };
        assert!(is_token_rejection(&resp(401, r#"{"error":{"code":190}}"#)));
        assert!(is_token_rejection(&resp(
            401,
            r#"{"error":{"code":"190"}}"#
        )));
        assert!(!is_token_rejection(&resp(401, r#"{"error":{"code":100}}"#)));
        assert!(!is_token_rejection(&resp(502, "<html>bad gateway</html>")));
    }
}
