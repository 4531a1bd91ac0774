//! `[policy]`: the policy file (apps, tool enablement, guardrails).

use std::path::PathBuf;

use serde::Deserialize;

/// The `[policy]` section (`serve --policy FILE` overrides `path`).
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

impl PolicySettings {
    pub(super) fn apply_env(&mut self, get: &impl Fn(&str) -> Option<String>) {
        if let Some(v) = get("WHATSAPP_POLICY") {
            self.path = Some(v.into());
        }
    }
}
