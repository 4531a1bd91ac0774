//! The process's log: stderr only (stdout belongs to MCP stdio), every line
//! with its phone numbers masked and message ids hidden, and no request
//! bodies unless asked for.
//!
//! - Each event is formatted whole, then passed through
//!   [`redact::scrub`] before it reaches stderr, whatever crate logged it
//!   and at whatever level.
//! - Crates that log requests and responses with their contents at `debug`
//!   and `trace` (rmcp logs every JSON-RPC message, arguments included;
//!   the HTTP stacks log frames and headers) are held to `info`, whatever
//!   the filter says, unless `--log-bodies` is given.

use std::io::Write as _;

use tracing::Level;
use tracing_subscriber::Layer as _;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use whatsapp_host::redact;

/// Targets whose `debug`/`trace` events carry requests, responses or headers.
const BODY_LOGGING_TARGETS: [&str; 7] = [
    "rmcp",
    "h2",
    "hyper",
    "hyper_util",
    "reqwest",
    "tower_http",
    "axum",
];

/// Whether an event of `target` at `level` may be written (without `--log-bodies`).
pub fn allowed_without_bodies(target: &str, level: &Level) -> bool {
    let logs_bodies = BODY_LOGGING_TARGETS.iter().any(|t| {
        target
            .strip_prefix(t)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    });
    !logs_bodies || *level <= Level::INFO
}

/// Installs the stderr log with `filter` (an `EnvFilter` directive list;
/// `warn` if it does not parse); `log_bodies` lifts the cap on the crates
/// that log requests.
pub fn init(filter: &str, log_bodies: bool) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let cap = tracing_subscriber::filter::filter_fn(move |meta| {
        log_bodies || allowed_without_bodies(meta.target(), meta.level())
    });
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(ScrubbedStderr)
        .with_filter(cap);
    tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .init();
}

/// Hands each event a buffer that goes to stderr, scrubbed, when dropped.
pub struct ScrubbedStderr;

impl<'a> MakeWriter<'a> for ScrubbedStderr {
    type Writer = ScrubbedLine;

    fn make_writer(&'a self) -> ScrubbedLine {
        ScrubbedLine(Vec::new())
    }
}

/// One event's text, written to stderr scrubbed when dropped.
pub struct ScrubbedLine(Vec<u8>);

impl std::io::Write for ScrubbedLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for ScrubbedLine {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.0);
        let _ = std::io::stderr()
            .lock()
            .write_all(redact::scrub(&text).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_logging_crates_are_held_to_info_and_others_are_not() {
        assert!(!allowed_without_bodies("rmcp::service", &Level::DEBUG));
        assert!(!allowed_without_bodies("rmcp", &Level::TRACE));
        assert!(!allowed_without_bodies("hyper::proto::h1", &Level::TRACE));
        assert!(allowed_without_bodies("rmcp::service", &Level::INFO));
        assert!(allowed_without_bodies("rmcp", &Level::WARN));
        assert!(allowed_without_bodies("rmcpx", &Level::DEBUG));
        assert!(allowed_without_bodies(
            "whatsapp_host::gateway",
            &Level::TRACE
        ));
    }
}
