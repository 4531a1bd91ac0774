//! `host-harness audit ref WAMID`: the `message_ref` the audit log writes
//! for a message id, so an operator who has an id can find its lines.

use std::path::Path;

use anyhow::bail;
use clap::Subcommand;
use whatsapp_host::config::{Settings, message_ref_key};

/// `host-harness audit`'s subcommands.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Print the `message_ref` of a message id (`wamid.…`), as the audit log writes it
    /// when recipients are masked; then `grep` the log for it.
    Ref {
        /// The message id, as a send returned it or a webhook reported it.
        wamid: String,
    },
}

/// Runs `command`; prints to stdout.
pub fn run(config: Option<&Path>, command: AuditCommand) -> anyhow::Result<()> {
    let settings = Settings::load(config)?;
    match command {
        AuditCommand::Ref { wamid } => {
            let id = wamid.trim();
            if id.is_empty() {
                bail!("give the message id, for example `host-harness audit ref wamid.HBgL…`");
            }
            if settings.audit.recipients_included() {
                eprintln!(
                    "note: [audit] include_recipients is on, so the log holds message ids as they are"
                );
            }
            // Never creates a key: a ref under a new key would match nothing.
            let key = message_ref_key(&settings.vault, false)?;
            println!("{}", key.reference(id));
            Ok(())
        }
    }
}
