//! `host-harness doctor`: is this setup able to work? Each check says PASS,
//! WARN, FAIL or SKIP, what it saw, and for anything but PASS how to fix it:
//!
//! 1. an access token is configured (vault or environment) and bound to the API;
//! 2. Graph's `debug_token` says it is valid;
//! 3. it does not expire within 7 days;
//! 4. it has both WhatsApp scopes;
//! 5. the configured WABA exists and the token reaches it;
//! 6. the configured phone number exists and belongs to that WABA;
//! 7. the token's app is subscribed to the WABA's webhooks (`subscribed_apps`);
//! 8. the state store: where it is (a Redis URL without its password) and, for
//!    Redis, that it answers and syncs what it acknowledges.
//!
//! Works against the real API and the sandbox (`doctor --sandbox`). Output
//! never contains a secret.

mod checks;
mod report;
mod state;

use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use crate::commands::sandbox::LocalSandbox;
use checks::diagnose;
use report::{Status, render};
use whatsapp_host::caps::vault;
use whatsapp_host::config::{EnvSecrets, Settings};

/// `host-harness doctor`'s flags.
#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Check against an in-process Cloud API sandbox instead of the configured API.
    #[arg(long)]
    pub(crate) sandbox: bool,
    /// The vault name of the access token.
    #[arg(long, default_value = vault::ACCESS_TOKEN)]
    pub(crate) credential: String,
    /// Print the checks as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `host-harness doctor`: exit 1 when a check fails.
pub async fn run(config: Option<&Path>, args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let mut settings = Settings::load(config)?;
    let mut secrets = EnvSecrets::from_env();
    let sandbox = if args.sandbox {
        Some(LocalSandbox::start(None, &[], &mut settings, &mut secrets).await?)
    } else {
        None
    };
    let target = format!(
        "{} {}{}",
        settings.whatsapp.api_base_url,
        settings.whatsapp.api_version,
        if args.sandbox {
            " (in-process sandbox)"
        } else {
            ""
        }
    );
    let mut checks = diagnose(&settings, &args.credential, &secrets).await;
    checks.push(state::check(&settings).await);
    if let Some(sandbox) = sandbox {
        sandbox.shutdown().await;
    }
    let failed = checks.iter().any(|c| c.status == Status::Fail);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "target": target,
                "ok": !failed,
                "checks": checks,
            }))?
        );
    } else {
        print!("{}", render(&checks, &target));
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
