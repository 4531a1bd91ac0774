//! Streamable HTTP at `/mcp`: rmcp's tower service mounted in axum.
//!
//! One endpoint serves both eras. A request whose `_meta` names 2026-07-28 is
//! served statelessly (JSON reply; GET/DELETE → 405); an `initialize` opens a
//! 2025-11-25 session (`Mcp-Session-Id`, SSE replies, GET stream, DELETE).
//! rmcp validates `Host` (DNS rebinding), `Origin` (403), and the
//! `MCP-Protocol-Version`/`Mcp-Method`/`Mcp-Name` headers against the body
//! (400 with `-32020`). Sessions are ours to bound and to bind to the app
//! that opened them (`super::sessions`).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;

use axum::response::IntoResponse as _;

use super::handler::{AuthenticatedApp, McpServer};
use super::sessions::{OwnedSessions, SessionLimits, SessionRegistry, guard_sessions};
use crate::gateway::ToolService;

/// Where `serve --http` listens when no address is given.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:8765";

/// Browser origins accepted by default: pages served from this machine. A
/// DNS-rebinding page carries its own (foreign) origin and gets 403.
const LOOPBACK_ORIGINS: [&str; 6] = [
    "http://localhost:*",
    "http://127.0.0.1:*",
    "http://[::1]:*",
    "https://localhost:*",
    "https://127.0.0.1:*",
    "https://[::1]:*",
];

/// What the HTTP transport accepts beyond loopback.
#[derive(Clone, Debug, Default)]
pub struct HttpOptions {
    /// Extra `Host` values (`name` or `name:port`) to accept, e.g. a LAN name.
    pub allowed_hosts: Vec<String>,
    /// Extra browser origins (`scheme://host[:port|:*]`) to accept.
    pub allowed_origins: Vec<String>,
    /// How many 2025-11-25 sessions may live at once, and for how long idle.
    pub sessions: SessionLimits,
    /// This replica's name, the prefix of its session ids (`[mcp] replica_id`,
    /// checked by [`crate::config::check_replica_id`]); `None`: bare random ids.
    pub replica_id: Option<String>,
}

/// rmcp's configuration for our endpoint, for the address it is bound to.
pub fn http_config(local: SocketAddr, options: &HttpOptions) -> StreamableHttpServerConfig {
    let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    // Bound to a specific non-loopback address: clients will name it.
    if !local.ip().is_loopback() && !local.ip().is_unspecified() {
        hosts.push(host_literal(local.ip()));
    }
    hosts.extend(options.allowed_hosts.iter().cloned());
    let origins = LOOPBACK_ORIGINS
        .iter()
        .map(|o| o.to_string())
        .chain(options.allowed_origins.iter().cloned());
    StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .enforce_origin_validation()
        // Legacy clients get sessions; 2026-07-28 requests are stateless regardless.
        .with_legacy_session_mode(true)
        // A plain JSON body for stateless replies: simpler for every client.
        .with_json_response(true)
}

fn host_literal(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// The axum router: the MCP endpoint at `/mcp`, nothing else, with the
/// default session limits. With a policy in force, every request must carry
/// an app's key.
pub fn router<S: ToolService>(
    server: McpServer<S>,
    config: StreamableHttpServerConfig,
) -> axum::Router {
    router_with_sessions(server, config, SessionLimits::default())
}

/// [`router`] with `limits` on the sessions legacy clients open.
pub fn router_with_sessions<S: ToolService>(
    server: McpServer<S>,
    config: StreamableHttpServerConfig,
    limits: SessionLimits,
) -> axum::Router {
    replica_router(server, config, limits, None)
}

/// [`router_with_sessions`] for one of several replicas: its session ids
/// start with `replica_id` and a `.`, for a balancer to route them by.
pub fn replica_router<S: ToolService>(
    server: McpServer<S>,
    config: StreamableHttpServerConfig,
    limits: SessionLimits,
    replica_id: Option<&str>,
) -> axum::Router {
    let gateway = server.service().clone();
    let registry = Arc::new(SessionRegistry::new(limits));
    let max_body_bytes = config.max_request_body_bytes;
    let service: StreamableHttpService<McpServer<S>, OwnedSessions> = StreamableHttpService::new(
        move || Ok(server.for_session()),
        Arc::new(OwnedSessions::new(registry.clone(), replica_id)),
        config,
    );
    // Layers run outside in: the key check first, so the session guard
    // knows the caller's app.
    let router =
        axum::Router::new()
            .nest_service("/mcp", service)
            .layer(axum::middleware::from_fn(
                move |request: axum::extract::Request, next: axum::middleware::Next| {
                    guard_sessions(registry.clone(), max_body_bytes, request, next)
                },
            ));
    if !gateway.requires_auth() {
        return router;
    }
    router.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            require_app_key(gateway.clone(), request, next)
        },
    ))
}

/// `Authorization: Bearer <app key>` → the app, or 401 with a
/// `WWW-Authenticate` challenge. The key never reaches the log.
async fn require_app_key<S: ToolService>(
    gateway: Arc<S>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let presented = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim().to_string());
    if let Some(app) = presented.as_deref().and_then(|k| gateway.authenticate(k)) {
        request.extensions_mut().insert(AuthenticatedApp(app));
        return next.run(request).await;
    }
    let (challenge, description) = match presented {
        None => (
            r#"Bearer realm="whatsapp-connector""#,
            "this server needs an app key: send Authorization: Bearer <app key>",
        ),
        Some(_) => (
            r#"Bearer realm="whatsapp-connector", error="invalid_token""#,
            "the app key is not valid for this server",
        ),
    };
    tracing::warn!(
        method = %request.method(),
        presented = presented.is_some(),
        "MCP request refused: no valid app key"
    );
    let body = serde_json::json!({"error": "invalid_token", "error_description": description});
    (
        http::StatusCode::UNAUTHORIZED,
        [
            (http::header::WWW_AUTHENTICATE, challenge),
            (http::header::CONTENT_TYPE, "application/json"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// Serves `/mcp` on `listener` until `shutdown` completes, then ends open
/// sessions and streams so the process can exit.
pub async fn serve_http<S: ToolService>(
    server: McpServer<S>,
    listener: TcpListener,
    options: &HttpOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if let Some(id) = &options.replica_id {
        crate::config::check_replica_id(id, "the replica id")?;
    }
    let local = listener.local_addr()?;
    let config = http_config(local, options);
    // Cancelling this ends every session and stream the service holds.
    let stop = config.cancellation_token.clone();
    let app = replica_router(
        server,
        config,
        options.sessions,
        options.replica_id.as_deref(),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Open SSE streams would keep graceful shutdown waiting, so end
            // them, but only after a grace period: cancelling at once would
            // also drop replies rmcp is still handing to their connections.
            tokio::spawn(async move {
                tokio::time::sleep(SSE_GRACE).await;
                stop.cancel();
            });
        })
        .await?;
    Ok(())
}

/// How long replies get to reach their connections before streams are ended.
const SSE_GRACE: std::time::Duration = std::time::Duration::from_millis(500);
