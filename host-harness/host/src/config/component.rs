//! The config map the component reads through its `config` import: the
//! non-secret settings, under the key names both sides share.

use std::collections::BTreeMap;

use whatsapp_connector::config_keys as keys;

use crate::caps::vault;

use super::inbox::InboxSettings;
use super::runtime::RuntimeSettings;
use super::whatsapp::WhatsApp;

/// The map for `w`, the call deadline of `runtime` and the `inbox` settings.
pub(super) fn component_config(
    w: &WhatsApp,
    runtime: &RuntimeSettings,
    inbox: &InboxSettings,
) -> BTreeMap<String, String> {
    let mut config = BTreeMap::from([
        (keys::API_VERSION.to_string(), w.api_version.clone()),
        (
            keys::API_BASE_URL.to_string(),
            w.api_base_url.trim_end_matches('/').to_string(),
        ),
        (
            keys::CREDENTIAL.to_string(),
            vault::ACCESS_TOKEN.to_string(),
        ),
        (
            keys::APP_SECRET_CREDENTIAL.to_string(),
            vault::APP_SECRET.to_string(),
        ),
        (
            keys::VERIFY_TOKEN_CREDENTIAL.to_string(),
            vault::VERIFY_TOKEN.to_string(),
        ),
        (
            keys::WINDOW_POLICY.to_string(),
            w.window_policy.as_str().to_string(),
        ),
        (
            keys::WEBHOOKS_CONFIGURED.to_string(),
            w.webhooks_configured.to_string(),
        ),
        (
            keys::MESSAGE_HISTORY_FALLBACK.to_string(),
            w.message_history_fallback.to_string(),
        ),
        (
            keys::CALL_DEADLINE_MS.to_string(),
            runtime.call_timeout_ms.to_string(),
        ),
        (keys::INBOX_ENABLED.to_string(), inbox.enabled.to_string()),
        (
            keys::INBOX_RETENTION_SECONDS.to_string(),
            inbox.retention_seconds().to_string(),
        ),
    ]);
    if let Some(id) = &w.phone_number_id {
        config.insert(keys::PHONE_NUMBER_ID.into(), id.clone());
    }
    if let Some(id) = &w.waba_id {
        config.insert(keys::WABA_ID.into(), id.clone());
    }
    config
}
