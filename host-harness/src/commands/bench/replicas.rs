//! Sends per second through MCP by state store: the embedded file with one
//! gateway, then a real `redis-server` (started here, AOF fsynced on every
//! write, as the README advises) with one and with two gateways sharing it,
//! the load spread over the gateways' MCP endpoints. Skipped, with the
//! reason printed, when `redis-server` cannot be started.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::{Child, Command};

use super::{BenchOptions, Throughput, load, ms};
use whatsapp_host::Connector;
use whatsapp_host::config::{EnvSecrets, Settings};
use whatsapp_host::mcp::{McpServer, http_config, router};
use whatsapp_host::runtime::ComponentSource;
use whatsapp_sandbox::{Sandbox, SandboxConfig};

/// Concurrent MCP clients in every configuration.
const CLIENTS: usize = 16;
const RECIPIENTS: usize = 64;

/// Measures and prints the line; returns the summary JSON's fields (or why
/// the line was skipped).
pub(crate) async fn run(
    component: ComponentSource,
    options: BenchOptions,
) -> anyhow::Result<Value> {
    println!(
        "\n9. whatsapp_send_message through MCP by state store, {CLIENTS} clients, {} s each",
        options.throughput_window.as_secs_f64()
    );
    let redis = match RedisProcess::start().await {
        Ok(redis) => redis,
        Err(e) => {
            let reason = format!("{e:#}");
            println!("   skipped: {reason}");
            return Ok(json!({ "replicas_skipped": reason }));
        }
    };
    let sandbox = Sandbox::start(SandboxConfig {
        throughput_per_second: None,
        pair_limit: None,
        ..SandboxConfig::default()
    })
    .await?;
    let recipients: Arc<Vec<String>> =
        Arc::new((0..RECIPIENTS).map(|i| format!("+1650556{i:04}")).collect());
    for r in recipients.iter() {
        sandbox.simulate_inbound(r, "hi");
    }
    let state_dir = tempfile::tempdir()?;
    // In a directory of its own: the store creates it owner-only.
    let file = state_dir
        .path()
        .join("state")
        .join("state.redb")
        .display()
        .to_string();
    let vault = SharedVaultKey::write(state_dir.path())?;
    let run =
        |stores: Vec<String>| measure(&sandbox, &component, &vault, stores, &recipients, options);

    let file_one = run(vec![file]).await?;
    println!("   file, 1 gateway:    {}", row(&file_one));
    let redis_one = run(vec![redis.url()]).await?;
    println!("   Redis, 1 gateway:   {}", row(&redis_one));
    let redis_two = run(vec![redis.url(), redis.url()]).await?;
    println!("   Redis, 2 gateways:  {}", row(&redis_two));
    sandbox.shutdown().await;
    redis.stop().await;
    Ok(json!({
        "sends_per_second_file_1_replica": file_one.requests_per_second.round(),
        "sends_per_second_redis_1_replica": redis_one.requests_per_second.round(),
        "sends_per_second_redis_2_replicas": redis_two.requests_per_second.round(),
    }))
}

fn row(t: &Throughput) -> String {
    format!(
        "{:>7.0} sends/s, p50 {:.2} ms, p99 {:.2} ms",
        t.requests_per_second,
        ms(t.latency.p50),
        ms(t.latency.p99)
    )
}

/// One gateway per entry of `stores` (each its own runtime and MCP HTTP
/// endpoint, in this process), loaded round-robin by [`CLIENTS`] clients.
async fn measure(
    sandbox: &Sandbox,
    component: &ComponentSource,
    vault: &SharedVaultKey,
    stores: Vec<String>,
    recipients: &Arc<Vec<String>>,
    options: BenchOptions,
) -> anyhow::Result<Throughput> {
    let mut urls = Vec::new();
    let mut servers = Vec::new();
    let mut connectors = Vec::new();
    for store in stores {
        let mut settings = Settings::default();
        let mut secrets = EnvSecrets::default();
        settings.point_at(
            super::super::sandbox::endpoint::endpoint(sandbox),
            &mut secrets,
        );
        settings.state.url = store.clone();
        // Every gateway seals with a key derived from the same vault key,
        // as the replicas of one deployment must.
        settings.vault.path = vault.vault_path.clone();
        settings.vault.key_file = vault.key_file.clone();
        settings.runtime.max_instances = 256;
        let connector = Connector::builder(settings)
            .secrets(secrets)
            .component(component.clone())
            .build()
            .await
            .with_context(|| format!("a gateway on {}", redacted(&store)))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = router(
            McpServer::new(connector.runtime().clone()),
            http_config(addr, &Default::default()),
        );
        servers.push(tokio::spawn(
            async move { axum::serve(listener, app).await },
        ));
        urls.push(format!("http://{addr}/mcp"));
        connectors.push(connector);
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let urls = Arc::new(urls);
    let recipients = recipients.clone();
    let send = move |i: usize| {
        let url = &urls[i % urls.len()];
        let body = json!({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {
            "name": "whatsapp_send_message",
            "arguments": {"to": recipients[i % recipients.len()], "text": "bench"},
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}}}});
        let request = client
            .post(url)
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
    };
    let figures = load(CLIENTS, options.throughput_window, send).await;
    for server in servers {
        server.abort();
    }
    drop(connectors);
    figures
}

/// A vault key file every gateway of the bench shares (and a vault path
/// with no file: the sandbox's token comes from the environment secrets).
struct SharedVaultKey {
    vault_path: PathBuf,
    key_file: PathBuf,
}

impl SharedVaultKey {
    fn write(dir: &std::path::Path) -> anyhow::Result<SharedVaultKey> {
        use std::io::Write as _;
        let key_file = dir.join("vault.key");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&key_file)?;
        let key: [u8; 32] = rand::random();
        file.write_all(hex::encode(key).as_bytes())?;
        Ok(SharedVaultKey {
            vault_path: dir.join("vault.json"),
            key_file,
        })
    }
}

/// A store URL as printed: without credentials.
fn redacted(store: &str) -> String {
    match url::Url::parse(store) {
        Ok(mut u) if u.scheme().starts_with("redis") => {
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.to_string()
        }
        _ => store.to_string(),
    }
}

/// A `redis-server` of the bench's own, on a free loopback port in a temp dir.
struct RedisProcess {
    port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl RedisProcess {
    /// `$REDIS_SERVER`, else `redis-server` on `PATH`.
    fn binary() -> PathBuf {
        std::env::var_os("REDIS_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("redis-server"))
    }

    async fn start() -> anyhow::Result<RedisProcess> {
        let dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let binary = Self::binary();
        let child = Command::new(&binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(dir.path())
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "cannot start {} (install redis-server, or set REDIS_SERVER to its path)",
                    binary.display()
                )
            })?;
        let mut redis = RedisProcess { port, child, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !redis.answers_ping().await {
            if let Ok(Some(status)) = redis.child.try_wait() {
                anyhow::bail!(
                    "redis-server exited ({status}) on port {port}: {}",
                    redis.log_tail()
                );
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "redis-server on port {port} never answered PING: {}",
                redis.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(redis)
    }

    /// The last lines of the server's log, for a failure message.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(3)..].join(" / ")
    }

    async fn answers_ping(&self) -> bool {
        let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await else {
            return false;
        };
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").await.is_ok()
            && stream.read_exact(&mut reply).await.is_ok()
            && &reply == b"+PONG\r\n"
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
