//! Settings: a TOML file, then environment variables on top.
//!
//! ```toml
//! [whatsapp]
//! phone_number_id = "106540352242922"
//! waba_id = "102290129340398"
//! api_version = "v23.0"
//! api_base_url = "https://graph.facebook.com"
//! window_policy = "warn"            # off | warn | enforce
//!
//! [runtime]
//! call_timeout_ms = 30000
//! memory_limit_mib = 64
//! max_instances = 256
//!
//! [http]
//! connect_timeout_ms = 5000
//! request_timeout_ms = 20000
//! max_response_bytes = 4194304
//!
//! [state]
//! path = "whatsapp-state.redb"      # ":memory:" keeps state in memory only
//!
//! [webhooks]
//! listen = "127.0.0.1:8766"         # serve Meta's webhooks at http://ADDR/webhook (serve --webhook)
//! max_body_bytes = 1048576
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
//! mask_recipients = true
//!
//! [vault]
//! path = "~/.config/whatsapp-connector/vault.json"
//! key_file = "~/.config/whatsapp-connector/vault.key"   # unless WHATSAPP_VAULT_KEY is set
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Deserialize;
use whatsapp_connector::config_keys as keys;

use crate::caps::Capabilities;
use crate::caps::allowlist::{Allowlist, Binding, Origin};
use crate::caps::http::{HttpLimits, OutboundHttp};
use crate::caps::vault::{self, Credential, Kind, Secret, Vault};
use crate::runtime::Limits;
use crate::state::StateStore;
use crate::vault_file::{VaultError, VaultFile, VaultKey};
use zeroize::Zeroizing;

pub const DEFAULT_API_VERSION: &str = "v23.0";
pub const DEFAULT_API_BASE_URL: &str = "https://graph.facebook.com";

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub whatsapp: WhatsApp,
    pub runtime: RuntimeSettings,
    pub http: HttpSettings,
    pub state: StateSettings,
    pub vault: VaultSettings,
    pub webhooks: WebhookSettings,
    pub policy: PolicySettings,
    pub audit: AuditSettings,
}

/// The policy file (`serve --policy FILE` overrides `path`).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicySettings {
    /// Apps, tool enablement and guardrails; unset: every tool, no rules
    /// (env `WHATSAPP_POLICY`).
    pub path: Option<PathBuf>,
    /// How often the file is checked for changes (it is also re-read on SIGHUP).
    pub reload_interval_ms: u64,
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            path: None,
            reload_interval_ms: 1000,
        }
    }
}

/// The audit log of tool calls.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    /// One JSON line per call; unset: no audit log (env `WHATSAPP_AUDIT_LOG`).
    pub path: Option<PathBuf>,
    pub max_bytes: u64,
    pub keep: usize,
    pub include_bodies: bool,
    pub mask_recipients: bool,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            path: None,
            max_bytes: 10 << 20,
            keep: 5,
            include_bodies: false,
            mask_recipients: true,
        }
    }
}

/// The webhook endpoint (`serve --webhook ADDR` overrides `listen`).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where to serve `/webhook`; unset: no endpoint (env `WHATSAPP_WEBHOOK_LISTEN`).
    pub listen: Option<std::net::SocketAddr>,
    /// Larger deliveries get 413.
    pub max_body_bytes: usize,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            listen: None,
            max_body_bytes: crate::webhook::DEFAULT_MAX_BODY_BYTES,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WhatsApp {
    pub phone_number_id: Option<String>,
    pub waba_id: Option<String>,
    pub api_version: String,
    pub api_base_url: String,
    pub window_policy: WindowPolicy,
    /// Ask `message_history` when no webhook has reported a message's status.
    pub message_history_fallback: bool,
    /// Set when Meta's webhooks reach this host (`serve --webhook`).
    pub webhooks_configured: bool,
}

impl Default for WhatsApp {
    fn default() -> Self {
        WhatsApp {
            phone_number_id: None,
            waba_id: None,
            api_version: DEFAULT_API_VERSION.into(),
            api_base_url: DEFAULT_API_BASE_URL.into(),
            window_policy: WindowPolicy::default(),
            message_history_fallback: false,
            webhooks_configured: false,
        }
    }
}

/// What to do with free-form sends outside the 24-hour window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowPolicy {
    Off,
    /// Send, and say in the result that the window is closed or unknown. The
    /// default: without webhooks the host sees no inbound messages, and
    /// `enforce` would refuse every free-form send.
    #[default]
    Warn,
    Enforce,
}

impl WindowPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            WindowPolicy::Off => "off",
            WindowPolicy::Warn => "warn",
            WindowPolicy::Enforce => "enforce",
        }
    }

    fn parse(text: &str) -> anyhow::Result<WindowPolicy> {
        match text.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(WindowPolicy::Off),
            "warn" => Ok(WindowPolicy::Warn),
            "enforce" => Ok(WindowPolicy::Enforce),
            other => bail!("window policy `{other}` is not one of off, warn, enforce"),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeSettings {
    pub call_timeout_ms: u64,
    pub memory_limit_mib: usize,
    pub max_argument_bytes: usize,
    pub max_instances: u32,
    /// Compiled-component cache; `None` uses the platform cache directory.
    pub cache_dir: Option<PathBuf>,
    pub cache: bool,
    /// Tests only: see `Limits::inspect_memory`.
    #[cfg(feature = "testing")]
    #[serde(skip)]
    pub inspect_memory: bool,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        let limits = Limits::default();
        RuntimeSettings {
            call_timeout_ms: limits.call_timeout.as_millis() as u64,
            memory_limit_mib: limits.memory_bytes >> 20,
            max_argument_bytes: limits.max_argument_bytes,
            max_instances: limits.max_instances,
            cache_dir: None,
            cache: true,
            #[cfg(feature = "testing")]
            inspect_memory: false,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    pub connect_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub max_response_bytes: usize,
    /// Extra origins the component may call without a credential.
    pub extra_allowed_origins: Vec<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        let limits = HttpLimits::default();
        HttpSettings {
            connect_timeout_ms: limits.connect_timeout.as_millis() as u64,
            request_timeout_ms: limits.request_timeout.as_millis() as u64,
            max_response_bytes: limits.max_response_bytes,
            extra_allowed_origins: vec![],
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StateSettings {
    pub path: String,
}

impl Default for StateSettings {
    fn default() -> Self {
        StateSettings {
            path: "whatsapp-state.redb".into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VaultSettings {
    /// The encrypted vault file.
    pub path: PathBuf,
    /// Where the vault key lives when `WHATSAPP_VAULT_KEY` is not set.
    pub key_file: PathBuf,
}

impl Default for VaultSettings {
    fn default() -> Self {
        let dir = config_dir();
        VaultSettings {
            path: dir.join("vault.json"),
            key_file: dir.join("vault.key"),
        }
    }
}

/// `$XDG_CONFIG_HOME/whatsapp-connector` (or `~/.config/...`).
fn config_dir() -> PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("whatsapp-connector")
}

/// A Cloud API endpoint with its own account and secrets (the sandbox, or
/// any imitation of the API): everything [`Settings::point_at`] needs.
pub struct ApiEndpoint {
    /// Base URL, e.g. `http://127.0.0.1:8089`.
    pub base_url: String,
    pub phone_number_id: String,
    pub waba_id: String,
    pub access_token: Secret,
    /// Signs the webhooks the endpoint delivers.
    pub app_secret: Secret,
    /// Presented by the endpoint when it verifies the webhook URL.
    pub verify_token: Secret,
    /// Whether it delivers webhooks to this host (statuses, inbound messages).
    pub delivers_webhooks: bool,
}

/// Secrets read from the environment for quick starts.
#[derive(Clone, Debug, Default)]
pub struct EnvSecrets {
    pub access_token: Option<Secret>,
    pub app_secret: Option<Secret>,
    pub verify_token: Option<Secret>,
}

impl EnvSecrets {
    pub fn from_env() -> EnvSecrets {
        let read = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .map(Secret::new)
        };
        EnvSecrets {
            access_token: read("WHATSAPP_ACCESS_TOKEN"),
            app_secret: read("WHATSAPP_APP_SECRET"),
            verify_token: read("WHATSAPP_WEBHOOK_VERIFY_TOKEN"),
        }
    }
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

    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        if let Some(v) = get("WHATSAPP_PHONE_NUMBER_ID") {
            self.whatsapp.phone_number_id = Some(v);
        }
        if let Some(v) = get("WHATSAPP_WABA_ID") {
            self.whatsapp.waba_id = Some(v);
        }
        if let Some(v) = get("WHATSAPP_API_VERSION") {
            self.whatsapp.api_version = v;
        }
        if let Some(v) = get("WHATSAPP_API_BASE_URL") {
            self.whatsapp.api_base_url = v;
        }
        if let Some(v) = get("WHATSAPP_WINDOW_POLICY") {
            self.whatsapp.window_policy = WindowPolicy::parse(&v)?;
        }
        if let Some(v) = get("WHATSAPP_WEBHOOK_LISTEN") {
            self.webhooks.listen = Some(v.trim().parse().with_context(|| {
                format!("WHATSAPP_WEBHOOK_LISTEN `{v}` is not an address like 127.0.0.1:8766")
            })?);
        }
        if let Some(v) = get("WHATSAPP_POLICY") {
            self.policy.path = Some(v.into());
        }
        if let Some(v) = get("WHATSAPP_AUDIT_LOG") {
            self.audit.path = Some(v.into());
        }
        if let Some(v) = get("WHATSAPP_STATE_PATH") {
            self.state.path = v;
        }
        if let Some(v) = get("WHATSAPP_VAULT_PATH") {
            self.vault.path = v.into();
        }
        if let Some(v) = get("WHATSAPP_VAULT_KEY_FILE") {
            self.vault.key_file = v.into();
        }
        Ok(())
    }

    /// Points these settings (and `secrets`) at `endpoint`, with in-memory
    /// state so nothing from a try-out lingers on disk.
    pub fn point_at(&mut self, endpoint: ApiEndpoint, secrets: &mut EnvSecrets) {
        self.whatsapp.api_base_url = endpoint.base_url;
        self.whatsapp.phone_number_id = Some(endpoint.phone_number_id);
        self.whatsapp.waba_id = Some(endpoint.waba_id);
        self.state.path = ":memory:".into();
        // The endpoint's token comes with it, never from the user's vault.
        self.vault.path = PathBuf::new();
        secrets.access_token = Some(endpoint.access_token);
        // The endpoint signs its webhooks with its app secret and presents its verify token.
        secrets.app_secret = Some(endpoint.app_secret);
        secrets.verify_token = Some(endpoint.verify_token);
        if endpoint.delivers_webhooks {
            self.whatsapp.webhooks_configured = true;
            // Wired to the endpoint, the host sees every inbound message, so
            // the window is known: free-form sends outside it are refused
            // before they leave, as they should be once webhooks flow.
            self.whatsapp.window_policy = WindowPolicy::Enforce;
        }
    }

    /// Checks values a typo would break, with the fix in the message.
    pub fn validate(&self) -> anyhow::Result<()> {
        let v = &self.whatsapp.api_version;
        let ok = v
            .strip_prefix('v')
            .and_then(|r| r.split_once('.'))
            .is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
            });
        if !ok {
            bail!("api_version `{v}` must look like v23.0 (WHATSAPP_API_VERSION)");
        }
        let base = url::Url::parse(&self.whatsapp.api_base_url).with_context(|| {
            format!(
                "api_base_url `{}` is not a URL (WHATSAPP_API_BASE_URL)",
                self.whatsapp.api_base_url
            )
        })?;
        Origin::of(&base).map_err(|e| anyhow::anyhow!("api_base_url: {e}"))?;
        for (name, value) in [
            ("phone_number_id", &self.whatsapp.phone_number_id),
            ("waba_id", &self.whatsapp.waba_id),
        ] {
            if let Some(id) = value
                && (id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()))
            {
                bail!("{name} `{id}` must be the numeric id from the WhatsApp Manager");
            }
        }
        if self.runtime.memory_limit_mib < 2 {
            bail!("runtime.memory_limit_mib must be at least 2");
        }
        Ok(())
    }

    pub fn limits(&self) -> Limits {
        Limits {
            call_timeout: Duration::from_millis(self.runtime.call_timeout_ms.max(1)),
            memory_bytes: self.runtime.memory_limit_mib << 20,
            max_argument_bytes: self.runtime.max_argument_bytes,
            max_instances: self.runtime.max_instances.max(1),
            #[cfg(feature = "testing")]
            inspect_memory: self.runtime.inspect_memory,
        }
    }

    pub fn cache_dir(&self) -> Option<PathBuf> {
        if !self.runtime.cache {
            return None;
        }
        self.runtime.cache_dir.clone().or_else(|| {
            let base = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
            Some(base.join("whatsapp-connector"))
        })
    }

    /// What the token is bound to: the API origin and the versioned path.
    pub fn token_binding(&self) -> anyhow::Result<Binding> {
        let base = self.whatsapp.api_base_url.trim_end_matches('/');
        Binding::parse(&format!("{base}/{}/", self.whatsapp.api_version))
            .map_err(|e| anyhow::anyhow!(e))
    }

    /// The non-secret settings the component reads through `config`.
    pub fn component_config(&self) -> BTreeMap<String, String> {
        let w = &self.whatsapp;
        let mut config = BTreeMap::from([
            (keys::API_VERSION.to_string(), w.api_version.clone()),
            (
                keys::API_BASE_URL.to_string(),
                w.api_base_url.trim_end_matches('/').to_string(),
            ),
            (
                keys::CREDENTIAL.to_string(),
                vault::ACCESS_TOKEN.to_string(),
            ),
            (
                keys::APP_SECRET_CREDENTIAL.to_string(),
                vault::APP_SECRET.to_string(),
            ),
            (
                keys::VERIFY_TOKEN_CREDENTIAL.to_string(),
                vault::VERIFY_TOKEN.to_string(),
            ),
            (
                keys::WINDOW_POLICY.to_string(),
                w.window_policy.as_str().to_string(),
            ),
            (
                keys::WEBHOOKS_CONFIGURED.to_string(),
                w.webhooks_configured.to_string(),
            ),
            (
                keys::MESSAGE_HISTORY_FALLBACK.to_string(),
                w.message_history_fallback.to_string(),
            ),
            (
                keys::CALL_DEADLINE_MS.to_string(),
                self.runtime.call_timeout_ms.to_string(),
            ),
        ]);
        if let Some(id) = &w.phone_number_id {
            config.insert(keys::PHONE_NUMBER_ID.into(), id.clone());
        }
        if let Some(id) = &w.waba_id {
            config.insert(keys::WABA_ID.into(), id.clone());
        }
        config
    }

    /// The vault file with its key; `create_key` makes a key file if none exists.
    /// `WHATSAPP_VAULT_KEY` (64 hex digits) takes precedence over the key file.
    pub fn vault_file(&self, create_key: bool) -> Result<VaultFile, VaultError> {
        let env_key = std::env::var("WHATSAPP_VAULT_KEY").ok().map(Zeroizing::new);
        let key = VaultKey::load(
            env_key.as_deref().map(String::as_str),
            &self.vault.key_file,
            create_key,
        )?;
        Ok(VaultFile::new(&self.vault.path, key))
    }

    /// A runtime vault holding the vault file's credentials (when the file
    /// exists) and, for names it lacks, the environment's.
    pub fn load_vault(&self) -> anyhow::Result<Arc<Vault>> {
        let vault = Arc::new(Vault::new(default_grants()));
        // An empty path means no vault file (sandbox runs).
        if !self.vault.path.as_os_str().is_empty() && self.vault.path.exists() {
            for credential in self.vault_file(false)?.load()? {
                vault.insert(credential);
            }
        }
        Ok(vault)
    }

    /// Builds the capabilities the component's imports use.
    pub fn capabilities(
        &self,
        secrets: &EnvSecrets,
        vault: Arc<Vault>,
    ) -> anyhow::Result<Capabilities> {
        self.validate()?;
        let binding = self.token_binding()?;
        let mut origins = vec![binding.origin.clone()];
        for extra in &self.http.extra_allowed_origins {
            origins.push(
                Origin::parse(extra)
                    .map_err(|e| anyhow::anyhow!("http.extra_allowed_origins: {e}"))?,
            );
        }
        let limits = HttpLimits {
            connect_timeout: Duration::from_millis(self.http.connect_timeout_ms),
            request_timeout: Duration::from_millis(self.http.request_timeout_ms),
            max_response_bytes: self.http.max_response_bytes,
            ..HttpLimits::default()
        };
        for (name, kind, secret) in [
            (
                vault::ACCESS_TOKEN,
                Kind::AccessToken,
                &secrets.access_token,
            ),
            (vault::APP_SECRET, Kind::AppSecret, &secrets.app_secret),
            (
                vault::VERIFY_TOKEN,
                Kind::VerifyToken,
                &secrets.verify_token,
            ),
        ] {
            if let Some(secret) = secret
                && vault.get(name).is_none()
            {
                vault.insert(Credential {
                    name: name.into(),
                    kind,
                    secret: secret.clone(),
                    bindings: if kind == Kind::AccessToken {
                        vec![binding.clone()]
                    } else {
                        vec![]
                    },
                    scopes: vec![],
                    expires_at: None,
                });
            }
        }
        let state = if self.state.path == ":memory:" {
            StateStore::in_memory()
        } else {
            StateStore::open(Path::new(&self.state.path))?
        };
        Ok(Capabilities {
            http: OutboundHttp::new(Allowlist::new(origins), limits)?,
            vault,
            state,
            config: self.component_config(),
        })
    }
}

/// The credential names the connector component may open.
pub fn default_grants() -> Vec<String> {
    [vault::ACCESS_TOKEN, vault::APP_SECRET, vault::VERIFY_TOKEN]
        .map(String::from)
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_file() {
        let mut s: Settings =
            toml::from_str("[whatsapp]\nphone_number_id = \"1\"\napi_version = \"v22.0\"").unwrap();
        let env = BTreeMap::from([
            ("WHATSAPP_PHONE_NUMBER_ID", "2"),
            ("WHATSAPP_WINDOW_POLICY", "enforce"),
            ("WHATSAPP_API_BASE_URL", ""),
        ]);
        s.apply_env(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.whatsapp.phone_number_id.as_deref(), Some("2"));
        assert_eq!(s.whatsapp.api_version, "v22.0");
        assert_eq!(s.whatsapp.window_policy, WindowPolicy::Enforce);
        assert_eq!(
            s.whatsapp.api_base_url, DEFAULT_API_BASE_URL,
            "empty values are ignored"
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected_with_the_setting_named() {
        let err = toml::from_str::<Settings>("[whatsapp]\nphone_id = \"1\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("phone_id"), "{err}");
        let mut s = Settings::default();
        s.whatsapp.api_version = "23".into();
        assert!(s.validate().unwrap_err().to_string().contains("v23.0"));
        let mut s = Settings::default();
        s.whatsapp.waba_id = Some("abc".into());
        assert!(s.validate().unwrap_err().to_string().contains("waba_id"));
        let mut s = Settings::default();
        assert!(
            s.apply_env(|k| (k == "WHATSAPP_WINDOW_POLICY").then(|| "strict".into()))
                .is_err()
        );
    }

    #[test]
    fn the_token_is_bound_to_the_versioned_api_path() {
        let mut s = Settings::default();
        s.whatsapp.api_base_url = "http://127.0.0.1:9000/".into();
        let b = s.token_binding().unwrap();
        assert_eq!(b.to_string(), "http://127.0.0.1:9000/v23.0/");
    }
}
