//! `[audit]`: the audit log of tool calls.

use std::path::PathBuf;

use anyhow::Context as _;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::vault::VaultSettings;
use crate::audit::{AuditConfig, MessageRefKey};
use crate::vault_file::VaultKey;

/// The `[audit]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    /// One JSON line per call; unset: no audit log (env `WHATSAPP_AUDIT_LOG`).
    pub path: Option<PathBuf>,
    /// The log is rotated past this size.
    pub max_bytes: u64,
    /// Rotated files kept.
    pub keep: usize,
    /// Write the arguments (message bodies) too.
    pub include_bodies: bool,
    /// Write recipients' numbers and message ids in full (env
    /// `WHATSAPP_AUDIT_INCLUDE_RECIPIENTS`); off: masked numbers and keyed
    /// message refs.
    pub include_recipients: bool,
    /// The older spelling: `false` is `include_recipients = true`.
    pub mask_recipients: bool,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            path: None,
            max_bytes: 10 << 20,
            keep: 5,
            include_bodies: false,
            include_recipients: false,
            mask_recipients: true,
        }
    }
}

impl AuditSettings {
    pub(super) fn apply_env(
        &mut self,
        get: &impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<()> {
        if let Some(v) = get("WHATSAPP_AUDIT_LOG") {
            self.path = Some(v.into());
        }
        if let Some(v) = get("WHATSAPP_AUDIT_INCLUDE_RECIPIENTS") {
            self.include_recipients = match v.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" => false,
                other => anyhow::bail!(
                    "WHATSAPP_AUDIT_INCLUDE_RECIPIENTS `{other}` must be true or false"
                ),
            };
        }
        Ok(())
    }

    /// Whether numbers and message ids are written in full.
    pub fn recipients_included(&self) -> bool {
        self.include_recipients || !self.mask_recipients
    }

    /// How to write the audit log, if one is configured. Message refs are
    /// keyed with a key derived from the vault key, which is created (0600
    /// key file) if there is none yet, so refs stay the same across restarts.
    pub fn config(&self, vault: &VaultSettings) -> anyhow::Result<Option<AuditConfig>> {
        let Some(path) = &self.path else {
            return Ok(None);
        };
        let masked = !self.recipients_included();
        let ref_key = if masked {
            message_ref_key(vault, true)?
        } else {
            MessageRefKey::random()
        };
        Ok(Some(AuditConfig {
            path: path.clone(),
            max_bytes: self.max_bytes,
            keep: self.keep,
            include_bodies: self.include_bodies,
            mask_recipients: masked,
            ref_key,
        }))
    }
}

/// The key of the audit log's message refs: derived from the vault key
/// (`WHATSAPP_VAULT_KEY` or the key file; `create`: make the key file if missing).
pub fn message_ref_key(vault: &VaultSettings, create: bool) -> anyhow::Result<MessageRefKey> {
    let env_key = std::env::var("WHATSAPP_VAULT_KEY").ok().map(Zeroizing::new);
    let key = VaultKey::load(
        env_key.as_deref().map(String::as_str),
        &vault.key_file,
        create,
    )
    .context("the audit log's message refs are keyed with the vault key")?;
    Ok(MessageRefKey::from_vault_key(&key))
}
