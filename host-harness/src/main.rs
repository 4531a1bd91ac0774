//! `host-harness`: run the WhatsApp connector component, try it against the
//! built-in Cloud API sandbox, and serve it to AI clients.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use host_harness::commands;
use whatsapp_host::runtime::ComponentSource;

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
    /// logs). Default: `warn`; `sandbox` (short for `warn,whatsapp_sandbox=info`) also logs
    /// what a client needs to reach the sandbox.
    #[arg(long, global = true, env = "RUST_LOG")]
    log: Option<String>,
    /// Let the crates that log requests (MCP messages with their arguments, HTTP frames)
    /// log them at debug and trace; without it they are held to info whatever --log says.
    /// Phone numbers and message ids are masked in every log line either way.
    #[arg(long, global = true)]
    log_bodies: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Print the tool descriptors (name, title, description, schemas, annotations) as JSON.
    Tools,
    /// Run one tool call and print its result as JSON; exits 2 if the tool fails.
    Call(commands::call::CallArgs),
    /// Run the Cloud API sandbox alone on loopback, for manual tries or other clients.
    Sandbox {
        /// Port to listen on (127.0.0.1).
        #[arg(long, default_value_t = 8089)]
        port: u16,
        /// POST the signed webhooks (statuses, inbound messages) here, e.g. one gateway's
        /// `http://127.0.0.1:8766/webhook` or a load balancer in front of several replicas.
        #[arg(long, value_name = "URL")]
        webhook_url: Option<String>,
        /// Sign webhooks with the app secret in this environment variable (default:
        /// WHATSAPP_SANDBOX_APP_SECRET if set, else a random one), so the gateways can share it.
        #[arg(long, value_name = "VAR")]
        app_secret_env: Option<String>,
        /// Accept only the access token in this environment variable (default:
        /// WHATSAPP_SANDBOX_ACCESS_TOKEN if set, else a random one, logged at start).
        #[arg(long, value_name = "VAR")]
        access_token_env: Option<String>,
    },
    /// Drive every tool through the real component against an in-process sandbox.
    Demo,
    /// Serve the tools to MCP clients: stdio by default, streamable HTTP at /mcp with --http.
    Serve(commands::serve::ServeArgs),
    /// Store, list and remove credentials in the encrypted vault (secrets from stdin only).
    #[command(subcommand)]
    Vault(commands::vault::VaultCommand),
    /// Connect a WhatsApp Business Account with Facebook Login and store the token.
    Connect(commands::connect::ConnectArgs),
    /// Check the token, its scopes and expiry, the WABA, the phone number and webhooks.
    Doctor(commands::doctor::DoctorArgs),
    /// Upload a local file to WhatsApp: prints a media id, or with --for-template the
    /// upload handle for a template header example or profile picture.
    #[command(subcommand)]
    Media(commands::media::MediaCommand),
    /// Apps, tools and guardrails: hash an app key, check a policy file.
    #[command(subcommand)]
    Policy(commands::policy::PolicyCommand),
    /// The audit log: `audit ref WAMID` prints the `message_ref` written for a message id.
    #[command(subcommand)]
    Audit(commands::audit::AuditCommand),
    /// The state store: `state copy --from A --to B` copies every record (kv, webhook
    /// queue, host bookkeeping) with its remaining time to live, e.g. from the file to Redis.
    #[command(subcommand)]
    State(commands::state::StateCommand),
    /// Measure call overhead, cold start, MCP throughput vs a native client, and
    /// memory per instance against the sandbox (use a release build); ends with a JSON line.
    Bench {
        /// A short smoke run of every measurement.
        #[arg(long)]
        quick: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_filter = match cli.command {
        Command::Sandbox { .. } => "warn,whatsapp_sandbox=info",
        _ => "warn",
    };
    host_harness::logging::init(
        cli.global.log.as_deref().unwrap_or(default_filter),
        cli.global.log_bodies,
    );
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

fn source(global: &Global) -> ComponentSource {
    match &global.component {
        Some(path) => ComponentSource::File(path.clone()),
        None => ComponentSource::Embedded,
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let global = cli.global;
    let config = global.config.as_deref();
    match cli.command {
        Command::Tools => commands::tools::run(config, source(&global)).await,
        Command::Call(args) => commands::call::run(config, source(&global), args).await,
        Command::Sandbox {
            port,
            webhook_url,
            app_secret_env,
            access_token_env,
        } => {
            let options = commands::sandbox::StandaloneOptions::from_env(
                SocketAddr::from(([127, 0, 0, 1], port)),
                webhook_url,
                app_secret_env.as_deref(),
                access_token_env.as_deref(),
            )?;
            commands::sandbox::run_standalone(options).await
        }
        Command::Demo => commands::sandbox::run_demo(source(&global)).await,
        Command::Serve(args) => commands::serve::run(config, source(&global), args).await,
        Command::Vault(command) => {
            commands::vault::run(config, command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Connect(args) => commands::connect::run(config, args).await,
        Command::Doctor(args) => commands::doctor::run(config, args).await,
        Command::State(command) => commands::state::run(config, command).await,
        Command::Media(command) => commands::media::run(config, command).await,
        Command::Policy(command) => commands::policy::run(config, source(&global), command).await,
        Command::Audit(command) => {
            commands::audit::run(config, command)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { quick } => commands::sandbox::run_bench(source(&global), quick).await,
    }
}
