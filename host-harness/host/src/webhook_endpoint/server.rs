//! The HTTP side: `GET /webhook` is the verification handshake and `POST /webhook` a delivery.
//!
//! The host checks each request first, before any component instance exists
//! (`signature`): a POST without a well-formed `X-Hub-Signature-256` is
//! refused from its headers (its body is read and dropped, never kept), a
//! POST whose signature is not the HMAC of its raw body under the app secret
//! is refused after one HMAC, and a GET without the verify token is refused
//! at once. So a flood of unsigned or forged requests costs no instance.
//!
//! What passes still goes to the component's `webhooks.verify` with the exact
//! raw body and the lower-case headers, and the component's verdict decides
//! (defence in depth: a slip in the host's filter cannot let a forgery in,
//! and the component stays the one place that defines the protocol; only
//! genuine deliveries, which only Meta can sign, reach it). Bodies over the
//! cap get 413 without reaching the component.

use std::future::{Future, poll_fn};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody as _};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::BytesMut;
use http::{HeaderMap, Method, StatusCode, Uri, header};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::runtime::bindings::webhooks::WebhookRequest;

use super::queue::Webhooks;
use super::signature::{self, Refusal};

/// The path Meta's callback URL must end with.
const PATH: &str = "/webhook";
/// Where `serve --webhook` listens when no address is given.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8766";
/// `Retry-After` when a delivery cannot be stored (the store is down): Meta retries on its
/// own schedule anyway; other senders get a hint.
const STORE_RETRY_AFTER_SECONDS: &str = "5";

impl Webhooks {
    /// `GET` and `POST` at `/webhook`, with the body cap, without the worker
    /// (tests serve it alone to see what is acknowledged but not applied).
    pub fn router(&self) -> Router {
        Router::new()
            .route(PATH, get(handle).post(handle))
            .with_state(self.clone())
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

/// Why a body could not be read.
enum BodyError {
    /// Larger than the cap.
    TooLarge,
    /// The connection failed mid-body.
    Broken,
}

/// Reads `body` up to `limit` bytes; keeps the bytes only when `keep` (a
/// refused request's body is drained so the connection stays usable, but
/// never buffered).
async fn read_body(mut body: Body, limit: usize, keep: bool) -> Result<Bytes, BodyError> {
    if body.size_hint().lower() > limit as u64 {
        return Err(BodyError::TooLarge);
    }
    let mut kept = BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let Ok(data) = frame.map_err(|_| BodyError::Broken)?.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen > limit {
            return Err(BodyError::TooLarge);
        }
        if keep {
            kept.extend_from_slice(&data);
        }
    }
    Ok(kept.freeze())
}

/// Counts and logs a request the host refused on its own, and answers it.
fn refuse(hooks: &Webhooks, method: &Method, refusal: Refusal) -> Response {
    hooks.counters().rejected.fetch_add(1, Ordering::Relaxed);
    tracing::info!(method = %method, status = refusal.status.as_u16(), "webhook request refused");
    text(refusal.status, refusal.body)
}

fn too_large(hooks: &Webhooks, method: &Method, e: BodyError) -> Response {
    let refusal = match e {
        BodyError::TooLarge => Refusal {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            body: format!(
                "Payload Too Large: at most {} bytes",
                hooks.options().max_body_bytes
            ),
        },
        BodyError::Broken => Refusal {
            status: StatusCode::BAD_REQUEST,
            body: "Bad Request: the body could not be read".into(),
        },
    };
    refuse(hooks, method, refusal)
}

/// The host's own check (see the module docs); the body, read only once the
/// headers could pass, when it does.
async fn precheck(
    hooks: &Webhooks,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, Response> {
    let limit = hooks.options().max_body_bytes;
    let caps = hooks.runtime().capabilities();
    if *method == Method::GET {
        let checked = signature::check_handshake(caps, uri.query().unwrap_or(""));
        return match checked {
            Ok(()) => Ok(Bytes::new()),
            Err(refusal) => Err(refuse(hooks, method, refusal)),
        };
    }
    if *method != Method::POST {
        let refusal = Refusal {
            status: StatusCode::METHOD_NOT_ALLOWED,
            body: "Method Not Allowed".into(),
        };
        return Err(refuse(hooks, method, refusal));
    }
    let checked = signature::claimed_signature(headers)
        .and_then(|claimed| Ok((claimed, signature::app_secret(caps)?)));
    let (claimed, secret) = match checked {
        Ok(checked) => checked,
        // Drained (not kept) so an honest client's connection stays usable.
        Err(refusal) => {
            return Err(match read_body(body, limit, false).await {
                Ok(_) => refuse(hooks, method, refusal),
                Err(e) => too_large(hooks, method, e),
            });
        }
    };
    let body = read_body(body, limit, true)
        .await
        .map_err(|e| too_large(hooks, method, e))?;
    if !signature::signature_matches(&secret, &body, &claimed) {
        let refusal = Refusal {
            status: StatusCode::FORBIDDEN,
            body: "Invalid signature".into(),
        };
        return Err(refuse(hooks, method, refusal));
    }
    Ok(body)
}

async fn handle(
    State(hooks): State<Webhooks>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match precheck(&hooks, &method, &uri, &headers, body).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let counters = hooks.counters();
    let request = WebhookRequest {
        method: method.as_str().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        // `http` keeps header names in lower case already.
        headers: headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    let verdict = match hooks.runtime().webhook_verify(request).await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e.one_line(), "webhook verification could not run");
            return text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
        }
    };
    let status = StatusCode::from_u16(verdict.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if verdict.accept && method == Method::POST {
        match hooks.enqueue(body.to_vec()).await {
            Ok(key) => {
                counters.accepted.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(key = %key, bytes = body.len(), "webhook accepted");
            }
            Err(e) => {
                // Not acknowledged, so Meta delivers it again later.
                tracing::error!(error = %e, "cannot store a webhook; answering 503");
                let mut refused = text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service Unavailable: the delivery could not be stored; retry later",
                );
                refused.headers_mut().insert(
                    header::RETRY_AFTER,
                    http::HeaderValue::from_static(STORE_RETRY_AFTER_SECONDS),
                );
                return refused;
            }
        }
    } else if method == Method::POST || !status.is_success() {
        counters.rejected.fetch_add(1, Ordering::Relaxed);
        tracing::info!(method = %method, status = status.as_u16(), "webhook request refused");
    }
    text(status, verdict.body)
}

/// The endpoint's listener when one is wanted: at `listen`, or for a sandbox run on a free
/// loopback port (so the sandbox's webhooks flow with no setup).
pub async fn bind(
    listen: Option<SocketAddr>,
    sandbox: bool,
) -> anyhow::Result<Option<TcpListener>> {
    let addr = match (listen, sandbox) {
        (Some(addr), _) => addr,
        (None, true) => SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        (None, false) => return Ok(None),
    };
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for webhooks on {addr}: {e}"))?;
    Ok(Some(listener))
}

/// `http://ADDR/webhook`, with a wildcard address replaced by loopback.
pub fn callback_url(local: SocketAddr) -> String {
    let ip = match local.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}{PATH}", SocketAddr::new(ip, local.port()))
}

/// Serves the endpoint on `listener` and runs the worker until `shutdown` completes.
async fn serve(
    hooks: Webhooks,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = {
        let hooks = hooks.clone();
        tokio::spawn(async move { hooks.run_worker(stop_rx).await })
    };
    let app = hooks.router();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = stop_tx.send(true);
    let _ = worker.await;
    served?;
    Ok(())
}

/// A running endpoint with its worker; `stop` ends both.
pub struct WebhookServer {
    hooks: Webhooks,
    local: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl WebhookServer {
    /// Serves `hooks` on `listener` and starts the worker.
    pub async fn start(hooks: Webhooks, listener: TcpListener) -> anyhow::Result<WebhookServer> {
        let local = listener.local_addr()?;
        let (stop, mut rx) = watch::channel(false);
        let task = tokio::spawn(serve(hooks.clone(), listener, async move {
            let _ = rx.wait_for(|s| *s).await;
        }));
        Ok(WebhookServer {
            hooks,
            local,
            stop,
            task,
        })
    }

    /// The callback URL to give Meta (or the sandbox).
    pub fn url(&self) -> String {
        callback_url(self.local)
    }

    /// The endpoint and queue being served.
    pub fn webhooks(&self) -> &Webhooks {
        &self.hooks
    }

    /// Stops accepting, lets the worker finish the delivery it is applying, and waits.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.task.await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callback_url_names_loopback_for_a_wildcard_bind() {
        assert_eq!(
            callback_url("0.0.0.0:8766".parse().unwrap()),
            "http://127.0.0.1:8766/webhook"
        );
        assert_eq!(
            callback_url("[::]:8766".parse().unwrap()),
            "http://[::1]:8766/webhook"
        );
        assert_eq!(
            callback_url("10.1.2.3:9000".parse().unwrap()),
            "http://10.1.2.3:9000/webhook"
        );
    }

    #[tokio::test]
    async fn an_endpoint_is_bound_when_asked_for_or_for_a_sandbox_run() {
        assert!(bind(None, false).await.unwrap().is_none());
        let l = bind(None, true).await.unwrap().unwrap();
        let addr = l.local_addr().unwrap();
        assert!(addr.ip().is_loopback() && addr.port() != 0);
        let taken = addr;
        let err = bind(Some(taken), false).await.unwrap_err().to_string();
        assert!(err.contains(&taken.to_string()), "{err}");
    }
}
