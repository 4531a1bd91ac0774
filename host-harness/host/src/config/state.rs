//! `[state]`: where the store (kv, webhook queue, host bookkeeping) lives.

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
