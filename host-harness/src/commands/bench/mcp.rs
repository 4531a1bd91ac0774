//! `tools/list` latency through the whole rmcp service, in-process: a
//! client writes JSON-RPC lines into an in-memory duplex stream and times
//! each round trip (parse, dispatch, handler, serialise, write back). No
//! sockets and no wasm: `tools/list` never instantiates the component.

use std::fmt;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

use whatsapp_host::mcp::{McpServer, serve_io};

/// Round-trip times of one series of requests.
#[derive(Clone, Copy, Debug)]
pub struct Latency {
    /// How many requests were timed.
    pub samples: usize,
    /// The median.
    pub p50: Duration,
    /// The 99th percentile.
    pub p99: Duration,
    pub(crate) mean: Duration,
    /// The slowest.
    pub max: Duration,
}

impl Latency {
    /// The figures of `samples` (in any order).
    pub(crate) fn from_samples(mut samples: Vec<Duration>) -> Latency {
        samples.sort_unstable();
        let n = samples.len().max(1);
        let at = |q: f64| {
            samples
                .get(((n as f64 * q).ceil() as usize).saturating_sub(1))
                .copied()
                .unwrap_or_default()
        };
        Latency {
            samples: samples.len(),
            p50: at(0.50),
            p99: at(0.99),
            mean: samples.iter().sum::<Duration>() / n as u32,
            max: samples.last().copied().unwrap_or_default(),
        }
    }
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        write!(
            f,
            "p50 {:.1} µs, p99 {:.1} µs, mean {:.1} µs, max {:.1} µs ({} requests)",
            us(self.p50),
            us(self.p99),
            us(self.mean),
            us(self.max),
            self.samples
        )
    }
}

/// `tools/list` latency in each era.
#[derive(Clone, Copy, Debug)]
pub struct ToolsListBench {
    /// After an `initialize` handshake (2025-11-25).
    pub legacy: Latency,
    /// Per-request `_meta` (2026-07-28), with caching hints and server identity.
    pub modern: Latency,
    /// Size of one modern `tools/list` response line.
    pub response_bytes: usize,
}

/// Times `iterations` `tools/list` requests in each era (after a warm-up).
pub async fn bench_tools_list(
    server: McpServer,
    iterations: usize,
) -> anyhow::Result<ToolsListBench> {
    let expected = server.tools().len();
    let (legacy, _) = run_series(server.clone(), iterations, Era::Legacy, expected).await?;
    let (modern, response_bytes) = run_series(server, iterations, Era::Modern, expected).await?;
    Ok(ToolsListBench {
        legacy,
        modern,
        response_bytes,
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Era {
    Legacy,
    Modern,
}

const WARMUP: usize = 200;

async fn run_series(
    server: McpServer,
    iterations: usize,
    era: Era,
    expected_tools: usize,
) -> anyhow::Result<(Latency, usize)> {
    let (client, server_end) = tokio::io::duplex(1 << 20);
    let (server_read, server_write) = tokio::io::split(server_end);
    let serving = tokio::spawn(serve_io(server, (server_read, server_write)));
    let (client_read, mut client_write) = tokio::io::split(client);
    let mut lines = BufReader::new(client_read);
    let mut line = String::new();

    let params = match era {
        Era::Legacy => {
            let init = json!({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "bench", "version": "0"}}});
            send(&mut client_write, &init).await?;
            lines.read_line(&mut line).await?;
            send(
                &mut client_write,
                &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            )
            .await?;
            json!({})
        }
        Era::Modern => json!({"_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "0"}}}),
    };

    let mut samples = Vec::with_capacity(iterations);
    let mut response_bytes = 0;
    for i in 0..WARMUP + iterations {
        let request = json!({"jsonrpc": "2.0", "id": i, "method": "tools/list", "params": params});
        let mut bytes = serde_json::to_vec(&request)?;
        bytes.push(b'\n');
        line.clear();
        let started = Instant::now();
        client_write.write_all(&bytes).await?;
        lines.read_line(&mut line).await?;
        let elapsed = started.elapsed();
        if i == 0 {
            // Check once, outside the timed span, that this is the real answer.
            let response: Value =
                serde_json::from_str(&line).context("tools/list response is JSON")?;
            let tools = response
                .pointer("/result/tools")
                .and_then(Value::as_array)
                .with_context(|| format!("tools/list failed: {line}"))?;
            anyhow::ensure!(
                tools.len() == expected_tools,
                "tools/list returned {} tools",
                tools.len()
            );
        }
        if i >= WARMUP {
            samples.push(elapsed);
        }
        response_bytes = line.len();
    }
    drop(client_write);
    drop(lines);
    serving.await??;
    Ok((Latency::from_samples(samples), response_bytes))
}

async fn send<W: tokio::io::AsyncWrite + Unpin>(w: &mut W, message: &Value) -> anyhow::Result<()> {
    let mut bytes = serde_json::to_vec(message)?;
    bytes.push(b'\n');
    w.write_all(&bytes).await?;
    Ok(())
}
