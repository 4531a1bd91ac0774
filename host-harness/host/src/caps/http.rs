//! The `http` capability: outbound HTTP for the component. Allowlist first,
//! then the credential's binding, then the wire; the host alone writes
//! `Authorization`.
//!
//! Context: [`OutboundHttp`] (the client, the allowlist and the limits),
//! shared by all calls. Per call: a request count, capped, the call's
//! deadline, and whether a write may have reached the API. The WIT request
//! is converted once, into the `reqwest` request that goes on the wire, and
//! every failure is reported as the WIT `http.error` directly.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use http::{HeaderMap, HeaderName, HeaderValue};
use url::Url;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

use super::allowlist::{Allowlist, Origin};
use super::credentials::{Credential, CredentialHandle, Vault};
use crate::runtime::bindings::http as wit;

/// Limits applied to every outbound request.
#[derive(Clone, Debug)]
pub struct HttpLimits {
    /// Time allowed to establish a connection.
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, whatever the component asks for.
    pub request_timeout: Duration,
    /// Largest response body accepted.
    pub max_response_bytes: usize,
    /// Largest request body accepted.
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

/// Requests one call may make.
const MAX_REQUESTS_PER_CALL: u32 = 16;

/// The outbound HTTP client the component's requests go through.
pub struct OutboundHttp {
    client: reqwest::Client,
    allowlist: Allowlist,
    limits: HttpLimits,
}

impl OutboundHttp {
    /// A client that reaches only `allowlist`, within `limits`, and never
    /// follows redirects.
    pub fn new(allowlist: Allowlist, limits: HttpLimits) -> anyhow::Result<OutboundHttp> {
        install_crypto_provider();
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

    /// Turns `req` into the request to send and the time it may take, or
    /// refuses it: the URL, the headers, the body size, the allowlist and,
    /// with a credential, its binding, then the bearer token. Nothing here
    /// touches DNS or sockets.
    fn check(
        &self,
        req: wit::Request,
        credential: Option<&Credential>,
    ) -> Result<(reqwest::Request, Duration), wit::Error> {
        let url = Url::parse(&req.url).map_err(|e| {
            wit::Error::InvalidRequest(format!("`{}` is not a valid URL: {e}", req.url))
        })?;
        let origin = Origin::of(&url).map_err(wit::Error::InvalidRequest)?;
        let mut headers = HeaderMap::new();
        for (name, value) in &req.headers {
            let lower = name.to_ascii_lowercase();
            if RESERVED_HEADERS.contains(&lower.as_str()) {
                return Err(wit::Error::InvalidRequest(format!(
                    "header `{name}` is set by the host; pass a credential handle instead of \
                     an Authorization header"
                )));
            }
            let name = HeaderName::from_bytes(lower.as_bytes()).map_err(|_| {
                wit::Error::InvalidRequest(format!("`{name}` is not a valid header name"))
            })?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                wit::Error::InvalidRequest(format!("header `{name}` has an invalid value"))
            })?;
            headers.append(name, value);
        }
        if let Some(body) = &req.body
            && body.len() > self.limits.max_request_bytes
        {
            return Err(wit::Error::InvalidRequest(format!(
                "request body of {} bytes exceeds the {}-byte limit",
                body.len(),
                self.limits.max_request_bytes
            )));
        }
        if !self.allowlist.allows(&origin) {
            return Err(wit::Error::Denied(format!(
                "origin {origin} is not in the host's allowlist"
            )));
        }
        if let Some(credential) = credential {
            if !credential.bound_to(&origin, url.path()) {
                return Err(wit::Error::Denied(format!(
                    "credential `{}` is not bound to {origin}{}; the host attaches it only to \
                     the origins and paths it was issued for",
                    credential.name,
                    url.path()
                )));
            }
            headers.insert(
                http::header::AUTHORIZATION,
                bearer(credential).map_err(wit::Error::Denied)?,
            );
        }
        let method = match req.method {
            wit::Method::Get => reqwest::Method::GET,
            wit::Method::Post => reqwest::Method::POST,
            wit::Method::Delete => reqwest::Method::DELETE,
        };
        let timeout = req
            .timeout_ms
            .map(|ms| Duration::from_millis(ms.into()))
            .unwrap_or(self.limits.request_timeout)
            .min(self.limits.request_timeout);
        let mut request = reqwest::Request::new(method, url);
        *request.headers_mut() = headers;
        *request.body_mut() = req.body.map(reqwest::Body::from);
        Ok((request, timeout))
    }

    /// Sends `req`, attaching `credential` as a bearer token. `deadline` is
    /// the end of the whole tool call: the request never outlives it.
    async fn send(
        &self,
        req: wit::Request,
        credential: Option<&Credential>,
        deadline: Instant,
    ) -> Result<wit::Response, wit::Error> {
        let (request, timeout) = self.check(req, credential)?;
        let budget = timeout.min(deadline.saturating_duration_since(Instant::now()));
        let method = request.method().clone();
        let path = request.url().path().to_string();
        let origin = Origin::of(request.url())
            .map(|o| o.to_string())
            .unwrap_or_default();
        let started = Instant::now();
        let result = match tokio::time::timeout(budget, self.exchange(request)).await {
            Ok(result) => result,
            Err(_) => Err(wit::Error::Timeout(wit::Failure {
                message: format!("no complete response within {} ms", budget.as_millis()),
                // We cannot tell whether the request left: assume it did.
                request_sent: true,
            })),
        };
        match &result {
            Ok(response) => {
                tracing::debug!(%method, %origin, %path, status = response.status,
                    elapsed_ms = started.elapsed().as_millis() as u64, "outbound request");
            }
            Err(e) => {
                tracing::debug!(%method, %origin, %path, error = ?e, "outbound request failed")
            }
        }
        result
    }

    async fn exchange(&self, request: reqwest::Request) -> Result<wit::Response, wit::Error> {
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(|e| wire_error(&e))?;
        let status = response.status().as_u16();
        crate::admin::metrics::global().graph_response(status);
        let headers = header_pairs(response.headers());
        let cap = self.limits.max_response_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > cap as u64)
        {
            return Err(wit::Error::TooLarge(cap as u64));
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| wire_error(&e))? {
            if body.len() + chunk.len() > cap {
                return Err(wit::Error::TooLarge(cap as u64));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(wit::Response {
            status,
            headers,
            body: body.to_vec(),
        })
    }
}

/// A response's headers as the WIT `response` carries them.
pub(super) fn header_pairs(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// `Bearer <token>`, marked sensitive so no log or debug output shows it;
/// `Err` says why the credential cannot be one (each import wraps it as a
/// denial).
pub(super) fn bearer(credential: &Credential) -> Result<HeaderValue, String> {
    let mut value =
        zeroize::Zeroizing::new(Vec::with_capacity(7 + credential.secret.expose().len()));
    value.extend_from_slice(b"Bearer ");
    value.extend_from_slice(credential.secret.expose());
    let mut header = HeaderValue::from_bytes(&value).map_err(|_| {
        format!(
            "credential `{}` is not a valid bearer token",
            credential.name
        )
    })?;
    header.set_sensitive(true);
    Ok(header)
}

/// Classifies a reqwest failure; only a failure to connect proves nothing was sent.
fn wire_error(e: &reqwest::Error) -> wit::Error {
    let failure = wit::Failure {
        message: describe_failure(e),
        request_sent: !e.is_connect(),
    };
    if e.is_timeout() {
        wit::Error::Timeout(failure)
    } else {
        wit::Error::Transport(failure)
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
fn is_token_rejection(response: &wit::Response) -> bool {
    if response.status != 401 && response.status != 400 {
        return false;
    }
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(&response.body) else {
        return false;
    };
    let code = &body["error"]["code"];
    code.as_i64() == Some(190) || code.as_str() == Some("190")
}

/// What one call has used of outbound HTTP.
pub(crate) struct HttpCall {
    /// The end of the call; no request outlives it.
    deadline: Instant,
    requests: u32,
    /// A non-GET request may have reached the API during this call.
    pub(crate) write_may_have_landed: bool,
}

impl HttpCall {
    pub(crate) fn new(deadline: Instant) -> HttpCall {
        HttpCall {
            deadline,
            requests: 0,
            write_may_have_landed: false,
        }
    }

    /// Counts one more request (a media upload) against the call's cap;
    /// the call's deadline, or why no more requests may be made.
    pub(crate) fn count_request(&mut self) -> Result<Instant, String> {
        if self.requests >= MAX_REQUESTS_PER_CALL {
            return Err(format!(
                "at most {MAX_REQUESTS_PER_CALL} requests may be made in one call"
            ));
        }
        self.requests += 1;
        Ok(self.deadline)
    }
}

/// What one call's `http` import may use.
pub(crate) struct HttpView<'a> {
    pub(crate) http: &'a OutboundHttp,
    /// Where a token the API rejected is marked for reconnection.
    pub(crate) vault: &'a Vault,
    /// The call's resources: its open credential handles.
    pub(crate) table: &'a mut ResourceTable,
    pub(crate) call: &'a mut HttpCall,
}

impl wit::Host for HttpView<'_> {
    async fn send(
        &mut self,
        req: wit::Request,
        auth: Option<Resource<CredentialHandle>>,
    ) -> wasmtime::Result<Result<wit::Response, wit::Error>> {
        // `auth` is a borrow: read the handle, never delete it.
        let credential = match &auth {
            Some(handle) => match self
                .table
                .get(handle)?
                .usable(crate::store::now_ms() / 1000)
            {
                Ok(credential) => Some(credential.clone()),
                Err(why) => return Ok(Err(wit::Error::Denied(why))),
            },
            None => None,
        };
        if self.call.requests >= MAX_REQUESTS_PER_CALL {
            return Ok(Err(wit::Error::Denied(format!(
                "at most {MAX_REQUESTS_PER_CALL} requests may be made in one call"
            ))));
        }
        self.call.requests += 1;
        let is_get = matches!(req.method, wit::Method::Get);
        let result = self
            .http
            .send(req, credential.as_deref(), self.call.deadline)
            .await;
        if let (Some(handle), Some(credential), Ok(response)) = (&auth, &credential, &result)
            && is_token_rejection(response)
        {
            self.vault.mark_needs_reconnect(&credential.name);
            self.table.get_mut(handle)?.mark_rejected();
        }
        let may_have_landed = match &result {
            Ok(_) => true,
            Err(wit::Error::Timeout(f) | wit::Error::Transport(f)) => f.request_sent,
            Err(_) => false,
        };
        if !is_get && may_have_landed {
            self.call.write_may_have_landed = true;
        }
        Ok(result)
    }
}

struct HasHttp;

impl HasData for HasHttp {
    type Data<'a> = HttpView<'a>;
}

/// Links the `http` interface; `view` gives a call's view from its store data.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> HttpView<'_>,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasHttp>(linker, view)
}

/// Installs the process-wide TLS crypto provider (ring) once: reqwest is
/// built without one, so every client in the process needs it first.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Fails only if another provider was installed first, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::allowlist::Binding;
    use crate::caps::credentials::{Kind, Secret};
    use wasmtime::component::Resource;

    fn http(origins: &[&str]) -> OutboundHttp {
        OutboundHttp::new(
            Allowlist::new(origins.iter().map(|o| Origin::parse(o).unwrap())),
            HttpLimits::default(),
        )
        .unwrap()
    }

    fn get(url: &str) -> wit::Request {
        wit::Request {
            method: wit::Method::Get,
            url: url.into(),
            headers: vec![],
            body: None,
            timeout_ms: None,
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
            fn(&wit::Error) -> bool,
        );
        let cases: [Case; 7] = [
            ("https://evil.test/x", vec![], false, |e| {
                matches!(e, wit::Error::Denied(_))
            }),
            (
                "https://graph.facebook.com.evil.test/v23.0/x",
                vec![],
                true,
                |e| matches!(e, wit::Error::Denied(_)),
            ),
            ("https://graph.facebook.com/oauth/x", vec![], true, |e| {
                matches!(e, wit::Error::Denied(_))
            }),
            ("http://graph.facebook.com/v23.0/x", vec![], true, |e| {
                matches!(e, wit::Error::Denied(_))
            }),
            ("not a url", vec![], false, |e| {
                matches!(e, wit::Error::InvalidRequest(_))
            }),
            (
                "https://graph.facebook.com/v23.0/x",
                vec![("Authorization".into(), "Bearer mine".into())],
                false,
                |e| matches!(e, wit::Error::InvalidRequest(m) if m.contains("Authorization")),
            ),
            (
                "https://graph.facebook.com/v23.0/x",
                vec![("x-ok".into(), "bad\r\nvalue".into())],
                false,
                |e| matches!(e, wit::Error::InvalidRequest(_)),
            ),
        ];
        let credential = token();
        for (url, headers, with_credential, expected) in cases {
            let mut req = get(url);
            req.headers = headers;
            let err = h
                .send(
                    req,
                    with_credential.then_some(&credential),
                    Instant::now() + Duration::from_secs(5),
                )
                .await
                .unwrap_err();
            assert!(expected(&err), "{url}: {err:?}");
            assert!(!format!("{err:?}").contains("EAAtoken"));
        }
    }

    #[test]
    fn a_bound_credential_passes_the_check() {
        let h = http(&["https://graph.facebook.com"]);
        let (request, _) = h
            .check(
                get("https://graph.facebook.com/v23.0/1/messages"),
                Some(&token()),
            )
            .unwrap();
        let authorization = &request.headers()[http::header::AUTHORIZATION];
        assert_eq!(authorization, "Bearer EAAtoken");
        assert!(authorization.is_sensitive(), "never shown in debug output");
    }

    #[test]
    fn the_request_timeout_is_the_smaller_of_the_component_s_and_the_host_s() {
        let h = http(&["https://graph.facebook.com"]);
        let mut req = get("https://graph.facebook.com/v23.0/x");
        req.timeout_ms = Some(1_000);
        assert_eq!(
            h.check(req.clone(), None).unwrap().1,
            Duration::from_secs(1)
        );
        req.timeout_ms = Some(600_000);
        assert_eq!(h.check(req, None).unwrap().1, Duration::from_secs(20));
    }

    /// A server answering every request with Graph's code 190, and how many it got.
    async fn rejecting_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let hits = std::sync::Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = axum::Router::new().fallback(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async {
                (
                    axum::http::StatusCode::UNAUTHORIZED,
                    r#"{"error":{"code":190}}"#,
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (base, hits)
    }

    #[tokio::test]
    async fn a_token_the_api_rejects_is_not_sent_again_in_the_same_call() {
        use crate::runtime::bindings::http::Host as _;
        let (base, hits) = rejecting_server().await;
        let h = http(&[&base]);
        let vault = Vault::new(["whatsapp".to_string()]);
        let mut credential = token();
        credential.bindings = vec![Binding::parse(&format!("{base}/v23.0/")).unwrap()];
        vault.insert(credential);
        let mut table = ResourceTable::new();
        let handle = table
            .push(CredentialHandle::new(vault.open("whatsapp", 0).unwrap()))
            .unwrap();
        let mut call = HttpCall::new(Instant::now() + Duration::from_secs(5));
        let mut view = HttpView {
            http: &h,
            vault: &vault,
            table: &mut table,
            call: &mut call,
        };
        let mut post = get(&format!("{base}/v23.0/1/messages"));
        post.method = wit::Method::Post;
        let auth = || Some(Resource::new_borrow(handle.rep()));
        let first = view.send(post.clone(), auth()).await.unwrap().unwrap();
        assert_eq!(first.status, 401);
        let second = view.send(post, auth()).await.unwrap().unwrap_err();
        assert!(
            matches!(&second, wit::Error::Denied(m) if m.contains("190")),
            "{second:?}"
        );
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(call.write_may_have_landed, "the first POST got an answer");
        assert!(
            vault.open("whatsapp", 0).is_err(),
            "the next call is refused too"
        );
    }

    #[test]
    fn token_rejections_are_recognised_by_code() {
        let resp = |status, body: &str| wit::Response {
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
