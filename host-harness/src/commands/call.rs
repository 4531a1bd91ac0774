//! `host-harness call`: one tool call through the gateway (and its policy),
//! as a script or a person would make it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use whatsapp_host::Connector;
use whatsapp_host::config::{EnvSecrets, Settings};
use whatsapp_host::gateway::Gateway;
use whatsapp_host::runtime::ComponentSource;

use super::sandbox::LocalSandbox;

/// `host-harness call`'s flags.
#[derive(Args)]
pub struct CallArgs {
    /// Tool name, e.g. `whatsapp_send_message`.
    pub(crate) tool: String,
    /// Arguments as a JSON object.
    #[arg(long, default_value = "{}")]
    pub(crate) args: String,
    /// Run against an in-process sandbox instead of the configured API.
    #[arg(long)]
    pub(crate) sandbox: bool,
    /// With --sandbox: a user who wrote to the business just now (opens the 24-hour window).
    #[arg(long, value_name = "PHONE", requires = "sandbox")]
    pub(crate) inbound_from: Vec<String>,
    /// Check the call against this policy file first (`[policy] path` does the same).
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
    /// The policy's app to act as (default: its only app).
    #[arg(long, value_name = "NAME")]
    pub(crate) app: Option<String>,
}

/// `host-harness call`: one tool call, its result as JSON on stdout; exits 2
/// if the tool fails.
pub async fn run(
    config: Option<&Path>,
    component: ComponentSource,
    args: CallArgs,
) -> anyhow::Result<ExitCode> {
    let mut settings = Settings::load(config)?;
    let mut secrets = EnvSecrets::from_env();
    let sandbox = if args.sandbox {
        Some(LocalSandbox::start(None, &args.inbound_from, &mut settings, &mut secrets).await?)
    } else {
        None
    };
    let harness = Connector::builder(settings)
        .secrets(secrets)
        .component(component)
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
