//! The OAuth endpoints that authorise themselves: `oauth/access_token` (code exchange,
//! `fb_exchange_token`, `client_credentials`) and `debug_token`, which accepts as authorisation
//! any valid token or the app token `{app-id}|{app-secret}` (an unknown input token is
//! `is_valid: false` with error 190).
//! https://developers.facebook.com/docs/facebook-login/guides/access-tokens/debugging-and-error-handling

use std::time::SystemTime;

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::request::GraphRequest;
use crate::config::{SCOPE_MANAGEMENT, SCOPE_MESSAGING};
use crate::graph_error::{GraphError, GraphResult};
use crate::model::tokens::{TokenKind, oauth_error};
use crate::model::world::World;
use crate::util;

/// `oauth/access_token` and `debug_token`, which authorise themselves. `None` for other paths.
pub(crate) fn dispatch(
    world: &World,
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
            Some(access_token(world, req))
        }
        [a] if a == "debug_token" && m == Method::GET => Some(debug_token(world, req, token)),
        _ => None,
    }
}

fn access_token(world: &World, req: &GraphRequest) -> GraphResult<Value> {
    let params = req.params()?;
    let get = |k: &str| {
        params
            .get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let cfg = &world.cfg;
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
            let (token, expires_in) = world
                .tokens
                .exchange_long_lived(short, world.token_expired())?;
            Ok(json!({"access_token": token, "token_type": "bearer", "expires_in": expires_in}))
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
            let (token, expires_in) = world.tokens.exchange_code(
                code,
                client_id,
                redirect_uri,
                cfg.oauth.code_lifetime,
            )?;
            Ok(json!({"access_token": token, "token_type": "bearer", "expires_in": expires_in}))
        }
    }
}

fn debug_token(world: &World, req: &GraphRequest, auth: Option<&str>) -> GraphResult<Value> {
    let cfg = &world.cfg;
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
        let record = world
            .tokens
            .token(auth)
            .ok_or_else(GraphError::invalid_token)?;
        if record.expired(now) || world.token_expired() {
            return Err(GraphError::expired_token(SystemTime::now()));
        }
    }
    let Some(input) = req.query("input_token").filter(|t| !t.is_empty()) else {
        return Err(GraphError::required_param("input_token"));
    };
    let Some(record) = world.tokens.token(input) else {
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
    let expired = record.expired(now) || world.token_expired();
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
