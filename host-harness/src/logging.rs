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

/// `--log sandbox`: the sandbox's own target at `info`, where it logs what a
/// client needs to reach it (base URL, ids, token).
const SANDBOX_ALIAS: (&str, &str) = ("sandbox", "whatsapp_sandbox=info");

/// The log level for everything a filter names no level for.
const DEFAULT_LEVEL: &str = "warn";

/// `filter` with its shorthands spelled out as `EnvFilter` directives:
/// `sandbox` becomes `whatsapp_sandbox=info` (no crate has the target
/// `sandbox`, so it would filter nothing). A filter of shorthands alone keeps
/// the default level for the rest, so warnings still show.
pub fn expand_filter(filter: &str) -> String {
    let (alias, expansion) = SANDBOX_ALIAS;
    let mut has_alias = false;
    let mut has_level = false;
    let directives: Vec<&str> = filter
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            if d.eq_ignore_ascii_case(alias) {
                has_alias = true;
                expansion
            } else {
                has_level |= d.parse::<tracing_subscriber::filter::LevelFilter>().is_ok();
                d
            }
        })
        .collect();
    if has_alias && !has_level {
        std::iter::once(DEFAULT_LEVEL)
            .chain(directives)
            .collect::<Vec<_>>()
            .join(",")
    } else {
        directives.join(",")
    }
}

/// The `EnvFilter` for `filter` (shorthands expanded; `warn` if it does not parse).
fn env_filter(filter: &str) -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_new(expand_filter(filter))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LEVEL))
}

/// Installs the stderr log with `filter` (an `EnvFilter` directive list, or
/// a shorthand [`expand_filter`] knows; `warn` if it does not parse);
/// `log_bodies` lifts the cap on the crates that log requests.
pub fn init(filter: &str, log_bodies: bool) {
    let filter = env_filter(filter);
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

    #[test]
    fn the_sandbox_shorthand_names_the_sandbox_crate_s_target_and_keeps_warnings() {
        assert_eq!(expand_filter("sandbox"), "warn,whatsapp_sandbox=info");
        assert_eq!(expand_filter(" Sandbox "), "warn,whatsapp_sandbox=info");
        assert_eq!(
            expand_filter("debug,sandbox"),
            "debug,whatsapp_sandbox=info"
        );
        assert_eq!(
            expand_filter("host_harness=debug,sandbox"),
            "warn,host_harness=debug,whatsapp_sandbox=info"
        );
        assert_eq!(expand_filter("info"), "info");
        assert_eq!(expand_filter("host_harness=debug"), "host_harness=debug");
    }

    /// The targets of the events a subscriber with `filter` lets through.
    fn targets_logged(filter: &str, emit: impl FnOnce()) -> Vec<String> {
        use std::sync::{Arc, Mutex};

        struct Record(Arc<Mutex<Vec<String>>>);
        impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Record {
            fn on_event(
                &self,
                event: &tracing::Event<'_>,
                _: tracing_subscriber::layer::Context<'_, S>,
            ) {
                let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
                seen.push(event.metadata().target().to_owned());
            }
        }
        let seen = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry()
            .with(env_filter(filter))
            .with(Record(seen.clone()));
        tracing::subscriber::with_default(subscriber, emit);
        let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.clone()
    }

    #[test]
    fn log_sandbox_lets_the_sandbox_s_connection_details_through() {
        let seen = targets_logged("sandbox", || {
            tracing::info!(target: "whatsapp_sandbox::sandbox", "sandbox running");
            tracing::debug!(target: "whatsapp_sandbox::routes", "a request");
            tracing::info!(target: "whatsapp_host::gateway", "chatter");
            tracing::warn!(target: "whatsapp_host::gateway", "a warning");
        });
        assert_eq!(
            seen,
            ["whatsapp_sandbox::sandbox", "whatsapp_host::gateway"],
            "the sandbox at info and warnings from the rest"
        );
    }
}
