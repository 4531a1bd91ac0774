//! `host-harness state copy --from A --to B`: moves the state between
//! stores (the embedded file, Redis, either way), every record with its
//! remaining time to live. Stop the gateways first: records written during
//! the copy may be missed.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use whatsapp_host::config::Settings;
use whatsapp_host::open_state;
use whatsapp_host::store::{copy_all, file_path, redact};

/// `host-harness state`'s subcommands.
#[derive(Subcommand, Debug)]
pub enum StateCommand {
    /// Copy every record (kv, webhook queue and dead letters, rate-limit counters) with its
    /// remaining time to live from one store to another. Each side is a file path,
    /// `file:PATH`, `redis://HOST:PORT` or `rediss://HOST:PORT` (options as in `[state] url`).
    /// Stored messages are decrypted from the source and encrypted for the target with its
    /// own key (a Redis side needs the vault key: WHATSAPP_VAULT_KEY or `[vault] key_file`).
    Copy {
        /// The store to read.
        #[arg(long, value_name = "FILE_OR_URL")]
        from: String,
        /// The store to write (records with the same keys are replaced).
        #[arg(long, value_name = "FILE_OR_URL")]
        to: String,
    },
}

/// Runs `command`; prints what it did to stdout.
pub async fn run(config: Option<&Path>, command: StateCommand) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(config)?;
    match command {
        StateCommand::Copy { from, to } => {
            if from.trim() == to.trim() {
                bail!("--from and --to name the same store ({})", redact(&from));
            }
            if let Some(path) = file_path(&from)?
                && !path.exists()
            {
                bail!(
                    "there is no state file at {} to copy from: check --from (the default \
                     location is $XDG_DATA_HOME/whatsapp-connector/state.redb)",
                    path.display()
                );
            }
            let vault = settings.load_vault()?;
            let source = open_state(&settings, &from, &vault)
                .await
                .with_context(|| format!("opening the source {}", redact(&from)))?;
            let target = open_state(&settings, &to, &vault)
                .await
                .with_context(|| format!("opening the target {}", redact(&to)))?;
            let report = copy_all(&source, &target)
                .await
                .with_context(|| format!("copying from {} to {}", redact(&from), redact(&to)))?;
            for (table, count) in &report.copied {
                println!("{table}: {count} records");
            }
            println!(
                "copied {} records from {} to {}",
                report.total(),
                source.kind(),
                target.kind()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
