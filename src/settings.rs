//! Non-secret settings read from the host's `config`, with defaults.
//!
//! | key | default |
//! |---|---|
//! | `api-base-url` | `https://graph.facebook.com` |
//! | `api-version` | `v23.0` |
//! | `phone-number-id` | none (env `WHATSAPP_PHONE_NUMBER_ID`) |
//! | `waba-id` | none (env `WHATSAPP_WABA_ID`) |
//! | `credential` | `whatsapp` (access token) |
//! | `app-secret-credential` | `whatsapp-app-secret` |
//! | `verify-token-credential` | `whatsapp-verify-token` |
//! | `window-policy` | `warn` (`off`, `warn`, `enforce`) |
//! | `webhooks-configured` | `false` |
//! | `message-history-fallback` | `false` |
//! | `call-deadline-ms` | none: requests use a 20 s timeout |
//! | `inbox-enabled` | `false` |
//! | `inbox-retention-seconds` | 2592000 (30 days) |

use crate::config_keys as keys;
use crate::error::ToolError;
use crate::host::Host;

pub(crate) const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";
pub(crate) const DEFAULT_API_VERSION: &str = "v23.0";
pub(crate) const DEFAULT_CREDENTIAL: &str = "whatsapp";
pub(crate) const DEFAULT_APP_SECRET_CREDENTIAL: &str = "whatsapp-app-secret";
pub(crate) const DEFAULT_VERIFY_TOKEN_CREDENTIAL: &str = "whatsapp-verify-token";
/// Inbox retention when `inbox-retention-seconds` is not set (30 days).
pub(crate) const DEFAULT_INBOX_RETENTION_SECONDS: u32 = 30 * 86_400;
/// Request timeout when `call-deadline-ms` is not set.
pub(crate) const DEFAULT_TIMEOUT_MS: u32 = 20_000;

/// How the 24-hour customer-service window is applied to free-form sends.
///
/// The default is `warn`: without webhooks the connector has no inbound
/// history, so `enforce` would refuse every free-form message; `warn` lets
/// them through and says in the result when the window looks closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WindowPolicy {
    Off,
    Warn,
    Enforce,
}

/// A config value, trimmed; empty counts as unset.
pub(crate) fn get(host: &dyn Host, key: &str) -> Option<String> {
    host.config(key)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn flag(host: &dyn Host, key: &str) -> bool {
    get(host, key).is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

pub(crate) fn credential(host: &dyn Host) -> String {
    get(host, keys::CREDENTIAL).unwrap_or_else(|| DEFAULT_CREDENTIAL.to_string())
}

pub(crate) fn app_secret_credential(host: &dyn Host) -> String {
    get(host, keys::APP_SECRET_CREDENTIAL)
        .unwrap_or_else(|| DEFAULT_APP_SECRET_CREDENTIAL.to_string())
}

pub(crate) fn verify_token_credential(host: &dyn Host) -> String {
    get(host, keys::VERIFY_TOKEN_CREDENTIAL)
        .unwrap_or_else(|| DEFAULT_VERIFY_TOKEN_CREDENTIAL.to_string())
}

pub(crate) fn webhooks_configured(host: &dyn Host) -> bool {
    flag(host, keys::WEBHOOKS_CONFIGURED)
}

/// Whether inbound message content is kept in the inbox.
pub(crate) fn inbox_enabled(host: &dyn Host) -> bool {
    flag(host, keys::INBOX_ENABLED)
}

/// How long inbox records live (at least a second; 30 days when unset or unreadable).
pub(crate) fn inbox_retention_seconds(host: &dyn Host) -> u32 {
    get(host, keys::INBOX_RETENTION_SECONDS)
        .and_then(|v| v.parse::<u32>().ok())
        .map_or(DEFAULT_INBOX_RETENTION_SECONDS, |s| s.max(1))
}

pub(crate) fn history_fallback(host: &dyn Host) -> bool {
    flag(host, keys::MESSAGE_HISTORY_FALLBACK)
}

pub(crate) fn window_policy(host: &dyn Host) -> Result<WindowPolicy, ToolError> {
    match get(host, keys::WINDOW_POLICY).as_deref() {
        None => Ok(WindowPolicy::Warn),
        Some(v) if v.eq_ignore_ascii_case("warn") => Ok(WindowPolicy::Warn),
        Some(v) if v.eq_ignore_ascii_case("off") => Ok(WindowPolicy::Off),
        Some(v) if v.eq_ignore_ascii_case("enforce") => Ok(WindowPolicy::Enforce),
        Some(v) => Err(ToolError::internal(
            "Invalid setting window-policy",
            format!("config `window-policy` is `{v}`; expected off, warn or enforce"),
            "Ask the operator to set `window-policy` to off, warn or enforce (or unset it for the default, warn).",
        )),
    }
}

/// The host's budget for a whole tool call.
pub(crate) fn call_deadline_ms(host: &dyn Host) -> u64 {
    get(host, keys::CALL_DEADLINE_MS)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(u64::from(DEFAULT_TIMEOUT_MS) + 10_000)
}

/// Request timeout: a little under the host's call deadline when known.
pub(crate) fn timeout_ms(host: &dyn Host) -> u32 {
    match get(host, keys::CALL_DEADLINE_MS).and_then(|v| v.parse::<u32>().ok()) {
        Some(d) => d.saturating_sub(500).max(1_000),
        None => DEFAULT_TIMEOUT_MS,
    }
}

/// `{api-base-url}/{api-version}`, validated.
pub(crate) fn api_root(host: &dyn Host) -> Result<String, ToolError> {
    let base = get(host, keys::API_BASE_URL).unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
    let base = base.trim_end_matches('/');
    let lower = base.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://"))
        || base
            .chars()
            .any(|c| c.is_whitespace() || c == '?' || c == '#')
    {
        return Err(ToolError::internal(
            "Invalid setting api-base-url",
            format!("config `api-base-url` is `{base}`; expected an absolute https:// URL"),
            "Ask the operator to set `api-base-url` to https://graph.facebook.com (or the sandbox URL), or unset it.",
        ));
    }
    let version = get(host, keys::API_VERSION).unwrap_or_else(|| DEFAULT_API_VERSION.to_string());
    let ok = version
        .strip_prefix('v')
        .and_then(|r| r.split_once('.'))
        .is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        });
    if !ok {
        return Err(ToolError::internal(
            "Invalid setting api-version",
            format!("config `api-version` is `{version}`; expected a Graph API version like v23.0"),
            "Ask the operator to set `api-version` to a version like v23.0, or unset it for the default.",
        ));
    }
    Ok(format!("{base}/{version}"))
}

fn id_setting(host: &dyn Host, key: &str, env: &str, what: &str) -> Result<String, ToolError> {
    let Some(v) = get(host, key) else {
        return Err(ToolError::internal(
            format!("Missing setting {key}"),
            format!("config `{key}` is not set, so the connector does not know the {what}"),
            format!(
                "Ask the operator to set `{key}` (environment variable {env}) to the numeric {what} shown in Meta's WhatsApp Manager / App Dashboard > WhatsApp > API Setup."
            ),
        ));
    };
    if !v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ToolError::internal(
            format!("Invalid setting {key}"),
            format!("config `{key}` is `{v}`; expected the numeric {what}"),
            format!(
                "Ask the operator to set `{key}` (environment variable {env}) to the numeric {what}, not a phone number or URL."
            ),
        ));
    }
    Ok(v)
}

pub(crate) fn phone_number_id(host: &dyn Host) -> Result<String, ToolError> {
    id_setting(
        host,
        keys::PHONE_NUMBER_ID,
        "WHATSAPP_PHONE_NUMBER_ID",
        "Phone-Number-ID",
    )
}

pub(crate) fn waba_id(host: &dyn Host) -> Result<String, ToolError> {
    id_setting(
        host,
        keys::WABA_ID,
        "WHATSAPP_WABA_ID",
        "WhatsApp Business Account ID (WABA ID)",
    )
}
