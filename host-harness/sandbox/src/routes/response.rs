//! Graph's responses: JSON with Graph's headers, errors with `WWW-Authenticate` on 401, and a
//! plain-text answer for what never reaches Graph.

use axum::body::Body;
use http::{HeaderValue, Response, StatusCode, header};
use serde_json::Value;

use crate::graph_error::GraphError;
use crate::util;

fn base_headers(resp: &mut Response<Body>, version: Option<&str>) {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache, no-store, must-revalidate"),
    );
    if let Some(v) = version.and_then(|v| HeaderValue::from_str(v).ok()) {
        h.insert("facebook-api-version", v);
    }
    if let Ok(v) = HeaderValue::from_str(&util::fbtrace_id()) {
        h.insert("x-fb-trace-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&util::fbtrace_id()) {
        h.insert("x-fb-request-id", v);
    }
}

pub(crate) fn json_response(
    status: StatusCode,
    value: &Value,
    version: Option<&str>,
) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    base_headers(&mut resp, version);
    resp
}

pub(crate) fn error_response(e: &GraphError, version: Option<&str>) -> Response<Body> {
    let mut resp = json_response(e.http, &e.to_json(), version);
    if let Some(v) = e
        .business_usage
        .as_deref()
        .and_then(|u| HeaderValue::from_str(u).ok())
    {
        resp.headers_mut().insert("x-business-use-case-usage", v);
    }
    if e.http == StatusCode::UNAUTHORIZED {
        // Graph names the problem in WWW-Authenticate too.
        let v = format!(
            "OAuth \"Facebook Platform\" \"invalid_token\" \"{}\"",
            e.message.replace('"', "'")
        );
        if let Ok(v) = HeaderValue::from_str(&v) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    resp
}

pub(crate) fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut resp = Response::new(Body::from(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}
