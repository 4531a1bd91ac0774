//! `[webhooks]`: where Meta's webhooks are received.

use std::net::SocketAddr;

use anyhow::Context as _;
use serde::Deserialize;

use crate::webhook_endpoint::DEFAULT_MAX_BODY_BYTES;

/// The `[webhooks]` section (`serve --webhook ADDR` overrides `listen`).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where to serve `/webhook`; unset: no endpoint (env `WHATSAPP_WEBHOOK_LISTEN`).
    pub listen: Option<SocketAddr>,
    /// Larger deliveries get 413.
    pub max_body_bytes: usize,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            listen: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
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
        Ok(())
    }
}
