//! `[http]`: the component's outbound HTTP: timeouts, the response cap and
//! origins it may call besides the Graph API.

use std::time::Duration;

use serde::Deserialize;

use crate::caps::allowlist::{Allowlist, Origin};
use crate::caps::http::HttpLimits;

/// The `[http]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Time to establish a connection.
    pub connect_timeout_ms: u64,
    /// Time for a whole request, body included.
    pub request_timeout_ms: u64,
    /// Larger responses are cut off with an error.
    pub max_response_bytes: usize,
    /// Extra origins the component may call without a credential.
    pub extra_allowed_origins: Vec<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        let limits = HttpLimits::default();
        HttpSettings {
            connect_timeout_ms: limits.connect_timeout.as_millis() as u64,
            request_timeout_ms: limits.request_timeout.as_millis() as u64,
            max_response_bytes: limits.max_response_bytes,
            extra_allowed_origins: vec![],
        }
    }
}

impl HttpSettings {
    /// The outbound limits; the rest keep their defaults.
    pub(crate) fn limits(&self) -> HttpLimits {
        HttpLimits {
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            max_response_bytes: self.max_response_bytes,
            ..HttpLimits::default()
        }
    }

    /// The origins the component may call: `api` (the Graph API's) and the extra ones.
    pub(crate) fn allowlist(&self, api: Origin) -> anyhow::Result<Allowlist> {
        let mut origins = vec![api];
        for extra in &self.extra_allowed_origins {
            origins.push(
                Origin::parse(extra)
                    .map_err(|e| anyhow::anyhow!("http.extra_allowed_origins: {e}"))?,
            );
        }
        Ok(Allowlist::new(origins))
    }
}
