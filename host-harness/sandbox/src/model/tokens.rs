//! The token registry: every token the sandbox issued (with its scopes and expiry), the codes
//! of the login dialog, and the app's webhook subscription; and the checks every Graph request
//! passes (authentication, then scopes).
//!
//! Documented choices (where Meta leaves room):
//! - Codes are single-use and live `code_lifetime` (default 10 minutes). Errors are Graph code
//!   100 with subcodes 36007 (expired), 36009 (used) and 36008 (redirect_uri differs).
//! - Tokens from a code live 2 hours; `fb_exchange_token` gives a 60-day token
//!   (`expires_in` 5183944, Meta's documented example). The configured `access_token` is a
//!   system-user token with `access_token_scopes`, expiring after `access_token_expires_in`
//!   (default never: `expires_at` 0 in `debug_token`).
//! - Scope checks: see `required_scope`. Missing: HTTP 403, code 200.
//! - `no_waba`: tokens carry no WABA in `granular_scopes`, and the WABA answers 100/33.
//!
//! https://developers.facebook.com/docs/facebook-login/guides/access-tokens

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use http::StatusCode;

use crate::config::{SCOPE_MANAGEMENT, SCOPE_MESSAGING, SandboxConfig};
use crate::graph_error::{GraphError, GraphResult};
use crate::util;

/// A token from a code exchange lives this long (a short-lived user token).
const SHORT_LIVED_SECS: u64 = 2 * 3600;
/// A token from `fb_exchange_token` ("generally lasts about 60 days").
pub(crate) const LONG_LIVED_SECS: u64 = 5_183_944;

/// Who a token speaks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    User,
    SystemUser,
}

impl TokenKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TokenKind::User => "USER",
            TokenKind::SystemUser => "SYSTEM_USER",
        }
    }
}

/// An issued token.
#[derive(Clone, Debug)]
pub(crate) struct TokenRecord {
    pub(crate) kind: TokenKind,
    pub(crate) scopes: Vec<String>,
    /// Unix seconds; `None` never expires.
    pub(crate) expires_at: Option<u64>,
    pub(crate) issued_at: u64,
    pub(crate) user_id: String,
}

impl TokenRecord {
    pub(crate) fn expired(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}

struct CodeRecord {
    client_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    issued: Instant,
    used: bool,
}

#[derive(Default)]
struct Registry {
    tokens: HashMap<String, TokenRecord>,
    codes: HashMap<String, CodeRecord>,
    subscribed: bool,
}

/// Tokens, codes and the webhook subscription. Its own lock, never held across an `.await`.
pub(crate) struct TokenRegistry {
    registry: Mutex<Registry>,
}

impl TokenRegistry {
    pub(crate) fn new(cfg: &SandboxConfig) -> TokenRegistry {
        let now = util::unix_secs(SystemTime::now());
        let mut registry = Registry {
            subscribed: cfg.oauth.app_subscribed,
            ..Registry::default()
        };
        registry.tokens.insert(
            cfg.access_token.clone(),
            TokenRecord {
                kind: TokenKind::SystemUser,
                scopes: cfg.oauth.access_token_scopes.clone(),
                expires_at: cfg.oauth.access_token_expires_in.map(|d| now + d.as_secs()),
                issued_at: now,
                user_id: "122100000000000001".into(),
            },
        );
        TokenRegistry {
            registry: Mutex::new(registry),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn token(&self, token: &str) -> Option<TokenRecord> {
        self.lock().tokens.get(token).cloned()
    }

    pub(crate) fn issue(&self, kind: TokenKind, scopes: Vec<String>, lifetime: u64) -> String {
        let now = util::unix_secs(SystemTime::now());
        let token = format!("EAAS{}", util::random_hex(40));
        self.lock().tokens.insert(
            token.clone(),
            TokenRecord {
                kind,
                scopes,
                expires_at: Some(now + lifetime),
                issued_at: now,
                user_id: util::numeric_id(17),
            },
        );
        token
    }

    pub(crate) fn subscribed(&self) -> bool {
        self.lock().subscribed
    }

    pub(crate) fn set_subscribed(&self, subscribed: bool) {
        self.lock().subscribed = subscribed;
    }

    /// Records a code the dialog hands out for these granted scopes.
    pub(crate) fn issue_code(
        &self,
        client_id: &str,
        redirect_uri: &str,
        scopes: Vec<String>,
    ) -> String {
        let code = format!("AQ{}", util::random_hex(48));
        self.lock().codes.insert(
            code.clone(),
            CodeRecord {
                client_id: client_id.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                scopes,
                issued: Instant::now(),
                used: false,
            },
        );
        code
    }

    /// Exchanges a code for a short-lived user token: the code must be unused (36009), not
    /// older than `lifetime` (36007) and given with the redirect URI of the dialog (36008).
    /// A failed attempt does not use the code up. Returns the token and its lifetime.
    pub(crate) fn exchange_code(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        lifetime: Duration,
    ) -> GraphResult<(String, u64)> {
        let scopes = {
            let mut reg = self.lock();
            let Some(record) = reg.codes.get_mut(code) else {
                return Err(oauth_error(100, "Invalid verification code format."));
            };
            if record.used {
                return Err(
                    oauth_error(100, "This authorization code has been used.").subcode(36009)
                );
            }
            if record.issued.elapsed() >= lifetime {
                return Err(oauth_error(100, "This authorization code has expired.").subcode(36007));
            }
            if record.redirect_uri != redirect_uri || record.client_id != client_id {
                return Err(oauth_error(
                    100,
                    "Error validating verification code. Please make sure your redirect_uri \
                     is identical to the one you used in the OAuth dialog request",
                )
                .subcode(36008));
            }
            record.used = true;
            record.scopes.clone()
        };
        let token = self.issue(TokenKind::User, scopes, SHORT_LIVED_SECS);
        Ok((token, SHORT_LIVED_SECS))
    }

    /// Exchanges a valid short-lived user token for a long-lived one (`fb_exchange_token`).
    /// `all_expired` is the sandbox-wide "every token expired" switch. Returns the token and
    /// its lifetime.
    pub(crate) fn exchange_long_lived(
        &self,
        short: &str,
        all_expired: bool,
    ) -> GraphResult<(String, u64)> {
        let now = util::unix_secs(SystemTime::now());
        let record = self.token(short).ok_or_else(GraphError::invalid_token)?;
        if record.expired(now) || all_expired {
            return Err(GraphError::expired_token(SystemTime::now()));
        }
        if record.kind != TokenKind::User {
            return Err(GraphError::invalid_param(
                "fb_exchange_token must be a user access token; system-user tokens are \
                 already long-lived.",
            ));
        }
        let token = self.issue(TokenKind::User, record.scopes, LONG_LIVED_SECS);
        Ok((token, LONG_LIVED_SECS))
    }

    /// Checks the bearer token is one the sandbox issued (190) and has not expired (190/463).
    pub(crate) fn authenticate(&self, token: Option<&str>) -> GraphResult<()> {
        let record = token
            .and_then(|t| self.token(t))
            .ok_or_else(GraphError::invalid_token)?;
        if record.expired(util::unix_secs(SystemTime::now())) {
            return Err(GraphError::expired_token(SystemTime::now()));
        }
        Ok(())
    }

    /// Checks an authenticated request's token has the scope it needs (200) and, in `no_waba`
    /// mode, that it does not touch the WABA (100/33). `object` and `edge` are the path after
    /// the version.
    pub(crate) fn authorize(
        &self,
        cfg: &SandboxConfig,
        method: &str,
        object: &str,
        edge: Option<&str>,
        token: Option<&str>,
    ) -> GraphResult<()> {
        let scopes = token
            .and_then(|t| self.token(t))
            .map(|r| r.scopes)
            .unwrap_or_default();
        let scope = required_scope(cfg, object, edge);
        if !scopes.iter().any(|s| s == scope) {
            return Err(GraphError::new(
                StatusCode::FORBIDDEN,
                200,
                format!("(#200) Requires {scope} permission to manage the object"),
            )
            .details(format!(
                "The access token was not granted the {scope} permission this request needs."
            )));
        }
        if cfg.oauth.no_waba && object == cfg.waba_id {
            return Err(GraphError::unknown_object(method, &cfg.waba_id));
        }
        Ok(())
    }
}

/// The scope a request on `object`/`edge` needs: phone-number `messages`, `media` and
/// `message_history` need `whatsapp_business_messaging`; everything else (phone number,
/// profile, WABA, templates, `subscribed_apps`) needs `whatsapp_business_management`.
fn required_scope(cfg: &SandboxConfig, object: &str, edge: Option<&str>) -> &'static str {
    let is_phone = object == cfg.phone_number_id
        || cfg
            .oauth
            .second_phone_number
            .as_ref()
            .is_some_and(|p| p.id == object);
    match edge {
        Some("messages" | "media" | "message_history") if is_phone => SCOPE_MESSAGING,
        _ => SCOPE_MANAGEMENT,
    }
}

/// An OAuth endpoint's error: HTTP 400 with this code.
pub(crate) fn oauth_error(code: i64, message: &str) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, code, message)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn the_configured_token_is_a_system_user_token_with_the_configured_scopes() {
        let cfg = SandboxConfig {
            oauth: crate::config::OAuthConfig {
                access_token_scopes: vec![SCOPE_MESSAGING.into()],
                access_token_expires_in: Some(Duration::from_secs(60)),
                ..Default::default()
            },
            ..SandboxConfig::default()
        };
        let state = TokenRegistry::new(&cfg);
        let t = state.token(&cfg.access_token).unwrap();
        assert_eq!(t.kind, TokenKind::SystemUser);
        assert_eq!(t.scopes, [SCOPE_MESSAGING]);
        let now = util::unix_secs(SystemTime::now());
        assert!(!t.expired(now) && t.expired(now + 61));
        assert!(state.token("other").is_none());
    }

    #[test]
    fn a_code_is_exchanged_once_with_its_own_redirect_uri_and_the_token_it_gives_works() {
        let cfg = SandboxConfig::default();
        let registry = TokenRegistry::new(&cfg);
        let app = &cfg.oauth.app_id;
        let code = registry.issue_code(app, "http://127.0.0.1:1/cb", vec![SCOPE_MESSAGING.into()]);
        let lifetime = Duration::from_secs(60);
        let wrong = registry.exchange_code(&code, app, "http://127.0.0.1:2/cb", lifetime);
        assert_eq!(wrong.unwrap_err().subcode, Some(36008));
        let (token, expires_in) = registry
            .exchange_code(&code, app, "http://127.0.0.1:1/cb", lifetime)
            .unwrap();
        assert_eq!(expires_in, SHORT_LIVED_SECS);
        let again = registry.exchange_code(&code, app, "http://127.0.0.1:1/cb", lifetime);
        assert_eq!(again.unwrap_err().subcode, Some(36009));
        registry.authenticate(Some(&token)).unwrap();
        let denied = registry.authorize(&cfg, "GET", &cfg.waba_id, None, Some(&token));
        assert_eq!(
            denied.unwrap_err().code,
            200,
            "a messaging-only token cannot manage"
        );
    }
}
