//! A gateway with the inbox on, wired like production: the sandbox delivers
//! signed webhooks to the real webhook endpoint on 127.0.0.1, and clients
//! speak MCP over real streamable HTTP (2025-11-25 sessions with their SSE
//! stream, or 2026-07-28 stateless requests).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpListener;
use whatsapp_host::gateway::Gateway;
use whatsapp_host::mcp::{self, HttpOptions, McpServer};
use whatsapp_host::policy::{Policy, ToolInfo, hash_key};
use whatsapp_host::webhook_endpoint::{self, WebhookOptions, WebhookServer, Webhooks};

use crate::common::Env;

const LEGACY: &str = "2025-11-25";
const MODERN: &str = "2026-07-28";
const WAIT: Duration = Duration::from_secs(20);

pub struct Inbox {
    pub env: Env,
    webhooks: WebhookServer,
    pub mcp_url: String,
    pub http: reqwest::Client,
}

/// `name = "{app}"` in `policy` gains the hash of `key`.
pub fn with_key(policy: &str, app: &str, key: &str) -> String {
    let line = format!("name = \"{app}\"\n");
    assert!(policy.contains(&line), "no app {app}");
    policy.replacen(
        &line,
        &format!("{line}key_hash = \"{}\"\n", hash_key(key)),
        1,
    )
}

impl Inbox {
    /// The inbox on; `policy` (with keys) in force, or none.
    pub async fn start(policy: Option<&str>) -> Inbox {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let callback = webhook_endpoint::callback_url(listener.local_addr().unwrap());
        let env = Env::builder()
            .sandbox(|c| c.webhook_callback = Some(callback))
            .settings(|s| s.inbox.enabled = true)
            .start()
            .await;
        let hooks = Webhooks::new(env.harness.runtime().clone(), WebhookOptions::default());
        let webhooks = WebhookServer::start(hooks, listener).await.unwrap();
        let runtime = env.harness.runtime().clone();
        let gateway = match policy {
            Some(text) => {
                let tools = ToolInfo::from_descriptors(runtime.tools());
                let policy = Policy::parse(text, "inbox-test.toml", &tools)
                    .unwrap_or_else(|e| panic!("{e}"));
                Gateway::with_policy(runtime, policy)
            }
            None => Gateway::open(runtime),
        };
        whatsapp_host::install_crypto_provider();
        let mcp_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = mcp_listener.local_addr().unwrap();
        let app = mcp::router(
            McpServer::with_gateway(Arc::new(gateway), None),
            mcp::http_config(addr, &HttpOptions::default()),
        );
        tokio::spawn(async move { axum::serve(mcp_listener, app).await });
        Inbox {
            env,
            webhooks,
            mcp_url: format!("http://{addr}/mcp"),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    /// Waits until `count` webhook deliveries have been applied in all.
    pub async fn applied(&self, count: u64) {
        let hooks = self.webhooks.webhooks();
        let deadline = tokio::time::Instant::now() + WAIT;
        while hooks.stats().ingested < count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{count} webhook deliveries were not applied in time"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// One 2026-07-28 stateless request as the app whose `key` it carries.
    pub async fn modern(
        &self,
        key: Option<&str>,
        method: &str,
        name: Option<&str>,
        params: Value,
    ) -> Value {
        let mut params = params;
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
        });
        let mut req = self
            .http
            .post(&self.mcp_url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", MODERN)
            .header("Mcp-Method", method)
            .body(
                json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string(),
            );
        if let Some(name) = name {
            req = req.header("Mcp-Name", name);
        }
        if let Some(key) = key {
            req = req.header("Authorization", format!("Bearer {key}"));
        }
        let text = req.send().await.unwrap().text().await.unwrap();
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("a JSON reply: {text}"))
    }

    /// A 2026-07-28 `subscriptions/listen` stream for `uris`, as the app
    /// whose `key` it carries, once acknowledged (the acknowledgement is
    /// returned with it).
    pub async fn listen(&self, key: Option<&str>, uris: &[&str]) -> (Events, Value) {
        let params = json!({
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
            },
            "notifications": {"resourceSubscriptions": uris},
        });
        let mut req = self
            .http
            .post(&self.mcp_url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", MODERN)
            .header("Mcp-Method", "subscriptions/listen")
            .body(
                json!({"jsonrpc": "2.0", "id": "listen-1", "method": "subscriptions/listen",
                       "params": params})
                .to_string(),
            );
        if let Some(key) = key {
            req = req.header("Authorization", format!("Bearer {key}"));
        }
        let mut events = Events::new(req.send().await.unwrap());
        let ack = events
            .next()
            .await
            .expect("the listen stream is acknowledged");
        assert_eq!(
            ack["method"], "notifications/subscriptions/acknowledged",
            "{ack}"
        );
        (events, ack)
    }

    /// A tool call's structured result (or its error result) over 2026-07-28.
    pub async fn call(&self, key: Option<&str>, tool: &str, arguments: Value) -> Value {
        let reply = self
            .modern(
                key,
                "tools/call",
                Some(tool),
                json!({"name": tool, "arguments": arguments}),
            )
            .await;
        reply.get("result").cloned().unwrap_or(reply)
    }

    /// Opens a 2025-11-25 session as the app whose `key` it carries.
    pub async fn session(&self, key: Option<&str>) -> Session {
        Session::open(&self.mcp_url, self.http.clone(), key).await
    }
}

impl Session {
    /// Opens a 2025-11-25 session on the MCP endpoint at `url`, as the app
    /// whose `key` it carries.
    pub async fn open(url: &str, http: reqwest::Client, key: Option<&str>) -> Session {
        let mut session = Session {
            url: url.to_string(),
            http,
            key: key.map(str::to_string),
            id: None,
            next_id: 0,
        };
        let init = session
            .request(
                "initialize",
                json!({"protocolVersion": LEGACY, "capabilities": {},
                       "clientInfo": {"name": "e2e", "version": "0"}}),
            )
            .await;
        assert!(init.get("result").is_some(), "{init}");
        session
            .post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        session
    }
}

/// A 2025-11-25 session over streamable HTTP.
pub struct Session {
    url: String,
    http: reqwest::Client,
    key: Option<String>,
    id: Option<String>,
    next_id: u64,
}

impl Session {
    fn builder(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let mut request = request.header("Accept", "application/json, text/event-stream");
        if let Some(key) = &self.key {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        if let Some(id) = &self.id {
            request = request
                .header("Mcp-Session-Id", id)
                .header("MCP-Protocol-Version", LEGACY);
        }
        request
    }

    async fn post(&mut self, body: Value) -> reqwest::Response {
        let request = self
            .builder(self.http.post(&self.url))
            .header("Content-Type", "application/json")
            .body(body.to_string());
        let response = request.send().await.unwrap();
        if let Some(id) = response.headers().get("mcp-session-id") {
            self.id = Some(id.to_str().unwrap().to_string());
        }
        response
    }

    /// A request and its response (read from the SSE reply).
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let response = self
            .post(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        let status = response.status().as_u16();
        let mut events = Events::new(response);
        loop {
            let message = events
                .next()
                .await
                .unwrap_or_else(|| panic!("{method}: no reply (HTTP {status})"));
            if message["id"] == json!(id) {
                return message;
            }
        }
    }

    /// A tool call's result (structured, or the error result).
    pub async fn call(&mut self, tool: &str, arguments: Value) -> Value {
        let reply = self
            .request("tools/call", json!({"name": tool, "arguments": arguments}))
            .await;
        reply.get("result").cloned().unwrap_or(reply)
    }

    /// The session's stream of server messages (the GET stream).
    pub async fn stream(&self) -> Events {
        let response = self.builder(self.http.get(&self.url)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "the GET stream opens");
        Events::new(response)
    }
}

/// JSON-RPC messages read from an SSE response.
pub struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    fn new(response: reqwest::Response) -> Events {
        Events {
            response,
            buffer: String::new(),
        }
    }

    /// The next message; `None` when the stream ends.
    pub async fn next(&mut self) -> Option<Value> {
        tokio::time::timeout(WAIT, self.next_message())
            .await
            .expect("a server message arrives in time")
    }

    async fn next_message(&mut self) -> Option<Value> {
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                let data: String = event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if let Ok(message) = serde_json::from_str(&data) {
                    return Some(message);
                }
            }
            match self.response.chunk().await.unwrap() {
                Some(bytes) => self
                    .buffer
                    .push_str(&String::from_utf8_lossy(&bytes).replace("\r\n", "\n")),
                None => {
                    // A plain JSON reply (no SSE) is one message.
                    let rest = std::mem::take(&mut self.buffer);
                    return serde_json::from_str(rest.trim()).ok();
                }
            }
        }
    }

    /// The next `notifications/resources/updated`, skipping other messages.
    pub async fn next_update(&mut self) -> String {
        loop {
            let message = self.next().await.expect("the stream stays open");
            if message["method"] == "notifications/resources/updated" {
                return message["params"]["uri"].as_str().unwrap().to_string();
            }
        }
    }
}
