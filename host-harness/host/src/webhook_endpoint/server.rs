//! The HTTP side: `GET /webhook` is the verification handshake and `POST /webhook` a delivery.
//! Both go to the component's `webhooks.verify` with the exact raw body and the lower-case
//! headers: the component checks the verify token and the `X-Hub-Signature-256` through vault
//! handles, so neither secret ever enters it, and says what to answer. Bodies over the cap get
//! 413 without reaching the component.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, Method, StatusCode, Uri, header};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::runtime::bindings::webhooks::WebhookRequest;

use super::queue::Webhooks;

/// The path Meta's callback URL must end with.
const PATH: &str = "/webhook";
/// Where `serve --webhook` listens when no address is given.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8766";

impl Webhooks {
    /// `GET` and `POST` at `/webhook`, with the body cap, without the worker
    /// (tests serve it alone to see what is acknowledged but not applied).
    pub fn router(&self) -> Router {
        Router::new()
            .route(PATH, get(handle).post(handle))
            .layer(DefaultBodyLimit::max(self.options().max_body_bytes))
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

async fn handle(
    State(hooks): State<Webhooks>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
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
                return text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
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
