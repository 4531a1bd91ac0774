//! The names of the `config` settings the component reads: the one list the
//! component and its host share (the host links this crate natively and
//! writes its settings under exactly these keys).

/// Graph API phone number id the messages are sent from.
pub const PHONE_NUMBER_ID: &str = "phone-number-id";
/// WhatsApp Business Account id (templates).
pub const WABA_ID: &str = "waba-id";
/// Graph API version, e.g. `v23.0`.
pub const API_VERSION: &str = "api-version";
/// Graph API base URL, e.g. `https://graph.facebook.com`.
pub const API_BASE_URL: &str = "api-base-url";
/// Vault name of the access-token credential.
pub const CREDENTIAL: &str = "credential";
/// Vault name of the app secret (webhook signatures).
pub const APP_SECRET_CREDENTIAL: &str = "app-secret-credential";
/// Vault name of the webhook verify token.
pub const VERIFY_TOKEN_CREDENTIAL: &str = "verify-token-credential";
/// `off`, `warn` or `enforce`: the 24-hour window check before free-form sends.
pub const WINDOW_POLICY: &str = "window-policy";
/// `true` when Meta's webhooks reach the host (statuses and inbound messages are known).
pub const WEBHOOKS_CONFIGURED: &str = "webhooks-configured";
/// `true` to ask the API for a message's history when no webhook recorded it.
pub const MESSAGE_HISTORY_FALLBACK: &str = "message-history-fallback";
/// The host's deadline for one call, in milliseconds (retries must fit in it).
pub const CALL_DEADLINE_MS: &str = "call-deadline-ms";

/// `true` to keep inbound message content in the inbox (`[inbox] enabled`).
pub const INBOX_ENABLED: &str = "inbox-enabled";
/// How long inbox records are kept, in whole seconds (`[inbox] retention_days`).
pub const INBOX_RETENTION_SECONDS: &str = "inbox-retention-seconds";

/// Every key, in the order the WIT documents them.
pub const ALL: &[&str] = &[
    PHONE_NUMBER_ID,
    WABA_ID,
    API_VERSION,
    API_BASE_URL,
    CREDENTIAL,
    APP_SECRET_CREDENTIAL,
    VERIFY_TOKEN_CREDENTIAL,
    WINDOW_POLICY,
    WEBHOOKS_CONFIGURED,
    MESSAGE_HISTORY_FALLBACK,
    CALL_DEADLINE_MS,
    INBOX_ENABLED,
    INBOX_RETENTION_SECONDS,
];
