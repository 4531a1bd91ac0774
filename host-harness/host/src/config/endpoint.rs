//! Secrets from the environment, and pointing the host at another Cloud API
//! endpoint (the sandbox, or any imitation of the API) with its own secrets.

use crate::caps::vault::Secret;

/// A Cloud API endpoint with its own account and secrets (the sandbox, or
/// any imitation of the API): everything [`Settings::point_at`](super::Settings::point_at) needs.
pub struct ApiEndpoint {
    /// Base URL, e.g. `http://127.0.0.1:8089`.
    pub base_url: String,
    /// The endpoint's business phone number id.
    pub phone_number_id: String,
    /// The endpoint's WhatsApp Business Account id.
    pub waba_id: String,
    /// The token the endpoint accepts.
    pub access_token: Secret,
    /// Signs the webhooks the endpoint delivers.
    pub app_secret: Secret,
    /// Presented by the endpoint when it verifies the webhook URL.
    pub verify_token: Secret,
    /// Whether it delivers webhooks to this host (statuses, inbound messages).
    pub delivers_webhooks: bool,
}

/// Secrets read from the environment for quick starts; the vault file's
/// credentials take precedence.
#[derive(Clone, Debug, Default)]
pub struct EnvSecrets {
    /// `WHATSAPP_ACCESS_TOKEN`.
    pub access_token: Option<Secret>,
    /// `WHATSAPP_APP_SECRET`: checks the webhooks' signatures.
    pub app_secret: Option<Secret>,
    /// `WHATSAPP_WEBHOOK_VERIFY_TOKEN`: answers Meta's verification handshake.
    pub verify_token: Option<Secret>,
}

impl EnvSecrets {
    /// The secrets set (and not empty) in the process environment.
    pub fn from_env() -> EnvSecrets {
        let read = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .map(Secret::new)
        };
        EnvSecrets {
            access_token: read("WHATSAPP_ACCESS_TOKEN"),
            app_secret: read("WHATSAPP_APP_SECRET"),
            verify_token: read("WHATSAPP_WEBHOOK_VERIFY_TOKEN"),
        }
    }

    /// Takes the endpoint's secrets: its token comes with it, never from the
    /// user's vault, and it signs its webhooks with its app secret and
    /// presents its verify token.
    pub(super) fn point_at(&mut self, endpoint: ApiEndpoint) {
        self.access_token = Some(endpoint.access_token);
        self.app_secret = Some(endpoint.app_secret);
        self.verify_token = Some(endpoint.verify_token);
    }
}
