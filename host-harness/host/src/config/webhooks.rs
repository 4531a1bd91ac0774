//! `[webhooks]`: where Meta's webhooks are received.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;

use crate::webhook_endpoint::{DEFAULT_CLAIM_TIMEOUT, DEFAULT_MAX_BODY_BYTES};

/// The `[webhooks]` section (`serve --webhook ADDR` overrides `listen`).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where to serve `/webhook`; unset: no endpoint (env `WHATSAPP_WEBHOOK_LISTEN`).
    pub listen: Option<SocketAddr>,
    /// Larger deliveries get 413.
    pub max_body_bytes: usize,
    /// With Redis state: seconds an entry a replica took may stay unapplied before another
    /// replica takes it over (env `WHATSAPP_WEBHOOK_CLAIM_TIMEOUT_SECS`). Longer than the
    /// slowest ingest, or a slow replica's entries are applied twice (harmlessly).
    pub claim_timeout_secs: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            listen: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            claim_timeout_secs: DEFAULT_CLAIM_TIMEOUT.as_secs(),
        }
    }
}

impl WebhookSettings {
    pub(super) fn apply_env(
        &mut self,
        get: &impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<()> {
        if let Some(v) = get("WHATSAPP_WEBHOOK_LISTEN") {
            self.listen = Some(v.trim().parse().with_context(|| {
                format!("WHATSAPP_WEBHOOK_LISTEN `{v}` is not an address like 127.0.0.1:8766")
            })?);
        }
        if let Some(v) = get("WHATSAPP_WEBHOOK_CLAIM_TIMEOUT_SECS") {
            self.claim_timeout_secs = v.trim().parse().with_context(|| {
                format!(
                    "WHATSAPP_WEBHOOK_CLAIM_TIMEOUT_SECS `{v}` is not a whole number of seconds"
                )
            })?;
        }
        Ok(())
    }

    pub(super) fn validate(&self) -> anyhow::Result<()> {
        if !(1..=3600).contains(&self.claim_timeout_secs) {
            anyhow::bail!(
                "[webhooks] claim_timeout_secs = {} is out of range: give 1 to 3600 seconds \
                 (default {}), longer than the slowest webhook ingest",
                self.claim_timeout_secs,
                DEFAULT_CLAIM_TIMEOUT.as_secs()
            );
        }
        Ok(())
    }

    /// How long a replica's unapplied entries wait before another replica takes them over.
    pub fn claim_timeout(&self) -> Duration {
        Duration::from_secs(self.claim_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claim_timeout_is_read_from_the_file_and_the_environment_and_checked() {
        let s: WebhookSettings = toml::from_str("claim_timeout_secs = 90").unwrap();
        assert_eq!(s.claim_timeout(), Duration::from_secs(90));
        assert_eq!(
            WebhookSettings::default().claim_timeout(),
            DEFAULT_CLAIM_TIMEOUT
        );
        let mut s = WebhookSettings::default();
        s.apply_env(&|k: &str| (k == "WHATSAPP_WEBHOOK_CLAIM_TIMEOUT_SECS").then(|| "5".into()))
            .unwrap();
        assert_eq!(s.claim_timeout_secs, 5);
        let err = s
            .apply_env(&|k: &str| {
                (k == "WHATSAPP_WEBHOOK_CLAIM_TIMEOUT_SECS").then(|| "soon".into())
            })
            .unwrap_err();
        assert!(format!("{err:#}").contains("WHATSAPP_WEBHOOK_CLAIM_TIMEOUT_SECS"));
        s.claim_timeout_secs = 0;
        let err = s.validate().unwrap_err().to_string();
        assert!(
            err.contains("claim_timeout_secs") && err.contains("1 to 3600"),
            "{err}"
        );
    }
}
