//! Assembling a runtime from settings: the vault, the capabilities and the
//! component, in one place for the CLI, the server, the demo and the tests.

use std::sync::Arc;

use crate::caps::vault::Vault;
use crate::runtime::{ComponentSource, Runtime};
use crate::settings::{EnvSecrets, Settings};

/// A loaded connector with the settings it was built from.
pub struct Harness {
    runtime: Arc<Runtime>,
    settings: Settings,
}

impl Harness {
    pub fn builder(settings: Settings) -> HarnessBuilder {
        HarnessBuilder {
            settings,
            secrets: None,
            component: ComponentSource::Embedded,
            vault: None,
        }
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

pub struct HarnessBuilder {
    settings: Settings,
    secrets: Option<EnvSecrets>,
    component: ComponentSource,
    vault: Option<Arc<Vault>>,
}

impl HarnessBuilder {
    /// Secrets to seed the vault with (default: from the environment).
    pub fn secrets(mut self, secrets: EnvSecrets) -> Self {
        self.secrets = Some(secrets);
        self
    }

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
        self.settings.state.path = ":memory:".into();
        self
    }

    pub async fn build(self) -> anyhow::Result<Harness> {
        let secrets = self.secrets.unwrap_or_else(EnvSecrets::from_env);
        let vault = match self.vault {
            Some(vault) => vault,
            None => self.settings.load_vault()?,
        };
        let caps = self.settings.capabilities(&secrets, vault)?;
        let runtime = Runtime::new(
            &self.component,
            caps,
            self.settings.limits(),
            self.settings.cache_dir(),
        )
        .await?;
        Ok(Harness {
            runtime: Arc::new(runtime),
            settings: self.settings,
        })
    }
}
