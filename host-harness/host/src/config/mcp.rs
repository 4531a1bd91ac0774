//! `[mcp]`: the sessions 2025-11-25 clients open over streamable HTTP: how
//! many may live at once and how long an idle one is kept. 2026-07-28
//! requests are stateless and open none.

use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Deserialize;

/// The `[mcp]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpSettings {
    /// Live sessions at most; past it, `initialize` gets 503 with
    /// `Retry-After` (env `WHATSAPP_MCP_MAX_SESSIONS`).
    pub max_sessions: usize,
    /// Seconds without a request after which a session ends (env
    /// `WHATSAPP_MCP_SESSION_IDLE_SECS`).
    pub session_idle_secs: u64,
}

impl McpSettings {
    /// The default cap on live sessions.
    pub const DEFAULT_MAX_SESSIONS: usize = 1_000;
    /// The default idle timeout, in seconds.
    pub const DEFAULT_SESSION_IDLE_SECS: u64 = 300;
}

impl Default for McpSettings {
    fn default() -> Self {
        McpSettings {
            max_sessions: Self::DEFAULT_MAX_SESSIONS,
            session_idle_secs: Self::DEFAULT_SESSION_IDLE_SECS,
        }
    }
}

/// A day: sessions idle longer than that are almost surely abandoned.
const MAX_IDLE_SECS: u64 = 86_400;

impl McpSettings {
    pub(super) fn apply_env(
        &mut self,
        get: &impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<()> {
        if let Some(v) = get("WHATSAPP_MCP_MAX_SESSIONS") {
            self.max_sessions = v.trim().parse().with_context(|| {
                format!("WHATSAPP_MCP_MAX_SESSIONS `{v}` is not a whole number like 1000")
            })?;
        }
        if let Some(v) = get("WHATSAPP_MCP_SESSION_IDLE_SECS") {
            self.session_idle_secs = v.trim().parse().with_context(|| {
                format!("WHATSAPP_MCP_SESSION_IDLE_SECS `{v}` is not a number of seconds like 300")
            })?;
        }
        Ok(())
    }

    pub(super) fn validate(&self) -> anyhow::Result<()> {
        if self.max_sessions == 0 {
            bail!(
                "mcp.max_sessions must be at least 1 (it caps the sessions 2025-11-25 clients \
                 open; 2026-07-28 requests need none)"
            );
        }
        if !(1..=MAX_IDLE_SECS).contains(&self.session_idle_secs) {
            bail!(
                "mcp.session_idle_secs must be between 1 and {MAX_IDLE_SECS} (seconds an idle \
                 session is kept), not {}",
                self.session_idle_secs
            );
        }
        Ok(())
    }

    /// How long an idle session is kept.
    pub fn session_idle(&self) -> Duration {
        Duration::from_secs(self.session_idle_secs)
    }
}
