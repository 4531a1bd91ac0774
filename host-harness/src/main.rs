//! `host-harness`: run the WhatsApp connector component, try it against the
//! built-in Cloud API sandbox, and serve it to AI clients.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use host_harness::commands;
use host_harness::commands::sandbox::LocalSandbox;
use whatsapp_host::Connector;
use whatsapp_host::config::{EnvSecrets, Settings};
use whatsapp_host::gateway::Gateway;
use whatsapp_host::mcp;
use whatsapp_host::runtime::ComponentSource;
use whatsapp_host::webhook_endpoint::{self, WebhookOptions, WebhookServer, Webhooks};

/// WhatsApp Business connector host: a wasmtime embedding of the connector
/// component with a vault, an outbound allowlist and a Cloud API sandbox.
#[derive(Parser)]
#[command(name = "host-harness", version)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Global {
    /// TOML settings file (see the README); environment variables override it.
    #[arg(long, global = true, env = "WHATSAPP_CONFIG")]
    config: Option<PathBuf>,
    /// Load this component instead of the one built into the binary.
    #[arg(long, global = true, value_name = "PATH")]
    component: Option<PathBuf>,
    /// Log filter for stderr, e.g. `info` or `host_harness=debug` (stdout is never used for
    /// logs). Default: `warn`; `sandbox` also logs what a client needs to reach it.
    #[arg(long, global = true, env = "RUST_LOG")]
    log: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Print the tool descriptors (name, title, description, schemas, annotations) as JSON.
    Tools,
    /// Run one tool call and print its result as JSON; exits 2 if the tool fails.
    Call(CallArgs),
    /// Run the Cloud API sandbox alone on loopback, for manual tries or other clients.
    Sandbox {
        /// Port to listen on (127.0.0.1).
        #[arg(long, default_value_t = 8089)]
        port: u16,
    },
    /// Drive all nine tools through the real component against an in-process sandbox.
    Demo,
    /// Serve the tools to MCP clients: stdio by default, streamable HTTP at /mcp with --http.
    Serve(ServeArgs),
    /// Store, list and remove credentials in the encrypted vault (secrets from stdin only).
    #[command(subcommand)]
    Vault(commands::vault::VaultCommand),
    /// Connect a WhatsApp Business Account with Facebook Login and store the token.
    Connect(commands::connect::ConnectArgs),
    /// Check the token, its scopes and expiry, the WABA, the phone number and webhooks.
    Doctor(commands::doctor::DoctorArgs),
    /// Apps, tools and guardrails: hash an app key, check a policy file.
    #[command(subcommand)]
    Policy(commands::policy::PolicyCommand),
    /// Measure call overhead, cold start, MCP throughput vs a native client, and
    /// memory per instance against the sandbox (use a release build); ends with a JSON line.
    Bench {
        /// A short smoke run of every measurement.
        #[arg(long)]
        quick: bool,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Serve streamable HTTP at http://ADDR/mcp instead of stdio; ADDR defaults to 127.0.0.1:8765.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = mcp::DEFAULT_HTTP_ADDR)]
    http: Option<SocketAddr>,
    /// Run against an in-process Cloud API sandbox (no Meta account; state in memory).
    #[arg(long)]
    sandbox: bool,
    /// With --sandbox: a user who wrote to the business just now (opens the 24-hour window).
    #[arg(long, value_name = "PHONE", requires = "sandbox")]
    inbound_from: Vec<String>,
    /// With --http: also accept requests naming this Host (`name` or `name:port`), e.g. a LAN name.
    #[arg(long, value_name = "HOST", requires = "http")]
    allowed_host: Vec<String>,
    /// With --http: also accept browser requests from this Origin (`scheme://host[:port|:*]`).
    #[arg(long, value_name = "ORIGIN", requires = "http")]
    allowed_origin: Vec<String>,
    /// Also serve Meta's webhooks at http://ADDR/webhook (ADDR defaults to 127.0.0.1:8766;
    /// `[webhooks] listen` in the config does the same). With --sandbox the endpoint always
    /// runs, on a free loopback port unless given, and the sandbox delivers to it.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = webhook_endpoint::DEFAULT_ADDR)]
    webhook: Option<SocketAddr>,
    /// Apps, tool enablement and guardrails (TOML; `[policy] path` in the config does the
    /// same). Reloaded when the file changes and on SIGHUP. Over HTTP, clients must then
    /// send `Authorization: Bearer <app key>`.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// stdio: the policy's app to act as (default: its only app, or all tools without a policy).
    #[arg(long, value_name = "NAME", conflicts_with = "http")]
    app: Option<String>,
}

#[derive(Args)]
struct CallArgs {
    /// Tool name, e.g. `whatsapp_send_message`.
    tool: String,
    /// Arguments as a JSON object.
    #[arg(long, default_value = "{}")]
    args: String,
    /// Run against an in-process sandbox instead of the configured API.
    #[arg(long)]
    sandbox: bool,
    /// With --sandbox: a user who wrote to the business just now (opens the 24-hour window).
    #[arg(long, value_name = "PHONE", requires = "sandbox")]
    inbound_from: Vec<String>,
    /// Check the call against this policy file first (`[policy] path` does the same).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// The policy's app to act as (default: its only app).
    #[arg(long, value_name = "NAME")]
    app: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_filter = match cli.command {
        Command::Sandbox { .. } => "warn,whatsapp_sandbox=info",
        _ => "warn",
    };
    init_logging(cli.global.log.as_deref().unwrap_or(default_filter));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn source(global: &Global) -> ComponentSource {
    match &global.component {
        Some(path) => ComponentSource::File(path.clone()),
        None => ComponentSource::Embedded,
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let global = cli.global;
    match cli.command {
        Command::Tools => {
            let settings = Settings::load(global.config.as_deref())?;
            let harness = Connector::builder(settings)
                .component(source(&global))
                .in_memory_state()
                .build()
                .await?;
            println!(
                "{}",
                serde_json::to_string_pretty(harness.runtime().tools())?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Call(args) => call(&global, args).await,
        Command::Sandbox { port } => {
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            commands::sandbox::run_standalone(addr).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo => demo(&global).await,
        Command::Serve(args) => serve(&global, args).await,
        Command::Vault(command) => {
            commands::vault::run(global.config.as_deref(), command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Connect(args) => commands::connect::run(global.config.as_deref(), args).await,
        Command::Doctor(args) => commands::doctor::run(global.config.as_deref(), args).await,
        Command::Policy(command) => {
            commands::policy::run(global.config.as_deref(), source(&global), command).await
        }
        Command::Bench { quick } => bench(&global, quick).await,
    }
}

#[cfg(feature = "sandbox")]
async fn demo(global: &Global) -> anyhow::Result<ExitCode> {
    let ok = commands::demo::run(source(global)).await?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(feature = "sandbox")]
async fn bench(global: &Global, quick: bool) -> anyhow::Result<ExitCode> {
    let options = if quick {
        commands::bench::BenchOptions::quick()
    } else {
        commands::bench::BenchOptions::full()
    };
    commands::bench::run(source(global), options).await?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "sandbox"))]
async fn demo(_global: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!(commands::sandbox::NOT_BUILT)
}

#[cfg(not(feature = "sandbox"))]
async fn bench(_global: &Global, _quick: bool) -> anyhow::Result<ExitCode> {
    anyhow::bail!(commands::sandbox::NOT_BUILT)
}

async fn serve(global: &Global, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut settings = Settings::load(global.config.as_deref())?;
    let mut secrets = EnvSecrets::from_env();
    if args.webhook.is_some() {
        settings.webhooks.listen = args.webhook;
    }
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
    let webhook_options = WebhookOptions {
        max_body_bytes: settings.webhooks.max_body_bytes,
        ..WebhookOptions::default()
    };
    let harness = Connector::builder(settings)
        .secrets(secrets)
        .component(source(global))
        .build()
        .await?;
    let webhook_server = match webhook_listener {
        Some(listener) => {
            let hooks = Webhooks::new(harness.runtime().clone(), webhook_options);
            let server = WebhookServer::start(hooks, listener).await?;
            eprintln!("Webhook endpoint listening on {}", server.url());
            Some(server)
        }
        None => None,
    };
    if let Some(sandbox) = &sandbox {
        if webhook_server.is_some()
            && let Err(e) = sandbox.verify_webhook().await
        {
            tracing::warn!(error = %e, "the sandbox could not verify the webhook endpoint");
        }
        for from in &args.inbound_from {
            sandbox.simulate_inbound(from, "hello");
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
            };
            mcp::serve_http(server, listener, &options, drained).await?;
        }
    }
    watcher.abort();
    if let Some(server) = webhook_server {
        server.stop().await?;
    }
    gateway.shutdown();
    if let Some(sandbox) = sandbox {
        sandbox.shutdown().await;
    }
    Ok(ExitCode::SUCCESS)
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

async fn call(global: &Global, args: CallArgs) -> anyhow::Result<ExitCode> {
    let mut settings = Settings::load(global.config.as_deref())?;
    let mut secrets = EnvSecrets::from_env();
    let sandbox = if args.sandbox {
        Some(LocalSandbox::start(None, &args.inbound_from, &mut settings, &mut secrets).await?)
    } else {
        None
    };
    let harness = Connector::builder(settings)
        .secrets(secrets)
        .component(source(global))
        .build()
        .await?;
    let gateway = Gateway::from_settings(
        harness.runtime().clone(),
        harness.settings(),
        args.policy.as_deref(),
    )?;
    let app = gateway.select_app(args.app.as_deref())?;
    let result = gateway.call_tool(&app, &args.tool, &args.args).await;
    gateway.shutdown();
    if let Some(sandbox) = sandbox {
        sandbox.shutdown().await;
    }
    match result {
        Ok(value) => {
            println!("{}", serde_json::to_string_pretty(&value)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("{}", serde_json::to_string_pretty(&e.to_json())?);
            eprintln!("{}", e.one_line());
            Ok(ExitCode::from(2))
        }
    }
}
