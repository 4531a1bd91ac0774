//! The handle on a running sandbox: start, inspect, drive, stop.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::SandboxConfig;
use crate::delivery::dispatch::{OnReviewDue, dispatch};
use crate::delivery::record::WebhookDelivery;
use crate::model::faults::Fault;
use crate::model::inbound::{self, InboundMessage};
use crate::model::world::World;
use crate::records::{ReceivedMessage, RecordedRequest, SentMessage, TemplateSnapshot};
use crate::routes;
use crate::util;

/// A running sandbox. Cheap to clone; the server stops when `shutdown` is called or the last
/// clone is dropped.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    world: Arc<World>,
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
        let world = Arc::new(World::new(cfg, base_url));
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        if let Some(inbox) = world.take_webhook_inbox() {
            let weak = Arc::downgrade(&world);
            let on_review_due: OnReviewDue = Arc::new(move || {
                if let Some(world) = weak.upgrade() {
                    // Reading the templates applies due reviews, which queues the
                    // status-update webhook.
                    let _ = world.template_snapshots();
                }
            });
            tokio::spawn(dispatch(
                inbox,
                world.cfg.clone(),
                world.delivery_log.clone(),
                on_review_due,
                shutdown_rx.clone(),
            ));
        }
        let server = tokio::spawn(routes::serve(listener, world.clone(), shutdown_rx));
        tracing::debug!(addr = %local, "WhatsApp sandbox listening");
        Ok(Sandbox {
            inner: Arc::new(Inner {
                world,
                addr: local,
                shutdown_tx,
                server: Mutex::new(Some(server)),
            }),
        })
    }

    /// `"http://127.0.0.1:PORT"` (no trailing slash).
    pub fn base_url(&self) -> String {
        self.inner.world.base_url.clone()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &SandboxConfig {
        &self.inner.world.cfg
    }

    /// Every Graph request received, in order (control endpoints excluded).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.world.requests()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.inner.world.clear_requests();
    }

    /// A text message from `from` arrives now: opens (or refreshes) the 24 h window and, with
    /// a callback, is delivered as a `messages` webhook. Nothing happens when `from` has no
    /// digits or `text` is empty (a warning is logged).
    pub fn simulate_inbound(&self, from: &str, text: &str) {
        self.simulate_inbound_at(from, text, SystemTime::now());
    }

    /// A text message from `from` sent at `at` arrives now: updates the window and, with a
    /// callback, delivers it as a `messages` webhook carrying that timestamp. Returns its id
    /// (empty when nothing was sent: `from` without digits or an empty `text`).
    pub fn simulate_inbound_at(&self, from: &str, text: &str, at: SystemTime) -> String {
        inbound::receive_at(&self.inner.world, &InboundMessage::text(from, text), at)
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "sandbox: the simulated inbound message was not sent");
                String::new()
            })
    }

    /// A user writes `message` (a text, a button reply, a photo, a quoted reply or a
    /// reaction; see [`InboundMessage`]): it opens or refreshes their 24 h window and, with a
    /// callback, arrives as a signed `messages` webhook in Meta's shape. Returns the new
    /// message's id, or what is wrong with `message` (a missing field, a quoted id that is
    /// not in the conversation).
    pub fn simulate_inbound_message(&self, message: &InboundMessage) -> Result<String, String> {
        inbound::receive(&self.inner.world, message)
    }

    /// What users wrote that the sandbox still holds (the latest 10 000), oldest first, with
    /// whether the business marked each read.
    pub fn received_messages(&self) -> Vec<ReceivedMessage> {
        self.inner.world.received_messages()
    }

    /// Where webhooks go from now on (`None` stops them; pending retries are dropped).
    pub fn set_webhook_callback(&self, url: Option<String>) {
        self.inner.world.set_webhook_callback(url);
    }

    /// Where webhooks go now, if anywhere.
    pub fn webhook_callback(&self) -> Option<String> {
        self.inner.world.webhook_callback()
    }

    /// Every webhook delivery finished so far (delivered or given up), in completion order.
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        self.inner
            .world
            .delivery_log
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
        util::install_crypto_provider();
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
        self.inner.world.set_last_inbound(from, at);
    }

    /// Queues a fault; it is consumed by the next matching request(s).
    pub fn inject_fault(&self, fault: Fault) {
        self.inner.world.inject_fault(fault);
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        self.inner.world.clear_faults();
    }

    /// While set, every Graph request fails with 190 subcode 463 (session expired).
    pub fn set_token_expired(&self, expired: bool) {
        self.inner.world.set_token_expired(expired);
    }

    /// The templates of the account, statuses brought up to date.
    pub fn templates(&self) -> Vec<TemplateSnapshot> {
        self.inner.world.template_snapshots()
    }

    /// Does to template `name` (in `language`, or every language) what Meta does after review:
    /// pauses, disables, flags or reinstates it, changes its quality score or reassigns its
    /// category, with the webhooks Meta sends. Returns the templates changed.
    pub fn change_template(
        &self,
        name: &str,
        language: Option<&str>,
        change: &crate::TemplateChange,
    ) -> Result<Vec<TemplateSnapshot>, String> {
        crate::model::template_admin::apply(&self.inner.world, name, language, change)
    }

    /// Every send accepted so far, in order.
    pub fn sent_messages(&self) -> Vec<SentMessage> {
        self.inner.world.sent_messages()
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

/// Which of the sandbox's credentials the operator gave (from the environment, shared with the
/// gateways): those are never logged; generated ones are, since the operator needs them.
#[derive(Clone, Copy, Debug, Default)]
pub struct GivenCredentials {
    /// The access token came from the operator.
    pub access_token: bool,
    /// The app secret came from the operator.
    pub app_secret: bool,
}

/// Runs a sandbox until Ctrl-C (for `host-harness sandbox --port N`). Logs, on stderr through
/// `tracing`, what a client needs: base URL, phone-number id, WABA id and the credentials it
/// generated (not those in `given`).
pub async fn run_standalone(
    cfg: SandboxConfig,
    addr: SocketAddr,
    given: GivenCredentials,
) -> anyhow::Result<()> {
    let sandbox = Sandbox::start_on(cfg, addr).await?;
    let cfg = sandbox.config();
    tracing::info!(
        base_url = %sandbox.base_url(),
        phone_number_id = %cfg.phone_number_id,
        waba_id = %cfg.waba_id,
        display_phone_number = %cfg.display_phone_number,
        "WhatsApp Cloud API sandbox running (Ctrl-C to stop)"
    );
    // Printing a generated token is the point of standalone mode: the operator must configure
    // the connector with it. It is a throwaway sandbox credential, never a Meta one. One the
    // operator gave is already known to them, and stays out of the logs.
    let shown = |given: bool, value: &str| {
        if given {
            "(as given in the environment)".to_string()
        } else {
            value.to_string()
        }
    };
    tracing::info!(
        access_token = %shown(given.access_token, &cfg.access_token),
        "sandbox access token"
    );
    // Likewise the sandbox app's credentials, for `host-harness connect --app-id ID
    // --dialog-base-url BASE_URL` against it.
    tracing::info!(
        app_id = %cfg.oauth.app_id,
        app_secret = %shown(given.app_secret, &cfg.app_secret),
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
