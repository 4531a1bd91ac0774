//! The webhook endpoint: where Meta (or the sandbox) delivers webhooks.
//!
//! `GET /webhook` is the verification handshake and `POST /webhook` a delivery. Both go to the
//! component's `webhooks.verify` with the exact raw body and the lower-case headers: the
//! component checks the verify token and the `X-Hub-Signature-256` through vault handles, so
//! neither secret ever enters it, and says what to answer. Bodies over the cap get 413 without
//! reaching the component.
//!
//! An authentic POST is stored durably (`Table::WebhookQueue`) before the 200 goes out, so what
//! was acknowledged survives a crash right after. One background worker then passes the queued
//! bodies, oldest first, to `webhooks.ingest` and deletes each only once it is applied. Ingest
//! calls are serialised on purpose: the component's kv read-modify-writes assume it. On start
//! the worker drains whatever an earlier run left in the queue.
//!
//! Queue keys are `q/<receive time, Unix ms, 16 digits>-<counter>-<random>`: they sort by
//! arrival and never collide across restarts. A failed ingest (a trap, a timeout, a store
//! error) is retried with exponential backoff; after `max_attempts` failures in a row, or at
//! once when the component rejects the payload as malformed, the body is moved aside to
//! `dead/<same suffix>` (kept 30 days, with the reason) so one bad delivery cannot block the
//! queue. Re-ingesting is safe: the component deduplicates.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use http::{HeaderMap, Method, StatusCode, Uri, header};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::caps::vault;
use crate::runtime::Runtime;
use crate::runtime::bindings::webhooks::WebhookRequest;
use crate::state::{StateError, StateStore, Table, now_ms};

/// The path Meta's callback URL must end with.
pub const PATH: &str = "/webhook";
/// Where `serve --webhook` listens when no address is given.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8766";
/// Largest delivery accepted (Meta's payloads are a few KB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
/// Where acknowledged deliveries wait for the component.
pub const QUEUE_PREFIX: &str = "q/";
/// Where deliveries that could not be applied are kept.
pub const DEAD_LETTER_PREFIX: &str = "dead/";
const DEAD_LETTER_TTL_SECONDS: u32 = 30 * 86_400;
/// How the component starts its error for a payload that can never be applied.
const MALFORMED_PREFIX: &str = "webhook body is";

/// Limits and retry policy of the endpoint and its worker.
#[derive(Clone, Debug)]
pub struct WebhookOptions {
    /// Bodies larger than this get 413.
    pub max_body_bytes: usize,
    /// Wait after the first failed ingest; doubles up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// Failed ingests in a row before a delivery is moved to the dead letters.
    pub max_attempts: u32,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        WebhookOptions {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            retry_initial: Duration::from_millis(250),
            retry_max: Duration::from_secs(60),
            max_attempts: 10,
        }
    }
}

/// Counters since start, for logs, the demo and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WebhookStats {
    /// Authentic deliveries stored and acknowledged.
    pub accepted: u64,
    /// Requests refused (bad or missing signature or token, wrong method, too large).
    pub rejected: u64,
    /// Deliveries the component applied.
    pub ingested: u64,
    /// Ingest attempts that failed and will be retried.
    pub retries: u64,
    /// Deliveries moved to the dead letters.
    pub dead_lettered: u64,
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    rejected: AtomicU64,
    ingested: AtomicU64,
    retries: AtomicU64,
    dead_lettered: AtomicU64,
}

/// A delivery that could not be applied.
#[derive(Clone, Debug)]
pub struct DeadLetter {
    pub key: String,
    pub reason: String,
    pub attempts: u32,
    pub body: Vec<u8>,
}

/// The endpoint and its queue over one runtime. Cheap to clone.
#[derive(Clone)]
pub struct Webhooks {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Arc<Runtime>,
    store: StateStore,
    options: WebhookOptions,
    wake: Notify,
    seq: AtomicU64,
    counters: Counters,
}

enum Outcome {
    Applied,
    DeadLettered,
    Retry(String),
}

impl Webhooks {
    /// The queue lives in the runtime's state store, next to the component's kv.
    pub fn new(runtime: Arc<Runtime>, options: WebhookOptions) -> Webhooks {
        let store = runtime.capabilities().state.clone();
        for (name, env) in [
            (vault::APP_SECRET, "WHATSAPP_APP_SECRET"),
            (vault::VERIFY_TOKEN, "WHATSAPP_WEBHOOK_VERIFY_TOKEN"),
        ] {
            if runtime.capabilities().vault.get(name).is_none() {
                tracing::warn!(
                    credential = name,
                    "webhook endpoint without the `{name}` credential: requests that need it get \
                     503; store it with `host-harness vault set {name}` or set {env}"
                );
            }
        }
        Webhooks {
            inner: Arc::new(Inner {
                runtime,
                store,
                options,
                wake: Notify::new(),
                seq: AtomicU64::new(0),
                counters: Counters::default(),
            }),
        }
    }

    /// `GET` and `POST` at `/webhook`, with the body cap.
    pub fn router(&self) -> Router {
        Router::new()
            .route(PATH, get(handle).post(handle))
            .layer(DefaultBodyLimit::max(self.inner.options.max_body_bytes))
            .with_state(self.clone())
    }

    pub fn stats(&self) -> WebhookStats {
        let c = &self.inner.counters;
        WebhookStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            ingested: c.ingested.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            dead_lettered: c.dead_lettered.load(Ordering::Relaxed),
        }
    }

    /// Keys of the deliveries waiting for the component, oldest first.
    pub fn pending(&self) -> Result<Vec<String>, StateError> {
        Ok(self
            .inner
            .store
            .scan(Table::WebhookQueue, QUEUE_PREFIX)?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }

    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, StateError> {
        let mut out = Vec::new();
        for (key, value) in self
            .inner
            .store
            .scan(Table::WebhookQueue, DEAD_LETTER_PREFIX)?
        {
            let v: serde_json::Value = serde_json::from_slice(&value).unwrap_or_default();
            out.push(DeadLetter {
                key,
                reason: v["reason"].as_str().unwrap_or("").to_string(),
                attempts: v["attempts"].as_u64().unwrap_or(0) as u32,
                body: v["body"]
                    .as_str()
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                    .unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// Stores an authentic delivery; returns its queue key once it is on disk.
    async fn enqueue(&self, body: Vec<u8>) -> Result<String, StateError> {
        let seq = self.inner.seq.fetch_add(1, Ordering::Relaxed);
        let nonce: u32 = rand::random();
        let key = format!("{QUEUE_PREFIX}{:016}-{seq:08}-{nonce:08x}", now_ms());
        self.inner
            .store
            .set(Table::WebhookQueue, &key, body, None)
            .await?;
        self.inner.wake.notify_one();
        Ok(key)
    }

    /// Applies queued deliveries one at a time until `stop` turns true (or its sender is
    /// dropped). Starts with whatever the queue already holds.
    pub async fn run_worker(&self, mut stop: watch::Receiver<bool>) {
        let opts = &self.inner.options;
        let mut failures: HashMap<String, u32> = HashMap::new();
        let mut backoff = opts.retry_initial;
        tracing::debug!("webhook worker started");
        loop {
            if *stop.borrow() {
                break;
            }
            let pending = match self.inner.store.scan(Table::WebhookQueue, QUEUE_PREFIX) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "webhook queue unreadable; retrying");
                    if wait_or_stop(&mut stop, backoff).await {
                        break;
                    }
                    backoff = (backoff * 2).min(opts.retry_max);
                    continue;
                }
            };
            if pending.is_empty() {
                tokio::select! {
                    _ = self.inner.wake.notified() => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
                continue;
            }
            let mut must_wait = false;
            for (key, body) in pending {
                if *stop.borrow() {
                    break;
                }
                match self.ingest_one(&key, &body).await {
                    Outcome::Applied | Outcome::DeadLettered => {
                        failures.remove(&key);
                        backoff = opts.retry_initial;
                    }
                    Outcome::Retry(reason) => {
                        let n = failures.entry(key.clone()).or_insert(0);
                        *n += 1;
                        if *n >= opts.max_attempts.max(1) {
                            let attempts = *n;
                            failures.remove(&key);
                            self.dead_letter(&key, &body, &reason, attempts).await;
                        } else {
                            self.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(
                                key = %key,
                                attempt = *n,
                                retry_in_ms = backoff.as_millis() as u64,
                                reason = %reason,
                                "webhook ingest failed; will retry"
                            );
                            must_wait = true;
                            break;
                        }
                    }
                }
            }
            if must_wait {
                if wait_or_stop(&mut stop, backoff).await {
                    break;
                }
                backoff = (backoff * 2).min(opts.retry_max);
            }
        }
        tracing::debug!("webhook worker stopped");
    }

    async fn ingest_one(&self, key: &str, body: &[u8]) -> Outcome {
        match self.inner.runtime.webhook_ingest(body).await {
            Ok(Ok(report)) => {
                self.inner.counters.ingested.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    key = %key,
                    statuses = report.statuses,
                    messages = report.messages,
                    template_updates = report.template_updates,
                    ignored = report.ignored,
                    "webhook applied"
                );
                if let Err(e) = self.inner.store.delete(Table::WebhookQueue, key).await {
                    // It will be applied again, which is harmless.
                    tracing::error!(key = %key, error = %e, "cannot remove an applied webhook from the queue");
                }
                Outcome::Applied
            }
            Ok(Err(reason)) if reason.starts_with(MALFORMED_PREFIX) => {
                self.dead_letter(key, body, &reason, 1).await;
                Outcome::DeadLettered
            }
            Ok(Err(reason)) => Outcome::Retry(reason),
            Err(e) => Outcome::Retry(e.one_line()),
        }
    }

    async fn dead_letter(&self, key: &str, body: &[u8], reason: &str, attempts: u32) {
        let suffix = key.strip_prefix(QUEUE_PREFIX).unwrap_or(key);
        let dead_key = format!("{DEAD_LETTER_PREFIX}{suffix}");
        let value = json!({
            "reason": reason,
            "attempts": attempts,
            "dead_at_ms": now_ms(),
            "body": base64::engine::general_purpose::STANDARD.encode(body),
        });
        let stored = self
            .inner
            .store
            .set(
                Table::WebhookQueue,
                &dead_key,
                value.to_string().into_bytes(),
                Some(DEAD_LETTER_TTL_SECONDS),
            )
            .await;
        if let Err(e) = stored {
            tracing::error!(key = %key, error = %e, "cannot move a webhook to the dead letters; it stays queued");
            return;
        }
        if let Err(e) = self.inner.store.delete(Table::WebhookQueue, key).await {
            tracing::error!(key = %key, error = %e, "cannot remove a dead-lettered webhook from the queue");
        }
        self.inner
            .counters
            .dead_lettered
            .fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            key = %dead_key,
            attempts,
            reason = %reason,
            "webhook could not be applied; moved to the dead letters"
        );
    }
}

/// Sleeps `d`; true when `stop` fired meanwhile.
async fn wait_or_stop(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stop.wait_for(|s| *s) => return true,
    }
    *stop.borrow()
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
    let counters = &hooks.inner.counters;
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
    let verdict = match hooks.inner.runtime.webhook_verify(request).await {
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
pub async fn serve(
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

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The callback URL to give Meta (or the sandbox).
    pub fn url(&self) -> String {
        callback_url(self.local)
    }

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

    #[test]
    fn the_webhooks_section_of_the_settings_file_is_read() {
        let s: crate::settings::Settings =
            toml::from_str("[webhooks]\nlisten = \"127.0.0.1:9999\"\nmax_body_bytes = 2048")
                .unwrap();
        assert_eq!(s.webhooks.listen, Some("127.0.0.1:9999".parse().unwrap()));
        assert_eq!(s.webhooks.max_body_bytes, 2048);
        let d = crate::settings::Settings::default();
        assert_eq!(d.webhooks.listen, None);
        assert_eq!(d.webhooks.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        let mut s = crate::settings::Settings::default();
        s.apply_env(|k| (k == "WHATSAPP_WEBHOOK_LISTEN").then(|| "0.0.0.0:8766".into()))
            .unwrap();
        assert_eq!(s.webhooks.listen, Some("0.0.0.0:8766".parse().unwrap()));
        assert!(
            s.apply_env(|k| (k == "WHATSAPP_WEBHOOK_LISTEN").then(|| "port 80".into()))
                .is_err()
        );
    }
}
