//! The processes of a multi-replica deployment, each one real: a
//! `redis-server` (AOF, `appendfsync always`) in a temp dir, one standalone
//! `host-harness sandbox`, and `host-harness serve --http` replicas on
//! them. Every process is killed when its handle drops.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

pub use super::redis_server::{Redis, free_port};

pub const CUSTOMER: &str = crate::common::CUSTOMER;
/// The app every replica's policy knows (when a test gives a policy).
pub const APP_KEY: &str = "replica-app-key-0123456789abcdef0123";
/// The Meta app secret the sandbox signs with and every replica checks.
pub const APP_SECRET: &str = "replica-shared-app-secret-0123456789abcdef";
/// The only token the shared sandbox accepts.
pub const ACCESS_TOKEN: &str = "replica-shared-sandbox-token-0123456789abcdef";
/// The vault key every replica of the deployment shares (it keys the seal).
pub const VAULT_KEY: &str = "5f0c3b1a9e8d7c6b5a49382716050403f2e1d0c9b8a79685746352413021100f";
const MODERN: &str = "2026-07-28";
const LEGACY: &str = "2025-11-25";
/// Longest wait for a process to come up (a debug build compiling the
/// component on first use is slow on a shared machine).
const START_LIMIT: Duration = Duration::from_secs(240);

/// Lines a child wrote to stderr, kept for failure messages.
type Log = Arc<Mutex<Vec<String>>>;

/// Reads `child`'s stderr until `done` says the lines seen so far are
/// enough, then keeps draining it (so the child never blocks on a full pipe)
/// into the shared log.
async fn read_stderr_until(child: &mut Child, what: &str, done: impl Fn(&[String]) -> bool) -> Log {
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let log: Log = Arc::default();
    let started = tokio::time::timeout(START_LIMIT, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let mut seen = log.lock().unwrap();
            seen.push(line);
            if done(&seen) {
                return true;
            }
        }
        false
    })
    .await;
    let seen = log.lock().unwrap().join("\n");
    match started {
        Ok(true) => {}
        Ok(false) => panic!("{what} exited before it was ready; its stderr:\n{seen}"),
        Err(_) => panic!("{what} was not ready within {START_LIMIT:?}; its stderr:\n{seen}"),
    }
    let keep = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let mut kept = keep.lock().unwrap();
            if kept.len() < 2000 {
                kept.push(line);
            }
        }
    });
    log
}

/// The value after `prefix` on the first line that has it.
fn after(lines: &[String], prefix: &str) -> Option<String> {
    lines.iter().find_map(|l| {
        l.split_once(prefix)
            .map(|(_, rest)| rest.trim().to_string())
    })
}

/// One standalone `host-harness sandbox` process, shared by the replicas.
pub struct SandboxProcess {
    pub base_url: String,
    /// What it wrote to stderr (its start-up lines, then up to 2,000 more).
    pub stderr: Log,
    http: Client,
    _child: Child,
}

impl SandboxProcess {
    /// Signs with [`APP_SECRET`] and accepts [`ACCESS_TOKEN`], both from the
    /// environment; delivers webhooks to `webhook_url` when given.
    pub async fn start(webhook_url: Option<&str>) -> SandboxProcess {
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_host-harness"));
        cmd.args(["sandbox", "--port", &port.to_string()])
            .env("WHATSAPP_SANDBOX_APP_SECRET", APP_SECRET)
            .env("WHATSAPP_SANDBOX_ACCESS_TOKEN", ACCESS_TOKEN)
            .env("RUST_LOG", "warn,whatsapp_sandbox=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(url) = webhook_url {
            cmd.args(["--webhook-url", url]);
        }
        let mut child = cmd.spawn().unwrap();
        // Its last start-up line names the sandbox app.
        let stderr = read_stderr_until(&mut child, "the standalone sandbox", |lines| {
            lines.iter().any(|l| l.contains("sandbox app"))
        })
        .await;
        SandboxProcess {
            base_url: format!("http://127.0.0.1:{port}"),
            stderr,
            http: http_client(),
            _child: child,
        }
    }

    pub async fn config(&self) -> Value {
        self.http
            .get(format!("{}/_sandbox/config", self.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Points the sandbox's webhooks at `url` (retries of pending ones too).
    pub async fn deliver_to(&self, url: &str) {
        let r = self
            .http
            .post(format!("{}/_sandbox/webhooks", self.base_url))
            .json(&json!({ "callback": url }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }

    /// A customer writes to the business: a signed inbound webhook follows.
    pub async fn inbound(&self, from: &str, text: &str) -> String {
        let r: Value = self
            .http
            .post(format!("{}/_sandbox/inbound", self.base_url))
            .json(&json!({ "from": from, "text": text }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{r}"))
            .to_string()
    }

    /// The sandbox's delivery log: (kind, delivered) of each webhook.
    pub async fn deliveries(&self) -> Vec<Value> {
        self.http
            .get(format!("{}/_sandbox/webhooks", self.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// How a replica is started.
#[derive(Default, Clone)]
pub struct ReplicaOptions {
    /// `--state-url`: a Redis URL, or a file path.
    pub state_url: String,
    /// A policy file's contents (`--policy`); requests then carry [`APP_KEY`].
    pub policy: Option<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
}

/// One `host-harness serve --http --webhook --admin` process.
pub struct Replica {
    pub mcp: McpClient,
    pub webhook_url: String,
    pub admin_url: String,
    pub pid: u32,
    http: Client,
    log: Log,
    child: Child,
    _dir: tempfile::TempDir,
}

/// Where every replica caches the compiled component (compiled once).
fn shared_cache_dir() -> PathBuf {
    crate::common::cache_dir()
}

impl Replica {
    pub async fn start(sandbox: &SandboxProcess, options: &ReplicaOptions) -> Replica {
        let dir = tempfile::tempdir().unwrap();
        let cfg = sandbox.config().await;
        let config_path = dir.path().join("config.toml");
        std::fs::write(
            &config_path,
            format!(
                "[runtime]\ncache_dir = {:?}\n",
                shared_cache_dir().display().to_string()
            ),
        )
        .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_host-harness"));
        cmd.arg("--config").arg(&config_path).args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--webhook",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--state-url",
            &options.state_url,
        ]);
        if let Some(policy) = &options.policy {
            let path = dir.path().join("policy.toml");
            std::fs::write(&path, policy).unwrap();
            cmd.arg("--policy").arg(&path);
        }
        home_in(&mut cmd, dir.path());
        cmd.env("WHATSAPP_API_BASE_URL", &sandbox.base_url)
            .env(
                "WHATSAPP_PHONE_NUMBER_ID",
                cfg["phone_number_id"].as_str().unwrap(),
            )
            .env("WHATSAPP_WABA_ID", cfg["waba_id"].as_str().unwrap())
            .env("WHATSAPP_ACCESS_TOKEN", ACCESS_TOKEN)
            .env("WHATSAPP_APP_SECRET", APP_SECRET)
            .env("WHATSAPP_WEBHOOK_VERIFY_TOKEN", "replica-verify-token")
            .env("WHATSAPP_VAULT_KEY", VAULT_KEY)
            .env("RUST_LOG", "warn")
            .envs(options.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().unwrap();
        let pid = child.id().unwrap();
        let log = read_stderr_until(&mut child, "a replica", |lines| {
            after(lines, "MCP server listening on ").is_some()
        })
        .await;
        let lines = log.lock().unwrap().clone();
        let webhook_url = after(&lines, "Webhook endpoint listening on ")
            .unwrap_or_else(|| panic!("no webhook endpoint in {lines:?}"));
        let admin = after(&lines, "Admin endpoints listening on ")
            .unwrap_or_else(|| panic!("no admin endpoint in {lines:?}"));
        Replica {
            mcp: McpClient {
                url: after(&lines, "MCP server listening on ").unwrap(),
                keyed: options.policy.is_some(),
                http: http_client(),
            },
            webhook_url,
            admin_url: admin.split_whitespace().next().unwrap().to_string(),
            pid,
            http: http_client(),
            log,
            child,
            _dir: dir,
        }
    }

    /// What the replica wrote to stderr so far (for failure messages).
    pub fn stderr(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// `kill -9`.
    pub async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }

    /// SIGSTOP / SIGCONT: freezes the process where it is.
    pub fn freeze(&self, frozen: bool) {
        let signal = if frozen { libc::SIGSTOP } else { libc::SIGCONT };
        // SAFETY: kill(2) on our own child's pid; no memory is shared.
        let rc = unsafe { libc::kill(self.pid as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill({}, {signal}) failed", self.pid);
    }

    /// GET on the admin listener: (status, body).
    pub async fn admin(&self, path: &str) -> (u16, String) {
        let resp = self
            .http
            .get(format!("{}{path}", self.admin_url))
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }
}

/// A plain HTTP client (the crypto provider installed first, as reqwest needs).
fn http_client() -> Client {
    whatsapp_host::install_crypto_provider();
    Client::new()
}

/// An MCP client of one replica's `/mcp` (cheap to clone).
#[derive(Clone)]
pub struct McpClient {
    pub url: String,
    keyed: bool,
    http: Client,
}

impl McpClient {
    fn post(&self, body: Value, headers: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .timeout(Duration::from_secs(60))
            .body(body.to_string());
        if self.keyed {
            req = req.header("Authorization", format!("Bearer {APP_KEY}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req
    }

    /// A stateless 2026-07-28 `tools/call`: the JSON-RPC `result`.
    pub async fn call(&self, tool: &str, arguments: Value) -> Value {
        let meta = json!({
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "replicas-e2e", "version": "0"}
        });
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments, "_meta": meta}});
        let resp = self
            .post(
                body,
                &[
                    ("MCP-Protocol-Version", MODERN),
                    ("Mcp-Method", "tools/call"),
                    ("Mcp-Name", tool),
                ],
            )
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert_eq!(status, 200, "{tool} over MCP: {text}");
        let reply = rpc_message(&text);
        match reply.get("result") {
            Some(result) => result.clone(),
            None => panic!("{tool}: no result in {reply}"),
        }
    }

    /// A 2025-11-25 `initialize`: the `Mcp-Session-Id` it opens.
    pub async fn open_legacy_session(&self) -> String {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params":
            {"protocolVersion": LEGACY, "capabilities": {},
             "clientInfo": {"name": "replicas-e2e", "version": "0"}}});
        let resp = self.post(body, &[]).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let id = resp.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_string();
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let r = self
            .post(
                note,
                &[("Mcp-Session-Id", &id), ("MCP-Protocol-Version", LEGACY)],
            )
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        id
    }

    /// `tools/list` inside a 2025-11-25 session: (HTTP status, body).
    pub async fn list_in_session(&self, session: &str) -> (u16, String) {
        let body = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}});
        let resp = self
            .post(
                body,
                &[
                    ("Mcp-Session-Id", session),
                    ("MCP-Protocol-Version", LEGACY),
                ],
            )
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }
}

/// Keeps a child's home, config, data and cache dirs inside `dir`.
fn home_in(cmd: &mut Command, dir: &Path) {
    cmd.env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("WHATSAPP_VAULT_PATH", dir.join("vault.json"));
}

/// The JSON-RPC message of a response body: JSON, or an SSE stream's last.
pub fn rpc_message(body: &str) -> Value {
    if let Ok(v) = serde_json::from_str(body) {
        return v;
    }
    body.lines()
        .rev()
        .filter_map(|l| l.strip_prefix("data:"))
        .find_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .unwrap_or_else(|| panic!("no JSON-RPC message in {body:?}"))
}

/// The structured error of a failed tool result (its second text block).
pub fn tool_error(result: &Value) -> Option<Value> {
    if result["isError"] != true {
        return None;
    }
    result["content"]
        .as_array()?
        .iter()
        .filter_map(|c| c["text"].as_str())
        .find_map(|t| serde_json::from_str::<Value>(t).ok())
}

/// Polls `check` every 50 ms until it gives `Some`, or fails after `limit`
/// with `what`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} (waited {limit:?})");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A policy with one keyed app allowed every tool, plus `rules` (TOML).
pub fn policy_with(rules: &str) -> String {
    format!(
        "[[apps]]\nname = \"replicas\"\nkey_hash = \"{}\"\ntools = [\"read\", \"write\"]\n{rules}",
        whatsapp_host::policy::hash_key(APP_KEY)
    )
}

/// Redis, one standalone sandbox and `n` replicas on them; the sandbox
/// delivers its webhooks to the second replica (the first when alone).
pub struct Deployment {
    pub redis: Redis,
    pub sandbox: SandboxProcess,
    pub replicas: Vec<Replica>,
}

impl Deployment {
    pub async fn start(n: usize, policy: Option<String>) -> Deployment {
        let redis = Redis::start().await;
        let sandbox = SandboxProcess::start(None).await;
        let options = ReplicaOptions {
            state_url: redis.url(),
            policy,
            env: Vec::new(),
        };
        let mut replicas = Vec::new();
        for _ in 0..n {
            replicas.push(Replica::start(&sandbox, &options).await);
        }
        let receiver = &replicas[1.min(n - 1)];
        sandbox.deliver_to(&receiver.webhook_url).await;
        Deployment {
            redis,
            sandbox,
            replicas,
        }
    }
}

/// Sends the `hello_world` template to `to` through `mcp`: its message id.
pub async fn send_template(mcp: &McpClient, to: &str) -> Result<String, Value> {
    let r = mcp
        .call(
            "whatsapp_send_template",
            json!({"to": to, "name": "hello_world", "language": "en_US"}),
        )
        .await;
    match r["structuredContent"]["message_id"].as_str() {
        Some(id) => Ok(id.to_string()),
        None => Err(r),
    }
}

/// The `whatsapp_get_message_status` result for `id` through `mcp`.
pub async fn status_of(mcp: &McpClient, id: &str) -> Value {
    mcp.call("whatsapp_get_message_status", json!({"message_id": id}))
        .await
}
