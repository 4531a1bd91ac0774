//! How a sandbox behaves: the configuration types callers fill in. A leaf: the model, the
//! routes and the delivery of webhooks all read it.

use std::time::Duration;

use crate::util;

/// The scope that manages a WhatsApp Business Account (templates, profile, phone numbers).
pub(crate) const SCOPE_MANAGEMENT: &str = "whatsapp_business_management";
/// The scope that sends messages.
pub(crate) const SCOPE_MESSAGING: &str = "whatsapp_business_messaging";

/// How the sandbox behaves. Build it with `..Default::default()` so new fields don't break you.
#[derive(Clone)]
pub struct SandboxConfig {
    /// The only bearer token accepted (default: `"sandbox-token-"` + 32 random hex digits).
    pub access_token: String,
    /// Default `"106540352242922"`.
    pub phone_number_id: String,
    /// Default `"15550783881"`.
    pub display_phone_number: String,
    /// Default `"102290129340398"`.
    pub waba_id: String,
    /// A new template is `PENDING` until this has elapsed (default 2 s); `Duration::ZERO`
    /// means approved on the next read.
    pub approval_delay: Duration,
    /// Accepted sends per second per phone number before 130429 (default `Some(80)`, Meta's
    /// default throughput); `None` turns the limit off.
    pub throughput_per_second: Option<u32>,
    /// Per-recipient limit before 131056 (default: a burst of 45, then one send per 6 s, as
    /// Meta documents); `None` turns it off.
    pub pair_limit: Option<PairLimit>,
    /// Request body cap (default 1 MiB); bigger bodies get HTTP 413 with Graph code 100.
    pub max_body_bytes: usize,
    /// Template creations per hour before code 80007 (default `Some(100)`, Meta's documented
    /// limit); `None` turns it off.
    pub template_creations_per_hour: Option<u32>,
    /// Where to POST signed webhooks (e.g. `http://127.0.0.1:8766/webhook`); `None` (default)
    /// delivers none, and a send outside the 24 h window then fails synchronously with 131047.
    /// Can be changed while running with `Sandbox::set_webhook_callback`.
    pub webhook_callback: Option<String>,
    /// The Meta app secret webhooks are signed with (default: 32 random hex digits).
    pub app_secret: String,
    /// The token the sandbox presents in the GET verification handshake
    /// (`Sandbox::verify_webhook`), like Meta's dashboard (default: random).
    pub verify_token: String,
    /// Timing, retries and chaos of webhook deliveries.
    pub webhooks: WebhookBehaviour,
    /// The Meta app's login dialog, tokens and account discovery (see [`OAuthConfig`]).
    pub oauth: OAuthConfig,
}

/// How the sandbox delivers webhooks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookBehaviour {
    /// `sent` goes out this long after an accepted send (also the time of a `failed` one).
    /// Default 50 ms.
    pub sent_after: Duration,
    /// `delivered`: default 150 ms after the send.
    pub delivered_after: Duration,
    /// `read`: default 300 ms after the send.
    pub read_after: Duration,
    /// Deliver each message's statuses in reverse order, then each once more (default off).
    pub duplicate_and_reorder: bool,
    /// Attempts per webhook when the callback is down or answers non-2xx (default 8).
    pub max_attempts: u32,
    /// Wait before the first retry; doubles each time, at most 30 s (default 100 ms).
    pub retry_backoff: Duration,
}

impl Default for WebhookBehaviour {
    fn default() -> Self {
        WebhookBehaviour {
            sent_after: Duration::from_millis(50),
            delivered_after: Duration::from_millis(150),
            read_after: Duration::from_millis(300),
            duplicate_and_reorder: false,
            max_attempts: 8,
            retry_backoff: Duration::from_millis(100),
        }
    }
}

impl std::fmt::Debug for SandboxConfig {
    // Hand-written so the access token never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("access_token", &"<redacted>")
            .field("phone_number_id", &self.phone_number_id)
            .field("display_phone_number", &self.display_phone_number)
            .field("waba_id", &self.waba_id)
            .field("approval_delay", &self.approval_delay)
            .field("throughput_per_second", &self.throughput_per_second)
            .field("pair_limit", &self.pair_limit)
            .field("max_body_bytes", &self.max_body_bytes)
            .field(
                "template_creations_per_hour",
                &self.template_creations_per_hour,
            )
            .field("webhook_callback", &self.webhook_callback)
            .field("app_secret", &"<redacted>")
            .field("verify_token", &"<redacted>")
            .field("webhooks", &self.webhooks)
            .field("oauth", &self.oauth)
            .finish()
    }
}

/// Meta's pair rate limit: one message to the same user every `interval` sustained, with up
/// to `burst` sent back to back; a burst borrows from the future, so after it the sends
/// regain one slot per `interval` (a token bucket). Meta: "1 message every 6 seconds to the
/// same WhatsApp user", bursts of up to 45 messages
/// (https://developers.facebook.com/docs/whatsapp/cloud-api/overview#pair-rate-limits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairLimit {
    /// Sends allowed to one recipient back to back.
    pub burst: u32,
    /// The sustained pace: one more send per `interval`.
    pub interval: Duration,
}

impl Default for PairLimit {
    fn default() -> Self {
        PairLimit {
            burst: 45,
            interval: Duration::from_secs(6),
        }
    }
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            access_token: format!("sandbox-token-{}", util::random_hex(16)),
            phone_number_id: "106540352242922".to_string(),
            display_phone_number: "15550783881".to_string(),
            waba_id: "102290129340398".to_string(),
            approval_delay: Duration::from_secs(2),
            throughput_per_second: Some(80),
            pair_limit: Some(PairLimit::default()),
            max_body_bytes: 1024 * 1024,
            template_creations_per_hour: Some(100),
            webhook_callback: None,
            app_secret: util::random_hex(16),
            verify_token: util::random_hex(16),
            webhooks: WebhookBehaviour::default(),
            oauth: OAuthConfig::default(),
        }
    }
}

/// What the consent dialog does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Consent {
    /// Redirects with `code` and `state` (default).
    #[default]
    Approve,
    /// Redirects with `error=access_denied&error_reason=user_denied`.
    Deny,
}

/// A phone number on the WABA besides the main one (discovery only: it cannot send).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxPhoneNumber {
    /// Its Graph id.
    pub id: String,
    /// As Graph displays it, e.g. `+1 555-010-2000`.
    pub display_phone_number: String,
    /// The business name WhatsApp shows for it.
    pub verified_name: String,
}

/// The Meta app the sandbox plays, its login dialog, and the account it discovers. The app
/// secret is `SandboxConfig::app_secret` (it also signs webhooks).
#[derive(Clone)]
pub struct OAuthConfig {
    /// Default `"670843887433847"`.
    pub app_id: String,
    /// `application` in `debug_token`, `name` in `subscribed_apps`.
    pub app_name: String,
    /// Scopes of `SandboxConfig::access_token` (default both WhatsApp scopes).
    pub access_token_scopes: Vec<String>,
    /// When `SandboxConfig::access_token` expires, from start; `None` (default) is never.
    pub access_token_expires_in: Option<Duration>,
    /// What the login dialog answers (default `Approve`).
    pub consent: Consent,
    /// Permissions the user unticks in the dialog (default none).
    pub declined_scopes: Vec<String>,
    /// The Facebook Login for Business configuration accepted as `config_id`; it grants both
    /// WhatsApp scopes and `business_management`. Default `"901234567890123"`.
    pub login_config_id: String,
    /// Valid OAuth redirect URIs; empty (default) accepts any loopback `http` URL.
    pub redirect_uris: Vec<String>,
    /// How long a code can be exchanged (default 10 minutes).
    pub code_lifetime: Duration,
    /// A second phone number on the WABA (default none).
    pub second_phone_number: Option<SandboxPhoneNumber>,
    /// Tokens grant no WABA (empty `target_ids`) and the WABA is out of reach.
    pub no_waba: bool,
    /// Whether the app starts subscribed to the WABA's webhooks (default true).
    pub app_subscribed: bool,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig {
            app_id: "670843887433847".into(),
            app_name: "Lucky Shrub Connector (sandbox)".into(),
            access_token_scopes: vec![SCOPE_MANAGEMENT.into(), SCOPE_MESSAGING.into()],
            access_token_expires_in: None,
            consent: Consent::Approve,
            declined_scopes: vec![],
            login_config_id: "901234567890123".into(),
            redirect_uris: vec![],
            code_lifetime: Duration::from_secs(600),
            second_phone_number: None,
            no_waba: false,
            app_subscribed: true,
        }
    }
}

impl std::fmt::Debug for OAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthConfig")
            .field("app_id", &self.app_id)
            .field("app_name", &self.app_name)
            .field("access_token_scopes", &self.access_token_scopes)
            .field("access_token_expires_in", &self.access_token_expires_in)
            .field("consent", &self.consent)
            .field("declined_scopes", &self.declined_scopes)
            .field("login_config_id", &self.login_config_id)
            .field("redirect_uris", &self.redirect_uris)
            .field("code_lifetime", &self.code_lifetime)
            .field("second_phone_number", &self.second_phone_number)
            .field("no_waba", &self.no_waba)
            .field("app_subscribed", &self.app_subscribed)
            .finish()
    }
}
