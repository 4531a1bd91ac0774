//! How an injected fault is carried out on the wire: a foreign status, a broken or endless
//! body, a trickle.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use crate::graph_error::GraphError;

/// Statuses outside 200..=599 would confuse HTTP clients in ways no real server does.
fn fault_status(status: u16) -> StatusCode {
    match StatusCode::from_u16(status) {
        Ok(s) if (200..=599).contains(&status) => s,
        _ => StatusCode::BAD_GATEWAY,
    }
}

pub(crate) fn status_response(status: u16, body: &str, content_type: &str) -> Response<Body> {
    let mut resp = Response::new(Body::from(body.to_owned()));
    *resp.status_mut() = fault_status(status);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}

pub(crate) fn graph_error(
    code: i64,
    http_status: u16,
    message: &str,
    is_transient: Option<bool>,
) -> GraphError {
    GraphError::new(fault_status(http_status), code, message.to_owned())
        .details(message.to_owned())
        .maybe_transient(is_transient)
}

pub(crate) fn malformed_json_response() -> Response<Body> {
    // What a connection cut mid-body or a broken proxy leaves: a JSON prefix that never ends.
    let mut resp = Response::new(Body::from(
        r#"{"messaging_product":"whatsapp","contacts":[{"input":"165"#,
    ));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    resp
}

const SLOW_CHUNK: usize = 16;

/// Re-sends an already built response with its body trickling out.
pub(crate) async fn slow_body(resp: Response<Body>, chunk_delay: Duration) -> Response<Body> {
    let (mut parts, body) = resp.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(_) => Bytes::new(),
    };
    // The length is known, so announce it: clients then wait for the whole slow body.
    parts.headers.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(bytes.len() as u64),
    );
    let stream = futures_util::stream::unfold(bytes, move |rest| async move {
        if rest.is_empty() {
            return None;
        }
        tokio::time::sleep(chunk_delay).await;
        let mut rest = rest;
        let chunk = rest.split_to(rest.len().min(SLOW_CHUNK));
        Some((Ok::<Bytes, Infallible>(chunk), rest))
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

const BIG_CHUNK: usize = 64 * 1024;

/// A 200 whose JSON body is exactly `bytes` long: `{"data":[],"padding":"xxx…"}`.
pub(crate) fn oversized_response(bytes: usize) -> Response<Body> {
    let prefix: &'static [u8] = br#"{"data":[],"padding":""#;
    let suffix: &'static [u8] = br#""}"#;
    let overhead = prefix.len() + suffix.len();
    // (bytes already sent, total)
    let stream = futures_util::stream::unfold(0usize, move |sent| async move {
        if sent >= bytes {
            return None;
        }
        let n = (bytes - sent).min(BIG_CHUNK);
        let mut chunk = vec![if bytes < overhead { b' ' } else { b'x' }; n];
        if bytes >= overhead {
            // The parts of the prefix and suffix that fall inside this chunk.
            let end = sent + n;
            if sent < prefix.len() {
                let upto = end.min(prefix.len());
                chunk[..upto - sent].copy_from_slice(&prefix[sent..upto]);
            }
            let suffix_start = bytes - suffix.len();
            if end > suffix_start {
                let from = suffix_start.max(sent);
                chunk[from - sent..]
                    .copy_from_slice(&suffix[from - suffix_start..end - suffix_start]);
            }
        }
        Some((Ok::<Bytes, Infallible>(Bytes::from(chunk)), sent + n))
    });
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes as u64));
    resp
}

#[cfg(test)]
mod unit {
    use super::*;

    #[tokio::test]
    async fn oversized_bodies_are_exact_json_at_every_chunk_boundary() {
        for bytes in [
            0,
            5,
            24,
            25,
            BIG_CHUNK - 1,
            BIG_CHUNK,
            BIG_CHUNK + 1,
            BIG_CHUNK + 2,
            2 * BIG_CHUNK + 1,
        ] {
            let resp = oversized_response(bytes);
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap();
            assert_eq!(body.len(), bytes);
            if bytes >= 25 {
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(v["data"], serde_json::json!([]));
            }
        }
    }
}
