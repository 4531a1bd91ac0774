//! The JSON form of a fault, as `POST /_sandbox/faults` takes it.

use std::time::Duration;

use serde::Deserialize;

use crate::model::faults::{Fault, FaultKind};

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
