//! Floods, against a harness with the default limits:
//!
//! 1. The CPU time the webhook endpoint spends refusing N unsigned 1 MiB
//!    POSTs (and N forged ones, with a well-formed but wrong signature). The
//!    endpoint runs alone on its own thread (a current-thread runtime), and
//!    that thread's CPU time is read with `getrusage(RUSAGE_THREAD)` before
//!    and after, so the client's work is not counted. Linux only.
//! 2. `whatsapp_get_business_profile` calls served to app A over MCP HTTP,
//!    alone and then while app B keeps its full `max_concurrent` busy with
//!    slow sends (every send answered after `B_LATENCY`) and floods more.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::{BenchOptions, Throughput, load, ms};
use whatsapp_host::Connector;
use whatsapp_host::config::{EnvSecrets, Settings};
use whatsapp_host::gateway::Gateway;
use whatsapp_host::mcp::{McpServer, http_config, router};
use whatsapp_host::policy::{Policy, ToolInfo, hash_key};
use whatsapp_host::runtime::ComponentSource;
use whatsapp_host::webhook_endpoint::{WebhookOptions, Webhooks};
use whatsapp_sandbox::{Fault, FaultKind, Sandbox, SandboxConfig};

const BODY_BYTES: usize = 1 << 20;
/// Concurrent connections of the flooding client.
const FLOOD_CONNECTIONS: usize = 16;
const KEY_A: &str = "bench-key-of-app-a";
const KEY_B: &str = "bench-key-of-app-b";
/// App B's cap (the default).
const B_MAX_CONCURRENT: usize = 32;
/// App B's clients: more than its cap and more than the runtime's 256 instances.
const B_CLIENTS: usize = 300;
/// How long each of app B's sends takes.
const B_LATENCY: Duration = Duration::from_secs(60);
const A_CLIENTS: usize = 16;

/// The webhook endpoint on its own thread and runtime.
struct IsolatedEndpoint {
    url: String,
    handle: tokio::runtime::Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl IsolatedEndpoint {
    fn start(hooks: Webhooks) -> anyhow::Result<IsolatedEndpoint> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("bench-webhooks".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a current-thread runtime");
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let addr = listener.local_addr();
                    let _ = ready_tx.send(addr.map(|a| (a, tokio::runtime::Handle::current())));
                    let _ = axum::serve(listener, hooks.router())
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await;
                });
            })?;
        let (addr, handle): (SocketAddr, _) = ready_rx
            .recv()
            .context("the webhook thread did not start")??;
        Ok(IsolatedEndpoint {
            url: format!("http://{addr}/webhook"),
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// CPU time (user + system) of the endpoint's thread so far.
    async fn cpu(&self) -> anyhow::Result<Duration> {
        self.handle
            .spawn(async { thread_cpu() })
            .await?
            .context("getrusage(RUSAGE_THREAD) is not available on this system")
    }
}

impl Drop for IsolatedEndpoint {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(target_os = "linux")]
fn thread_cpu() -> Option<Duration> {
    // SAFETY: getrusage writes one `rusage` into the zeroed value we own.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_THREAD, &mut usage) != 0 {
            return None;
        }
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
    Some(tv(usage.ru_utime) + tv(usage.ru_stime))
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu() -> Option<Duration> {
    None
}

/// Sends `n` POSTs of `BODY_BYTES` with `signature` (none: unsigned) over
/// `FLOOD_CONNECTIONS` connections; checks each is refused with `status`.
async fn flood(url: &str, n: usize, signature: Option<String>, status: u16) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    let body = axum::body::Bytes::from(vec![b'{'; BODY_BYTES]);
    let next = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..FLOOD_CONNECTIONS)
        .map(|_| {
            let (client, url, body, next, signature) = (
                client.clone(),
                url.to_string(),
                body.clone(),
                next.clone(),
                signature.clone(),
            );
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < n as u64 {
                    let mut request = client.post(&url).body(body.clone());
                    if let Some(s) = &signature {
                        request = request.header("X-Hub-Signature-256", s);
                    }
                    let got = request.send().await?.status().as_u16();
                    anyhow::ensure!(got == status, "a flood request got {got}, not {status}");
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// One `tools/call` over MCP HTTP as the app whose key is `key`.
fn mcp_call(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    tool: &'static str,
    arguments: Value,
    id: usize,
) -> reqwest::RequestBuilder {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": tool, "arguments": arguments,
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientCapabilities": {}}}});
    client
        .post(url)
        .bearer_auth(key)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .json(&body)
}

/// App A's profile reads for `window`.
async fn app_a_load(url: &str, window: Duration) -> anyhow::Result<Throughput> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(512)
        .build()?;
    let url = url.to_string();
    load(A_CLIENTS, window, move |i| {
        let request = mcp_call(
            &client,
            &url,
            KEY_A,
            "whatsapp_get_business_profile",
            json!({}),
            i,
        );
        async move {
            let reply: Value = request.send().await?.json().await?;
            anyhow::ensure!(
                reply.pointer("/result/isError") == Some(&Value::Bool(false)),
                "app A's call failed: {reply}"
            );
            Ok(())
        }
    })
    .await
}

/// Runs both measurements, printing them; returns their summary fields.
pub(super) async fn run(
    component: ComponentSource,
    options: BenchOptions,
) -> anyhow::Result<Value> {
    let sandbox = Sandbox::start(SandboxConfig {
        throughput_per_second: None,
        pair_limit: None,
        approval_delay: Duration::ZERO,
        ..SandboxConfig::default()
    })
    .await?;
    let mut settings = Settings::default();
    let mut secrets = EnvSecrets::default();
    settings.point_at(
        super::super::sandbox::endpoint::endpoint(&sandbox),
        &mut secrets,
    );
    let harness = Connector::builder(settings)
        .secrets(secrets)
        .component(component)
        .build()
        .await?;
    let runtime = harness.runtime().clone();
    let n = options.webhook_flood_requests;

    // 1. CPU per refused webhook.
    let endpoint =
        IsolatedEndpoint::start(Webhooks::new(runtime.clone(), WebhookOptions::default()))?;
    let instances_before = runtime.instances_created();
    let cpu_before = endpoint.cpu().await?;
    flood(&endpoint.url, n, None, 401).await?;
    let unsigned_cpu = endpoint.cpu().await? - cpu_before;
    let forged = format!("sha256={}", "ab".repeat(32));
    let cpu_before = endpoint.cpu().await?;
    flood(&endpoint.url, n, Some(forged), 403).await?;
    let forged_cpu = endpoint.cpu().await? - cpu_before;
    let instances = runtime.instances_created() - instances_before;
    drop(endpoint);
    println!("\n7. webhook floods: CPU time of the endpoint's thread (getrusage)");
    println!(
        "   {n} unsigned 1 MiB POSTs (401):          {:>8.3} s",
        unsigned_cpu.as_secs_f64()
    );
    println!(
        "   {n} forged 1 MiB POSTs (403, one HMAC each): {:>5.3} s",
        forged_cpu.as_secs_f64()
    );
    println!("   component instances created meanwhile:  {instances:>8}");

    // 2. App A while app B holds its full concurrency.
    let tools = ToolInfo::from_descriptors(runtime.tools());
    let policy_text = format!(
        "version = 1\n[[apps]]\nname = \"a\"\nkey_hash = \"{}\"\ntools = [\"*\"]\n\
         [[apps]]\nname = \"b\"\nkey_hash = \"{}\"\ntools = [\"*\"]\nmax_concurrent = {B_MAX_CONCURRENT}\n",
        hash_key(KEY_A),
        hash_key(KEY_B)
    );
    let policy = Policy::parse(&policy_text, "bench policy", &tools)?;
    let gateway = Arc::new(Gateway::with_policy(runtime.clone(), policy));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = router(
        McpServer::with_gateway(gateway, None),
        http_config(addr, &Default::default()),
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let url = format!("http://{addr}/mcp");
    let alone = app_a_load(&url, options.throughput_window).await?;

    sandbox.inject_fault(
        Fault::new(FaultKind::Latency(B_LATENCY))
            .on_path("/messages")
            .times(u32::MAX),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let b_refused = Arc::new(AtomicU64::new(0));
    let b_client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(B_CLIENTS)
        .build()?;
    let b_tasks: Vec<_> = (0..B_CLIENTS)
        .map(|i| {
            let (client, url, stop, refused) = (
                b_client.clone(),
                url.clone(),
                stop.clone(),
                b_refused.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let args = json!({"to": format!("+1650555{:04}", i % 64), "text": "flood"});
                    let request = mcp_call(&client, &url, KEY_B, "whatsapp_send_message", args, i);
                    if let Ok(response) = request.send().await
                        && let Ok(reply) = response.json::<Value>().await
                        && reply.pointer("/result/isError") == Some(&Value::Bool(true))
                    {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    // Until B holds its full concurrency at the sandbox.
    let held = || {
        sandbox
            .requests()
            .iter()
            .filter(|r| r.path.contains("/messages"))
            .count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while held() < B_MAX_CONCURRENT {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "app B never reached {B_MAX_CONCURRENT} calls in flight"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let contended = app_a_load(&url, options.throughput_window).await?;
    let b_in_flight = held();
    // Ending the sandbox ends B's slow sends; B's clients then stop on their
    // own (aborting them mid-request would only log cancellations).
    stop.store(true, Ordering::Relaxed);
    sandbox.shutdown().await;
    for task in b_tasks {
        if tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .is_err()
        {
            anyhow::bail!("app B's clients did not stop once the sandbox was gone");
        }
    }
    server.abort();
    let ratio = contended.requests_per_second / alone.requests_per_second;
    println!(
        "\n8. app A ({A_CLIENTS} clients, whatsapp_get_business_profile over MCP HTTP) while app B \
         ({B_CLIENTS} clients) holds its max_concurrent = {B_MAX_CONCURRENT} with sends that take {} s",
        B_LATENCY.as_secs()
    );
    println!(
        "   A alone:       {:>8.0} calls/s, p50 {:.2} ms, p99 {:.2} ms",
        alone.requests_per_second,
        ms(alone.latency.p50),
        ms(alone.latency.p99)
    );
    println!(
        "   A while B is:  {:>8.0} calls/s, p50 {:.2} ms, p99 {:.2} ms ({:.2} of alone)",
        contended.requests_per_second,
        ms(contended.latency.p50),
        ms(contended.latency.p99),
        ratio
    );
    println!(
        "   B: {b_in_flight} sends reached the API, {} calls refused as busy (retryable)",
        b_refused.load(Ordering::Relaxed)
    );
    Ok(json!({
        "webhook_flood_requests": n,
        "unsigned_1mib_webhooks_cpu_s": (unsigned_cpu.as_secs_f64() * 1e3).round() / 1e3,
        "forged_1mib_webhooks_cpu_s": (forged_cpu.as_secs_f64() * 1e3).round() / 1e3,
        "refused_webhook_instances": instances,
        "app_a_alone_calls_per_second": alone.requests_per_second.round(),
        "app_a_while_b_saturated_calls_per_second": contended.requests_per_second.round(),
        "app_a_while_b_saturated_p50_ms": (ms(contended.latency.p50) * 100.0).round() / 100.0,
        "app_b_sends_in_flight": b_in_flight,
    }))
}
