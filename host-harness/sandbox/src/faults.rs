//! Injected faults: what a flaky network, a proxy or an overloaded Meta can do to a request.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use serde::Deserialize;

use super::error::GraphError;

/// A fault applied to the next `times` Graph requests whose path contains `path_contains`
/// (any Graph request when `None`). Control endpoints are never faulted. A faulted request is
/// still recorded in `requests()`.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub path_contains: Option<String>,
    /// How many requests it applies to (default 1; 0 is treated as 1).
    pub times: u32,
    pub kind: FaultKind,
}

impl Fault {
    /// A fault for the next Graph request, whatever its path.
    pub fn new(kind: FaultKind) -> Fault {
        Fault {
            path_contains: None,
            times: 1,
            kind,
        }
    }

    /// Only requests whose path contains `s`.
    pub fn on_path(mut self, s: impl Into<String>) -> Fault {
        self.path_contains = Some(s.into());
        self
    }

    pub fn times(mut self, times: u32) -> Fault {
        self.times = times;
        self
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// Answer with this status, body and content type (e.g. a proxy's HTML 502). The request is
    /// not processed.
    Status {
        status: u16,
        body: String,
        content_type: String,
    },
    /// Answer with a Graph error JSON. The request is not processed.
    GraphError {
        code: i64,
        http_status: u16,
        message: String,
        is_transient: Option<bool>,
    },
    /// Wait, then process and answer normally.
    Latency(Duration),
    /// 200 with a truncated JSON body. The request is not processed.
    MalformedJson,
    /// Close the TCP connection without writing any response. The request is not processed.
    DropConnection,
    /// Process normally, send the headers at once, then the body in 16-byte chunks, each after
    /// `chunk_delay`.
    SlowBody { chunk_delay: Duration },
    /// 200 with a JSON body of exactly `bytes` bytes (when `bytes` ≥ 23; padding otherwise).
    /// The request is not processed.
    OversizedBody { bytes: usize },
}

/// The JSON form accepted by `POST /_sandbox/faults`, e.g.
/// `{"path_contains": "/messages", "times": 2, "kind": {"type": "latency", "ms": 1500}}`.
/// Kinds: `status {status, body, content_type}`, `graph_error {code, http_status, message,
/// is_transient?}`, `latency {ms}`, `malformed_json`, `drop_connection`,
/// `slow_body {chunk_delay_ms}`, `oversized_body {bytes}`.
#[derive(Deserialize)]
pub(crate) struct FaultWire {
    #[serde(default)]
    path_contains: Option<String>,
    #[serde(default = "one")]
    times: u32,
    kind: FaultKindWire,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum FaultKindWire {
    Status {
        status: u16,
        #[serde(default)]
        body: String,
        #[serde(default = "text_plain")]
        content_type: String,
    },
    GraphError {
        code: i64,
        #[serde(default = "http_400")]
        http_status: u16,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        is_transient: Option<bool>,
    },
    Latency {
        ms: u64,
    },
    MalformedJson,
    DropConnection,
    SlowBody {
        chunk_delay_ms: u64,
    },
    OversizedBody {
        bytes: usize,
    },
}

fn text_plain() -> String {
    "text/plain".to_string()
}

fn http_400() -> u16 {
    400
}

impl From<FaultWire> for Fault {
    fn from(w: FaultWire) -> Fault {
        let kind = match w.kind {
            FaultKindWire::Status {
                status,
                body,
                content_type,
            } => FaultKind::Status {
                status,
                body,
                content_type,
            },
            FaultKindWire::GraphError {
                code,
                http_status,
                message,
                is_transient,
            } => FaultKind::GraphError {
                code,
                http_status,
                message: message.unwrap_or_else(|| format!("(#{code}) Sandbox injected error")),
                is_transient,
            },
            FaultKindWire::Latency { ms } => FaultKind::Latency(Duration::from_millis(ms)),
            FaultKindWire::MalformedJson => FaultKind::MalformedJson,
            FaultKindWire::DropConnection => FaultKind::DropConnection,
            FaultKindWire::SlowBody { chunk_delay_ms } => FaultKind::SlowBody {
                chunk_delay: Duration::from_millis(chunk_delay_ms),
            },
            FaultKindWire::OversizedBody { bytes } => FaultKind::OversizedBody { bytes },
        };
        Fault {
            path_contains: w.path_contains,
            times: w.times,
            kind,
        }
    }
}

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
