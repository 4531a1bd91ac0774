//! Assembling the connector from settings: config → capabilities (vault,
//! outbound HTTP, store, the component's config map) → runtime, in one place
//! for the CLI, the server, the demo and the tests.
//!
//! The gateway (policy, audit) is built on top of the runtime by
//! `Gateway::from_settings`.

use std::sync::Arc;

use crate::caps::Capabilities;
use crate::caps::http::OutboundHttp;
use crate::caps::media::MediaUploads;
use crate::caps::vault::{self, Credential, Kind, Vault};
use crate::config::MediaSettings;
use crate::config::{EnvSecrets, Settings};
use crate::runtime::{ComponentSource, Runtime};
use crate::store::{StateLocation, StateStore};

/// The connector component loaded in its runtime, with the settings it was
/// built from.
pub struct Connector {
    runtime: Arc<Runtime>,
    settings: Settings,
}

impl Connector {
    /// Starts assembling a connector from `settings` (embedded component,
    /// secrets from the environment, the vault the settings name).
    pub fn builder(settings: Settings) -> ConnectorBuilder {
        ConnectorBuilder {
            settings,
            secrets: None,
            component: ComponentSource::Embedded,
            vault: None,
        }
    }

    /// The runtime that runs the tool calls.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The settings the connector was built from.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

/// What [`Connector::builder`] gathers before [`ConnectorBuilder::build`].
pub struct ConnectorBuilder {
    settings: Settings,
    secrets: Option<EnvSecrets>,
    component: ComponentSource,
    vault: Option<Arc<Vault>>,
}

impl ConnectorBuilder {
    /// Secrets to seed the vault with (default: from the environment).
    pub fn secrets(mut self, secrets: EnvSecrets) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// The component to run (default: the embedded one).
    pub fn component(mut self, component: ComponentSource) -> Self {
        self.component = component;
        self
    }

    /// Use this vault instead of the one the settings name.
    pub fn vault(mut self, vault: Arc<Vault>) -> Self {
        self.vault = Some(vault);
        self
    }

    /// Keep kv state in memory only.
    pub fn in_memory_state(mut self) -> Self {
        self.settings.state.keep_in_memory();
        self
    }

    /// Validates the settings, opens the vault and the store, and loads the
    /// component into a runtime.
    pub async fn build(self) -> anyhow::Result<Connector> {
        let secrets = self.secrets.unwrap_or_else(EnvSecrets::from_env);
        let vault = match self.vault {
            Some(vault) => vault,
            None => self.settings.load_vault()?,
        };
        let caps = capabilities(&self.settings, &secrets, vault).await?;
        let runtime = Runtime::new(
            &self.component,
            caps,
            self.settings.runtime.limits(),
            self.settings.runtime.cache_dir(),
        )
        .await?;
        Ok(Connector {
            runtime: Arc::new(runtime),
            settings: self.settings,
        })
    }
}

/// The capabilities the component's imports use: outbound HTTP limited to
/// the API's origin (and the extra ones), the vault with `secrets` for the
/// names it lacks, the store, and the component's config map.
async fn capabilities(
    settings: &Settings,
    secrets: &EnvSecrets,
    vault: Arc<Vault>,
) -> anyhow::Result<Capabilities> {
    settings.validate()?;
    let binding = settings.token_binding()?;
    let allowlist = settings.http.allowlist(binding.origin.clone())?;
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
    let state = open_state(settings, &settings.state.url, &vault).await?;
    Ok(Capabilities {
        http: OutboundHttp::new(allowlist, settings.http.limits())?,
        media: MediaUploads::new(
            settings.media.origins()?,
            MediaSettings::upload_url(&settings.whatsapp),
            &settings.http.limits(),
        )?,
        vault,
        state,
        config: settings.component_config(),
    })
}

/// Opens the store `location` names (a path, `file:`, `redis://`,
/// `rediss://` or `:memory:`) with the settings' vault key for sealing, and
/// the Redis password from `vault` when the URL names a credential.
pub async fn open_state(
    settings: &Settings,
    location: &str,
    vault: &Vault,
) -> anyhow::Result<StateStore> {
    let mut location = StateLocation::parse(location)?;
    if let StateLocation::Redis(target) = &mut location
        && let Some(name) = &target.password_credential
    {
        let credential = vault.get(name).ok_or_else(|| {
            anyhow::anyhow!(
                "the state URL takes its password from the vault credential `{name}`, which the \
                 vault does not hold: add it (`host-harness vault add {name} ...`) or fix the URL"
            )
        })?;
        let password = std::str::from_utf8(credential.secret.expose()).map_err(|_| {
            anyhow::anyhow!("the vault credential `{name}` is not UTF-8 text: Redis passwords are")
        })?;
        target.password = Some(zeroize::Zeroizing::new(password.to_string()));
    }
    let vault_subkey = match location {
        StateLocation::Memory => None,
        _ => settings.vault.state_subkey()?,
    };
    Ok(StateStore::connect(&location, vault_subkey).await?)
}

#[cfg(test)]
mod tests {
    use whatsapp_connector::config_keys as keys;

    use super::*;
    use crate::caps::vault::Secret;
    use crate::config::default_grants;

    #[tokio::test]
    async fn capabilities_take_the_environment_secrets_only_for_names_the_vault_lacks() {
        crate::caps::http::install_crypto_provider();
        let mut settings = Settings::default();
        settings.state.keep_in_memory();
        settings.whatsapp.api_base_url = "http://127.0.0.1:9000".into();
        let vault = Arc::new(Vault::new(default_grants()));
        vault.insert(Credential {
            name: vault::APP_SECRET.into(),
            kind: Kind::AppSecret,
            secret: Secret::new("from-the-vault"),
            bindings: vec![],
            scopes: vec![],
            expires_at: None,
        });
        let secrets = EnvSecrets {
            access_token: Some(Secret::new("env-token")),
            app_secret: Some(Secret::new("env-app-secret")),
            verify_token: None,
        };
        let caps = capabilities(&settings, &secrets, vault).await.unwrap();
        let token = caps.vault.get(vault::ACCESS_TOKEN).unwrap();
        assert_eq!(token.secret.expose(), b"env-token");
        assert_eq!(
            token.bindings[0].to_string(),
            "http://127.0.0.1:9000/v23.0/",
            "the token is bound to the versioned API path"
        );
        let app_secret = caps.vault.get(vault::APP_SECRET).unwrap();
        assert_eq!(app_secret.secret.expose(), b"from-the-vault");
        assert!(caps.vault.get(vault::VERIFY_TOKEN).is_none());
        assert_eq!(
            caps.config.get(keys::CALL_DEADLINE_MS),
            Some(&settings.runtime.call_timeout_ms.to_string())
        );
    }

    #[tokio::test]
    async fn invalid_settings_assemble_nothing() {
        let mut settings = Settings::default();
        settings.whatsapp.api_version = "23".into();
        let vault = Arc::new(Vault::new(default_grants()));
        let err = capabilities(&settings, &EnvSecrets::default(), vault)
            .await
            .err()
            .unwrap();
        assert!(err.to_string().contains("v23.0"), "{err}");
    }
}
