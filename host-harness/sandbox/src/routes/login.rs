//! The Facebook Login dialog, `GET /{v}/dialog/oauth`: it answers a browser with a redirect or
//! an HTML page, never Graph JSON.
//! https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow
//!
//! Documented choices (where Meta leaves room):
//! - The dialog never shows a page: it redirects at once, approving or denying as
//!   `OAuthConfig::consent` says. A denial carries `error=access_denied`,
//!   `error_reason=user_denied`, `error_description=Permissions error` and the `state`.
//! - Redirect URIs: with `redirect_uris` empty any loopback `http` URL is accepted (what a
//!   development-mode app allows for `localhost`); otherwise the URI must be one of them exactly.
//!   A bad client id, redirect URI, scope or configuration id gets an HTML error page (HTTP 400),
//!   never a redirect, as Facebook does.

use axum::body::Body;
use http::{HeaderValue, Method, Response, StatusCode, header};

use crate::config::{Consent, SCOPE_MANAGEMENT, SCOPE_MESSAGING};
use crate::model::world::World;
use crate::util;

/// Scopes the dialog knows; anything else is "Invalid Scopes".
const KNOWN_SCOPES: &[&str] = &[
    SCOPE_MANAGEMENT,
    SCOPE_MESSAGING,
    "business_management",
    "public_profile",
    "email",
];

/// `GET /{v}/dialog/oauth` (and `/dialog/oauth`): the consent "dialog". `None` for other paths.
pub(crate) fn dialog(
    world: &World,
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
    let get = |k: &str| util::last_value(&params, k);
    let cfg = &world.cfg.oauth;
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
                let code = world.tokens.issue_code(&cfg.app_id, redirect, granted);
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

#[cfg(test)]
mod unit {
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
}
