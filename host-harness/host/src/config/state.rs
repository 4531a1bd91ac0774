//! `[state]`: where the store (kv, webhook queue, host bookkeeping) lives.
//!
//! The file is kept owner-only (0600, its directory 0700 when the store
//! creates it or names it) and webhook bodies in it are encrypted: with a key
//! derived from the vault key when one exists (`WHATSAPP_VAULT_KEY` or
//! `[vault] key_file`), else with a key in `<path>.key` beside it (0600).

use serde::Deserialize;

/// The `path` that keeps the store in memory only.
pub(crate) const IN_MEMORY: &str = ":memory:";

/// The `[state]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StateSettings {
    /// The store file, or `:memory:` (env `WHATSAPP_STATE_PATH`).
    pub path: String,
}

impl Default for StateSettings {
    fn default() -> Self {
        StateSettings {
            path: "whatsapp-state.redb".into(),
        }
    }
}

impl StateSettings {
    pub(super) fn apply_env(&mut self, get: &impl Fn(&str) -> Option<String>) {
        if let Some(v) = get("WHATSAPP_STATE_PATH") {
            self.path = v;
        }
    }

    /// Keep the store in memory only, so nothing lingers on disk.
    pub(crate) fn keep_in_memory(&mut self) {
        self.path = IN_MEMORY.into();
    }

    /// Whether the store is kept in memory only.
    pub(crate) fn in_memory(&self) -> bool {
        self.path == IN_MEMORY
    }
}
