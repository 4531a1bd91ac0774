//! Injected faults: what a flaky network, a proxy or an overloaded Meta can do to a request.
//! The model keeps the queue (`World::take_fault`); `routes::faults` carries them out.

use std::time::Duration;

/// A fault applied to the next `times` Graph requests whose path contains `path_contains`
/// (any Graph request when `None`). Control endpoints are never faulted. A faulted request is
/// still recorded in `requests()`.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// Only requests whose path contains this (any Graph request when `None`).
    pub path_contains: Option<String>,
    /// How many requests it applies to (default 1; 0 is treated as 1).
    pub times: u32,
    /// What happens to a matching request.
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

    /// Applies to the next `times` matching requests.
    pub fn times(mut self, times: u32) -> Fault {
        self.times = times;
        self
    }
}

/// What a fault does to a request.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// Answer with this status, body and content type (e.g. a proxy's HTML 502). The request is
    /// not processed.
    Status {
        /// The HTTP status (outside 200..=599: 502).
        status: u16,
        /// The body, sent as is.
        body: String,
        /// The `content-type` header.
        content_type: String,
    },
    /// Answer with a Graph error JSON. The request is not processed.
    GraphError {
        /// The Graph error code.
        code: i64,
        /// The HTTP status (outside 200..=599: 502).
        http_status: u16,
        /// The error message (also its `error_data.details`).
        message: String,
        /// `is_transient`, when set.
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
    SlowBody {
        /// The wait before each chunk.
        chunk_delay: Duration,
    },
    /// 200 with a JSON body of exactly `bytes` bytes (when `bytes` ≥ 23; padding otherwise).
    /// The request is not processed.
    OversizedBody {
        /// The body length.
        bytes: usize,
    },
}
