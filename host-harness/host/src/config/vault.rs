//! `[vault]`: the encrypted credential file and its key.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::caps::vault::{self, Vault};
use crate::seal::{KeyBytes, VAULT_SUBKEY_LABEL};
use crate::vault_file::{VaultError, VaultFile, VaultKey};

/// The `[vault]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VaultSettings {
    /// The encrypted vault file (env `WHATSAPP_VAULT_PATH`); empty: no vault file.
    pub path: PathBuf,
    /// Where the vault key lives when `WHATSAPP_VAULT_KEY` is not set (env
    /// `WHATSAPP_VAULT_KEY_FILE`).
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

impl VaultSettings {
    pub(super) fn apply_env(&mut self, get: &impl Fn(&str) -> Option<String>) {
        if let Some(v) = get("WHATSAPP_VAULT_PATH") {
            self.path = v.into();
        }
        if let Some(v) = get("WHATSAPP_VAULT_KEY_FILE") {
            self.key_file = v.into();
        }
    }

    /// Use no vault file: the credentials come from elsewhere (an endpoint's own).
    pub(super) fn detach(&mut self) {
        self.path = PathBuf::new();
    }

    pub(super) fn file(&self, create_key: bool) -> Result<VaultFile, VaultError> {
        let env_key = std::env::var("WHATSAPP_VAULT_KEY").ok().map(Zeroizing::new);
        let key = VaultKey::load(
            env_key.as_deref().map(String::as_str),
            &self.key_file,
            create_key,
        )?;
        Ok(VaultFile::new(&self.path, key))
    }

    /// The key that seals stored webhook bodies, derived from the vault key
    /// when a vault is configured and its key exists (`WHATSAPP_VAULT_KEY` or
    /// the key file); `None` otherwise (the store then keeps a key file of its
    /// own). A key that exists but is unusable is an error naming the fix.
    pub(crate) fn state_subkey(&self) -> Result<Option<KeyBytes>, VaultError> {
        if self.path.as_os_str().is_empty() {
            return Ok(None);
        }
        let env_key = std::env::var("WHATSAPP_VAULT_KEY").ok().map(Zeroizing::new);
        match VaultKey::load(
            env_key.as_deref().map(String::as_str),
            &self.key_file,
            false,
        ) {
            Ok(key) => Ok(Some(key.derive(VAULT_SUBKEY_LABEL))),
            Err(VaultError::NoKey { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(super) fn load(&self) -> anyhow::Result<Arc<Vault>> {
        let vault = Arc::new(Vault::new(default_grants()));
        // An empty path means no vault file (sandbox runs).
        if !self.path.as_os_str().is_empty() && self.path.exists() {
            for credential in self.file(false)?.load()? {
                vault.insert(credential);
            }
        }
        Ok(vault)
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
    fn the_state_key_comes_from_the_vault_key_only_when_a_vault_and_its_key_exist() {
        if std::env::var_os("WHATSAPP_VAULT_KEY").is_some() {
            return; // The environment's key would win over the key file below.
        }
        let dir = tempfile::tempdir().unwrap();
        let mut settings = VaultSettings {
            path: dir.path().join("vault.json"),
            key_file: dir.path().join("vault.key"),
        };
        assert!(settings.state_subkey().unwrap().is_none(), "no key yet");
        let key = VaultKey::load(None, &settings.key_file, true).unwrap();
        let derived = settings.state_subkey().unwrap().expect("the vault's key");
        assert_eq!(*derived, *key.derive(VAULT_SUBKEY_LABEL));
        let hex = std::fs::read_to_string(&settings.key_file).unwrap();
        assert_ne!(
            derived.as_slice(),
            hex::decode(hex).unwrap().as_slice(),
            "a subkey, not the key"
        );
        settings.detach();
        assert!(
            settings.state_subkey().unwrap().is_none(),
            "no vault configured"
        );
    }
}
