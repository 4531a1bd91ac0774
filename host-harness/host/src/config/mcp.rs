//! `[mcp]`: the sessions 2025-11-25 clients open over streamable HTTP: how
//! many may live at once, how long an idle one is kept, and which replica's
//! name prefixes their ids. 2026-07-28 requests are stateless and open none.

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
    /// This replica's name, put in front of every session id it hands out
    /// (`r1.<random>`) so a load balancer can send a session's requests to
    /// the replica that holds it (env `WHATSAPP_REPLICA_ID`). Unset: plain
    /// random ids.
    pub replica_id: Option<String>,
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
            replica_id: None,
        }
    }
}

/// A day: sessions idle longer than that are almost surely abandoned.
const MAX_IDLE_SECS: u64 = 86_400;

/// Longest replica id: it rides in every session id and balancer rule.
pub const MAX_REPLICA_ID_LEN: usize = 32;

/// Checks a replica id (named `source` in the error): 1 to [`MAX_REPLICA_ID_LEN`] characters of `a-z`,
/// `0-9` and `-`, so it is safe in a header, a balancer's regex and a log,
/// and ends before the `.` that separates it from the random part.
pub fn check_replica_id(id: &str, source: &str) -> anyhow::Result<()> {
    let well_formed = (1..=MAX_REPLICA_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !well_formed {
        bail!(
            "{source} `{}` must be 1 to {MAX_REPLICA_ID_LEN} characters of a-z, 0-9 and `-` \
             (e.g. `r1`, `eu-west-2`); it prefixes this replica's MCP session ids",
            id.escape_debug()
        );
    }
    Ok(())
}

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
        if let Some(v) = get("WHATSAPP_REPLICA_ID") {
            let v = v.trim();
            check_replica_id(v, "WHATSAPP_REPLICA_ID")?;
            self.replica_id = Some(v.to_string());
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
        if let Some(id) = &self.replica_id {
            check_replica_id(id, "mcp.replica_id")?;
        }
        Ok(())
    }

    /// How long an idle session is kept.
    pub fn session_idle(&self) -> Duration {
        Duration::from_secs(self.session_idle_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_id_is_short_lowercase_letters_digits_and_dashes_and_the_error_names_its_source() {
        for good in ["r1", "eu-west-2", &"a".repeat(MAX_REPLICA_ID_LEN)] {
            check_replica_id(good, "x").unwrap();
        }
        for bad in [
            "",
            "R1",
            "r1.x",
            "r1 ",
            "r\u{e9}",
            &"a".repeat(MAX_REPLICA_ID_LEN + 1),
        ] {
            let err = check_replica_id(bad, "mcp.replica_id")
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("mcp.replica_id") && err.contains("a-z"),
                "{err}"
            );
        }
        let mut s = McpSettings::default();
        s.apply_env(&|k| (k == "WHATSAPP_REPLICA_ID").then(|| " r2 ".into()))
            .unwrap();
        assert_eq!(s.replica_id.as_deref(), Some("r2"));
        let err = s
            .apply_env(&|k| (k == "WHATSAPP_REPLICA_ID").then(|| "r2.".into()))
            .unwrap_err();
        assert!(err.to_string().contains("WHATSAPP_REPLICA_ID"), "{err}");
        s.replica_id = Some("Bad".into());
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("mcp.replica_id")
        );
    }
}
