//! `host-harness serve`: the tools to MCP clients over stdio or streamable
//! HTTP, optionally with Meta's webhooks and an in-process sandbox.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use whatsapp_host::Connector;
use whatsapp_host::admin::{self, AdminServer, AdminTargets};
use whatsapp_host::config::{EnvSecrets, Settings};
use whatsapp_host::gateway::Gateway;
use whatsapp_host::mcp;
use whatsapp_host::runtime::ComponentSource;
use whatsapp_host::webhook_endpoint::{self, WebhookOptions, WebhookServer, Webhooks};

use super::sandbox::LocalSandbox;

/// `host-harness serve`'s flags.
#[derive(Args)]
pub struct ServeArgs {
    /// Serve streamable HTTP at http://ADDR/mcp instead of stdio; ADDR defaults to 127.0.0.1:8765.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = mcp::DEFAULT_HTTP_ADDR)]
    pub(crate) http: Option<SocketAddr>,
    /// Run against an in-process Cloud API sandbox (no Meta account; state in memory).
    #[arg(long)]
    pub(crate) sandbox: bool,
    /// With --sandbox: a user who wrote to the business just now (opens the 24-hour window).
    #[arg(long, value_name = "PHONE", requires = "sandbox")]
    pub(crate) inbound_from: Vec<String>,
    /// With --http: also accept requests naming this Host (`name` or `name:port`), e.g. a LAN name.
    #[arg(long, value_name = "HOST", requires = "http")]
    pub(crate) allowed_host: Vec<String>,
    /// With --http: also accept browser requests from this Origin (`scheme://host[:port|:*]`).
    #[arg(long, value_name = "ORIGIN", requires = "http")]
    pub(crate) allowed_origin: Vec<String>,
    /// Also serve Meta's webhooks at http://ADDR/webhook (ADDR defaults to 127.0.0.1:8766;
    /// `[webhooks] listen` in the config does the same). With --sandbox the endpoint always
    /// runs, on a free loopback port unless given, and the sandbox delivers to it.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = webhook_endpoint::DEFAULT_ADDR)]
    pub(crate) webhook: Option<SocketAddr>,
    /// Also serve /healthz, /readyz and /metrics at http://ADDR (ADDR defaults to
    /// 127.0.0.1:9090; `[admin] listen` in the config does the same). Loopback only
    /// unless `[admin] allow_remote = true`.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:9090")]
    pub(crate) admin: Option<SocketAddr>,
    /// Apps, tool enablement and guardrails (TOML; `[policy] path` in the config does the
    /// same). Reloaded when the file changes and on SIGHUP. Over HTTP, clients must then
    /// send `Authorization: Bearer <app key>`.
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
    /// With --http on an address that is not loopback: serve even though no app has a key
    /// (anyone who reaches the address may use every tool the policy allows). Warns at start
    /// and on every tools/list.
    #[arg(long, requires = "http")]
    pub(crate) allow_unauthenticated: bool,
    /// Where the state lives: a file path, `file:PATH`, `redis://HOST:PORT` or
    /// `rediss://HOST:PORT` (shared by several replicas), or `:memory:` (`[state] url` and
    /// WHATSAPP_STATE_URL do the same; this wins, even with --sandbox).
    #[arg(long, value_name = "URL")]
    pub(crate) state_url: Option<String>,
    /// With --http: this replica's name (a-z, 0-9, `-`), the prefix of every MCP session id it
    /// hands out (`ID.<random>`), so a load balancer can route a session to its replica
    /// (`[mcp] replica_id` and WHATSAPP_REPLICA_ID do the same; this wins).
    #[arg(long, value_name = "ID", requires = "http")]
    pub(crate) replica_id: Option<String>,
    /// stdio: the policy's app to act as (default: its only app, or all tools without a policy).
    #[arg(long, value_name = "NAME", conflicts_with = "http")]
    pub(crate) app: Option<String>,
}

/// `host-harness serve`: the tools over MCP until SIGTERM or Ctrl-C, then a
/// drain of the calls in flight.
pub async fn run(
    config: Option<&Path>,
    component: ComponentSource,
    mut args: ServeArgs,
) -> anyhow::Result<ExitCode> {
    let mut settings = Settings::load(config)?;
    // Checked before anything starts: a bad id stops the start with the rule.
    if let Some(id) = args.replica_id.take() {
        whatsapp_host::config::check_replica_id(&id, "--replica-id")?;
        settings.mcp.replica_id = Some(id);
    }
    let mut secrets = EnvSecrets::from_env();
    if args.webhook.is_some() {
        settings.webhooks.listen = args.webhook;
    }
    if args.admin.is_some() {
        settings.admin.listen = args.admin;
    }
    // Bound first: a refused or busy address stops the start before anything runs.
    let admin_listener = match settings.admin.listen {
        Some(addr) => Some(admin::bind(addr, settings.admin.allow_remote).await?),
        None => None,
    };
    // Bound before the sandbox starts: the sandbox needs the endpoint's URL as its callback.
    let webhook_listener = webhook_endpoint::bind(settings.webhooks.listen, args.sandbox).await?;
    // Held until the server stops: dropping it stops the sandbox.
    let sandbox = if args.sandbox {
        let callback = match &webhook_listener {
            Some(l) => Some(webhook_endpoint::callback_url(l.local_addr()?)),
            None => None,
        };
        // Also hands the sandbox's app secret and verify token to the vault.
        let sandbox = LocalSandbox::start(callback, &[], &mut settings, &mut secrets).await?;
        // stderr only: stdout belongs to the protocol.
        eprintln!(
            "WhatsApp Cloud API sandbox at {} (control endpoints under /_sandbox)",
            sandbox.base_url()
        );
        Some(sandbox)
    } else {
        None
    };
    if webhook_listener.is_some() {
        settings.whatsapp.webhooks_configured = true;
    }
    if let Some(url) = args.state_url {
        settings.state.url = url;
    }
    let webhook_options = WebhookOptions {
        max_body_bytes: settings.webhooks.max_body_bytes,
        claim_timeout: settings.webhooks.claim_timeout(),
        ..WebhookOptions::default()
    };
    let harness = Connector::builder(settings)
        .secrets(secrets)
        .component(component)
        .build()
        .await?;
    let (webhook_server, webhook_queue) = match webhook_listener {
        Some(listener) => {
            let hooks = Webhooks::new(harness.runtime().clone(), webhook_options);
            let server = WebhookServer::start(hooks.clone(), listener).await?;
            eprintln!("Webhook endpoint listening on {}", server.url());
            (Some(server), Some(hooks))
        }
        None => (None, None),
    };
    // Without the endpoint, this replica's subscribed clients still hear of the
    // messages the others ingest.
    let _other_replicas = webhook_queue
        .is_none()
        .then(|| whatsapp_host::inbox_events::follow_other_replicas(harness.runtime()))
        .flatten();
    if let Some(sandbox) = &sandbox {
        if webhook_server.is_some()
            && let Err(e) = sandbox.verify_webhook().await
        {
            tracing::warn!(error = %e, "the sandbox could not verify the webhook endpoint");
        }
        for from in &args.inbound_from {
            sandbox.simulate_inbound(from, super::sandbox::SEEDED_INBOUND_TEXT);
        }
        // Before any transport starts: a send right after `initialize` must
        // find these windows open.
        if let Some(hooks) = &webhook_queue {
            wait_for_inbound_applied(sandbox, hooks, args.inbound_from.len()).await;
        }
    }
    let gateway = Arc::new(Gateway::from_settings(
        harness.runtime().clone(),
        harness.settings(),
        args.policy.as_deref(),
    )?);
    if let Some(file) = gateway.policy_file() {
        eprintln!("Policy {} in force", file.display());
        if args.http.is_some() && !gateway.policy().apps().iter().any(|a| a.has_key()) {
            eprintln!(
                "warning: no app in the policy has a key_hash, so every HTTP request will be \
                 refused (401); add one with `host-harness policy hash-key --generate`"
            );
        }
    }
    if let Some(addr) = args.http {
        exposure_check(addr, &gateway, args.allow_unauthenticated)?;
    }
    let admin_server = match admin_listener {
        Some(listener) => {
            let targets = AdminTargets {
                runtime: harness.runtime().clone(),
                gateway: gateway.clone(),
                webhooks: webhook_server.as_ref().map(|s| s.webhooks().clone()),
            };
            let server = AdminServer::start(targets, listener)?;
            eprintln!(
                "Admin endpoints listening on http://{} (/healthz, /readyz, /metrics)",
                server.local_addr()
            );
            Some(server)
        }
        None => None,
    };
    let watcher = gateway.watch(whatsapp_host::gateway::reload_interval(harness.settings()));
    // stdio acts as one app; over HTTP each request's key picks its app.
    let app = match args.http {
        None => Some(gateway.select_app(args.app.as_deref())?),
        Some(_) => None,
    };
    let server = mcp::McpServer::with_gateway(gateway.clone(), app);
    // On SIGTERM or Ctrl-C: take no new calls, let the running ones finish
    // (bounded by the call deadline), then stop the transports. Webhook
    // deliveries already acknowledged are on disk and resume at the next start.
    let runtime = harness.runtime().clone();
    let drain_limit = runtime.limits().call_timeout + Duration::from_secs(2);
    let drained = async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing the calls in flight");
        runtime.close();
        if !runtime.wait_idle(drain_limit).await {
            tracing::warn!("calls still running after {drain_limit:?}; stopping anyway");
        }
    };
    match args.http {
        None => {
            let serving = mcp::serve_stdio(server);
            tokio::pin!(serving);
            tokio::select! {
                served = &mut serving => served?,
                () = drained => {
                    // Keep serving a moment so the last responses are written out.
                    let _ = tokio::time::timeout(Duration::from_millis(200), &mut serving).await;
                }
            }
        }
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            let local = listener.local_addr()?;
            eprintln!("MCP server listening on http://{local}/mcp");
            let options = mcp::HttpOptions {
                allowed_hosts: args.allowed_host,
                allowed_origins: args.allowed_origin,
                sessions: (&harness.settings().mcp).into(),
                replica_id: harness.settings().mcp.replica_id.clone(),
            };
            mcp::serve_http(server, listener, &options, drained).await?;
        }
    }
    watcher.abort();
    if let Some(server) = admin_server {
        server.stop().await?;
    }
    if let Some(server) = webhook_server {
        server.stop().await?;
    }
    gateway.shutdown();
    if let Some(sandbox) = sandbox {
        sandbox.shutdown().await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Longest wait at start for the sandbox's inbound messages to be applied.
const INBOUND_APPLY_LIMIT: Duration = Duration::from_secs(10);

/// Waits until the sandbox has delivered `expected` inbound-message webhooks
/// and the endpoint's queue has handed them all to the component (the
/// delivery is acknowledged once queued, applied a moment later). Warns and
/// goes on after [`INBOUND_APPLY_LIMIT`].
async fn wait_for_inbound_applied(sandbox: &LocalSandbox, hooks: &Webhooks, expected: usize) {
    if expected == 0 {
        return;
    }
    let deadline = tokio::time::Instant::now() + INBOUND_APPLY_LIMIT;
    loop {
        let delivered = sandbox.inbound_deliveries_finished() >= expected;
        if delivered && hooks.pending().await.is_ok_and(|p| p.is_empty()) {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                "the sandbox's inbound messages were not applied within {INBOUND_APPLY_LIMIT:?}; \
                 a send may still find the 24-hour window closed"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Refuses an HTTP server beyond loopback that anyone could use: one needs a
/// policy whose apps have keys, or `--allow-unauthenticated` (then a warning
/// now and on every `tools/list`). The Host and Origin checks do not stop
/// this: a non-browser client chooses its own `Host`.
fn exposure_check(addr: SocketAddr, gateway: &Gateway, allow: bool) -> anyhow::Result<()> {
    let keyed =
        gateway.policy_file().is_some() && gateway.policy().apps().iter().any(|a| a.has_key());
    if addr.ip().is_loopback() || keyed {
        return Ok(());
    }
    if !allow {
        anyhow::bail!(
            "refusing to serve MCP on {addr} without authentication: it is not a loopback \
             address, and {}. Give a policy whose apps have keys (`--policy FILE` with a \
             `key_hash` from `host-harness policy hash-key --generate`), listen on loopback \
             (`--http 127.0.0.1:8765`), or pass --allow-unauthenticated to serve everyone anyway",
            if gateway.policy_file().is_some() {
                "no app in the policy has a key_hash"
            } else {
                "there is no policy"
            }
        );
    }
    tracing::warn!(
        %addr,
        "serving MCP without authentication on a non-loopback address \
         (--allow-unauthenticated): anyone who reaches it can use every tool"
    );
    gateway.mark_unauthenticated();
    Ok(())
}

/// Ctrl-C or SIGTERM: how an HTTP server is asked to stop.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
