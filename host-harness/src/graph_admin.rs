//! The Graph API calls the host makes itself, for credential management
//! (reference §6 and §2.10): `debug_token`, the OAuth code and long-lived
//! token exchanges, the WABA and its phone numbers, and the app's webhook
//! subscription (`subscribed_apps`).
//!
//! These run in the host, never in the component, with their own HTTP client
//! (no redirects followed). Secrets travel as Graph documents them (query
//! parameters such as `input_token` and `client_secret`, or a bearer header)
//! and never appear in logs or errors: requests are logged by call name only,
//! errors carry no URL, and any secret of the request that a Graph message
//! would echo is replaced by `<redacted>`.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use url::Url;
use zeroize::Zeroizing;

use whatsapp_host::caps::vault::Secret;

/// The two permissions the nine tools need (reference §6).
pub const SCOPE_MANAGEMENT: &str = "whatsapp_business_management";
pub const SCOPE_MESSAGING: &str = "whatsapp_business_messaging";
pub const REQUIRED_SCOPES: [&str; 2] = [SCOPE_MANAGEMENT, SCOPE_MESSAGING];

/// The largest answer read from Graph.
const MAX_BODY: usize = 1 << 20;
/// Pages of phone numbers read at most (100 each).
const MAX_PAGES: usize = 20;

/// Why a Graph call failed. Never contains a secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AdminError {
    #[error("{call}: the Graph API answered with error {code}{}: {message}", subcode.map(|s| format!(" (subcode {s})")).unwrap_or_default())]
    Graph {
        call: &'static str,
        status: u16,
        code: i64,
        subcode: Option<i64>,
        message: String,
    },
    #[error("{call}: cannot reach the Graph API at {base}: {reason}")]
    Transport {
        call: &'static str,
        base: String,
        reason: String,
    },
    #[error("{call}: unexpected answer from the Graph API (HTTP {status}): {reason}")]
    Unexpected {
        call: &'static str,
        status: u16,
        reason: String,
    },
}

impl AdminError {
    /// The Graph error code, for a Graph error.
    pub fn code(&self) -> Option<i64> {
        match self {
            AdminError::Graph { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub fn subcode(&self) -> Option<i64> {
        match self {
            AdminError::Graph { subcode, .. } => *subcode,
            _ => None,
        }
    }

    /// Graph's message, for a Graph error.
    pub fn graph_message(&self) -> Option<&str> {
        match self {
            AdminError::Graph { message, .. } => Some(message),
            _ => None,
        }
    }
}

/// One entry of `granular_scopes`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GranularScope {
    pub scope: String,
    pub target_ids: Vec<String>,
}

/// The error `debug_token` reports for an invalid token.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TokenProblem {
    pub code: Option<i64>,
    pub subcode: Option<i64>,
    pub message: String,
}

/// What `debug_token` says about a token.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub is_valid: bool,
    pub app_id: Option<String>,
    pub application: Option<String>,
    /// `USER`, `SYSTEM_USER`, `PAGE`, `APP`…
    pub token_type: Option<String>,
    /// Unix seconds; `None` when Graph says 0 (never expires) or gives none.
    pub expires_at: Option<u64>,
    pub data_access_expires_at: Option<u64>,
    pub scopes: Vec<String>,
    pub granular_scopes: Vec<GranularScope>,
    pub user_id: Option<String>,
    pub error: Option<TokenProblem>,
}

impl TokenInfo {
    /// `SYSTEM_USER token of app 670843887433847 (JaspersMarket)`
    pub fn summary(&self) -> String {
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
    pub fn from_json(value: &Value) -> Option<TokenInfo> {
        let d = value.get("data")?.as_object()?;
        let string = |k: &str| {
            d.get(k).and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
        };
        let number = |k: &str| {
            d.get(k).and_then(|v| match v {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            })
        };
        let strings = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| match s {
                            Value::String(s) => Some(s.clone()),
                            Value::Number(n) => Some(n.to_string()),
                            _ => None,
                        })
                        .collect()
                })
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
    /// targets, most recently onboarded first (Meta's order, reference §6).
    pub fn waba_ids(&self) -> Vec<String> {
        self.granular_scopes
            .iter()
            .filter(|g| g.scope == SCOPE_MANAGEMENT)
            .flat_map(|g| g.target_ids.iter().cloned())
            .collect()
    }

    /// Why the token is invalid, for messages: Graph's words and code.
    pub fn problem(&self) -> String {
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
    pub access_token: Secret,
    pub token_type: Option<String>,
    pub expires_in: Option<u64>,
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

/// A phone number of a WABA (`/{waba-id}/phone_numbers`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PhoneNumber {
    pub id: String,
    pub display_phone_number: Option<String>,
    pub verified_name: Option<String>,
    pub status: Option<String>,
    pub quality_rating: Option<String>,
}

impl PhoneNumber {
    fn from_json(v: &Value) -> Option<PhoneNumber> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Some(PhoneNumber {
            id: id_of(v)?,
            display_phone_number: s("display_phone_number"),
            verified_name: s("verified_name"),
            status: s("status"),
            quality_rating: s("quality_rating"),
        })
    }

    /// `+1 555-078-3881 (Lucky Shrub), id 106540352242922`
    pub fn describe(&self) -> String {
        let mut s = self
            .display_phone_number
            .clone()
            .unwrap_or_else(|| "(no display number)".into());
        if let Some(name) = &self.verified_name {
            s.push_str(&format!(" ({name})"));
        }
        s.push_str(&format!(", id {}", self.id));
        s
    }
}

/// A WhatsApp Business Account node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Waba {
    pub id: String,
    pub name: Option<String>,
}

/// An app subscribed to a WABA's webhooks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SubscribedApp {
    pub id: String,
    pub name: Option<String>,
}

fn id_of(v: &Value) -> Option<String> {
    match v.get("id")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The app access token `{app-id}|{app-secret}` (reference §6).
pub fn app_token(app_id: &str, app_secret: &Secret) -> Secret {
    let mut bytes = Zeroizing::new(Vec::with_capacity(
        app_id.len() + 1 + app_secret.expose().len(),
    ));
    bytes.extend_from_slice(app_id.as_bytes());
    bytes.push(b'|');
    bytes.extend_from_slice(app_secret.expose());
    Secret::new(bytes.to_vec())
}

/// A secret as text for a URL or header. Tokens are printable ASCII; anything
/// else is refused before it reaches the wire.
fn text(secret: &Secret) -> Result<&str, String> {
    let s = std::str::from_utf8(secret.expose()).map_err(|_| "a secret is not valid UTF-8")?;
    if s.is_empty() || s.bytes().any(|b| !(0x21..0x7f).contains(&b)) {
        return Err("a secret is empty or contains spaces or non-ASCII characters".into());
    }
    Ok(s)
}

/// Host-side Graph client.
#[derive(Clone)]
pub struct GraphAdmin {
    client: reqwest::Client,
    base_url: String,
    version: String,
}

impl std::fmt::Debug for GraphAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphAdmin")
            .field("base_url", &self.base_url)
            .field("version", &self.version)
            .finish()
    }
}

/// One request: the pieces the client turns into a URL.
struct Call<'a> {
    name: &'static str,
    method: reqwest::Method,
    path: &'a [&'a str],
    query: Vec<(&'a str, &'a str)>,
    bearer: Option<&'a Secret>,
    /// Secrets of this request that must never come back in a message.
    secrets: Vec<&'a [u8]>,
}

impl GraphAdmin {
    /// `base_url` like `https://graph.facebook.com`, `version` like `v23.0`.
    pub fn new(base_url: &str, version: &str) -> anyhow::Result<GraphAdmin> {
        whatsapp_host::install_crypto_provider();
        let base = Url::parse(base_url)
            .map_err(|e| anyhow::anyhow!("the Graph base URL `{base_url}` is not a URL: {e}"))?;
        whatsapp_host::caps::allowlist::Origin::of(&base)
            .map_err(|e| anyhow::anyhow!("the Graph base URL `{base_url}`: {e}"))?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!(
                "whatsapp-connector-host/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()?;
        Ok(GraphAdmin {
            client,
            base_url: base_url.trim_end_matches('/').to_string(),
            version: version.to_string(),
        })
    }

    /// For the configured API (`[whatsapp] api_base_url`, `api_version`).
    pub fn from_settings(settings: &whatsapp_host::config::Settings) -> anyhow::Result<GraphAdmin> {
        GraphAdmin::new(
            &settings.whatsapp.api_base_url,
            &settings.whatsapp.api_version,
        )
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// `GET /{v}/debug_token?input_token=…` authorised by `auth` (the token
    /// itself, a system-user token or the app token).
    pub async fn debug_token(
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

    /// Exchanges an authorization code (reference §6, code exchange).
    pub async fn exchange_code(
        &self,
        app_id: &str,
        app_secret: &Secret,
        redirect_uri: &str,
        code: &Secret,
    ) -> Result<IssuedToken, AdminError> {
        let call = "oauth/access_token (code exchange)";
        let secret = text(app_secret).map_err(|r| unexpected_input(call, r))?;
        let code_text = text(code).map_err(|r| unexpected_input(call, r))?;
        let value = self
            .send(Call {
                name: call,
                method: reqwest::Method::GET,
                path: &["oauth", "access_token"],
                query: vec![
                    ("client_id", app_id),
                    ("redirect_uri", redirect_uri),
                    ("client_secret", secret),
                    ("code", code_text),
                ],
                bearer: None,
                secrets: vec![app_secret.expose(), code.expose()],
            })
            .await?;
        issued(call, &value)
    }

    /// Exchanges a short-lived user token for a long-lived one (`fb_exchange_token`).
    pub async fn exchange_long_lived(
        &self,
        app_id: &str,
        app_secret: &Secret,
        token: &Secret,
    ) -> Result<IssuedToken, AdminError> {
        let call = "oauth/access_token (long-lived exchange)";
        let secret = text(app_secret).map_err(|r| unexpected_input(call, r))?;
        let token_text = text(token).map_err(|r| unexpected_input(call, r))?;
        let value = self
            .send(Call {
                name: call,
                method: reqwest::Method::GET,
                path: &["oauth", "access_token"],
                query: vec![
                    ("grant_type", "fb_exchange_token"),
                    ("client_id", app_id),
                    ("client_secret", secret),
                    ("fb_exchange_token", token_text),
                ],
                bearer: None,
                secrets: vec![app_secret.expose(), token.expose()],
            })
            .await?;
        issued(call, &value)
    }

    /// `GET /{v}/{waba-id}?fields=id,name`.
    pub async fn waba(&self, token: &Secret, waba_id: &str) -> Result<Waba, AdminError> {
        let call = "WABA lookup";
        let value = self
            .send(Call {
                name: call,
                method: reqwest::Method::GET,
                path: &[waba_id],
                query: vec![("fields", "id,name")],
                bearer: Some(token),
                secrets: vec![token.expose()],
            })
            .await?;
        Ok(Waba {
            id: id_of(&value).ok_or_else(|| missing(call, "id"))?,
            name: value
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }

    /// Every phone number of a WABA (`/{waba-id}/phone_numbers`, all pages).
    pub async fn phone_numbers(
        &self,
        token: &Secret,
        waba_id: &str,
    ) -> Result<Vec<PhoneNumber>, AdminError> {
        let call = "phone_numbers";
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![
                (
                    "fields",
                    "id,display_phone_number,verified_name,status,quality_rating",
                ),
                ("limit", "100"),
            ];
            if let Some(a) = &after {
                query.push(("after", a.as_str()));
            }
            let value = self
                .send(Call {
                    name: call,
                    method: reqwest::Method::GET,
                    path: &[waba_id, "phone_numbers"],
                    query,
                    bearer: Some(token),
                    secrets: vec![token.expose()],
                })
                .await?;
            let data = value
                .get("data")
                .and_then(Value::as_array)
                .ok_or_else(|| missing(call, "data"))?;
            out.extend(data.iter().filter_map(PhoneNumber::from_json));
            // Cursors, never the `next` URL: a URL from the answer could point elsewhere.
            let has_next = value.pointer("/paging/next").is_some();
            let cursor = value
                .pointer("/paging/cursors/after")
                .and_then(Value::as_str)
                .map(str::to_string);
            match (has_next, cursor) {
                (true, Some(c)) if !data.is_empty() && Some(&c) != after.as_ref() => {
                    after = Some(c)
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// `GET /{v}/{phone-number-id}`.
    pub async fn phone_number(&self, token: &Secret, id: &str) -> Result<PhoneNumber, AdminError> {
        let call = "phone number lookup";
        let value = self
            .send(Call {
                name: call,
                method: reqwest::Method::GET,
                path: &[id],
                query: vec![(
                    "fields",
                    "id,display_phone_number,verified_name,status,quality_rating",
                )],
                bearer: Some(token),
                secrets: vec![token.expose()],
            })
            .await?;
        PhoneNumber::from_json(&value).ok_or_else(|| missing(call, "id"))
    }

    /// The apps subscribed to the WABA's webhooks (`GET /{waba-id}/subscribed_apps`).
    pub async fn subscribed_apps(
        &self,
        token: &Secret,
        waba_id: &str,
    ) -> Result<Vec<SubscribedApp>, AdminError> {
        let call = "subscribed_apps";
        let value = self
            .send(Call {
                name: call,
                method: reqwest::Method::GET,
                path: &[waba_id, "subscribed_apps"],
                query: vec![],
                bearer: Some(token),
                secrets: vec![token.expose()],
            })
            .await?;
        let data = value
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| missing(call, "data"))?;
        Ok(data
            .iter()
            .filter_map(|item| {
                // `{"whatsapp_business_api_data": {id, name, link}}`; older answers are flat.
                let app = item.get("whatsapp_business_api_data").unwrap_or(item);
                Some(SubscribedApp {
                    id: id_of(app)?,
                    name: app.get("name").and_then(Value::as_str).map(str::to_string),
                })
            })
            .collect())
    }

    /// Subscribes the token's app to the WABA's webhooks (`POST /{waba-id}/subscribed_apps`).
    pub async fn subscribe_app(&self, token: &Secret, waba_id: &str) -> Result<bool, AdminError> {
        let value = self
            .send(Call {
                name: "subscribed_apps (subscribe)",
                method: reqwest::Method::POST,
                path: &[waba_id, "subscribed_apps"],
                query: vec![],
                bearer: Some(token),
                secrets: vec![token.expose()],
            })
            .await?;
        Ok(value
            .get("success")
            .and_then(Value::as_bool)
            .unwrap_or(false))
    }

    async fn send(&self, call: Call<'_>) -> Result<Value, AdminError> {
        let name = call.name;
        let mut url = Url::parse(&self.base_url).map_err(|e| AdminError::Unexpected {
            call: name,
            status: 0,
            reason: format!("bad base URL: {e}"),
        })?;
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| AdminError::Unexpected {
                    call: name,
                    status: 0,
                    reason: "the base URL cannot carry a path".into(),
                })?;
            segments.pop_if_empty().push(&self.version);
            for s in call.path {
                segments.push(s);
            }
        }
        if !call.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(call.query.iter().copied());
        }
        // The URL may hold secrets (documented query parameters): it is held
        // in zeroized memory and never logged.
        let url = Zeroizing::new(String::from(url));
        let mut builder = self.client.request(call.method.clone(), url.as_str());
        if let Some(bearer) = call.bearer {
            let token = text(bearer).map_err(|r| unexpected_input(name, r))?;
            let header = Zeroizing::new(format!("Bearer {token}"));
            let mut value = reqwest::header::HeaderValue::from_str(&header).map_err(|_| {
                unexpected_input(name, "a secret cannot be sent in a header".into())
            })?;
            value.set_sensitive(true);
            builder = builder.header(reqwest::header::AUTHORIZATION, value);
        }
        tracing::debug!(call = name, "graph admin: request");
        let response = builder.send().await.map_err(|e| AdminError::Transport {
            call: name,
            base: self.base_url.clone(),
            reason: whatsapp_host::caps::http::describe_failure(&e),
        })?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        let mut response = response;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_BODY {
                        return Err(AdminError::Unexpected {
                            call: name,
                            status,
                            reason: format!("the answer is larger than {MAX_BODY} bytes"),
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(AdminError::Transport {
                        call: name,
                        base: self.base_url.clone(),
                        reason: whatsapp_host::caps::http::describe_failure(&e),
                    });
                }
            }
        }
        let body = Zeroizing::new(body);
        tracing::debug!(call = name, status, "graph admin: answer");
        let value: Value = serde_json::from_slice(&body).map_err(|_| AdminError::Unexpected {
            call: name,
            status,
            reason: "the answer is not JSON".into(),
        })?;
        if let Some(error) = value.get("error").filter(|e| e.is_object()) {
            let redact = |s: &str| redact(s, &call.secrets);
            return Err(AdminError::Graph {
                call: name,
                status,
                code: error.get("code").and_then(lenient_i64).unwrap_or(0),
                subcode: error.get("error_subcode").and_then(lenient_i64),
                message: redact(
                    error
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("(no message)"),
                ),
            });
        }
        if !(200..300).contains(&status) {
            return Err(AdminError::Unexpected {
                call: name,
                status,
                reason: "an error status without a Graph error body".into(),
            });
        }
        Ok(value)
    }
}

fn lenient_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn unexpected_input(call: &'static str, reason: String) -> AdminError {
    AdminError::Unexpected {
        call,
        status: 0,
        reason,
    }
}

fn missing(call: &'static str, field: &str) -> AdminError {
    AdminError::Unexpected {
        call,
        status: 200,
        reason: format!("no `{field}` in the answer"),
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
        expires_in: value.get("expires_in").and_then(|v| match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }),
    })
}

/// Replaces every occurrence of each secret in `text` by `<redacted>`.
pub fn redact(text: &str, secrets: &[&[u8]]) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        if let Ok(s) = std::str::from_utf8(secret)
            && s.len() >= 4
        {
            out = out.replace(s, "<redacted>");
        }
    }
    out
}

/// `2026-11-20 10:00 UTC` for unix seconds.
pub fn format_unix(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Seconds since the epoch, now.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn debug_token_answers_parse_with_zero_meaning_never_and_the_first_waba_first() {
        // Meta's documented example (reference §6), with expires_at 0.
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
    fn secrets_are_redacted_from_messages() {
        assert_eq!(
            redact("bad token EAAGsecret1 here", &[b"EAAGsecret1", b"x"]),
            "bad token <redacted> here"
        );
    }

    #[test]
    fn the_app_token_is_id_bar_secret_and_secrets_with_spaces_are_refused() {
        let t = app_token("123", &Secret::new("abc"));
        assert_eq!(t.expose(), b"123|abc");
        assert!(text(&Secret::new("a b")).is_err());
        assert!(text(&Secret::new("")).is_err());
        assert!(text(&Secret::new("EAAG-ok_1")).is_ok());
    }

    #[test]
    fn unix_times_format_as_utc_dates() {
        assert_eq!(format_unix(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_unix(1_762_250_400), "2025-11-04 10:00 UTC");
    }

    #[test]
    fn errors_never_carry_the_url() {
        let e = AdminError::Graph {
            call: "debug_token",
            status: 400,
            code: 190,
            subcode: Some(463),
            message: "expired".into(),
        };
        assert_eq!(
            e.to_string(),
            "debug_token: the Graph API answered with error 190 (subcode 463): expired"
        );
    }
}
