//! Settings: a TOML file, then environment variables on top.
//!
//! Each section lives in its own file with its struct, defaults, environment
//! overrides and checks; this module only routes: it reads the file, hands
//! the environment to each section, and asks each to validate. The section
//! files depend on nothing here.
//!
//! ```toml
//! [whatsapp]
//! phone_number_id = "106540352242922"
//! waba_id = "102290129340398"
//! api_version = "v23.0"
//! api_base_url = "https://graph.facebook.com"
//! window_policy = "warn"            # off | warn | enforce
//! allow_insecure_http = false      # true: accept http:// api_base_url on a host that is not loopback
//!
//! [runtime]
//! call_timeout_ms = 30000
//! memory_limit_mib = 64
//! max_instances = 256               # tool-call instances at once (webhooks have their own 8)
//! queue_timeout_ms = 2000           # longest wait for an instance or app slot, then a retryable error
//!
//! [http]
//! connect_timeout_ms = 5000
//! request_timeout_ms = 20000
//! max_response_bytes = 4194304
//!
//! [mcp]
//! max_sessions = 1000               # live 2025-11-25 sessions over HTTP; past it, initialize gets 503
//! session_idle_secs = 300           # an idle session ends after this long
//! replica_id = "r1"                 # prefixes session ids ("r1.<random>") for balancer routing;
//!                                   # a-z, 0-9, "-" (env WHATSAPP_REPLICA_ID, serve --replica-id)
//! [media]
//! fetch_allow = ["https://files.internal.example"]   # origins the gateway may upload media from; empty: off
//!
//! [state]
//! url = "/srv/whatsapp/state.redb"  # default $XDG_DATA_HOME/whatsapp-connector/state.redb
//!                                   # (~/.local/share/...); ":memory:" keeps state in memory only;
//!                                   # "redis://host:6379" / "rediss://…" shares it between replicas
//!                                   # (env WHATSAPP_STATE_URL; `path` is the older name)
//!
//! [webhooks]
//! listen = "127.0.0.1:8766"         # serve Meta's webhooks at http://ADDR/webhook (serve --webhook)
//! max_body_bytes = 1048576
//! claim_timeout_secs = 30           # Redis state: another replica takes over unapplied entries after this
//!
//! [policy]
//! path = "policy.toml"              # apps, tools and guardrails (serve --policy); reloaded on change
//! reload_interval_ms = 1000
//!
//! [audit]
//! path = "audit.jsonl"              # one JSON line per tool call; unset: no audit log
//! max_bytes = 10485760              # rotate past this size
//! keep = 5                          # rotated files kept
//! include_bodies = false            # write the arguments (message bodies) too
//! include_recipients = false        # true: full numbers and message ids (default: masked
//!                                   # numbers, message ids as keyed `message_ref`s)
//!
//! [inbox]
//! enabled = false                   # true: keep what customers write for the inbox tools
//! retention_days = 30               # records expire after this many days (fractions accepted)
//!
//! [admin]
//! listen = "127.0.0.1:9090"         # /healthz, /readyz, /metrics (serve --admin); unset: off
//! allow_remote = false              # true: allow an address that is not loopback (no auth!)
//!
//! [vault]
//! path = "~/.config/whatsapp-connector/vault.json"
//! key_file = "~/.config/whatsapp-connector/vault.key"   # unless WHATSAPP_VAULT_KEY is set
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use serde::Deserialize;

use crate::caps::allowlist::Binding;
use crate::caps::vault::Vault;
use crate::vault_file::{VaultError, VaultFile};

mod admin;
mod audit;
mod component;
mod endpoint;
mod http;
mod inbox;
mod mcp;
mod media;
mod policy;
mod runtime;
mod state;
mod vault;
mod webhooks;
mod whatsapp;

#[cfg(test)]
mod tests;

pub use admin::AdminSettings;
pub use audit::{AuditSettings, message_ref_key};
pub use endpoint::{ApiEndpoint, EnvSecrets};
pub use http::HttpSettings;
pub use inbox::InboxSettings;
pub use mcp::{McpSettings, check_replica_id};
pub use media::MediaSettings;
pub use policy::PolicySettings;
pub use runtime::RuntimeSettings;
pub use state::StateSettings;
pub use vault::{VaultSettings, default_grants};
pub use webhooks::WebhookSettings;
pub use whatsapp::{WhatsApp, WindowPolicy};

/// Every section of the settings file; a missing section keeps its defaults.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `[whatsapp]`: the account, API version and window policy.
    pub whatsapp: WhatsApp,
    /// `[runtime]`: per-call limits and the compile cache.
    pub runtime: RuntimeSettings,
    /// `[http]`: the component's outbound HTTP.
    pub http: HttpSettings,
    /// `[mcp]`: the MCP HTTP transport's sessions.
    pub mcp: McpSettings,
    /// `[media]`: files the gateway uploads for the component.
    pub media: MediaSettings,
    /// `[state]`: where the store lives.
    pub state: StateSettings,
    /// `[vault]`: the encrypted credential file and its key.
    pub vault: VaultSettings,
    /// `[webhooks]`: the webhook endpoint.
    pub webhooks: WebhookSettings,
    /// `[policy]`: the policy file.
    pub policy: PolicySettings,
    /// `[audit]`: the audit log.
    pub audit: AuditSettings,
    /// `[admin]`: the health, readiness and metrics listener.
    pub admin: AdminSettings,
    /// `[inbox]`: whether inbound message content is kept, and how long.
    pub inbox: InboxSettings,
}

impl Settings {
    /// Reads `path` (if given) and applies environment overrides.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Settings> {
        let mut settings = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the config file {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("invalid config file {}", path.display()))?
            }
            None => Settings::default(),
        };
        settings.apply_env(|name| std::env::var(name).ok())?;
        Ok(settings)
    }

    /// Applies the environment variables `get` returns; empty values are ignored.
    pub(crate) fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        self.whatsapp.apply_env(&get)?;
        self.webhooks.apply_env(&get)?;
        self.mcp.apply_env(&get)?;
        self.policy.apply_env(&get);
        self.audit.apply_env(&get)?;
        self.state.apply_env(&get);
        self.media.apply_env(&get);
        self.vault.apply_env(&get);
        self.admin.apply_env(&get)?;
        self.inbox.apply_env(&get)?;
        Ok(())
    }

    /// Points these settings (and `secrets`) at `endpoint`, with in-memory
    /// state so nothing from a try-out lingers on disk.
    pub fn point_at(&mut self, endpoint: ApiEndpoint, secrets: &mut EnvSecrets) {
        self.whatsapp.point_at(&endpoint);
        self.state.keep_in_memory();
        // The endpoint's token comes with it, never from the user's vault.
        self.vault.detach();
        secrets.point_at(endpoint);
    }

    /// Checks values a typo would break, with the fix in the message.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.whatsapp.validate()?;
        self.mcp.validate()?;
        self.webhooks.validate()?;
        self.inbox.validate()?;
        self.state.location()?;
        self.runtime.validate()
    }

    /// What the token is bound to: the API origin and the versioned path.
    pub fn token_binding(&self) -> anyhow::Result<Binding> {
        self.whatsapp.token_binding()
    }

    /// The non-secret settings the component reads through `config`.
    pub(crate) fn component_config(&self) -> BTreeMap<String, String> {
        component::component_config(&self.whatsapp, &self.runtime, &self.inbox)
    }

    /// The vault file with its key; `create_key` makes a key file if none exists.
    /// `WHATSAPP_VAULT_KEY` (64 hex digits) takes precedence over the key file.
    pub fn vault_file(&self, create_key: bool) -> Result<VaultFile, VaultError> {
        self.vault.file(create_key)
    }

    /// A runtime vault holding the vault file's credentials (when the file
    /// exists); the environment's are added for the names it lacks when the
    /// capabilities are assembled.
    pub fn load_vault(&self) -> anyhow::Result<Arc<Vault>> {
        self.vault.load()
    }
}
