//! Where a sandbox is, as the settings describe an API.

use whatsapp_host::caps::vault::Secret;
use whatsapp_host::config::ApiEndpoint;
use whatsapp_sandbox::Sandbox;

/// The sandbox an [`ApiEndpoint`] describes: its URL, account and secrets.
pub fn endpoint(sandbox: &Sandbox) -> ApiEndpoint {
    let cfg = sandbox.config();
    ApiEndpoint {
        base_url: sandbox.base_url(),
        phone_number_id: cfg.phone_number_id.clone(),
        waba_id: cfg.waba_id.clone(),
        access_token: Secret::new(cfg.access_token.clone()),
        app_secret: Secret::new(cfg.app_secret.clone()),
        verify_token: Secret::new(cfg.verify_token.clone()),
        delivers_webhooks: sandbox.webhook_callback().is_some(),
    }
}
