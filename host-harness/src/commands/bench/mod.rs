//! `host-harness bench`: the figures that show whether the host is ever the
//! bottleneck, all against the sandbox on loopback. Run a release build:
//! `cargo run --release -p host-harness -- bench`.
//!
//! 1. Host overhead per tool call: a fresh isolated instance per call
//!    (store, instantiate, call, drop) for a tool that makes no request.
//! 2. Cold start: compiling the component vs loading the cached artifact.
//! 3. `whatsapp_send_message` through the MCP HTTP transport at 1, 16 and 64
//!    concurrent clients, next to a native Rust client sending the same
//!    request straight to the sandbox in the same run.
//! 4. Component size and resident memory per live instance.
//! 5. `tools/list` in-process.
//! 6. Resident memory with 1,000 live MCP sessions, and the cost of
//!    `initialize` calls refused past the session cap.
//! 7. and 8. Floods (`floods`): the CPU cost of refused webhooks, and calls
//!    served to one app while another holds its full concurrency.
//!
//! The last line of output is one JSON object with the headline figures.

mod floods;
pub mod mcp;
mod sessions;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};

use self::mcp::Latency;
use whatsapp_host::Connector;
use whatsapp_host::config::{EnvSecrets, Settings};
use whatsapp_host::mcp::{McpServer, http_config, router};
use whatsapp_host::runtime::testing::load_component;
use whatsapp_host::runtime::{ComponentSource, Limits};
use whatsapp_sandbox::{Fault, FaultKind, Sandbox, SandboxConfig};

/// How much work each measurement does.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BenchOptions {
    overhead_calls: usize,
    load_rounds: usize,
    throughput_window: Duration,
    live_instances: usize,
    tools_list_requests: usize,
    live_sessions: usize,
    webhook_flood_requests: usize,
}

impl BenchOptions {
    /// Every measurement at full size (a few minutes in a release build).
    pub(crate) fn full() -> BenchOptions {
        BenchOptions {
            overhead_calls: 5_000,
            load_rounds: 5,
            throughput_window: Duration::from_secs(3),
            live_instances: 500,
            tools_list_requests: 20_000,
            live_sessions: 1_000,
            webhook_flood_requests: 1_000,
        }
    }

    /// A smoke run: every measurement, little work (for CI).
    pub(crate) fn quick() -> BenchOptions {
        BenchOptions {
            overhead_calls: 200,
            load_rounds: 1,
            throughput_window: Duration::from_millis(300),
            live_instances: 50,
            tools_list_requests: 500,
            live_sessions: 100,
            webhook_flood_requests: 50,
        }
    }
}

const CONCURRENCY: [usize; 3] = [1, 16, 64];
const RECIPIENTS: usize = 64;
/// A fast real Cloud API: send latencies of 100-300 ms are typical.
const UPSTREAM_LATENCY: Duration = Duration::from_millis(100);

/// One row of the throughput table.
#[derive(Clone, Copy, Debug)]
struct Throughput {
    requests_per_second: f64,
    latency: Latency,
}

/// Runs every measurement, printing as it goes; returns the summary JSON.
pub(crate) async fn run(
    component: ComponentSource,
    options: BenchOptions,
) -> anyhow::Result<Value> {
    if cfg!(debug_assertions) {
        println!(
            "note: this is a debug build; use `cargo run --release -p host-harness -- bench` for real figures"
        );
    }
    let machine = machine_description();
    println!("machine: {machine}");

    let sandbox = Sandbox::start(SandboxConfig {
        throughput_per_second: None,
        pair_limit: None,
        approval_delay: Duration::ZERO,
        ..SandboxConfig::default()
    })
    .await?;
    let recipients: Vec<String> = (0..RECIPIENTS).map(|i| format!("+1650555{i:04}")).collect();
    for r in &recipients {
        sandbox.simulate_inbound(r, "hi");
    }
    let state_dir = tempfile::tempdir()?;
    let mut settings = Settings::default();
    let mut secrets = EnvSecrets::default();
    settings.point_at(super::sandbox::endpoint::endpoint(&sandbox), &mut secrets);
    // Durable state on disk, as in production.
    settings.state.url = state_dir.path().join("state.redb").display().to_string();
    settings.runtime.max_instances = 1_024;
    let harness = Connector::builder(settings.clone())
        .secrets(secrets)
        .component(component.clone())
        .build()
        .await?;
    let runtime = harness.runtime().clone();

    // 1. Overhead per call.
    let sent = runtime
        .call_tool(
            "whatsapp_send_message",
            &json!({"to": recipients[0], "text": "warm-up"}).to_string(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("warm-up send failed: {e}"))?;
    let status_args = json!({"message_id": sent["message_id"]}).to_string();
    let mut samples = Vec::with_capacity(options.overhead_calls);
    for i in 0..options.overhead_calls + 50 {
        let started = Instant::now();
        runtime
            .call_tool("whatsapp_get_message_status", &status_args)
            .await
            .map_err(|e| anyhow::anyhow!("status lookup failed: {e}"))?;
        if i >= 50 {
            samples.push(started.elapsed());
        }
    }
    let overhead = Latency::from_samples(samples);
    println!(
        "\n1. host overhead per call (fresh instance, whatsapp_get_message_status, no network)"
    );
    println!("   {overhead}");

    // 2. Cold start.
    let bytes = component.bytes()?;
    let limits = Limits::default();
    let cache_dir = tempfile::tempdir()?;
    let mut compile = Vec::new();
    let mut cached = Vec::new();
    for _ in 0..options.load_rounds {
        compile.push(load_component(&limits, &bytes, None)?.load_time);
    }
    load_component(&limits, &bytes, Some(cache_dir.path()))?;
    for _ in 0..options.load_rounds.max(3) {
        let report = load_component(&limits, &bytes, Some(cache_dir.path()))?;
        anyhow::ensure!(!report.compiled, "the cached artifact was not used");
        cached.push(report.load_time);
    }
    let cold_compile = median(&mut compile);
    let cold_cached = median(&mut cached);
    println!("\n2. cold start");
    println!(
        "   compile the component:        {:>8.2} ms",
        ms(cold_compile)
    );
    println!(
        "   load the cached artifact:     {:>8.2} ms",
        ms(cold_cached)
    );

    // 3. Throughput: MCP over HTTP vs a native client straight to the sandbox.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mcp_addr = listener.local_addr()?;
    let router = router(
        McpServer::new(runtime.clone()),
        http_config(mcp_addr, &Default::default()),
    );
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let mcp_url = format!("http://{mcp_addr}/mcp");
    let native_url = format!(
        "{}/v23.0/{}/messages",
        sandbox.base_url(),
        sandbox.config().phone_number_id
    );
    let token = sandbox.config().access_token.clone();
    let recipients = Arc::new(recipients);
    println!(
        "\n3. whatsapp_send_message throughput, {} s per level",
        options.throughput_window.as_secs_f64()
    );
    println!("   clients   native req/s  p50 ms  p99 ms |   MCP req/s  p50 ms  p99 ms | ratio");
    let native = {
        let (client, url, token, recipients) =
            (client.clone(), native_url, token, recipients.clone());
        move |i: usize| {
            let body = json!({"messaging_product": "whatsapp", "recipient_type": "individual",
                "to": recipients[i % RECIPIENTS].trim_start_matches('+'), "type": "text", "text": {"body": "bench"}});
            let request = client.post(&url).bearer_auth(&token).json(&body);
            async move {
                let response = request.send().await?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "native send: HTTP {}",
                    response.status()
                );
                response.bytes().await?;
                Ok(())
            }
        }
    };
    let through_mcp = {
        let (client, url, recipients) = (client.clone(), mcp_url, recipients.clone());
        move |i: usize| {
            let body = json!({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {
                "name": "whatsapp_send_message",
                "arguments": {"to": recipients[i % RECIPIENTS], "text": "bench"},
                "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                          "io.modelcontextprotocol/clientCapabilities": {}}}});
            let request = client
                .post(&url)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/call")
                .header("mcp-name", "whatsapp_send_message")
                .json(&body);
            async move {
                let response: Value = request.send().await?.json().await?;
                anyhow::ensure!(
                    response.pointer("/result/isError") == Some(&Value::Bool(false)),
                    "MCP send failed: {response}"
                );
                Ok(())
            }
        }
    };
    let mut ratios = Vec::new();
    for clients in CONCURRENCY {
        let n = load(clients, options.throughput_window, native.clone()).await?;
        let m = load(clients, options.throughput_window, through_mcp.clone()).await?;
        ratios.push(print_row(&clients.to_string(), &n, &m));
    }
    // Where the time goes at 64 clients: the same sends through the runtime
    // alone (no MCP, no HTTP front end).
    let direct = load(64, options.throughput_window, {
        let (runtime, recipients) = (runtime.clone(), recipients.clone());
        move |i: usize| {
            let (runtime, args) = (
                runtime.clone(),
                json!({"to": recipients[i % RECIPIENTS], "text": "bench"}).to_string(),
            );
            async move {
                runtime
                    .call_tool("whatsapp_send_message", &args)
                    .await
                    .map_err(|e| anyhow::anyhow!("direct send failed: {e}"))?;
                Ok(())
            }
        }
    })
    .await?;
    println!(
        "   runtime alone, 64 clients (no MCP/HTTP front end): {:.0} req/s, p50 {:.2} ms",
        direct.requests_per_second,
        ms(direct.latency.p50)
    );
    // The same comparison when the API answers like a real one: every
    // request to the sandbox takes UPSTREAM_LATENCY.
    sandbox.inject_fault(Fault::new(FaultKind::Latency(UPSTREAM_LATENCY)).times(u32::MAX));
    let n = load(64, options.throughput_window, native).await?;
    let m = load(64, options.throughput_window, through_mcp).await?;
    let realistic_ratio = print_row(&format!("64 @{}ms", UPSTREAM_LATENCY.as_millis()), &n, &m);
    sandbox.clear_faults();
    server.abort();

    // 4. Size and memory per live instance.
    let component_bytes = runtime.component_bytes();
    let before = memory_kib();
    let mut live = Vec::with_capacity(options.live_instances);
    for _ in 0..options.live_instances {
        live.push(
            runtime
                .idle_instance("whatsapp_get_message_status", &status_args)
                .await?,
        );
    }
    let after = memory_kib();
    let per_instance = |f: fn(&MemoryKib) -> u64| {
        f(&after).saturating_sub(f(&before)) as f64 / options.live_instances as f64
    };
    let instance_kib = per_instance(|m| m.private);
    let instance_rss_kib = per_instance(|m| m.rss);
    drop(live);
    println!("\n4. footprint");
    println!("   component size:               {component_bytes:>8} bytes");
    println!(
        "   memory per live instance:     {instance_kib:>8.1} KiB private, {instance_rss_kib:.1} KiB RSS \
         ({} instances, each after one call; RSS counts shared image pages once per mapping)",
        options.live_instances
    );

    let tools_list =
        mcp::bench_tools_list(McpServer::new(runtime.clone()), options.tools_list_requests).await?;
    println!(
        "\n5. tools/list in-process: modern {}; legacy {}",
        tools_list.modern, tools_list.legacy
    );

    let sessions = sessions::measure(runtime.clone(), options.live_sessions).await?;
    println!(
        "\n6. MCP sessions: {} live add {:.1} MiB RSS ({:.1} KiB each); {} more initialize \
         refused past the cap (503) add {:.1} MiB",
        sessions.sessions,
        sessions.rss_delta_kib as f64 / 1024.0,
        sessions.rss_delta_kib as f64 / sessions.sessions as f64,
        sessions.sessions,
        sessions.refused_rss_delta_kib as f64 / 1024.0,
    );

    sandbox.shutdown().await;
    let flood_figures = floods::run(component.clone(), options).await?;
    let mut summary = json!({
        "overhead_p50_us": round1(overhead.p50.as_secs_f64() * 1e6),
        "overhead_p99_us": round1(overhead.p99.as_secs_f64() * 1e6),
        "cold_compile_ms": round1(ms(cold_compile)),
        "cold_load_cached_ms": round1(ms(cold_cached)),
        "throughput_ratio_vs_native": (ratios.last().copied().unwrap_or_default() * 100.0).round() / 100.0,
        "throughput_ratio_1": (ratios[0] * 100.0).round() / 100.0,
        "throughput_ratio_16": (ratios[1] * 100.0).round() / 100.0,
        "throughput_ratio_vs_native_100ms_upstream": (realistic_ratio * 100.0).round() / 100.0,
        "runtime_only_sends_per_second": direct.requests_per_second.round(),
        "component_bytes": component_bytes,
        "instance_kib": round1(instance_kib),
        "instance_rss_kib": round1(instance_rss_kib),
        "tools_list_p50_us": round1(tools_list.modern.p50.as_secs_f64() * 1e6),
        "live_sessions": sessions.sessions,
        "live_sessions_rss_mib": round1(sessions.rss_delta_kib as f64 / 1024.0),
        "release_build": !cfg!(debug_assertions),
        "machine": machine,
    });
    if let (Some(all), Value::Object(more)) = (summary.as_object_mut(), flood_figures) {
        all.extend(more);
    }
    println!("\n{summary}");
    Ok(summary)
}

/// Runs `clients` loops issuing requests for `window`, after a short warm-up.
async fn load<F, Fut>(clients: usize, window: Duration, request: F) -> anyhow::Result<Throughput>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let warmup = window / 5;
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (request, stop) = (request.clone(), stop.clone());
            tokio::spawn(async move {
                let mut samples = Vec::new();
                let mut i = c;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    request(i).await?;
                    if t >= started + warmup {
                        samples.push(t.elapsed());
                    }
                    i += clients;
                }
                anyhow::Ok(samples)
            })
        })
        .collect();
    tokio::time::sleep(warmup + window).await;
    stop.store(true, Ordering::Relaxed);
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await.context("a load task panicked")??);
    }
    let measured = started.elapsed().saturating_sub(warmup);
    Ok(Throughput {
        requests_per_second: samples.len() as f64 / measured.as_secs_f64(),
        latency: Latency::from_samples(samples),
    })
}

/// Prints one row of the throughput table; returns the MCP/native ratio.
fn print_row(label: &str, native: &Throughput, mcp: &Throughput) -> f64 {
    let ratio = mcp.requests_per_second / native.requests_per_second;
    println!(
        "   {:>7}   {:>12.0} {:>7.2} {:>7.2} | {:>11.0} {:>7.2} {:>7.2} | {:>5.2}",
        label,
        native.requests_per_second,
        ms(native.latency.p50),
        ms(native.latency.p99),
        mcp.requests_per_second,
        ms(mcp.latency.p50),
        ms(mcp.latency.p99),
        ratio
    );
    ratio
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// This process's memory in KiB: resident, and private to it (Linux; 0 elsewhere).
struct MemoryKib {
    rss: u64,
    private: u64,
}

fn memory_kib() -> MemoryKib {
    let text = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    let field = |name: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    MemoryKib {
        rss: field("Rss:"),
        private: field("Private_Clean:") + field("Private_Dirty:"),
    }
}

fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))?
                .split(':')
                .nth(1)
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {cpu}")
}
