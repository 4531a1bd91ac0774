//! `host-harness policy …`: make the hash of an app key, and check a policy
//! file against the component's tools.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine as _;
use clap::Subcommand;
use rand::Rng as _;

use whatsapp_host::policy::{Policy, ToolInfo, hash_key};
use whatsapp_host::runtime::ComponentSource;

/// Keys shorter than this are refused: the file holds a fast hash, so a
/// key must be too long to guess.
pub(crate) const MIN_KEY_CHARS: usize = 16;

/// `host-harness policy`'s subcommands.
#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Print the `key_hash = "sha256:…"` line for an app key read from stdin
    /// (the key is never a command-line argument). With --generate, make a new
    /// random key instead and print it first.
    HashKey {
        /// Generate a new random key (printed once; only its hash goes in the policy).
        #[arg(long)]
        generate: bool,
    },
    /// Check a policy file against the component's tools and print a summary
    /// of its apps and rules; exits 1 with every problem found if it is invalid.
    Check {
        /// The policy file (TOML).
        file: PathBuf,
    },
}

/// A new random app key: `wa_` and 32 random bytes, base64url.
pub(crate) fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes[..]);
    format!(
        "wa_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The line to put in an app's table.
pub(crate) fn key_hash_line(key: &str) -> String {
    format!("key_hash = \"{}\"", hash_key(key))
}

/// Runs a `policy` subcommand.
pub async fn run(
    config: Option<&Path>,
    component: ComponentSource,
    command: PolicyCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::HashKey { generate: true } => {
            let key = generate_key();
            println!("# The app's key: give it to the client as `Authorization: Bearer <key>`.");
            println!("# It is shown only now; the policy keeps only its hash.");
            println!("{key}");
            println!("# Put this line in the app's [[apps]] table:");
            println!("{}", key_hash_line(&key));
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::HashKey { generate: false } => {
            let mut input = String::new();
            std::io::stdin().read_to_string(&mut input)?;
            let key = input.trim();
            if key.chars().count() < MIN_KEY_CHARS || key.contains(char::is_whitespace) {
                anyhow::bail!(
                    "give one key of at least {MIN_KEY_CHARS} characters without spaces on stdin \
                     (or use --generate for a random one)"
                );
            }
            println!("{}", key_hash_line(key));
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Check { file } => {
            let harness = super::tools::inspection_harness(config, component).await?;
            let tools = ToolInfo::from_descriptors(harness.runtime().tools());
            match Policy::load(&file, &tools) {
                Ok(policy) => {
                    print!("{}", policy.summary());
                    println!("OK: the policy is valid for this component's tools");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}
