//! `host-harness`: run the WhatsApp connector component, try it against the
//! built-in Cloud API sandbox, and serve it to AI clients.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use host_harness::mcp;
use host_harness::runtime::ComponentSource;
use host_harness::sandbox::{Sandbox, SandboxConfig};
use host_harness::settings::{EnvSecrets, Settings};
use host_harness::{Harness, demo};

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
    /// Log filter for stderr, e.g. `info` or `host_harness=debug` (stdout is never used for logs).
    #[arg(long, global = true, env = "RUST_LOG", default_value = "warn")]
    log: String,
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
    /// Time `tools/list` through the MCP service in-process (use a release build for the figure).
    #[command(hide = true)]
    BenchMcp {
        /// Requests per protocol era.
        #[arg(long, default_value_t = 20_000)]
        iterations: usize,
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.global.log);
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
            let harness = Harness::builder(settings)
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
            host_harness::sandbox::run_standalone(SandboxConfig::default(), addr).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo => {
            let ok = demo::run(source(&global)).await?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Serve(args) => serve(&global, args).await,
        Command::BenchMcp { iterations } => {
            let settings = Settings::load(global.config.as_deref())?;
            let harness = Harness::builder(settings)
                .component(source(&global))
                .in_memory_state()
                .build()
                .await?;
            let server = mcp::McpServer::new(harness.runtime().clone());
            let report = mcp::bench_tools_list(server, iterations).await?;
            println!(
                "tools/list in-process through rmcp ({} tools, {} bytes):",
                harness.runtime().tools().len(),
                report.response_bytes
            );
            println!("  2025-11-25 session: {}", report.legacy);
            println!("  2026-07-28 _meta:   {}", report.modern);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(global: &Global, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut settings = Settings::load(global.config.as_deref())?;
    let mut secrets = EnvSecrets::from_env();
    // Held until the server stops: dropping it stops the sandbox.
    let sandbox = if args.sandbox {
        let sandbox = Sandbox::start(SandboxConfig::default()).await?;
        for from in &args.inbound_from {
            sandbox.simulate_inbound(from, "hello");
        }
        settings.point_at_sandbox(&sandbox, &mut secrets);
        // stderr only: stdout belongs to the protocol.
        eprintln!(
            "WhatsApp Cloud API sandbox at {} (control endpoints under /_sandbox)",
            sandbox.base_url()
        );
        Some(sandbox)
    } else {
        None
    };
    let harness = Harness::builder(settings)
        .secrets(secrets)
        .component(source(global))
        .build()
        .await?;
    let server = mcp::McpServer::new(harness.runtime().clone());
    match args.http {
        None => mcp::serve_stdio(server).await?,
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
            mcp::serve_http(server, listener, &options, shutdown_signal()).await?;
        }
    }
    drop(sandbox);
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
        let sandbox = Sandbox::start(SandboxConfig::default()).await?;
        for from in &args.inbound_from {
            sandbox.simulate_inbound(from, "hello");
        }
        settings.point_at_sandbox(&sandbox, &mut secrets);
        Some(sandbox)
    } else {
        None
    };
    let harness = Harness::builder(settings)
        .secrets(secrets)
        .component(source(global))
        .build()
        .await?;
    let result = harness.runtime().call_tool(&args.tool, &args.args).await;
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
