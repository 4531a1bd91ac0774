//! What live MCP sessions cost: the process's resident memory before and
//! after `count` 2025-11-25 clients each open a session over real HTTP
//! (`initialize`, then `notifications/initialized`) and leave it open, and
//! what as many more `initialize` calls past the cap cost (each gets 503).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use serde_json::json;

use whatsapp_host::mcp::{McpServer, SessionLimits, http_config, router_with_sessions};
use whatsapp_host::runtime::Runtime;

/// How many clients open sessions at once.
const OPENERS: usize = 16;

/// The memory figures of one run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SessionMemory {
    /// Sessions held open while measuring.
    pub(crate) sessions: usize,
    /// RSS growth with them open, KiB.
    pub(crate) rss_delta_kib: u64,
    /// Further RSS growth after as many refused `initialize` calls, KiB.
    pub(crate) refused_rss_delta_kib: u64,
}

/// Opens `count` sessions against a server capped at `count`, then tries
/// `count` more.
pub(crate) async fn measure(runtime: Arc<Runtime>, count: usize) -> anyhow::Result<SessionMemory> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let limits = SessionLimits {
        max_sessions: count.max(1),
        ..SessionLimits::default()
    };
    let app = router_with_sessions(
        McpServer::new(runtime),
        http_config(addr, &Default::default()),
        limits,
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(OPENERS)
        .build()?;
    let url = format!("http://{addr}/mcp");
    // One session first: the server's first-use allocations are not sessions.
    initialize(&client, &url, 200).await?;
    let before = super::memory_kib();
    run_openers(&client, &url, count.saturating_sub(1), 200).await?;
    let opened = super::memory_kib();
    run_openers(&client, &url, count, 503).await?;
    let refused = super::memory_kib();
    server.abort();
    Ok(SessionMemory {
        sessions: count,
        rss_delta_kib: opened.rss.saturating_sub(before.rss),
        refused_rss_delta_kib: refused.rss.saturating_sub(opened.rss),
    })
}

/// `total` sessions opened by [`OPENERS`] concurrent clients, each answered `status`.
async fn run_openers(
    client: &reqwest::Client,
    url: &str,
    total: usize,
    status: u16,
) -> anyhow::Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..OPENERS)
        .map(|_| {
            let (client, url, next) = (client.clone(), url.to_string(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    initialize(&client, &url, status).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await.context("a session opener panicked")??;
    }
    Ok(())
}

/// One legacy handshake; with 200 expected, also `initialized`, so the
/// session is fully open.
async fn initialize(client: &reqwest::Client, url: &str, status: u16) -> anyhow::Result<()> {
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "bench", "version": "0"}}});
    let response = post(client, url, &init, None).send().await?;
    anyhow::ensure!(
        response.status().as_u16() == status,
        "initialize: HTTP {} where {status} was expected",
        response.status()
    );
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    response.bytes().await?;
    if let Some(session) = session {
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let response = post(client, url, &note, Some(&session)).send().await?;
        anyhow::ensure!(
            response.status().is_success(),
            "initialized: HTTP {}",
            response.status()
        );
    }
    Ok(())
}

fn post(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    session: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut request = client
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .json(body);
    if let Some(session) = session {
        request = request
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", "2025-11-25");
    }
    request
}
