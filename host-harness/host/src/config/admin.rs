//! `[admin]`: the health, readiness and metrics listener (`serve --admin`).

use std::net::SocketAddr;

use anyhow::Context as _;
use serde::Deserialize;

/// The `[admin]` section (`serve --admin ADDR` overrides `listen`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSettings {
    /// Where to serve `/healthz`, `/readyz` and `/metrics`; unset: no admin
    /// listener (env `WHATSAPP_ADMIN_LISTEN`).
    pub listen: Option<SocketAddr>,
    /// Allow an address that is not loopback (the endpoints have no
    /// authentication) (env `WHATSAPP_ADMIN_ALLOW_REMOTE`).
    pub allow_remote: bool,
}

impl AdminSettings {
    pub(super) fn apply_env(
        &mut self,
        get: &impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<()> {
        if let Some(v) = get("WHATSAPP_ADMIN_LISTEN") {
            self.listen = Some(v.trim().parse().with_context(|| {
                format!("WHATSAPP_ADMIN_LISTEN `{v}` is not an address like 127.0.0.1:9090")
            })?);
        }
        if let Some(v) = get("WHATSAPP_ADMIN_ALLOW_REMOTE") {
            self.allow_remote = match v.trim() {
                "true" | "1" => true,
                "false" | "0" => false,
                other => {
                    anyhow::bail!("WHATSAPP_ADMIN_ALLOW_REMOTE `{other}` is not true or false")
                }
            };
        }
        Ok(())
    }
}
