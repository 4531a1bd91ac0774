//! Why `connect` failed, each with what to do about it.

use std::net::SocketAddr;

use crate::graph_admin::AdminError;

/// Why `connect` failed. Never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "consent denied: the Facebook dialog answered error={error} (reason: {reason}; {description}). \
         Nothing was stored. Run `host-harness connect` again and approve access, keeping both \
         whatsapp_business_management and whatsapp_business_messaging checked"
    )]
    /// The user declined in the dialog.
    ConsentDenied {
        /// The dialog's `error`.
        error: String,
        /// The dialog's `error_reason`.
        reason: String,
        /// The dialog's `error_description`.
        description: String,
    },
    #[error(
        "the Facebook dialog answered with an error: {error} ({description}). Nothing was stored"
    )]
    /// The dialog answered another error.
    AuthorizationFailed {
        /// The dialog's `error`.
        error: String,
        /// The dialog's `error_description`.
        description: String,
    },
    #[error(
        "state mismatch: the redirect's `state` is not the one this `connect` sent, so the answer \
         belongs to another login attempt or was forged; nothing was exchanged. Run \
         `host-harness connect` again and use the URL it prints"
    )]
    /// The redirect's `state` is not this flow's.
    StateMismatch,
    #[error("the redirect carried neither a code nor an error; run `host-harness connect` again")]
    /// The redirect carried neither a code nor an error.
    NoCode,
    #[error(
        "the authorization code expired before it could be exchanged (codes are short-lived): \
         run `host-harness connect` again and finish the dialog promptly ({0})"
    )]
    /// The code expired before the exchange.
    CodeExpired(String),
    #[error(
        "the authorization code was already used (codes are single-use): run `host-harness \
         connect` again for a fresh one ({0})"
    )]
    /// The code was already exchanged.
    CodeReused(String),
    #[error(
        "Graph refused the redirect URI for this code ({0}); the redirect URI must be identical \
         in the dialog and the exchange"
    )]
    /// The exchange's redirect URI is not the dialog's.
    RedirectMismatch(String),
    #[error(
        "Graph refused the app credentials ({0}): check --app-id and the app secret (App \
         Dashboard → App settings → Basic)"
    )]
    /// Graph refused the app id or secret.
    AppCredentials(String),
    #[error("{step} failed: {source}")]
    /// Another Graph failure.
    Graph {
        /// The step of the flow that failed.
        step: &'static str,
        /// Graph's error.
        #[source]
        source: AdminError,
    },
    #[error("the new token is not valid: {0}; run `host-harness connect` again")]
    /// `debug_token` says the new token is not valid.
    TokenInvalid(String),
    #[error("the token belongs to app {found}, not {expected}: check --app-id and the app secret")]
    /// The token belongs to another app.
    WrongApp {
        /// The `--app-id` given.
        expected: String,
        /// The token's app.
        found: String,
    },
    #[error(
        "a scope is missing: the token was not granted `{scope}` (granted: {granted}). Run \
         `host-harness connect` again and keep `{scope}` checked in the dialog{config_hint}"
    )]
    /// The token lacks a WhatsApp permission.
    MissingScope {
        /// The first missing permission.
        scope: &'static str,
        /// The permissions granted, for the message.
        granted: String,
        /// Where to add it when a configuration id was used.
        config_hint: &'static str,
    },
    #[error(
        "no WhatsApp Business Account found: the token grants whatsapp_business_management on \
         no WABA (debug_token's granular_scopes list none). In the dialog, select (or create) \
         the WhatsApp Business Account to share, then run `host-harness connect` again"
    )]
    /// The token manages no WhatsApp Business Account.
    NoWaba,
    #[error(
        "the WhatsApp Business Account {waba_id} has no phone numbers: add one in WhatsApp \
         Manager, then run `host-harness connect` again"
    )]
    /// The WABA has no phone numbers.
    NoPhoneNumbers {
        /// The WABA.
        waba_id: String,
    },
    #[error(
        "the phone number {wanted} is not in the WhatsApp Business Account {waba_id}; it has: {available}"
    )]
    /// `--phone-number-id` is not a number of the WABA.
    PhoneNotFound {
        /// The id asked for.
        wanted: String,
        /// The WABA.
        waba_id: String,
        /// Its numbers, described.
        available: String,
    },
    #[error(
        "the WhatsApp Business Account {waba_id} has several phone numbers ({available}): pass \
         --phone-number-id to choose one"
    )]
    /// Several numbers and no terminal to ask which.
    ChoosePhone {
        /// The WABA.
        waba_id: String,
        /// Its numbers, described.
        available: String,
    },
    #[error(
        "no answer from the browser within {0} s: open the printed URL, approve, and let it \
         redirect to this machine; or raise --timeout-secs"
    )]
    /// No redirect within the timeout (seconds).
    Timeout(u64),
    #[error("cannot listen for the redirect on {addr}: {reason} (choose another --redirect-port)")]
    /// The redirect listener could not bind.
    Listen {
        /// Where it tried.
        addr: SocketAddr,
        /// Why it failed.
        reason: String,
    },
}

/// Tells the code exchange's failures apart: Graph answers code 100 with a
/// subcode (36007 expired, 36008 redirect URI mismatch, 36009 used) or, from
/// older API versions, only a message.
pub(super) fn code_exchange_error(e: AdminError) -> ConnectError {
    let message = e.graph_message().unwrap_or_default().to_ascii_lowercase();
    match (e.code(), e.subcode()) {
        (Some(100), Some(36007)) => ConnectError::CodeExpired(e.to_string()),
        (Some(100), Some(36009)) => ConnectError::CodeReused(e.to_string()),
        (Some(100), Some(36008)) => ConnectError::RedirectMismatch(e.to_string()),
        (Some(100), _) if message.contains("expired") => ConnectError::CodeExpired(e.to_string()),
        (Some(100), _) if message.contains("been used") => ConnectError::CodeReused(e.to_string()),
        (Some(1 | 101), _) => ConnectError::AppCredentials(e.to_string()),
        _ => ConnectError::Graph {
            step: "the code exchange (oauth/access_token)",
            source: e,
        },
    }
}
