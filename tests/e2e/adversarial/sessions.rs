//! Adversarial cases: MCP sessions over streamable HTTP. App B holding app
//! A's `Mcp-Session-Id` must find nothing there (404, as for a session that
//! does not exist) for POST, GET and DELETE, and A's session must survive;
//! a flood of `initialize` calls stops at the cap with 503 and
//! `Retry-After` while stateless 2026-07-28 requests are still served; idle
//! sessions end and give their place back.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use whatsapp_host::gateway::Gateway;
use whatsapp_host::mcp::{self, HttpOptions, McpServer, SessionLimits};
use whatsapp_host::policy::{Policy, ToolInfo, hash_key};

use crate::common::Env;

const MODERN: &str = "2026-07-28";
const LEGACY: &str = "2025-11-25";
const ALPHA_KEY: &str = "alpha-key-0123456789abcdef0123";
const BETA_KEY: &str = "beta-key-0123456789abcdef01234";
/// The read tools: what each app's `tools/list` holds.
/// The tools of category `read`: three, and the inbox's two readers.
const READ_TOOL_COUNT: usize = 5;

/// Two apps with their own keys, both limited to the read tools.
fn two_apps_policy() -> String {
    format!(
        "[[apps]]\nname = \"alpha\"\nkey_hash = \"{}\"\ntools = [\"read\"]\n\n\
         [[apps]]\nname = \"beta\"\nkey_hash = \"{}\"\ntools = [\"read\"]\n",
        hash_key(ALPHA_KEY),
        hash_key(BETA_KEY)
    )
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Reply {
    /// The JSON-RPC message: a JSON body, or the last `data:` event of an SSE body.
    fn json(&self) -> Value {
        if let Ok(v) = serde_json::from_str(&self.body) {
            return v;
        }
        self.body
            .lines()
            .rev()
            .filter_map(|l| l.strip_prefix("data:"))
            .find_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .unwrap_or_else(|| panic!("no JSON-RPC message in {:?}", self.body))
    }

    fn tool_count(&self) -> Option<usize> {
        self.json()["result"]["tools"].as_array().map(Vec::len)
    }
}

/// An MCP endpoint on 127.0.0.1 (in-process or the real binary).
struct Client {
    url: String,
    http: reqwest::Client,
}

impl Client {
    fn new(url: String) -> Client {
        Client {
            url,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    async fn send(
        &self,
        method: Method,
        key: Option<&str>,
        session: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self
            .http
            .request(method, &self.url)
            .header("Accept", "application/json, text/event-stream");
        if let Some(body) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        if let Some(key) = key {
            req = req.header("Authorization", format!("Bearer {key}"));
        }
        if let Some(session) = session {
            req = req
                .header("Mcp-Session-Id", session)
                .header("MCP-Protocol-Version", LEGACY);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let resp = req.send().await.unwrap();
        Reply {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap(),
        }
    }

    async fn initialize(&self, key: Option<&str>) -> Reply {
        let params = json!({"protocolVersion": LEGACY, "capabilities": {},
            "clientInfo": {"name": "e2e", "version": "0"}});
        let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params});
        self.send(Method::POST, key, None, Some(body), &[]).await
    }

    /// A legacy session opened with `key`: `initialize`, then `initialized`.
    async fn open_session(&self, key: Option<&str>) -> String {
        let r = self.initialize(key).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let session = r.headers["mcp-session-id"].to_str().unwrap().to_string();
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let r = self
            .send(Method::POST, key, Some(&session), Some(note), &[])
            .await;
        assert_eq!(r.status, 202, "{}", r.body);
        session
    }

    async fn list_in_session(&self, key: Option<&str>, session: &str) -> Reply {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
        self.send(Method::POST, key, Some(session), Some(body), &[])
            .await
    }

    /// A stateless 2026-07-28 `tools/list`.
    async fn modern_list(&self, key: Option<&str>) -> Reply {
        let meta = json!({
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "e2e", "version": "0"}
        });
        let body =
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}});
        let headers = [
            ("MCP-Protocol-Version", MODERN),
            ("Mcp-Method", "tools/list"),
        ];
        self.send(Method::POST, key, None, Some(body), &headers)
            .await
    }
}

/// The two-app policy served in-process over real HTTP with `limits`.
struct Served {
    client: Client,
    _env: Env,
}

async fn serve(limits: SessionLimits) -> Served {
    let env = Env::new().await;
    let tools = ToolInfo::from_descriptors(env.harness.runtime().tools());
    let policy = Policy::parse(&two_apps_policy(), "test.toml", &tools).unwrap();
    let gateway = Arc::new(Gateway::with_policy(env.harness.runtime().clone(), policy));
    whatsapp_host::install_crypto_provider();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = mcp::router_with_sessions(
        McpServer::with_gateway(gateway, None),
        mcp::http_config(addr, &HttpOptions::default()),
        limits,
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Served {
        client: Client::new(format!("http://{addr}/mcp")),
        _env: env,
    }
}

fn limits(max_sessions: usize, idle_secs: u64) -> SessionLimits {
    SessionLimits {
        max_sessions,
        idle: Duration::from_secs(idle_secs),
    }
}

#[tokio::test]
async fn another_apps_key_with_a_session_id_finds_no_session_and_cannot_end_it() {
    let s = serve(SessionLimits::default()).await;
    let c = &s.client;
    let alpha = c.open_session(Some(ALPHA_KEY)).await;
    let unknown = c
        .list_in_session(Some(BETA_KEY), "no-such-session-0000")
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);

    let listed = c.list_in_session(Some(BETA_KEY), &alpha).await;
    assert_eq!(listed.status, 404, "beta listed tools in alpha's session");
    assert_eq!(
        listed.body, unknown.body,
        "another app's session must look exactly like one that does not exist"
    );
    let stream = c
        .send(
            Method::GET,
            Some(BETA_KEY),
            Some(&alpha),
            None,
            &[("Accept", "text/event-stream")],
        )
        .await;
    assert_eq!(stream.status, 404, "beta opened alpha's event stream");
    let deleted = c
        .send(Method::DELETE, Some(BETA_KEY), Some(&alpha), None, &[])
        .await;
    assert_eq!(deleted.status, 404, "beta's DELETE of alpha's session");

    let still = c.list_in_session(Some(ALPHA_KEY), &alpha).await;
    assert_eq!(
        still.status, 200,
        "alpha's session was ended: {}",
        still.body
    );
    assert_eq!(still.tool_count(), Some(READ_TOOL_COUNT), "{}", still.body);
    // Beta's own sessions work as usual, and alpha's owner can end its own.
    let beta = c.open_session(Some(BETA_KEY)).await;
    assert_eq!(c.list_in_session(Some(BETA_KEY), &beta).await.status, 200);
    let ended = c
        .send(Method::DELETE, Some(ALPHA_KEY), Some(&alpha), None, &[])
        .await;
    assert!(ended.status < 300, "{} {}", ended.status, ended.body);
    assert_eq!(c.list_in_session(Some(ALPHA_KEY), &alpha).await.status, 404);
}

#[tokio::test]
async fn a_session_id_without_a_key_is_refused_and_the_session_survives() {
    let s = serve(SessionLimits::default()).await;
    let c = &s.client;
    let alpha = c.open_session(Some(ALPHA_KEY)).await;
    let anonymous = c.list_in_session(None, &alpha).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    let anonymous_delete = c.send(Method::DELETE, None, Some(&alpha), None, &[]).await;
    assert_eq!(anonymous_delete.status, 401);
    assert_eq!(c.list_in_session(Some(ALPHA_KEY), &alpha).await.status, 200);
}

#[tokio::test]
async fn past_the_session_cap_initialize_gets_503_with_retry_after_and_stateless_calls_are_served()
{
    let s = serve(limits(3, 300)).await;
    let c = &s.client;
    let mut opened = Vec::new();
    for key in [ALPHA_KEY, ALPHA_KEY, BETA_KEY] {
        opened.push(c.open_session(Some(key)).await);
    }
    for key in [ALPHA_KEY, BETA_KEY] {
        let refused = c.initialize(Some(key)).await;
        assert_eq!(refused.status, 503, "{}", refused.body);
        assert!(refused.headers.get("mcp-session-id").is_none());
        let retry: u64 = refused.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .expect("Retry-After is a number of seconds");
        assert!((1..=300).contains(&retry), "Retry-After {retry}");
        let error = refused.json();
        assert_eq!(error["error"], "too_many_sessions", "{error}");
        let description = error["error_description"].as_str().unwrap();
        assert!(
            description.contains("max_sessions") && description.contains("2026-07-28"),
            "{description}"
        );
    }
    // Stateless requests open no session, so the cap does not touch them;
    // nor does it touch the sessions already open.
    let modern = c.modern_list(Some(BETA_KEY)).await;
    assert_eq!(modern.status, 200, "{}", modern.body);
    assert_eq!(modern.tool_count(), Some(READ_TOOL_COUNT));
    for (session, key) in opened.iter().zip([ALPHA_KEY, ALPHA_KEY, BETA_KEY]) {
        assert_eq!(c.list_in_session(Some(key), session).await.status, 200);
    }
    // Ending one makes room for one.
    let ended = c
        .send(Method::DELETE, Some(BETA_KEY), Some(&opened[2]), None, &[])
        .await;
    assert!(ended.status < 300, "{} {}", ended.status, ended.body);
    c.open_session(Some(BETA_KEY)).await;
    assert_eq!(c.initialize(Some(ALPHA_KEY)).await.status, 503);
}

#[tokio::test]
async fn an_idle_session_expires_and_gives_its_place_back() {
    let s = serve(limits(1, 1)).await;
    let c = &s.client;
    let alpha = c.open_session(Some(ALPHA_KEY)).await;
    assert_eq!(c.initialize(Some(BETA_KEY)).await.status, 503);
    // Polled, not timed: the session must end at some point after 1 s idle.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let gone = loop {
        let r = c.list_in_session(Some(ALPHA_KEY), &alpha).await;
        if r.status == 404 || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
    };
    assert_eq!(
        gone.status, 404,
        "the idle session never ended: {}",
        gone.body
    );
    c.open_session(Some(BETA_KEY)).await;
}

/// `host-harness serve --sandbox --http` with `config` and `policy` files.
struct Binary {
    client: Client,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

async fn binary(config: &str, policy: &str) -> Binary {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.toml");
    let policy_path = dir.path().join("policy.toml");
    std::fs::write(&config_path, config).unwrap();
    std::fs::write(&policy_path, policy).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_host-harness"))
        .arg("--config")
        .arg(&config_path)
        .args(["serve", "--sandbox", "--http", "127.0.0.1:0", "--policy"])
        .arg(&policy_path)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let prefix = "MCP server listening on ";
    let url = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix(prefix) {
                return url.trim().to_string();
            }
        }
        panic!("serve exited before listening");
    })
    .await
    .expect("serve starts listening");
    // Keep draining stderr so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
    Binary {
        client: Client::new(url),
        _child: child,
        _dir: dir,
    }
}

#[tokio::test]
async fn serve_enforces_the_configured_session_cap_and_ownership() {
    let b = binary("[mcp]\nmax_sessions = 1\n", &two_apps_policy()).await;
    let c = &b.client;
    let alpha = c.open_session(Some(ALPHA_KEY)).await;
    let refused = c.initialize(Some(BETA_KEY)).await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(refused.headers.contains_key("retry-after"));
    assert_eq!(c.modern_list(Some(BETA_KEY)).await.status, 200);
    assert_eq!(c.list_in_session(Some(BETA_KEY), &alpha).await.status, 404);
    let deleted = c
        .send(Method::DELETE, Some(BETA_KEY), Some(&alpha), None, &[])
        .await;
    assert_eq!(deleted.status, 404);
    assert_eq!(c.list_in_session(Some(ALPHA_KEY), &alpha).await.status, 200);
}

#[tokio::test]
async fn a_named_replicas_session_ids_carry_its_name_and_keep_owner_cap_and_idle_expiry() {
    let config = "[mcp]\nmax_sessions = 1\nsession_idle_secs = 1\nreplica_id = \"r7\"\n";
    let b = binary(config, &two_apps_policy()).await;
    let c = &b.client;
    let alpha = c.open_session(Some(ALPHA_KEY)).await;
    // The name, a dot, then rmcp's random part (a UUID), as unguessable as before.
    let random = alpha
        .strip_prefix("r7.")
        .unwrap_or_else(|| panic!("session id {alpha:?} does not start with the replica's name"));
    assert_eq!(random.len(), 36, "{alpha}");
    assert_eq!(c.list_in_session(Some(ALPHA_KEY), &alpha).await.status, 200);
    // Knowing the prefix gets an attacker nothing: a forged id is unknown,
    // and another app's key finds nothing in alpha's session.
    let forged = c
        .list_in_session(Some(ALPHA_KEY), "r7.00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!(forged.status, 404, "{}", forged.body);
    assert_eq!(c.list_in_session(Some(BETA_KEY), &alpha).await.status, 404);
    assert_eq!(c.initialize(Some(BETA_KEY)).await.status, 503);
    // Polled, not timed: the session must end at some point after 1 s idle.
    let deadline = Instant::now() + Duration::from_secs(30);
    let gone = loop {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let r = c.list_in_session(Some(ALPHA_KEY), &alpha).await;
        if r.status == 404 || Instant::now() > deadline {
            break r;
        }
    };
    assert_eq!(
        gone.status, 404,
        "the idle session never ended: {}",
        gone.body
    );
    let beta = c.open_session(Some(BETA_KEY)).await;
    assert!(beta.starts_with("r7."), "{beta}");
}

#[tokio::test]
async fn serve_refuses_a_replica_id_a_balancer_rule_or_header_could_not_carry() {
    for (args, env, named) in [
        (vec!["--replica-id", "R1.evil"], None, "--replica-id"),
        (vec![], Some("r1\nx"), "WHATSAPP_REPLICA_ID"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_host-harness"));
        cmd.args(["serve", "--http", "127.0.0.1:0"])
            .args(&args)
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env_remove("WHATSAPP_REPLICA_ID")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(value) = env {
            cmd.env("WHATSAPP_REPLICA_ID", value);
        }
        let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
            .await
            .expect("serve stops at once on a bad replica id")
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "serve started with {args:?} {env:?}");
        assert!(
            stderr.contains(named) && stderr.contains("a-z, 0-9 and `-`"),
            "the error names neither the setting nor the rule: {stderr}"
        );
    }
}
