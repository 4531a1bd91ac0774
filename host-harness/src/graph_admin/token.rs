//! Access tokens: what `debug_token` says about one
//! (https://developers.facebook.com/docs/graph-api/reference/debug_token/),
//! the OAuth token exchanges
//! (https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow/
//! and https://developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived/),
//! and the app access token.

use serde_json::Value;
use zeroize::Zeroizing;

use super::client::{Call, GraphAdmin, text};
use super::errors::{AdminError, missing, unexpected_input};
use super::json;
use whatsapp_host::caps::vault::Secret;

/// The permission to manage WhatsApp Business Accounts (templates, numbers).
pub(crate) const SCOPE_MANAGEMENT: &str = "whatsapp_business_management";
/// The permission to send and receive messages.
pub(crate) const SCOPE_MESSAGING: &str = "whatsapp_business_messaging";
/// The two permissions the tools need: templates and the account's
/// numbers need management, sending needs messaging.
pub(crate) const REQUIRED_SCOPES: [&str; 2] = [SCOPE_MANAGEMENT, SCOPE_MESSAGING];

/// One entry of `granular_scopes`: a permission and the ids it is limited to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct GranularScope {
    pub(crate) scope: String,
    pub(crate) target_ids: Vec<String>,
}

/// The error `debug_token` reports for an invalid token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TokenProblem {
    pub(crate) code: Option<i64>,
    pub(crate) subcode: Option<i64>,
    pub(crate) message: String,
}

/// What `debug_token` says about a token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenInfo {
    /// Whether Graph accepts the token now.
    pub is_valid: bool,
    /// The app the token was issued to.
    pub app_id: Option<String>,
    pub(crate) application: Option<String>,
    /// `USER`, `SYSTEM_USER`, `PAGE`, `APP`…
    pub(crate) token_type: Option<String>,
    /// Unix seconds; `None` when Graph says 0 (never expires) or gives none.
    pub expires_at: Option<u64>,
    pub(crate) data_access_expires_at: Option<u64>,
    /// The permissions granted.
    pub scopes: Vec<String>,
    pub(crate) granular_scopes: Vec<GranularScope>,
    pub(crate) user_id: Option<String>,
    pub(crate) error: Option<TokenProblem>,
}

impl TokenInfo {
    /// `SYSTEM_USER token of app 670843887433847 (JaspersMarket)`
    pub(crate) fn summary(&self) -> String {
        format!(
            "{} token of app {}{}",
            self.token_type.as_deref().unwrap_or("unknown"),
            self.app_id.as_deref().unwrap_or("?"),
            self.application
                .as_deref()
                .map(|a| format!(" ({a})"))
                .unwrap_or_default()
        )
    }

    /// Parses `{"data": {...}}`.
    pub(crate) fn from_json(value: &Value) -> Option<TokenInfo> {
        let d = value.get("data")?.as_object()?;
        let string = |k: &str| d.get(k).and_then(json::string);
        let number = |k: &str| d.get(k).and_then(json::u64_of);
        let strings = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array)
                .map(|a| a.iter().filter_map(json::string).collect())
                .unwrap_or_default()
        };
        let granular_scopes = d
            .get("granular_scopes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|g| {
                        Some(GranularScope {
                            scope: g.get("scope")?.as_str()?.to_string(),
                            target_ids: strings(g.get("target_ids")),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let error = d
            .get("error")
            .and_then(Value::as_object)
            .map(|e| TokenProblem {
                code: e.get("code").and_then(Value::as_i64),
                subcode: e.get("subcode").and_then(Value::as_i64),
                message: e
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("the token is not valid")
                    .to_string(),
            });
        Some(TokenInfo {
            is_valid: d.get("is_valid").and_then(Value::as_bool).unwrap_or(false),
            app_id: string("app_id"),
            application: string("application"),
            token_type: string("type"),
            expires_at: number("expires_at").filter(|&t| t != 0),
            data_access_expires_at: number("data_access_expires_at").filter(|&t| t != 0),
            scopes: strings(d.get("scopes")),
            granular_scopes,
            user_id: string("user_id"),
            error,
        })
    }

    /// The WhatsApp scopes this token lacks, in a stable order.
    pub fn missing_scopes(&self) -> Vec<&'static str> {
        REQUIRED_SCOPES
            .into_iter()
            .filter(|s| !self.scopes.iter().any(|g| g == s))
            .collect()
    }

    /// The WABAs the token may manage: the `whatsapp_business_management`
    /// targets, in Graph's order (the most recently onboarded first).
    pub(crate) fn waba_ids(&self) -> Vec<String> {
        self.granular_scopes
            .iter()
            .filter(|g| g.scope == SCOPE_MANAGEMENT)
            .flat_map(|g| g.target_ids.iter().cloned())
            .collect()
    }

    /// Why the token is invalid, for messages: Graph's words and code.
    pub(crate) fn problem(&self) -> String {
        match &self.error {
            Some(e) => {
                let mut s = e.message.clone();
                if let Some(code) = e.code {
                    s.push_str(&format!(" (Graph code {code}"));
                    if let Some(sub) = e.subcode {
                        s.push_str(&format!(", subcode {sub}"));
                    }
                    s.push(')');
                }
                s
            }
            None => "Graph reports is_valid: false".into(),
        }
    }
}

/// A token from `/oauth/access_token`.
pub struct IssuedToken {
    pub(crate) access_token: Secret,
    pub(crate) token_type: Option<String>,
    pub(crate) expires_in: Option<u64>,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("access_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// What `/oauth/access_token` trades for a token.
#[derive(Clone, Copy)]
pub enum Grant<'a> {
    /// The login dialog's authorization code, with the redirect URI the
    /// dialog was given (Graph requires the identical URI).
    Code {
        /// The code from the redirect.
        code: &'a Secret,
        /// The redirect URI of the dialog that issued it.
        redirect_uri: &'a str,
    },
    /// A short-lived user token, for a long-lived one (`fb_exchange_token`).
    LongLived {
        /// The short-lived token.
        token: &'a Secret,
    },
}

/// The app access token `{app-id}|{app-secret}`
/// (https://developers.facebook.com/docs/facebook-login/guides/access-tokens/#apptokens).
pub(crate) fn app_token(app_id: &str, app_secret: &Secret) -> Secret {
    let mut bytes = Zeroizing::new(Vec::with_capacity(
        app_id.len() + 1 + app_secret.expose().len(),
    ));
    bytes.extend_from_slice(app_id.as_bytes());
    bytes.push(b'|');
    bytes.extend_from_slice(app_secret.expose());
    Secret::new(bytes.to_vec())
}

impl GraphAdmin {
    /// `GET /{v}/debug_token?input_token=…` authorised by `auth` (the token
    /// itself, a system-user token or the app token).
    pub(crate) async fn debug_token(
        &self,
        input: &Secret,
        auth: &Secret,
    ) -> Result<TokenInfo, AdminError> {
        let call = "debug_token";
        let input_text = text(input).map_err(|reason| unexpected_input(call, reason))?;
        let value = self
            .send(Call {
                name: call,
                method: reqwest::Method::GET,
                path: &["debug_token"],
                query: vec![("input_token", input_text)],
                bearer: Some(auth),
                secrets: vec![input.expose(), auth.expose()],
            })
            .await?;
        TokenInfo::from_json(&value).ok_or_else(|| AdminError::Unexpected {
            call,
            status: 200,
            reason: "no `data` object in the answer".into(),
        })
    }

    /// Trades `grant` for a token of the app `app_id` (`GET /{v}/oauth/access_token`).
    pub async fn exchange_token(
        &self,
        app_id: &str,
        app_secret: &Secret,
        grant: Grant<'_>,
    ) -> Result<IssuedToken, AdminError> {
        let (call, granted) = match grant {
            Grant::Code { code, .. } => ("oauth/access_token (code exchange)", code),
            Grant::LongLived { token } => ("oauth/access_token (long-lived exchange)", token),
        };
        let secret = text(app_secret).map_err(|r| unexpected_input(call, r))?;
        let granted_text = text(granted).map_err(|r| unexpected_input(call, r))?;
        let query = match grant {
            Grant::Code { redirect_uri, .. } => vec![
                ("client_id", app_id),
                ("redirect_uri", redirect_uri),
                ("client_secret", secret),
                ("code", granted_text),
            ],
            Grant::LongLived { .. } => vec![
                ("grant_type", "fb_exchange_token"),
                ("client_id", app_id),
                ("client_secret", secret),
                ("fb_exchange_token", granted_text),
            ],
        };
        let value = self
            .send(Call {
                name: call,
                method: reqwest::Method::GET,
                path: &["oauth", "access_token"],
                query,
                bearer: None,
                secrets: vec![app_secret.expose(), granted.expose()],
            })
            .await?;
        issued(call, &value)
    }
}

fn issued(call: &'static str, value: &Value) -> Result<IssuedToken, AdminError> {
    let token = value
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| missing(call, "access_token"))?;
    Ok(IssuedToken {
        access_token: Secret::new(token.as_bytes().to_vec()),
        token_type: value
            .get("token_type")
            .and_then(Value::as_str)
            .map(str::to_string),
        expires_in: value.get("expires_in").and_then(json::u64_of),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn debug_token_answers_parse_with_zero_meaning_never_and_the_first_waba_first() {
        // Meta's documented example (debug_token reference), with expires_at 0.
        let v = json!({"data": {
            "app_id": "670843887433847", "application": "JaspersMarket", "type": "SYSTEM_USER",
            "data_access_expires_at": 1672092840, "expires_at": 0, "is_valid": true,
            "scopes": ["whatsapp_business_management", "whatsapp_business_messaging", "public_profile"],
            "granular_scopes": [
                {"scope": "whatsapp_business_management", "target_ids": ["102289599326934", "101569239400667"]},
                {"scope": "whatsapp_business_messaging", "target_ids": ["102289599326934"]}],
            "user_id": "10222270944537964"}});
        let info = TokenInfo::from_json(&v).unwrap();
        assert!(info.is_valid);
        assert_eq!(info.expires_at, None);
        assert_eq!(info.data_access_expires_at, Some(1672092840));
        assert_eq!(info.token_type.as_deref(), Some("SYSTEM_USER"));
        assert!(info.missing_scopes().is_empty());
        assert_eq!(info.waba_ids(), ["102289599326934", "101569239400667"]);
    }

    #[test]
    fn an_invalid_token_reports_graphs_error_and_the_missing_scopes() {
        let v = json!({"data": {"error": {"code": 190, "subcode": 463,
            "message": "Error validating access token: Session has expired"},
            "is_valid": false, "scopes": ["whatsapp_business_messaging"], "expires_at": 1700000000}});
        let info = TokenInfo::from_json(&v).unwrap();
        assert!(!info.is_valid);
        assert_eq!(info.expires_at, Some(1700000000));
        assert_eq!(info.missing_scopes(), [SCOPE_MANAGEMENT]);
        assert!(info.waba_ids().is_empty());
        let p = info.problem();
        assert!(
            p.contains("Session has expired") && p.contains("190") && p.contains("463"),
            "{p}"
        );
        assert!(TokenInfo::from_json(&json!({"error": {}})).is_none());
    }

    #[test]
    fn the_app_token_is_id_bar_secret_and_secrets_with_spaces_are_refused() {
        let t = app_token("123", &Secret::new("abc"));
        assert_eq!(t.expose(), b"123|abc");
        assert!(text(&Secret::new("a b")).is_err());
        assert!(text(&Secret::new("")).is_err());
        assert!(text(&Secret::new("EAAG-ok_1")).is_ok());
    }
}
