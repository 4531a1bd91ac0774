//! The process's metrics, exposed at `GET /metrics` in the Prometheus text
//! format (OpenMetrics flavour) by the `prometheus-client` crate.
//!
//! Events are counted as they happen into one process-wide set of families
//! (the gateway, the outbound HTTP capability, the MCP sessions and the
//! store record into it); values that are a state rather than an event
//! (queue depth, live instances, webhook counters the endpoint keeps) are
//! read at scrape time.
//!
//! This file imports nothing of the crate: everything records into it.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels<const N: usize> = [(&'static str, String); N];

/// Every event counter of the process.
pub(crate) struct Metrics {
    tool_calls: Family<Labels<3>, Counter>,
    call_seconds: Family<Labels<1>, Histogram, fn() -> Histogram>,
    denials: Family<Labels<1>, Counter>,
    graph_responses: Family<Labels<1>, Counter>,
    graph_errors: Family<Labels<2>, Counter>,
    store_errors: Counter,
    ingest_lock_wait: Histogram,
    sessions: AtomicI64,
}

fn call_buckets() -> Histogram {
    // 5 ms to ~20 s: a validation error to a slow Graph call near the deadline.
    Histogram::new(exponential_buckets(0.005, 2.0, 13))
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    tool_calls: Family::default(),
    call_seconds: Family::new_with_constructor(call_buckets),
    denials: Family::default(),
    graph_responses: Family::default(),
    graph_errors: Family::default(),
    store_errors: Counter::default(),
    // 1 ms to ~65 s: an uncontended lock to one held for its whole ttl.
    ingest_lock_wait: Histogram::new(exponential_buckets(0.001, 2.0, 17)),
    sessions: AtomicI64::new(0),
});

/// The process's metrics.
pub(crate) fn global() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    /// One finished tool call with its `outcome` (`ok`, `denied`, or the
    /// error's kind) and, for a Graph error, its HTTP status and Meta code.
    pub(crate) fn tool_call(
        &self,
        call: [&str; 2],
        outcome: String,
        graph_error: Option<(Option<u16>, i64)>,
        took: Duration,
    ) {
        let [app, tool] = call;
        self.tool_calls
            .get_or_create(&[
                ("tool", tool.to_string()),
                ("app", app.to_string()),
                ("outcome", outcome),
            ])
            .inc();
        self.call_seconds
            .get_or_create(&[("tool", tool.to_string())])
            .observe(took.as_secs_f64());
        if let Some((status, code)) = graph_error {
            let status = status.map_or_else(String::new, |s| s.to_string());
            self.graph_errors
                .get_or_create(&[("status", status), ("code", code.to_string())])
                .inc();
        }
    }

    /// A call the policy refused under rule `rule`.
    pub(crate) fn policy_denial(&self, rule: &str) {
        self.denials
            .get_or_create(&[("rule", rule.to_string())])
            .inc();
    }

    /// A response the component's outbound HTTP received.
    pub(crate) fn graph_response(&self, status: u16) {
        self.graph_responses
            .get_or_create(&[("status", status.to_string())])
            .inc();
    }

    /// A read or write of the store that failed.
    pub(crate) fn store_error(&self) {
        self.store_errors.inc();
    }

    /// The time one webhook ingest waited for the replicas' ingest lock (Redis only).
    pub(crate) fn ingest_lock_wait(&self, waited: Duration) {
        self.ingest_lock_wait.observe(waited.as_secs_f64());
    }

    /// An MCP session opened (`+1`) or ended (`-1`).
    pub(crate) fn session_change(&self, delta: i64) {
        self.sessions.fetch_add(delta, Ordering::Relaxed);
    }
}

/// Values read at scrape time.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) live_instances: u64,
    pub(crate) queue_depth: Option<u64>,
    pub(crate) oldest_queued_seconds: Option<f64>,
    pub(crate) webhooks: Option<WebhookCounts>,
}

/// The webhook endpoint's counters since start.
#[derive(Debug, Default)]
pub(crate) struct WebhookCounts {
    pub(crate) accepted: u64,
    pub(crate) rejected: u64,
    pub(crate) ingested: u64,
    pub(crate) retries: u64,
    pub(crate) dead_lettered: u64,
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        gauge(
            &mut encoder,
            "whatsapp_instances_live",
            "component instances running now (tool calls and webhook ingests)",
            self.live_instances as i64,
        )?;
        gauge(
            &mut encoder,
            "whatsapp_mcp_sessions_live",
            "2025-11-25 MCP sessions open over HTTP",
            global().sessions.load(Ordering::Relaxed),
        )?;
        if let Some(depth) = self.queue_depth {
            gauge(
                &mut encoder,
                "whatsapp_webhook_queue_depth",
                "acknowledged webhook deliveries not yet applied",
                depth as i64,
            )?;
            let age = ConstGauge::new(self.oldest_queued_seconds.unwrap_or(0.0));
            let m = encoder.encode_descriptor(
                "whatsapp_webhook_queue_oldest_age_seconds",
                "age of the oldest delivery waiting in the queue (0 when empty)",
                None,
                age.metric_type(),
            )?;
            age.encode(m)?;
        }
        if let Some(stats) = &self.webhooks {
            let deliveries = ConstCounter::new(0u64);
            let mut m = encoder.encode_descriptor(
                "whatsapp_webhook_deliveries",
                "webhook requests by result: accepted (stored, 200) or rejected (bad signature, token, method or size)",
                None,
                deliveries.metric_type(),
            )?;
            for (result, n) in [("accepted", stats.accepted), ("rejected", stats.rejected)] {
                ConstCounter::new(n).encode(m.encode_family(&[("result", result)])?)?;
            }
            let mut m = encoder.encode_descriptor(
                "whatsapp_webhook_ingests",
                "queued deliveries handed to the component, by result",
                None,
                deliveries.metric_type(),
            )?;
            for (result, n) in [
                ("applied", stats.ingested),
                ("retried", stats.retries),
                ("dead_lettered", stats.dead_lettered),
            ] {
                ConstCounter::new(n).encode(m.encode_family(&[("result", result)])?)?;
            }
        }
        Ok(())
    }
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(value);
    let m = encoder.encode_descriptor(name, help, None, g.metric_type())?;
    g.encode(m)
}

/// The exposition: the event counters plus `snapshot`.
pub(crate) fn render(snapshot: Snapshot) -> String {
    let m = global();
    let mut registry = Registry::default();
    registry.register(
        "whatsapp_tool_calls",
        "tool calls by tool, app and outcome (ok, denied, or the error kind)",
        m.tool_calls.clone(),
    );
    registry.register(
        "whatsapp_tool_call_duration_seconds",
        "time from the gateway taking a call to its answer",
        m.call_seconds.clone(),
    );
    registry.register(
        "whatsapp_policy_denials",
        "calls the policy refused, by rule id",
        m.denials.clone(),
    );
    registry.register(
        "whatsapp_graph_responses",
        "responses to the component's outbound HTTP requests, by status",
        m.graph_responses.clone(),
    );
    registry.register(
        "whatsapp_graph_errors",
        "tool calls that ended in a Graph API error, by HTTP status and Meta error code",
        m.graph_errors.clone(),
    );
    registry.register(
        "whatsapp_store_errors",
        "state store reads and writes that failed",
        m.store_errors.clone(),
    );
    registry.register(
        "whatsapp_webhook_ingest_lock_wait_seconds",
        "time each webhook ingest waited for the ingest lock the replicas on one Redis share",
        m.ingest_lock_wait.clone(),
    );
    registry.register_collector(Box::new(snapshot));
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}
