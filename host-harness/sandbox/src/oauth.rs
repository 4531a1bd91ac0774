//! Facebook Login, tokens and account discovery (reference §6, §2.10): the consent dialog,
//! `oauth/access_token` (code exchange, `fb_exchange_token`, `client_credentials`),
//! `debug_token`, a second phone number, `subscribed_apps`, and the token registry every Graph
//! request is authorised against (each token with its scopes and expiry).
//!
//! Documented choices (where Meta leaves room or the reference says "unconfirmed"):
//! - The dialog never shows a page: it redirects at once, approving or denying as
//!   `OAuthConfig::consent` says. A denial carries `error=access_denied`,
//!   `error_reason=user_denied`, `error_description=Permissions error` and the `state`.
//! - Redirect URIs: with `redirect_uris` empty any loopback `http` URL is accepted (what a
//!   development-mode app allows for `localhost`); otherwise the URI must be one of them exactly.
//!   A bad client id, redirect URI, scope or configuration id gets an HTML error page (HTTP 400),
//!   never a redirect, as Facebook does.
//! - Codes are single-use and live `code_lifetime` (default 10 minutes). Errors are Graph code
//!   100 with subcodes 36007 (expired), 36009 (used) and 36008 (redirect_uri differs).
//! - Tokens from a code live 2 hours; `fb_exchange_token` gives a 60-day token
//!   (`expires_in` 5183944, Meta's documented example). The configured `access_token` is a
//!   system-user token with `access_token_scopes`, expiring after `access_token_expires_in`
//!   (default never: `expires_at` 0 in `debug_token`).
//! - `debug_token` accepts as authorisation any valid token or the app token
//!   `{app-id}|{app-secret}`. An unknown input token is `is_valid: false` with error 190.
//! - Scope checks: phone-number `messages`, `media` and `message_history` need
//!   `whatsapp_business_messaging`; every other object (phone number, profile, WABA, templates,
//!   `subscribed_apps`) needs `whatsapp_business_management`. Missing: HTTP 403, code 200.
//! - `no_waba`: tokens carry no WABA in `granular_scopes`, and the WABA answers 100/33.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use http::{HeaderValue, Method, Response, StatusCode, header};
use serde_json::{Map, Value, json};

use super::error::{GraphError, GraphResult};
use super::http::GraphRequest;
use super::state::Shared;
use super::{SandboxConfig, util};

pub const SCOPE_MANAGEMENT: &str = "whatsapp_business_management";
pub const SCOPE_MESSAGING: &str = "whatsapp_business_messaging";
/// Scopes the dialog knows; anything else is "Invalid Scopes".
const KNOWN_SCOPES: &[&str] = &[
    SCOPE_MANAGEMENT,
    SCOPE_MESSAGING,
    "business_management",
    "public_profile",
    "email",
];
/// A token from a code exchange lives this long (a short-lived user token).
const SHORT_LIVED_SECS: u64 = 2 * 3600;
/// A token from `fb_exchange_token` ("generally lasts about 60 days").
const LONG_LIVED_SECS: u64 = 5_183_944;

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
    pub id: String,
    pub display_phone_number: String,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenKind {
    User,
    SystemUser,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            TokenKind::User => "USER",
            TokenKind::SystemUser => "SYSTEM_USER",
        }
    }
}

#[derive(Clone, Debug)]
struct TokenRecord {
    kind: TokenKind,
    scopes: Vec<String>,
    /// Unix seconds; `None` never expires.
    expires_at: Option<u64>,
    issued_at: u64,
    user_id: String,
}

impl TokenRecord {
    fn expired(&self, now: u64) -> bool {
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
pub(crate) struct OAuthState {
    registry: Mutex<Registry>,
}

impl OAuthState {
    pub fn new(cfg: &SandboxConfig) -> OAuthState {
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
        OAuthState {
            registry: Mutex::new(registry),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn token(&self, token: &str) -> Option<TokenRecord> {
        self.lock().tokens.get(token).cloned()
    }

    fn issue(&self, kind: TokenKind, scopes: Vec<String>, lifetime: u64) -> String {
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

    pub fn subscribed(&self) -> bool {
        self.lock().subscribed
    }
}

// ------------------------------------------------------------------ the dialog

/// `GET /{v}/dialog/oauth` (and `/dialog/oauth`): the consent "dialog". `None` for other paths.
pub(crate) fn dialog(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: Option<&str>,
) -> Option<Response<Body>> {
    let segments = util::path_segments(path);
    let rest = match segments.first() {
        Some(v) if util::is_graph_version(v) => &segments[1..],
        _ => &segments[..],
    };
    if rest != ["dialog", "oauth"] {
        return None;
    }
    if method != Method::GET {
        return Some(page(
            StatusCode::METHOD_NOT_ALLOWED,
            "The login dialog is opened with GET.",
        ));
    }
    let params = util::query_pairs(query);
    let get = |k: &str| {
        params
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    let cfg = &shared.cfg.oauth;
    match get("client_id") {
        Some(id) if id == cfg.app_id => {}
        Some(_) => {
            return Some(page(
                StatusCode::BAD_REQUEST,
                "Invalid App ID: The provided app ID does not look like a valid app ID.",
            ));
        }
        None => {
            return Some(page(
                StatusCode::BAD_REQUEST,
                "The parameter app_id is required",
            ));
        }
    }
    let Some(redirect) = get("redirect_uri") else {
        return Some(page(
            StatusCode::BAD_REQUEST,
            "The parameter redirect_uri is required",
        ));
    };
    let Some(mut target) = redirect_allowed(&cfg.redirect_uris, redirect) else {
        return Some(page(
            StatusCode::BAD_REQUEST,
            "URL Blocked: This redirect failed because the redirect URI is not whitelisted in \
             the app's Client OAuth Settings. Make sure Client and Web OAuth Login are on and \
             add all your app domains as Valid OAuth Redirect URIs.",
        ));
    };
    if let Some(rt) = get("response_type")
        && rt != "code"
    {
        return Some(page(
            StatusCode::BAD_REQUEST,
            "The sandbox's dialog supports response_type=code only.",
        ));
    }
    let requested: Vec<String> = match get("config_id") {
        Some(id) if id == cfg.login_config_id => vec![
            SCOPE_MANAGEMENT.into(),
            SCOPE_MESSAGING.into(),
            "business_management".into(),
        ],
        Some(_) => {
            return Some(page(
                StatusCode::BAD_REQUEST,
                "Invalid configuration ID: no Facebook Login for Business configuration of this \
                 app has that ID.",
            ));
        }
        None => {
            let scopes: Vec<String> = get("scope")
                .unwrap_or("")
                .split([',', ' '])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            let invalid: Vec<&str> = scopes
                .iter()
                .map(String::as_str)
                .filter(|s| !KNOWN_SCOPES.contains(s))
                .collect();
            if !invalid.is_empty() {
                return Some(page(
                    StatusCode::BAD_REQUEST,
                    &format!("Invalid Scopes: {}.", invalid.join(", ")),
                ));
            }
            scopes
        }
    };
    let state = get("state").map(str::to_string);
    {
        let mut pairs = target.query_pairs_mut();
        match cfg.consent {
            Consent::Deny => {
                pairs
                    .append_pair("error", "access_denied")
                    .append_pair("error_code", "200")
                    .append_pair("error_description", "Permissions error")
                    .append_pair("error_reason", "user_denied");
            }
            Consent::Approve => {
                let mut granted: Vec<String> = requested
                    .into_iter()
                    .filter(|s| !cfg.declined_scopes.contains(s))
                    .collect();
                if !granted.iter().any(|s| s == "public_profile") {
                    granted.push("public_profile".into());
                }
                let code = format!("AQ{}", util::random_hex(48));
                shared.oauth.lock().codes.insert(
                    code.clone(),
                    CodeRecord {
                        client_id: cfg.app_id.clone(),
                        redirect_uri: redirect.to_string(),
                        scopes: granted,
                        issued: Instant::now(),
                        used: false,
                    },
                );
                pairs.append_pair("code", &code);
            }
        }
        if let Some(state) = &state {
            pairs.append_pair("state", state);
        }
    }
    tracing::debug!(consent = ?cfg.consent, "sandbox: login dialog answered");
    let mut resp = page(StatusCode::FOUND, "Redirecting…");
    if let Ok(v) = HeaderValue::from_str(target.as_str()) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Some(resp)
}

/// The redirect URI as a URL if the app may use it.
fn redirect_allowed(registered: &[String], redirect: &str) -> Option<url::Url> {
    let url = url::Url::parse(redirect).ok()?;
    if url.fragment().is_some() {
        return None;
    }
    if !registered.is_empty() {
        return registered.iter().any(|r| r == redirect).then_some(url);
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    (url.scheme() == "http" && loopback).then_some(url)
}

fn page(status: StatusCode, message: &str) -> Response<Body> {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let body = format!(
        "<!DOCTYPE html><html><head><title>Facebook (sandbox)</title></head><body><p>{escaped}</p></body></html>"
    );
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

// ------------------------------------------------ endpoints with their own authorisation

/// `oauth/access_token` and `debug_token`, which authorise themselves. `None` for other paths.
pub(crate) fn dispatch_public(
    shared: &Shared,
    req: &GraphRequest,
    token: Option<&str>,
) -> Option<GraphResult<Value>> {
    let rest = match req.segments.first() {
        Some(v) if util::is_graph_version(v) => &req.segments[1..],
        _ => &req.segments[..],
    };
    let m = &req.method;
    match rest {
        [a, b]
            if a == "oauth" && b == "access_token" && (m == Method::GET || m == Method::POST) =>
        {
            Some(access_token(shared, req))
        }
        [a] if a == "debug_token" && m == Method::GET => Some(debug_token(shared, req, token)),
        _ => None,
    }
}

fn oauth_error(code: i64, message: &str) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, code, message)
}

fn access_token(shared: &Shared, req: &GraphRequest) -> GraphResult<Value> {
    let params = req.params()?;
    let get = |k: &str| {
        params
            .get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let cfg = &shared.cfg;
    let Some(client_id) = get("client_id") else {
        return Err(oauth_error(101, "Missing client_id parameter."));
    };
    if client_id != cfg.oauth.app_id {
        return Err(oauth_error(
            101,
            "Error validating application. Invalid application ID.",
        ));
    }
    let Some(secret) = get("client_secret") else {
        return Err(oauth_error(1, "Missing client_secret parameter."));
    };
    if secret != cfg.app_secret {
        return Err(oauth_error(1, "Error validating client secret."));
    }
    match get("grant_type") {
        Some("fb_exchange_token") => {
            let Some(short) = get("fb_exchange_token") else {
                return Err(GraphError::required_param("fb_exchange_token"));
            };
            let now = util::unix_secs(SystemTime::now());
            let record = shared
                .oauth
                .token(short)
                .ok_or_else(GraphError::invalid_token)?;
            if record.expired(now) || shared.token_expired() {
                return Err(GraphError::expired_token(SystemTime::now()));
            }
            if record.kind != TokenKind::User {
                return Err(GraphError::invalid_param(
                    "fb_exchange_token must be a user access token; system-user tokens are \
                     already long-lived.",
                ));
            }
            let token = shared
                .oauth
                .issue(TokenKind::User, record.scopes, LONG_LIVED_SECS);
            Ok(
                json!({"access_token": token, "token_type": "bearer", "expires_in": LONG_LIVED_SECS}),
            )
        }
        Some("client_credentials") => Ok(json!({
            "access_token": format!("{}|{}", cfg.oauth.app_id, cfg.app_secret),
            "token_type": "bearer",
        })),
        Some(other) => Err(GraphError::invalid_param(format!(
            "Unsupported grant_type \"{other}\"."
        ))),
        None => {
            let Some(redirect_uri) = get("redirect_uri") else {
                return Err(oauth_error(100, "Missing redirect_uri parameter."));
            };
            let Some(code) = get("code") else {
                return Err(oauth_error(100, "Missing authorization code."));
            };
            let scopes = {
                let mut reg = shared.oauth.lock();
                let Some(record) = reg.codes.get_mut(code) else {
                    return Err(oauth_error(100, "Invalid verification code format."));
                };
                if record.used {
                    return Err(
                        oauth_error(100, "This authorization code has been used.").subcode(36009)
                    );
                }
                if record.issued.elapsed() >= cfg.oauth.code_lifetime {
                    return Err(
                        oauth_error(100, "This authorization code has expired.").subcode(36007)
                    );
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
            let token = shared
                .oauth
                .issue(TokenKind::User, scopes, SHORT_LIVED_SECS);
            Ok(
                json!({"access_token": token, "token_type": "bearer", "expires_in": SHORT_LIVED_SECS}),
            )
        }
    }
}

fn debug_token(shared: &Shared, req: &GraphRequest, auth: Option<&str>) -> GraphResult<Value> {
    let cfg = &shared.cfg;
    let now = util::unix_secs(SystemTime::now());
    let Some(auth) = auth else {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            104,
            "An access token is required to request this resource.",
        ));
    };
    let app_token = format!("{}|{}", cfg.oauth.app_id, cfg.app_secret);
    if auth != app_token {
        let record = shared
            .oauth
            .token(auth)
            .ok_or_else(GraphError::invalid_token)?;
        if record.expired(now) || shared.token_expired() {
            return Err(GraphError::expired_token(SystemTime::now()));
        }
    }
    let Some(input) = req.query("input_token").filter(|t| !t.is_empty()) else {
        return Err(GraphError::required_param("input_token"));
    };
    let Some(record) = shared.oauth.token(input) else {
        return Ok(json!({"data": {
            "error": {"code": 190, "message": "Invalid OAuth access token - Cannot parse access token"},
            "is_valid": false,
            "scopes": [],
        }}));
    };
    let waba_targets: Vec<String> = if cfg.oauth.no_waba {
        vec![]
    } else {
        vec![cfg.waba_id.clone()]
    };
    let granular: Vec<Value> = record
        .scopes
        .iter()
        .filter(|s| s.as_str() == SCOPE_MANAGEMENT || s.as_str() == SCOPE_MESSAGING)
        .map(|s| {
            if waba_targets.is_empty() {
                json!({"scope": s})
            } else {
                json!({"scope": s, "target_ids": waba_targets})
            }
        })
        .collect();
    let mut data = Map::new();
    data.insert("app_id".into(), json!(cfg.oauth.app_id));
    data.insert("type".into(), json!(record.kind.as_str()));
    data.insert("application".into(), json!(cfg.oauth.app_name));
    data.insert(
        "data_access_expires_at".into(),
        json!(match record.kind {
            TokenKind::SystemUser => 0,
            TokenKind::User => record.issued_at + 90 * 86_400,
        }),
    );
    data.insert("expires_at".into(), json!(record.expires_at.unwrap_or(0)));
    let expired = record.expired(now) || shared.token_expired();
    data.insert("is_valid".into(), json!(!expired));
    data.insert("issued_at".into(), json!(record.issued_at));
    data.insert("scopes".into(), json!(record.scopes));
    data.insert("granular_scopes".into(), Value::Array(granular));
    data.insert("user_id".into(), json!(record.user_id));
    if expired {
        let e = GraphError::expired_token(SystemTime::now());
        data.insert(
            "error".into(),
            json!({"code": 190, "subcode": 463, "message": e.message}),
        );
    }
    Ok(json!({ "data": Value::Object(data) }))
}

// ------------------------------------------------ authorisation of every other request

/// The scope a request needs (see the module docs).
fn required_scope(cfg: &SandboxConfig, req: &GraphRequest) -> Option<&'static str> {
    let id = req.segments.get(1)?;
    let edge = req.segments.get(2).map(String::as_str);
    let is_phone = *id == cfg.phone_number_id
        || cfg
            .oauth
            .second_phone_number
            .as_ref()
            .is_some_and(|p| p.id == *id);
    match edge {
        Some("messages" | "media" | "message_history") if is_phone => Some(SCOPE_MESSAGING),
        _ => Some(SCOPE_MANAGEMENT),
    }
}

/// Checks the bearer token is one the sandbox issued (190) and has not expired (190/463).
pub(crate) fn authenticate(shared: &Shared, token: Option<&str>) -> GraphResult<()> {
    let record = token
        .and_then(|t| shared.oauth.token(t))
        .ok_or_else(GraphError::invalid_token)?;
    if record.expired(util::unix_secs(SystemTime::now())) {
        return Err(GraphError::expired_token(SystemTime::now()));
    }
    Ok(())
}

/// Checks an authenticated request's token has the scope it needs (200) and, in `no_waba`
/// mode, that it does not touch the WABA (100/33).
pub(crate) fn authorize(
    shared: &Shared,
    req: &GraphRequest,
    token: Option<&str>,
) -> GraphResult<()> {
    let scopes = token
        .and_then(|t| shared.oauth.token(t))
        .map(|r| r.scopes)
        .unwrap_or_default();
    if let Some(scope) = required_scope(&shared.cfg, req)
        && !scopes.iter().any(|s| s == scope)
    {
        return Err(GraphError::new(
            StatusCode::FORBIDDEN,
            200,
            format!("(#200) Requires {scope} permission to manage the object"),
        )
        .details(format!(
            "The access token was not granted the {scope} permission this request needs."
        )));
    }
    if shared.cfg.oauth.no_waba && req.segments.get(1) == Some(&shared.cfg.waba_id) {
        return Err(GraphError::unknown_object(
            req.method.as_str(),
            &shared.cfg.waba_id,
        ));
    }
    Ok(())
}

/// Authorised requests this module serves: `subscribed_apps` and the second phone number.
pub(crate) fn dispatch_authorized(
    shared: &Shared,
    req: &GraphRequest,
) -> Option<GraphResult<Value>> {
    let cfg = &shared.cfg;
    let id = req.segments.get(1)?;
    let edge = req.segments.get(2).map(String::as_str);
    let m = &req.method;
    if *id == cfg.waba_id && edge == Some("subscribed_apps") && req.segments.len() == 3 {
        return Some(subscribed_apps(shared, m));
    }
    if let Some(p) = &cfg.oauth.second_phone_number
        && *id == p.id
    {
        return Some(if edge.is_none() && m == Method::GET {
            Ok(select(second_phone_json(p), req.fields()))
        } else {
            Err(GraphError::unsupported(m.as_str()))
        });
    }
    None
}

fn subscribed_apps(shared: &Shared, method: &Method) -> GraphResult<Value> {
    let cfg = &shared.cfg.oauth;
    match *method {
        Method::GET => {
            let data = if shared.oauth.subscribed() {
                vec![json!({"whatsapp_business_api_data": {
                    "id": cfg.app_id,
                    "name": cfg.app_name,
                    "link": format!("https://www.facebook.com/games/?app_id={}", cfg.app_id),
                }})]
            } else {
                vec![]
            };
            Ok(json!({ "data": data }))
        }
        Method::POST => {
            shared.oauth.lock().subscribed = true;
            Ok(json!({"success": true}))
        }
        Method::DELETE => {
            shared.oauth.lock().subscribed = false;
            Ok(json!({"success": true}))
        }
        _ => Err(GraphError::unsupported(method.as_str())),
    }
}

fn second_phone_json(p: &SandboxPhoneNumber) -> Value {
    json!({
        "verified_name": p.verified_name,
        "code_verification_status": "VERIFIED",
        "display_phone_number": p.display_phone_number,
        "quality_rating": "GREEN",
        "platform_type": "CLOUD_API",
        "throughput": {"level": "STANDARD"},
        "status": "CONNECTED",
        "name_status": "APPROVED",
        "account_mode": "SANDBOX",
        "id": p.id,
    })
}

fn select(v: Value, fields: Option<Vec<String>>) -> Value {
    let (Value::Object(map), Some(fields)) = (&v, fields) else {
        return v;
    };
    Value::Object(
        map.iter()
            .filter(|(k, _)| *k == "id" || fields.iter().any(|f| f == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// The extra phone numbers in `/{waba-id}/phone_numbers`, after the main one.
pub(crate) fn extra_phone_numbers(shared: &Shared, fields: Option<Vec<String>>) -> Vec<Value> {
    shared
        .cfg
        .oauth
        .second_phone_number
        .iter()
        .map(|p| select(second_phone_json(p), fields.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_redirects_are_allowed_unless_registered() {
        assert!(redirect_allowed(&[], "http://127.0.0.1:8976/callback").is_some());
        assert!(redirect_allowed(&[], "http://localhost:1/cb").is_some());
        assert!(redirect_allowed(&[], "http://[::1]:1/cb").is_some());
        assert!(redirect_allowed(&[], "https://evil.test/cb").is_none());
        assert!(redirect_allowed(&[], "http://127.0.0.1:1/cb#frag").is_none());
        assert!(redirect_allowed(&[], "not a url").is_none());
        let registered = vec!["https://app.example/cb".to_string()];
        assert!(redirect_allowed(&registered, "https://app.example/cb").is_some());
        assert!(redirect_allowed(&registered, "http://127.0.0.1:1/cb").is_none());
    }

    #[test]
    fn the_configured_token_is_a_system_user_token_with_the_configured_scopes() {
        let cfg = SandboxConfig {
            oauth: OAuthConfig {
                access_token_scopes: vec![SCOPE_MESSAGING.into()],
                access_token_expires_in: Some(Duration::from_secs(60)),
                ..OAuthConfig::default()
            },
            ..SandboxConfig::default()
        };
        let state = OAuthState::new(&cfg);
        let t = state.token(&cfg.access_token).unwrap();
        assert_eq!(t.kind, TokenKind::SystemUser);
        assert_eq!(t.scopes, [SCOPE_MESSAGING]);
        let now = util::unix_secs(SystemTime::now());
        assert!(!t.expired(now) && t.expired(now + 61));
        assert!(state.token("other").is_none());
    }

    // ---- over HTTP, as clients see it ----

    use crate::{Sandbox, SandboxConfig as Config};

    const V: &str = "v23.0";

    struct Http {
        sb: Sandbox,
        client: reqwest::Client,
    }

    struct Answer {
        status: u16,
        location: Option<String>,
        body: String,
    }

    impl Answer {
        fn json(&self) -> Value {
            serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
        }

        fn code(&self) -> (i64, Option<i64>) {
            let v = self.json();
            (
                v["error"]["code"].as_i64().expect("a Graph error"),
                v["error"]["error_subcode"].as_i64(),
            )
        }
    }

    impl Http {
        async fn start(oauth: OAuthConfig) -> Http {
            crate::install_crypto_provider();
            Http {
                sb: Sandbox::start(Config {
                    oauth,
                    ..Config::default()
                })
                .await
                .unwrap(),
                client: reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap(),
            }
        }

        fn url(&self, path: &str, query: &[(&str, &str)]) -> url::Url {
            let mut u = url::Url::parse(&format!("{}/{V}/{path}", self.sb.base_url())).unwrap();
            if !query.is_empty() {
                u.query_pairs_mut().extend_pairs(query);
            }
            u
        }

        async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
            let resp = req.send().await.unwrap();
            Answer {
                status: resp.status().as_u16(),
                location: resp
                    .headers()
                    .get("location")
                    .map(|v| v.to_str().unwrap().to_string()),
                body: resp.text().await.unwrap(),
            }
        }

        async fn get(&self, path: &str, query: &[(&str, &str)], token: Option<&str>) -> Answer {
            let mut req = self.client.get(self.url(path, query));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            self.send(req).await
        }

        fn token(&self) -> String {
            self.sb.config().access_token.clone()
        }

        fn app(&self) -> (String, String) {
            (
                self.sb.config().oauth.app_id.clone(),
                self.sb.config().app_secret.clone(),
            )
        }

        /// Approves the dialog for `redirect` and returns the code.
        async fn code(&self, redirect: &str) -> String {
            let (app_id, _) = self.app();
            let a = self
                .get(
                    "dialog/oauth",
                    &[
                        ("client_id", &app_id),
                        ("redirect_uri", redirect),
                        ("state", "st"),
                        (
                            "scope",
                            "whatsapp_business_management,whatsapp_business_messaging",
                        ),
                    ],
                    None,
                )
                .await;
            assert_eq!(a.status, 302, "{}", a.body);
            let loc = url::Url::parse(a.location.as_deref().unwrap()).unwrap();
            loc.query_pairs()
                .find(|(k, _)| k == "code")
                .map(|(_, v)| v.into_owned())
                .expect("a code")
        }

        async fn exchange(&self, code: &str, redirect: &str, secret: &str) -> Answer {
            let (app_id, _) = self.app();
            self.get(
                "oauth/access_token",
                &[
                    ("client_id", &app_id),
                    ("redirect_uri", redirect),
                    ("client_secret", secret),
                    ("code", code),
                ],
                None,
            )
            .await
        }
    }

    const REDIRECT: &str = "http://127.0.0.1:8976/callback";

    #[tokio::test]
    async fn a_token_lacking_a_scope_gets_graph_error_200_only_where_the_scope_is_needed() {
        let t = Http::start(OAuthConfig {
            access_token_scopes: vec![SCOPE_MESSAGING.into()],
            ..OAuthConfig::default()
        })
        .await;
        let cfg = t.sb.config();
        let send = t
            .send(
                t.client
                    .post(t.url(&format!("{}/messages", cfg.phone_number_id), &[]))
                    .bearer_auth(t.token())
                    .header("content-type", "application/json")
                    .body(serde_json::to_vec(&json!({"messaging_product": "whatsapp", "to": "16505551234",
                        "type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}})).unwrap()),
            )
            .await;
        assert_eq!(send.status, 200, "{}", send.body);
        let list = t
            .get(
                &format!("{}/message_templates", cfg.waba_id),
                &[],
                Some(&t.token()),
            )
            .await;
        assert_eq!((list.status, list.code()), (403, (200, None)));
        assert!(list.body.contains(SCOPE_MANAGEMENT), "{}", list.body);

        let t = Http::start(OAuthConfig {
            access_token_scopes: vec![SCOPE_MANAGEMENT.into()],
            ..OAuthConfig::default()
        })
        .await;
        let cfg = t.sb.config();
        let send = t
            .send(
                t.client
                    .post(t.url(&format!("{}/messages", cfg.phone_number_id), &[]))
                    .bearer_auth(t.token())
                    .header("content-type", "application/json")
                    .body(serde_json::to_vec(&json!({"messaging_product": "whatsapp", "to": "16505551234", "type": "text", "text": {"body": "hi"}})).unwrap()),
            )
            .await;
        assert_eq!((send.status, send.code()), (403, (200, None)));
        assert!(send.body.contains(SCOPE_MESSAGING), "{}", send.body);
        let list = t
            .get(
                &format!("{}/message_templates", cfg.waba_id),
                &[],
                Some(&t.token()),
            )
            .await;
        assert_eq!(list.status, 200, "{}", list.body);
    }

    #[tokio::test]
    async fn the_dialog_redirects_with_a_code_and_the_state_or_with_access_denied() {
        let t = Http::start(OAuthConfig::default()).await;
        let (app_id, _) = t.app();
        let redirect = "http://127.0.0.1:8976/callback?keep=1";
        let a = t
            .get(
                "dialog/oauth",
                &[
                    ("client_id", &app_id),
                    ("redirect_uri", redirect),
                    ("state", "s-1"),
                    ("scope", "whatsapp_business_management"),
                    ("response_type", "code"),
                ],
                None,
            )
            .await;
        assert_eq!(a.status, 302);
        let loc = url::Url::parse(a.location.as_deref().unwrap()).unwrap();
        assert_eq!(loc.path(), "/callback");
        let q: HashMap<String, String> = loc.query_pairs().into_owned().collect();
        assert_eq!(q["keep"], "1");
        assert_eq!(q["state"], "s-1");
        assert!(q["code"].len() > 20);
        assert!(!q.contains_key("error"));

        let t = Http::start(OAuthConfig {
            consent: Consent::Deny,
            ..OAuthConfig::default()
        })
        .await;
        let a = t
            .get(
                "dialog/oauth",
                &[
                    ("client_id", &app_id),
                    ("redirect_uri", REDIRECT),
                    ("state", "s-2"),
                    ("scope", "whatsapp_business_management"),
                ],
                None,
            )
            .await;
        assert_eq!(a.status, 302);
        let loc = url::Url::parse(a.location.as_deref().unwrap()).unwrap();
        let q: HashMap<String, String> = loc.query_pairs().into_owned().collect();
        assert_eq!(q["error"], "access_denied");
        assert_eq!(q["error_reason"], "user_denied");
        assert_eq!(q["state"], "s-2");
        assert!(!q.contains_key("code"));
    }

    #[tokio::test]
    async fn the_dialog_refuses_an_unknown_app_a_foreign_redirect_and_unknown_scopes_with_a_page() {
        let t = Http::start(OAuthConfig::default()).await;
        let (app_id, _) = t.app();
        for (query, words) in [
            (
                vec![("client_id", "999"), ("redirect_uri", REDIRECT)],
                "Invalid App ID",
            ),
            (
                vec![
                    ("client_id", app_id.as_str()),
                    ("redirect_uri", "https://evil.test/cb"),
                ],
                "URL Blocked",
            ),
            (
                vec![
                    ("client_id", app_id.as_str()),
                    ("redirect_uri", REDIRECT),
                    ("scope", "read_mailbox"),
                ],
                "Invalid Scopes: read_mailbox",
            ),
            (
                vec![
                    ("client_id", app_id.as_str()),
                    ("redirect_uri", REDIRECT),
                    ("config_id", "1"),
                ],
                "Invalid configuration ID",
            ),
        ] {
            let a = t.get("dialog/oauth", &query, None).await;
            assert_eq!(a.status, 400, "{query:?}");
            assert!(a.location.is_none(), "no redirect for {query:?}");
            assert!(a.body.contains(words), "{query:?}: {}", a.body);
        }
    }

    #[tokio::test]
    async fn codes_are_single_use_bound_to_their_redirect_uri_and_the_app_secret() {
        let t = Http::start(OAuthConfig::default()).await;
        let (_, secret) = t.app();
        let code = t.code(REDIRECT).await;
        let a = t.exchange(&code, REDIRECT, "wrong-secret").await;
        assert_eq!((a.status, a.code()), (400, (1, None)));
        let a = t.exchange(&code, "http://127.0.0.1:1/other", &secret).await;
        assert_eq!(a.code(), (100, Some(36008)));
        let a = t.exchange(&code, REDIRECT, &secret).await;
        assert_eq!(
            a.status, 200,
            "failed attempts do not use the code up: {}",
            a.body
        );
        assert_eq!(a.json()["expires_in"], 7200);
        assert_eq!(a.json()["token_type"], "bearer");
        let a = t.exchange(&code, REDIRECT, &secret).await;
        assert_eq!(a.code(), (100, Some(36009)));
        assert!(a.body.contains("has been used"), "{}", a.body);
        let a = t.exchange("AQnot-a-code", REDIRECT, &secret).await;
        assert_eq!(a.code(), (100, None));

        let t = Http::start(OAuthConfig {
            code_lifetime: Duration::ZERO,
            ..OAuthConfig::default()
        })
        .await;
        let code = t.code(REDIRECT).await;
        let a = t.exchange(&code, REDIRECT, &t.app().1).await;
        assert_eq!(a.code(), (100, Some(36007)));
        assert!(a.body.contains("has expired"), "{}", a.body);
    }

    #[tokio::test]
    async fn issued_tokens_are_long_lived_after_exchange_and_described_by_debug_token() {
        let t = Http::start(OAuthConfig::default()).await;
        let (app_id, secret) = t.app();
        let code = t.code(REDIRECT).await;
        let short = t.exchange(&code, REDIRECT, &secret).await.json()["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let a = t
            .get(
                "oauth/access_token",
                &[
                    ("grant_type", "fb_exchange_token"),
                    ("client_id", &app_id),
                    ("client_secret", &secret),
                    ("fb_exchange_token", &short),
                ],
                None,
            )
            .await;
        assert_eq!(a.json()["expires_in"], LONG_LIVED_SECS);
        let long = a.json()["access_token"].as_str().unwrap().to_string();
        assert_ne!(long, short);

        let app_token = format!("{app_id}|{secret}");
        let d = t
            .get("debug_token", &[("input_token", &long)], Some(&app_token))
            .await
            .json();
        let data = &d["data"];
        assert_eq!(data["is_valid"], true);
        assert_eq!(data["type"], "USER");
        assert_eq!(data["app_id"], app_id.as_str());
        let left = data["expires_at"].as_u64().unwrap() - util::unix_secs(SystemTime::now());
        assert!(left.abs_diff(LONG_LIVED_SECS) < 60);
        assert_eq!(data["granular_scopes"][0]["scope"], SCOPE_MANAGEMENT);
        assert_eq!(
            data["granular_scopes"][0]["target_ids"],
            json!([t.sb.config().waba_id])
        );
        // The issued token works on the other endpoints.
        let p = t
            .get(&t.sb.config().phone_number_id.clone(), &[], Some(&long))
            .await;
        assert_eq!(p.status, 200, "{}", p.body);

        // The configured token: a system-user token that never expires (expires_at 0).
        let d = t
            .get(
                "debug_token",
                &[("input_token", &t.token())],
                Some(&t.token()),
            )
            .await
            .json();
        assert_eq!(
            (d["data"]["type"].clone(), d["data"]["expires_at"].clone()),
            (json!("SYSTEM_USER"), json!(0))
        );
        // Unknown input: is_valid false with error 190. No authorisation: 104. Bad: 190.
        let d = t
            .get(
                "debug_token",
                &[("input_token", "EAAnope")],
                Some(&app_token),
            )
            .await
            .json();
        assert_eq!(d["data"]["is_valid"], false);
        assert_eq!(d["data"]["error"]["code"], 190);
        assert_eq!(
            t.get("debug_token", &[("input_token", &long)], None)
                .await
                .code()
                .0,
            104
        );
        assert_eq!(
            t.get("debug_token", &[("input_token", &long)], Some("EAAnope"))
                .await
                .code()
                .0,
            190
        );
        // An unknown token cannot be exchanged.
        let a = t
            .get(
                "oauth/access_token",
                &[
                    ("grant_type", "fb_exchange_token"),
                    ("client_id", &app_id),
                    ("client_secret", &secret),
                    ("fb_exchange_token", "EAAnope"),
                ],
                None,
            )
            .await;
        assert_eq!(a.code().0, 190);
    }

    #[tokio::test]
    async fn an_expired_configured_token_is_refused_everywhere_and_reported_invalid() {
        let t = Http::start(OAuthConfig {
            access_token_expires_in: Some(Duration::ZERO),
            ..OAuthConfig::default()
        })
        .await;
        let (app_id, secret) = t.app();
        let p = t
            .get(
                &t.sb.config().phone_number_id.clone(),
                &[],
                Some(&t.token()),
            )
            .await;
        assert_eq!((p.status, p.code()), (401, (190, Some(463))));
        let d = t
            .get(
                "debug_token",
                &[("input_token", &t.token())],
                Some(&format!("{app_id}|{secret}")),
            )
            .await
            .json();
        assert_eq!(d["data"]["is_valid"], false);
        assert_eq!(d["data"]["error"]["subcode"], 463);
    }

    #[tokio::test]
    async fn without_a_waba_tokens_carry_no_target_ids_and_the_waba_is_out_of_reach() {
        let t = Http::start(OAuthConfig {
            no_waba: true,
            ..OAuthConfig::default()
        })
        .await;
        let d = t
            .get(
                "debug_token",
                &[("input_token", &t.token())],
                Some(&t.token()),
            )
            .await
            .json();
        assert!(
            d["data"]["granular_scopes"][0].get("target_ids").is_none(),
            "{d}"
        );
        let w = t
            .get(&t.sb.config().waba_id.clone(), &[], Some(&t.token()))
            .await;
        assert_eq!(w.code(), (100, Some(33)));
    }

    #[tokio::test]
    async fn subscribed_apps_lists_subscribes_and_unsubscribes_the_app() {
        let t = Http::start(OAuthConfig {
            app_subscribed: false,
            ..OAuthConfig::default()
        })
        .await;
        let path = format!("{}/subscribed_apps", t.sb.config().waba_id);
        assert_eq!(
            t.get(&path, &[], Some(&t.token())).await.json(),
            json!({"data": []})
        );
        let post = t
            .send(t.client.post(t.url(&path, &[])).bearer_auth(t.token()))
            .await;
        assert_eq!(post.json(), json!({"success": true}));
        let list = t.get(&path, &[], Some(&t.token())).await.json();
        assert_eq!(
            list["data"][0]["whatsapp_business_api_data"]["id"],
            t.sb.config().oauth.app_id.as_str()
        );
        let del = t
            .send(t.client.delete(t.url(&path, &[])).bearer_auth(t.token()))
            .await;
        assert_eq!(del.json(), json!({"success": true}));
        assert_eq!(
            t.get(&path, &[], Some(&t.token())).await.json(),
            json!({"data": []})
        );
    }

    #[tokio::test]
    async fn a_second_phone_number_is_listed_after_the_first_and_readable() {
        let t = Http::start(OAuthConfig {
            second_phone_number: Some(SandboxPhoneNumber {
                id: "109876543210987".into(),
                display_phone_number: "+1 555-010-2000".into(),
                verified_name: "Support".into(),
            }),
            ..OAuthConfig::default()
        })
        .await;
        let list = t
            .get(
                &format!("{}/phone_numbers", t.sb.config().waba_id),
                &[("fields", "id,display_phone_number")],
                Some(&t.token()),
            )
            .await
            .json();
        let ids: Vec<&str> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            [t.sb.config().phone_number_id.as_str(), "109876543210987"]
        );
        assert!(
            list["data"][1].get("verified_name").is_none(),
            "fields are honoured"
        );
        let node = t.get("109876543210987", &[], Some(&t.token())).await.json();
        assert_eq!(node["verified_name"], "Support");
    }

    #[tokio::test]
    async fn recorded_requests_hide_secret_query_parameters_in_debug_output() {
        let t = Http::start(OAuthConfig::default()).await;
        t.exchange("AQcode-canary-1", REDIRECT, "secret-canary-2")
            .await;
        t.get(
            "debug_token",
            &[("input_token", "input-canary-3")],
            Some("auth-canary-4"),
        )
        .await;
        let text = format!("{:?}", t.sb.requests());
        for canary in [
            "code-canary-1",
            "secret-canary-2",
            "input-canary-3",
            "auth-canary-4",
        ] {
            assert!(!text.contains(canary), "{canary} in {text}");
        }
        assert!(text.contains("client_secret=<redacted>"), "{text}");
    }
}
