//! The admin listener (`serve --admin ADDR`): liveness, readiness and
//! metrics on an address of their own, apart from MCP and the webhooks.
//!
//! - `GET /healthz`: 200 while the process answers.
//! - `GET /readyz`: 200 when every check passes, else 503 naming the ones
//!   that fail (JSON: `{"ready": false, "checks": {name: "ok" | why}}`).
//!   The checks: `component` (a fresh instance of the compiled component
//!   can be made and the runtime is taking calls), `store` (the state store
//!   answers a read), `policy` (the policy in force is the file's current
//!   content: a file that fails to load makes this fail until it is fixed).
//! - `GET /metrics`: the Prometheus text format ([`metrics`]).
//!
//! No authentication: it listens on loopback unless `[admin] allow_remote`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::gateway::Gateway;
use crate::runtime::Runtime;
use crate::webhook_endpoint::Webhooks;

pub(crate) mod metrics;

/// Where the metrics come from and what readiness asks.
#[derive(Clone)]
pub struct AdminTargets {
    /// The runtime (component, store).
    pub runtime: Arc<Runtime>,
    /// The gateway (policy).
    pub gateway: Arc<Gateway>,
    /// The webhook endpoint, when one runs.
    pub webhooks: Option<Webhooks>,
}

/// Binds the admin listener at `addr`, refusing an address beyond loopback
/// unless `allow_remote`.
pub async fn bind(addr: SocketAddr, allow_remote: bool) -> anyhow::Result<TcpListener> {
    if !addr.ip().is_loopback() && !allow_remote {
        anyhow::bail!(
            "refusing to serve the admin endpoints (/healthz, /readyz, /metrics) on {addr}: it \
             is not a loopback address and they have no authentication. Listen on loopback \
             (`--admin 127.0.0.1:9090`) or set `allow_remote = true` under `[admin]` in the \
             config file (env WHATSAPP_ADMIN_ALLOW_REMOTE=true) if the network is yours"
        );
    }
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for the admin endpoints on {addr}: {e}"))
}

/// A running admin listener; `stop` ends it.
pub struct AdminServer {
    local: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl AdminServer {
    /// Serves the admin endpoints for `targets` on `listener`.
    pub fn start(targets: AdminTargets, listener: TcpListener) -> anyhow::Result<AdminServer> {
        let local = listener.local_addr()?;
        let (stop, mut rx) = watch::channel(false);
        let app = Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics_text))
            .with_state(Arc::new(targets));
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await
        });
        Ok(AdminServer { local, stop, task })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Stops the listener and waits for it.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        Ok(self.task.await??)
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(targets): State<Arc<AdminTargets>>) -> Response {
    let mut checks = Map::new();
    let component = match targets.runtime.check_instantiable().await {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("{e:#}"),
    };
    checks.insert("component".into(), Value::String(component));
    let store = match targets.runtime.capabilities().state.check().await {
        Ok(()) => "ok".to_string(),
        Err(e) => e.to_string(),
    };
    checks.insert("store".into(), Value::String(store));
    let policy = targets
        .gateway
        .policy_problem()
        .unwrap_or_else(|| "ok".into());
    checks.insert("policy".into(), Value::String(policy));
    let ready = checks.values().all(|v| v == "ok");
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({ "ready": ready, "checks": checks })),
    )
        .into_response()
}

async fn metrics_text(State(targets): State<Arc<AdminTargets>>) -> Response {
    let mut snapshot = metrics::Snapshot {
        live_instances: targets.runtime.live_instances() as u64,
        ..Default::default()
    };
    if let Some(hooks) = &targets.webhooks {
        let stats = hooks.stats();
        snapshot.webhooks = Some(metrics::WebhookCounts {
            accepted: stats.accepted,
            rejected: stats.rejected,
            ingested: stats.ingested,
            retries: stats.retries,
            dead_lettered: stats.dead_lettered,
        });
        if let Ok(pending) = hooks.pending().await {
            snapshot.queue_depth = Some(pending.len() as u64);
            let now = crate::store::now_ms();
            snapshot.oldest_queued_seconds = Some(
                pending
                    .first()
                    .and_then(|k| queued_at_ms(k))
                    .map_or(0.0, |at| now.saturating_sub(at) as f64 / 1000.0),
            );
        }
    }
    let body = metrics::render(snapshot);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// The receive time in a queue key (`q/<Unix ms, 16 digits>-...`).
fn queued_at_ms(key: &str) -> Option<u64> {
    key.strip_prefix(crate::webhook_endpoint::QUEUE_PREFIX)?
        .split('-')
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_key_gives_its_receive_time() {
        assert_eq!(
            queued_at_ms("q/0001767225600000-3-ab12"),
            Some(1_767_225_600_000)
        );
        assert_eq!(queued_at_ms("dead/0001767225600000-3-ab12"), None);
    }
}
