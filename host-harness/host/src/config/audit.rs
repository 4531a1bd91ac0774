//! `[audit]`: the audit log of tool calls.

use std::path::PathBuf;

use serde::Deserialize;

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
    /// Mask recipients' phone numbers.
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

impl AuditSettings {
    pub(super) fn apply_env(&mut self, get: &impl Fn(&str) -> Option<String>) {
        if let Some(v) = get("WHATSAPP_AUDIT_LOG") {
            self.path = Some(v.into());
        }
    }
}
