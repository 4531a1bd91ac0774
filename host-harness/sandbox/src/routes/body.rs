//! Reading a request body under a cap without breaking the connection.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;

/// Past this many body bytes we stop reading and close; below it an oversized body is drained
/// so the client can read our 413 instead of a reset.
const DRAIN_CAP: usize = 64 * 1024 * 1024;

pub(crate) enum BodyRead {
    Complete(Bytes),
    TooLarge,
    Broken,
}

pub(crate) async fn read_body(mut body: Incoming, max: usize, declared: Option<u64>) -> BodyRead {
    let drain_cap = DRAIN_CAP.max(max);
    if declared.is_some_and(|n| n > drain_cap as u64) {
        return BodyRead::TooLarge;
    }
    let mut buf = BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return BodyRead::Broken;
        };
        if let Ok(data) = frame.into_data() {
            total = total.saturating_add(data.len());
            if total <= max {
                buf.extend_from_slice(&data);
            } else if total > drain_cap {
                return BodyRead::TooLarge;
            }
        }
    }
    if total > max {
        BodyRead::TooLarge
    } else {
        BodyRead::Complete(buf.freeze())
    }
}
