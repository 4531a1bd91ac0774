//! A loopback imitation ("sandbox") of the WhatsApp Cloud API (Meta Graph API).
//!
//! It lets the demo, the end-to-end tests and the benchmarks run the connector with no Meta
//! account. It answers the documented paths with the documented JSON, error JSON and HTTP
//! statuses (see `shared/reference/whatsapp-cloud-api.md` §1-5), keeps enough state to be
//! believable (templates with a review lifecycle, the 24-hour customer-service window, throughput
//! and pair rate limits, the business profile) and can inject transport faults for resilience
//! tests.
//!
//! Documented choices (where Meta leaves room):
//! - Template lists are ordered newest first (Meta's order); cursors are opaque base64 strings;
//!   `limit` defaults to 25 and is clamped to 1..=100.
//! - A new template is `PENDING` until `approval_delay` has elapsed, then `APPROVED`, except names
//!   starting with `reject_`, which become `REJECTED` with `rejected_reason: INVALID_FORMAT`. The
//!   transition is evaluated lazily whenever state is read.
//! - A deleted template name+language cannot be recreated for 30 days (subcode 2388023): Meta's
//!   rule as BSP docs quote it.
//! - Throughput (130429) and pair limit (131056) are reported synchronously in the HTTP
//!   response. The 24 h window (131047) is too when no webhook callback is configured; with one,
//!   the send is accepted and fails later by a `failed` status webhook, as Meta does.
//! - With `webhook_callback` set, the sandbox delivers signed webhooks: statuses after each
//!   accepted send, template review results and simulated inbound messages (rules and settings:
//!   see `webhooks`).
//! - Rate windows are sliding: throughput counts accepted sends in the last second, the pair
//!   limit counts accepted sends to one recipient within `PairLimit::window`.
//! - Facebook Login (`/{v}/dialog/oauth`, `oauth/access_token`), `debug_token`,
//!   `subscribed_apps` and the token registry (each token with scopes and expiry, checked on
//!   every request): see `oauth` and `OAuthConfig`.
//! - Errors from auth (190) and unknown objects (100/33) carry no `error_data`, like Graph;
//!   WhatsApp-level errors carry `error_data.details`.
//! - `requests()` keeps the latest 50 000 requests; `sent_messages()` the latest 100 000.
//!
//! Control endpoints (loopback test hooks, no auth, never recorded or faulted):
//! `POST /_sandbox/inbound {"from","text","timestamp"?}`, `GET|DELETE /_sandbox/requests`,
//! `POST|DELETE /_sandbox/faults` (JSON form: see `faults::FaultWire`), `GET /_sandbox/templates`,
//! `GET /_sandbox/messages`, `POST /_sandbox/token {"expired": bool}`, `GET /_sandbox/config`,
//! `GET /_sandbox/webhooks` (deliveries made, without bodies), `POST /_sandbox/webhooks
//! {"callback": url|null}` (where webhooks go; the config shows the app secret that signs them).

mod error;
mod faults;
mod http;
mod messages;
mod oauth;
mod profile;
mod state;
mod templates;
mod util;
mod webhooks;

#[cfg(test)]
mod tests;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use faults::{Fault, FaultKind};
pub use oauth::{Consent, OAuthConfig, SandboxPhoneNumber};
pub use webhooks::{WebhookDelivery, WebhookKind, signature as webhook_signature};

use state::Shared;

/// How the sandbox behaves. Build it with `..Default::default()` so new fields don't break you.
#[derive(Clone)]
pub struct SandboxConfig {
    /// The only bearer token accepted (default: `"sandbox-token-"` + 32 random hex digits).
    pub access_token: String,
    /// Default `"106540352242922"`.
    pub phone_number_id: String,
    /// Default `"15550783881"`.
    pub display_phone_number: String,
    /// Default `"102290129340398"`.
    pub waba_id: String,
    /// A new template is `PENDING` until this has elapsed (default 2 s); `Duration::ZERO`
    /// means approved on the next read.
    pub approval_delay: Duration,
    /// Accepted sends per second per phone number before 130429 (default `Some(80)`, Meta's
    /// default throughput); `None` turns the limit off.
    pub throughput_per_second: Option<u32>,
    /// Per-recipient limit before 131056 (default 45 sends per 6 s); `None` turns it off.
    pub pair_limit: Option<PairLimit>,
    /// Request body cap (default 1 MiB); bigger bodies get HTTP 413 with Graph code 100.
    pub max_body_bytes: usize,
    /// Template creations per hour before code 80007 (default `Some(100)`, Meta's documented
    /// limit); `None` turns it off.
    pub template_creations_per_hour: Option<u32>,
    /// Where to POST signed webhooks (e.g. `http://127.0.0.1:8766/webhook`); `None` (default)
    /// delivers none, and a send outside the 24 h window then fails synchronously with 131047.
    /// Can be changed while running with `Sandbox::set_webhook_callback`.
    pub webhook_callback: Option<String>,
    /// The Meta app secret webhooks are signed with (default: 32 random hex digits).
    pub app_secret: String,
    /// The token the sandbox presents in the GET verification handshake
    /// (`Sandbox::verify_webhook`), like Meta's dashboard (default: random).
    pub verify_token: String,
    /// Timing, retries and chaos of webhook deliveries.
    pub webhooks: WebhookBehaviour,
    /// The Meta app's login dialog, tokens and account discovery (see `oauth`).
    pub oauth: OAuthConfig,
}

/// How the sandbox delivers webhooks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookBehaviour {
    /// `sent` goes out this long after an accepted send (also the time of a `failed` one).
    /// Default 50 ms.
    pub sent_after: Duration,
    /// `delivered`: default 150 ms after the send.
    pub delivered_after: Duration,
    /// `read`: default 300 ms after the send.
    pub read_after: Duration,
    /// Deliver each message's statuses in reverse order, then each once more (default off).
    pub duplicate_and_reorder: bool,
    /// Attempts per webhook when the callback is down or answers non-2xx (default 8).
    pub max_attempts: u32,
    /// Wait before the first retry; doubles each time, at most 30 s (default 100 ms).
    pub retry_backoff: Duration,
}

impl Default for WebhookBehaviour {
    fn default() -> Self {
        WebhookBehaviour {
            sent_after: Duration::from_millis(50),
            delivered_after: Duration::from_millis(150),
            read_after: Duration::from_millis(300),
            duplicate_and_reorder: false,
            max_attempts: 8,
            retry_backoff: Duration::from_millis(100),
        }
    }
}

impl std::fmt::Debug for SandboxConfig {
    // Hand-written so the access token never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("access_token", &"<redacted>")
            .field("phone_number_id", &self.phone_number_id)
            .field("display_phone_number", &self.display_phone_number)
            .field("waba_id", &self.waba_id)
            .field("approval_delay", &self.approval_delay)
            .field("throughput_per_second", &self.throughput_per_second)
            .field("pair_limit", &self.pair_limit)
            .field("max_body_bytes", &self.max_body_bytes)
            .field(
                "template_creations_per_hour",
                &self.template_creations_per_hour,
            )
            .field("webhook_callback", &self.webhook_callback)
            .field("app_secret", &"<redacted>")
            .field("verify_token", &"<redacted>")
            .field("webhooks", &self.webhooks)
            .field("oauth", &self.oauth)
            .finish()
    }
}

/// Meta's pair rate limit: at most `burst` messages to one recipient within `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairLimit {
    pub burst: u32,
    pub window: Duration,
}

impl Default for PairLimit {
    fn default() -> Self {
        PairLimit {
            burst: 45,
            window: Duration::from_secs(6),
        }
    }
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            access_token: format!("sandbox-token-{}", util::random_hex(16)),
            phone_number_id: "106540352242922".to_string(),
            display_phone_number: "15550783881".to_string(),
            waba_id: "102290129340398".to_string(),
            approval_delay: Duration::from_secs(2),
            throughput_per_second: Some(80),
            pair_limit: Some(PairLimit::default()),
            max_body_bytes: 1024 * 1024,
            template_creations_per_hour: Some(100),
            webhook_callback: None,
            app_secret: util::random_hex(16),
            verify_token: util::random_hex(16),
            webhooks: WebhookBehaviour::default(),
            oauth: OAuthConfig::default(),
        }
    }
}

/// One request the sandbox received (control endpoints excluded). Its `Debug` output hides the
/// `authorization` header and secret query parameters (`access_token`, `input_token`,
/// `client_secret`, `code`, `fb_exchange_token`).
#[derive(Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// The path as received (not percent-decoded).
    pub path: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    /// Header names are lower-case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
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
                    // Secrets Graph takes as query parameters (reference §6).
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
    pub id: String,
    pub name: String,
    pub language: String,
    pub category: String,
    /// `PENDING`, `APPROVED` or `REJECTED`.
    pub status: String,
    /// `POSITIONAL` or `NAMED`.
    pub parameter_format: String,
    /// The components as stored (types upper-case), as Meta returns them.
    pub components: serde_json::Value,
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
    pub at: SystemTime,
    /// The request body as received.
    pub request: serde_json::Value,
}

/// A running sandbox. Cheap to clone; the server stops when `shutdown` is called or the last
/// clone is dropped.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown_tx: watch::Sender<bool>,
    server: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Without this a dropped sandbox would keep its port and tasks until the runtime ends.
        let _ = self.shutdown_tx.send(true);
    }
}

impl Sandbox {
    /// Starts on 127.0.0.1 with a free port.
    pub async fn start(cfg: SandboxConfig) -> anyhow::Result<Sandbox> {
        Self::start_on(
            cfg,
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)),
        )
        .await
    }

    /// Starts on the given address.
    pub async fn start_on(cfg: SandboxConfig, addr: SocketAddr) -> anyhow::Result<Sandbox> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the WhatsApp sandbox to {addr}"))?;
        let local = listener
            .local_addr()
            .context("reading the sandbox's local address")?;
        let base_url = base_url_for(local);
        let shared = Arc::new(Shared::new(cfg, base_url));
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        if let Some(inbox) = shared.take_webhook_inbox() {
            tokio::spawn(webhooks::dispatch(
                inbox,
                Arc::downgrade(&shared),
                shared.webhook_log.clone(),
                shutdown_rx.clone(),
            ));
        }
        let server = tokio::spawn(http::serve(listener, shared.clone(), shutdown_rx));
        tracing::debug!(addr = %local, "WhatsApp sandbox listening");
        Ok(Sandbox {
            inner: Arc::new(Inner {
                shared,
                addr: local,
                shutdown_tx,
                server: Mutex::new(Some(server)),
            }),
        })
    }

    /// `"http://127.0.0.1:PORT"` (no trailing slash).
    pub fn base_url(&self) -> String {
        self.inner.shared.base_url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.inner.shared.cfg
    }

    /// Every Graph request received, in order (control endpoints excluded).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.shared.requests()
    }

    pub fn clear_requests(&self) {
        self.inner.shared.clear_requests();
    }

    /// A user message from `from` arrives now: opens (or refreshes) the 24 h window.
    pub fn simulate_inbound(&self, from: &str, text: &str) {
        self.inner
            .shared
            .simulate_inbound(from, text, SystemTime::now());
    }

    /// A user message from `from` sent at `at` arrives now: updates the window and, with a
    /// callback, delivers it as a `messages` webhook carrying that timestamp. Returns its id.
    pub fn simulate_inbound_at(&self, from: &str, text: &str, at: SystemTime) -> String {
        self.inner.shared.simulate_inbound(from, text, at)
    }

    /// Where webhooks go from now on (`None` stops them; pending retries are dropped).
    pub fn set_webhook_callback(&self, url: Option<String>) {
        self.inner.shared.set_webhook_callback(url);
    }

    pub fn webhook_callback(&self) -> Option<String> {
        self.inner.shared.webhook_callback()
    }

    /// Every webhook delivery finished so far (delivered or given up), in completion order.
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        self.inner
            .shared
            .webhook_log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Does what Meta's dashboard does when a callback URL is saved: `GET <callback>?
    /// hub.mode=subscribe&hub.challenge=<random>&hub.verify_token=<verify_token>`, and checks
    /// that the answer is 200 with the challenge as the body.
    pub async fn verify_webhook(&self) -> anyhow::Result<()> {
        let Some(callback) = self.webhook_callback() else {
            anyhow::bail!("no webhook callback is configured");
        };
        let challenge = util::numeric_id(10);
        let mut url = url::Url::parse(&callback).context("the webhook callback is not a URL")?;
        url.query_pairs_mut()
            .append_pair("hub.mode", "subscribe")
            .append_pair("hub.challenge", &challenge)
            .append_pair("hub.verify_token", &self.config().verify_token);
        crate::install_crypto_provider();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .build()?;
        let resp = client
            .get(url)
            .send()
            .await
            .context("the webhook callback did not answer the verification request")?;
        let status = resp.status();
        let body = resp.bytes().await.unwrap_or_default();
        if status != reqwest::StatusCode::OK || body.as_ref() != challenge.as_bytes() {
            anyhow::bail!(
                "the webhook callback answered the verification request with HTTP {status} and \
                 not the challenge: check the verify token"
            );
        }
        Ok(())
    }

    /// Sets when `from` last wrote to the business (for window boundary tests).
    pub fn set_last_inbound(&self, from: &str, at: SystemTime) {
        self.inner.shared.set_last_inbound(from, at);
    }

    /// Queues a fault; it is consumed by the next matching request(s).
    pub fn inject_fault(&self, fault: Fault) {
        self.inner.shared.inject_fault(fault);
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        self.inner.shared.clear_faults();
    }

    /// While set, every Graph request fails with 190 subcode 463 (session expired).
    pub fn set_token_expired(&self, expired: bool) {
        self.inner.shared.set_token_expired(expired);
    }

    pub fn templates(&self) -> Vec<TemplateSnapshot> {
        self.inner.shared.template_snapshots()
    }

    pub fn sent_messages(&self) -> Vec<SentMessage> {
        self.inner.shared.sent_messages()
    }

    /// Stops accepting, ends open connections (after a short grace for in-flight requests)
    /// and waits for the server task.
    pub async fn shutdown(self) {
        let _ = self.inner.shutdown_tx.send(true);
        let handle = self
            .inner
            .server
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            let _ = handle.await;
        }
    }
}

fn base_url_for(addr: SocketAddr) -> String {
    // A wildcard bind is reachable on loopback; a URL with 0.0.0.0 would not work everywhere.
    let ip = match addr.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => {
            std::net::IpAddr::V4(Ipv4Addr::LOCALHOST)
        }
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => {
            std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
        }
        ip => ip,
    };
    match ip {
        std::net::IpAddr::V4(v4) => format!("http://{v4}:{}", addr.port()),
        std::net::IpAddr::V6(v6) => format!("http://[{v6}]:{}", addr.port()),
    }
}

/// Runs a sandbox until Ctrl-C (for `host-harness sandbox --port N`). Logs, on stderr through
/// `tracing`, what a client needs: base URL, phone-number id, WABA id and the token.
pub async fn run_standalone(cfg: SandboxConfig, addr: SocketAddr) -> anyhow::Result<()> {
    let sandbox = Sandbox::start_on(cfg, addr).await?;
    let cfg = sandbox.config();
    tracing::info!(
        base_url = %sandbox.base_url(),
        phone_number_id = %cfg.phone_number_id,
        waba_id = %cfg.waba_id,
        display_phone_number = %cfg.display_phone_number,
        "WhatsApp Cloud API sandbox running (Ctrl-C to stop)"
    );
    // Printing the token is the point of standalone mode: the operator must configure the
    // connector with it. It is a throwaway sandbox credential, never a Meta one.
    tracing::info!(access_token = %cfg.access_token, "sandbox access token");
    // Likewise the sandbox app's credentials, for `host-harness connect --app-id ID
    // --dialog-base-url BASE_URL` against it.
    tracing::info!(
        app_id = %cfg.oauth.app_id,
        app_secret = %cfg.app_secret,
        "sandbox app (Facebook Login at {}/{{version}}/dialog/oauth)",
        sandbox.base_url()
    );
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    tracing::info!("stopping the WhatsApp sandbox");
    sandbox.shutdown().await;
    Ok(())
}

/// Installs the process-wide TLS crypto provider (ring) once: reqwest is
/// built without one, and the webhook client needs it even for plain HTTP.
pub(crate) fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Fails only if another provider was installed first, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
