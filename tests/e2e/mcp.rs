//! The MCP server: era selection, error codes, results and cancellation over
//! an in-memory byte stream (what stdio carries), header and origin
//! validation over real HTTP on 127.0.0.1, and the real binary on stdio.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{
    AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, DuplexStream, ReadHalf, WriteHalf,
};
use whatsapp_host::mcp::{self, HttpOptions, McpServer};
use whatsapp_sandbox::{Fault, FaultKind};

use crate::common::{CUSTOMER, Env, hostile_component};

const MODERN: &str = "2026-07-28";
const LEGACY: &str = "2025-11-25";
const STRANGER: &str = "+16505550000";
const TOOLS: [&str; 13] = [
    "whatsapp_get_message_status",
    "whatsapp_list_templates",
    "whatsapp_get_business_profile",
    "whatsapp_send_message",
    "whatsapp_send_template",
    "whatsapp_send_media",
    "whatsapp_create_template",
    "whatsapp_update_business_profile",
    "whatsapp_delete_template",
    "whatsapp_list_conversations",
    "whatsapp_get_messages",
    "whatsapp_mark_as_read",
    "whatsapp_send_reaction",
];

/// The `_meta` a 2026-07-28 client puts on every request.
fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "e2e", "version": "0"}
    })
}

fn initialize(version: &str) -> Value {
    json!({"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "e2e", "version": "0"}})
}

/// A client on the other end of an in-memory stream served by `serve_io`,
/// exactly as stdio is served (newline-delimited JSON-RPC).
struct Wire {
    write: WriteHalf<DuplexStream>,
    lines: BufReader<ReadHalf<DuplexStream>>,
    /// Messages read while waiting for another id.
    unclaimed: VecDeque<Value>,
    serving: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Wire {
    fn open(server: McpServer) -> Wire {
        let (client, server_end) = tokio::io::duplex(1 << 20);
        let serving = tokio::spawn(mcp::serve_io(server, tokio::io::split(server_end)));
        let (read, write) = tokio::io::split(client);
        Wire {
            write,
            lines: BufReader::new(read),
            unclaimed: VecDeque::new(),
            serving,
        }
    }

    async fn send(&mut self, message: Value) {
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(b'\n');
        self.write.write_all(&bytes).await.unwrap();
    }

    async fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await;
    }

    /// The next message from the server, or `None` after `wait`.
    async fn next(&mut self, wait: Duration) -> Option<Value> {
        if let Some(m) = self.unclaimed.pop_front() {
            return Some(m);
        }
        let mut line = String::new();
        match tokio::time::timeout(wait, self.lines.read_line(&mut line)).await {
            Ok(Ok(n)) if n > 0 => {
                Some(serde_json::from_str(&line).expect("the server writes JSON lines"))
            }
            Ok(_) => None,
            Err(_) => None,
        }
    }

    /// Waits for the reply to `id`, keeping other messages for later.
    async fn reply(&mut self, id: &Value, wait: Duration) -> Option<Value> {
        let deadline = Instant::now() + wait;
        let mut others = Vec::new();
        let found = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Some(m) if &m["id"] == id => break Some(m),
                Some(m) => others.push(m),
                None => break None,
            }
        };
        self.unclaimed.extend(others);
        found
    }

    async fn request(&mut self, id: Value, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        self.reply(&id, Duration::from_secs(60))
            .await
            .unwrap_or_else(|| panic!("no reply to {method} (id {id})"))
    }

    /// A legacy session: `initialize` offering `version`, then `initialized`.
    async fn handshake(&mut self, version: &str) -> Value {
        let reply = self
            .request(json!(0), "initialize", initialize(version))
            .await;
        self.notify("notifications/initialized", json!({})).await;
        reply
    }
}

async fn wire() -> (Env, Wire) {
    let env = Env::new().await;
    let wire = Wire::open(McpServer::new(env.harness.runtime().clone()));
    (env, wire)
}

fn error_code(reply: &Value) -> i64 {
    reply["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("not an error: {reply}"))
}

#[tokio::test]
async fn an_initialize_offering_2026_07_28_is_answered_with_2025_11_25_and_legacy_results() {
    let (_env, mut wire) = wire().await;
    // What the rmcp client sends: the no-handshake version, in a handshake.
    let reply = wire.handshake(MODERN).await;
    assert_eq!(reply["result"]["protocolVersion"], LEGACY, "{reply}");
    assert_eq!(reply["result"]["serverInfo"]["name"], "whatsapp-connector");
    assert_eq!(
        reply["result"]["capabilities"]["tools"]["listChanged"],
        false
    );
    let list = wire.request(json!(1), "tools/list", json!({})).await;
    let result = &list["result"];
    assert_eq!(
        result["tools"].as_array().map(Vec::len),
        Some(TOOLS.len()),
        "{list}"
    );
    for key in ["resultType", "ttlMs", "cacheScope", "_meta"] {
        assert!(
            result.get(key).is_none(),
            "a legacy result carries {key}: {result}"
        );
    }
}

#[tokio::test]
async fn an_initialize_offering_an_unknown_version_is_answered_with_2025_11_25() {
    let (_env, mut wire) = wire().await;
    for offered in ["2099-01-01", "2025-12-31"] {
        let mut wire = Wire::open(McpServer::new(_env.harness.runtime().clone()));
        let reply = wire.handshake(offered).await;
        assert_eq!(
            reply["result"]["protocolVersion"], LEGACY,
            "offered {offered}: {reply}"
        );
    }
    // A version we do speak is echoed.
    let reply = wire.handshake("2025-06-18").await;
    assert_eq!(reply["result"]["protocolVersion"], "2025-06-18");
}

#[tokio::test]
async fn server_discover_with_a_string_id_lists_the_versions_capabilities_and_cache_hints() {
    let (_env, mut wire) = wire().await;
    // The Inspector's probe id.
    let id = json!("server-discover-probe-1");
    let reply = wire
        .request(id.clone(), "server/discover", json!({"_meta": meta()}))
        .await;
    assert_eq!(reply["id"], id);
    let result = &reply["result"];
    let versions: Vec<&str> = result["supportedVersions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        versions.contains(&MODERN) && versions.contains(&LEGACY),
        "{versions:?}"
    );
    assert_eq!(result["resultType"], "complete");
    assert_eq!(result["capabilities"]["tools"]["listChanged"], false);
    assert_eq!(result["ttlMs"], 300_000);
    assert_eq!(result["cacheScope"], "public");
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "whatsapp-connector"
    );
}

#[tokio::test]
async fn a_modern_tools_list_with_id_0_carries_result_type_cache_hints_and_server_identity() {
    let (_env, mut wire) = wire().await;
    let reply = wire
        .request(json!(0), "tools/list", json!({"_meta": meta()}))
        .await;
    assert_eq!(reply["id"], 0);
    let result = &reply["result"];
    assert_eq!(result["resultType"], "complete", "{reply}");
    assert_eq!(result["ttlMs"], 300_000);
    assert_eq!(result["cacheScope"], "public");
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "whatsapp-connector"
    );
    assert!(result.get("nextCursor").is_none());
}

#[tokio::test]
async fn tools_are_listed_in_the_component_order_with_titles_schemas_and_all_four_hints() {
    let (env, mut wire) = wire().await;
    let reply = wire
        .request(json!(1), "tools/list", json!({"_meta": meta()}))
        .await;
    let tools = reply["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    let component_order: Vec<&str> = env
        .harness
        .runtime()
        .tools()
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(names, component_order);
    let mut sorted = names.clone();
    sorted.sort_unstable();
    let mut expected = TOOLS.to_vec();
    expected.sort_unstable();
    assert_eq!(sorted, expected);
    for tool in tools {
        let name = tool["name"].as_str().unwrap();
        assert!(
            tool["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{name}: no title"
        );
        assert!(
            tool["description"].as_str().is_some_and(|d| d.len() > 40),
            "{name}: no description"
        );
        assert_eq!(tool["inputSchema"]["type"], "object", "{name}");
        assert_eq!(tool["outputSchema"]["type"], "object", "{name}");
        let a = &tool["annotations"];
        assert_eq!(a["title"], tool["title"], "{name}");
        let hints: Vec<bool> = [
            "readOnlyHint",
            "destructiveHint",
            "idempotentHint",
            "openWorldHint",
        ]
        .iter()
        .map(|h| {
            a[h].as_bool()
                .unwrap_or_else(|| panic!("{name}: {h} not set"))
        })
        .collect();
        let expected = match name {
            "whatsapp_get_message_status"
            | "whatsapp_list_conversations"
            | "whatsapp_get_messages" => [true, false, true, false],
            "whatsapp_mark_as_read" => [false, false, true, true],
            "whatsapp_list_templates" | "whatsapp_get_business_profile" => {
                [true, false, true, true]
            }
            "whatsapp_send_message"
            | "whatsapp_send_template"
            | "whatsapp_send_media"
            | "whatsapp_send_reaction"
            | "whatsapp_create_template" => [false, false, false, true],
            "whatsapp_update_business_profile" | "whatsapp_delete_template" => {
                [false, true, true, true]
            }
            other => panic!("unexpected tool {other}"),
        };
        assert_eq!(
            hints, expected,
            "{name}: read-only, destructive, idempotent, open-world"
        );
    }
}

#[tokio::test]
async fn a_modern_request_naming_an_unknown_version_gets_32022_with_the_supported_versions() {
    let (_env, mut wire) = wire().await;
    let mut old = meta();
    old["io.modelcontextprotocol/protocolVersion"] = json!("1999-01-01");
    let reply = wire
        .request(json!(3), "tools/list", json!({"_meta": old}))
        .await;
    assert_eq!(error_code(&reply), -32022);
    assert_eq!(reply["error"]["data"]["requested"], "1999-01-01");
    let supported = reply["error"]["data"]["supported"].as_array().unwrap();
    assert!(
        supported.contains(&json!(MODERN)) && supported.contains(&json!(LEGACY)),
        "{reply}"
    );
}

#[tokio::test]
async fn a_modern_session_rejects_a_request_missing_its_meta_keys_with_32602() {
    let (_env, mut wire) = wire().await;
    let ok = wire
        .request(json!(1), "tools/list", json!({"_meta": meta()}))
        .await;
    assert!(ok.get("result").is_some(), "{ok}");
    let bare = wire.request(json!(2), "tools/list", json!({})).await;
    assert_eq!(error_code(&bare), -32602, "{bare}");
    let no_caps = wire
        .request(
            json!(3),
            "tools/list",
            json!({"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}),
        )
        .await;
    assert_eq!(error_code(&no_caps), -32602, "{no_caps}");
}

#[tokio::test]
async fn subscriptions_listen_and_ping_are_method_not_found_in_the_modern_era() {
    let (_env, mut wire) = wire().await;
    let listen = wire
        .request(
            json!("listen:0"),
            "subscriptions/listen",
            json!({"_meta": meta(), "notifications": {"toolsListChanged": true}}),
        )
        .await;
    assert_eq!(error_code(&listen), -32601, "{listen}");
    let ping = wire
        .request(json!(1), "ping", json!({"_meta": meta()}))
        .await;
    assert_eq!(error_code(&ping), -32601, "{ping}");
    let prompts = wire
        .request(json!(2), "prompts/list", json!({"_meta": meta()}))
        .await;
    assert_eq!(error_code(&prompts), -32601, "{prompts}");
}

#[tokio::test]
async fn an_unknown_tool_is_a_32602_protocol_error_in_both_eras() {
    let (env, mut wire) = wire().await;
    let modern = wire
        .request(
            json!(1),
            "tools/call",
            json!({"_meta": meta(), "name": "whatsapp_fly", "arguments": {}}),
        )
        .await;
    assert_eq!(error_code(&modern), -32602, "{modern}");
    assert!(
        modern["error"]["message"]
            .as_str()
            .unwrap()
            .contains("whatsapp_fly")
    );

    let mut legacy = Wire::open(McpServer::new(env.harness.runtime().clone()));
    legacy.handshake(LEGACY).await;
    let reply = legacy
        .request(json!(1), "tools/call", json!({"name": "whatsapp_fly"}))
        .await;
    assert_eq!(error_code(&reply), -32602, "{reply}");
}

#[tokio::test]
async fn a_listing_cursor_that_was_never_issued_is_invalid_params() {
    let (_env, mut wire) = wire().await;
    let reply = wire
        .request(
            json!(1),
            "tools/list",
            json!({"_meta": meta(), "cursor": "page-2"}),
        )
        .await;
    assert_eq!(error_code(&reply), -32602, "{reply}");
}

#[tokio::test]
async fn a_successful_call_returns_structured_content_and_the_same_json_as_text() {
    let (_env, mut wire) = wire().await;
    let args = json!({"to": CUSTOMER, "name": "hello_world", "language": "en_US"});
    let reply = wire
        .request(
            json!(1),
            "tools/call",
            json!({"_meta": meta(), "name": "whatsapp_send_template", "arguments": args}),
        )
        .await;
    let result = &reply["result"];
    assert_eq!(result["isError"], false, "{reply}");
    assert_eq!(result["resultType"], "complete");
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "whatsapp-connector"
    );
    let structured = &result["structuredContent"];
    assert!(
        structured["message_id"]
            .as_str()
            .unwrap()
            .starts_with("wamid."),
        "{structured}"
    );
    let text: Value = serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(&text, structured);
}

#[tokio::test]
async fn a_graph_error_is_an_is_error_result_with_the_hint_and_the_structured_error() {
    let (_env, mut wire) = wire().await;
    wire.handshake(LEGACY).await;
    let args = json!({"to": STRANGER, "text": "Hello?"});
    let reply = wire
        .request(
            json!(1),
            "tools/call",
            json!({"name": "whatsapp_send_message", "arguments": args}),
        )
        .await;
    let result = &reply["result"];
    assert_eq!(result["isError"], true, "{reply}");
    let line = result["content"][0]["text"].as_str().unwrap();
    assert!(
        line.contains("131047") && line.contains("whatsapp_send_template"),
        "{line}"
    );
    assert!(!line.contains('\n'));
    let structured: Value =
        serde_json::from_str(result["content"][1]["text"].as_str().unwrap()).unwrap();
    let error = &structured["error"];
    assert_eq!(error["code"], 131047);
    assert_eq!(error["retryable"], false);
    for key in ["title", "details", "hint"] {
        assert!(
            error[key].as_str().is_some_and(|s| !s.is_empty()),
            "{key} missing: {error}"
        );
    }
    // structuredContent is reserved for output that matches the outputSchema.
    assert!(result.get("structuredContent").is_none(), "{result}");
    assert!(
        result.get("_meta").is_none(),
        "legacy results carry no _meta: {result}"
    );
}

#[tokio::test]
async fn invalid_arguments_are_a_tool_error_not_a_protocol_error() {
    let (_env, mut wire) = wire().await;
    let reply = wire
        .request(json!(1), "tools/call", json!({"_meta": meta(), "name": "whatsapp_send_message", "arguments": {"to": CUSTOMER}}))
        .await;
    assert_eq!(reply["result"]["isError"], true, "{reply}");
    assert!(
        reply["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("text"),
        "{reply}"
    );
}

#[tokio::test]
async fn a_guest_timeout_or_trap_is_an_is_error_result_and_the_next_call_works() {
    let env = Env::builder()
        .component(hostile_component())
        .settings(|s| {
            s.runtime.call_timeout_ms = 700;
            s.runtime.memory_limit_mib = 16;
        })
        .start()
        .await;
    let mut wire = Wire::open(McpServer::new(env.harness.runtime().clone()));
    for (id, tool, expected) in [(1, "spin", "timed out"), (2, "allocate", "Memory limit")] {
        let reply = wire
            .request(
                json!(id),
                "tools/call",
                json!({"_meta": meta(), "name": tool, "arguments": {}}),
            )
            .await;
        assert_eq!(reply["result"]["isError"], true, "{tool}: {reply}");
        let line = reply["result"]["content"][0]["text"].as_str().unwrap();
        assert!(line.contains(expected), "{tool}: {line}");
    }
    let ok = wire
        .request(
            json!(3),
            "tools/call",
            json!({"_meta": meta(), "name": "echo_size", "arguments": {}}),
        )
        .await;
    assert_eq!(ok["result"]["structuredContent"]["bytes"], 2, "{ok}");
}

#[tokio::test]
async fn a_cancelled_call_gets_no_reply_and_gives_its_instance_slot_back_at_once() {
    // One instance slot: the next call can start only once the cancelled one is dropped.
    let env = Env::builder()
        .settings(|s| s.runtime.max_instances = 1)
        .start()
        .await;
    env.sandbox
        .inject_fault(Fault::new(FaultKind::Latency(Duration::from_secs(20))).on_path("/messages"));
    let mut wire = Wire::open(McpServer::new(env.harness.runtime().clone()));
    wire.handshake(LEGACY).await;
    let args = json!({"to": CUSTOMER, "name": "hello_world", "language": "en_US"});
    wire.send(json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                     "params": {"name": "whatsapp_send_template", "arguments": args}}))
        .await;
    // Wait until the call is really in flight: the sandbox holds its request.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !env.requests().iter().any(|r| r.path.contains("/messages")) {
        assert!(
            Instant::now() < deadline,
            "the send never reached the sandbox"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wire.notify(
        "notifications/cancelled",
        json!({"requestId": 7, "reason": "user pressed stop"}),
    )
    .await;

    let started = Instant::now();
    let reply = wire
        .request(
            json!(8),
            "tools/call",
            json!({"name": "whatsapp_get_business_profile", "arguments": {}}),
        )
        .await;
    assert_eq!(reply["result"]["isError"], false, "{reply}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the next call waited {:?}: the cancelled call still held the only instance",
        started.elapsed()
    );
    assert!(
        wire.reply(&json!(7), Duration::from_secs(1))
            .await
            .is_none(),
        "a cancelled call was answered"
    );
}

#[tokio::test]
async fn the_session_ends_promptly_when_the_client_closes_its_side() {
    let (_env, mut wire) = wire().await;
    wire.handshake(LEGACY).await;
    let Wire {
        write,
        lines,
        serving,
        ..
    } = wire;
    drop(write);
    drop(lines);
    let ended = tokio::time::timeout(Duration::from_secs(5), serving).await;
    assert!(
        matches!(ended, Ok(Ok(Ok(())))),
        "serve_io did not end cleanly on EOF: {ended:?}"
    );
}

#[tokio::test]
async fn the_tools_list_benchmark_measures_both_eras() {
    let env = Env::new().await;
    let report = host_harness::commands::bench::mcp::bench_tools_list(
        McpServer::new(env.harness.runtime().clone()),
        50,
    )
    .await
    .unwrap();
    for era in [report.legacy, report.modern] {
        assert_eq!(era.samples, 50);
        assert!(era.p50 <= era.p99 && era.p99 <= era.max, "{era}");
    }
    assert!(report.response_bytes > 1000);
}

// ---- streamable HTTP ------------------------------------------------------

struct Http {
    url: String,
    client: reqwest::Client,
    _env: Env,
}

async fn http() -> Http {
    let env = Env::new().await;
    whatsapp_host::install_crypto_provider();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = mcp::router(
        McpServer::new(env.harness.runtime().clone()),
        mcp::http_config(addr, &HttpOptions::default()),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Http {
        url: format!("http://{addr}/mcp"),
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
        _env: env,
    }
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
}

impl Http {
    /// A modern POST with the headers a 2026-07-28 client sends.
    async fn modern(
        &self,
        method: &str,
        name: Option<&str>,
        params: Value,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut headers = vec![("MCP-Protocol-Version", MODERN), ("Mcp-Method", method)];
        if let Some(name) = name {
            headers.push(("Mcp-Name", name));
        }
        headers.extend_from_slice(extra);
        self.post(
            json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
            &headers,
        )
        .await
    }

    async fn post(&self, body: Value, headers: &[(&str, &str)]) -> Reply {
        let mut req = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .body(body.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        Reply {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap(),
        }
    }
}

#[tokio::test]
async fn http_serves_a_modern_tools_list_as_json_with_cache_hints() {
    let h = http().await;
    let r = h
        .modern("tools/list", None, json!({"_meta": meta()}), &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert!(
        r.headers.get("mcp-session-id").is_none(),
        "modern requests are stateless"
    );
    let result = &r.json()["result"];
    assert_eq!(result["tools"].as_array().map(Vec::len), Some(TOOLS.len()));
    assert_eq!(result["ttlMs"], 300_000);
    assert_eq!(result["cacheScope"], "public");
}

#[tokio::test]
async fn http_rejects_a_protocol_version_header_that_contradicts_meta_with_400_and_32020() {
    let h = http().await;
    let body =
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta()}});
    let r = h
        .post(
            body,
            &[
                ("MCP-Protocol-Version", LEGACY),
                ("Mcp-Method", "tools/list"),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(error_code(&r.json()), -32020);
}

#[tokio::test]
async fn http_rejects_a_missing_mcp_method_header_with_400_and_32020() {
    let h = http().await;
    let body =
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta()}});
    let r = h.post(body, &[("MCP-Protocol-Version", MODERN)]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(error_code(&r.json()), -32020);
}

#[tokio::test]
async fn http_rejects_an_mcp_name_header_naming_another_tool_with_400_and_32020() {
    let h = http().await;
    let params = json!({"_meta": meta(), "name": "whatsapp_get_business_profile", "arguments": {}});
    let wrong = h
        .modern(
            "tools/call",
            Some("whatsapp_delete_template"),
            params.clone(),
            &[],
        )
        .await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert_eq!(error_code(&wrong.json()), -32020);
    let missing = h.modern("tools/call", None, params.clone(), &[]).await;
    assert_eq!(error_code(&missing.json()), -32020);
    let right = h
        .modern(
            "tools/call",
            Some("whatsapp_get_business_profile"),
            params,
            &[],
        )
        .await;
    assert_eq!(right.status, 200, "{}", right.body);
    assert_eq!(right.json()["result"]["isError"], false);
}

#[tokio::test]
async fn http_refuses_a_foreign_origin_with_403_and_serves_a_loopback_one() {
    let h = http().await;
    let params = json!({"_meta": meta()});
    let evil = h
        .modern(
            "tools/list",
            None,
            params.clone(),
            &[("Origin", "https://evil.example")],
        )
        .await;
    assert_eq!(evil.status, 403, "{}", evil.body);
    let local = h
        .modern(
            "tools/list",
            None,
            params,
            &[("Origin", "http://localhost:6274")],
        )
        .await;
    assert_eq!(local.status, 200, "{}", local.body);
}

#[tokio::test]
async fn http_refuses_a_foreign_host_header_with_403() {
    let h = http().await;
    let r = h
        .modern(
            "tools/list",
            None,
            json!({"_meta": meta()}),
            &[("Host", "evil.example")],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
}

#[tokio::test]
async fn http_answers_get_and_delete_with_405_in_the_modern_era() {
    let h = http().await;
    let get = h
        .client
        .get(&h.url)
        .header("Accept", "text/event-stream")
        .header("MCP-Protocol-Version", MODERN)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 405);
    let delete = h
        .client
        .delete(&h.url)
        .header("MCP-Protocol-Version", MODERN)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status().as_u16(), 405);
}

#[tokio::test]
async fn http_answers_an_unknown_method_with_404_and_32601() {
    let h = http().await;
    let r = h
        .modern(
            "subscriptions/listen",
            None,
            json!({"_meta": meta(), "notifications": {}}),
            &[],
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(error_code(&r.json()), -32601);
}

#[tokio::test]
async fn http_answers_an_unknown_version_with_400_and_32022() {
    let h = http().await;
    let mut old = meta();
    old["io.modelcontextprotocol/protocolVersion"] = json!("1999-01-01");
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": old}});
    let r = h
        .post(
            body,
            &[
                ("MCP-Protocol-Version", "1999-01-01"),
                ("Mcp-Method", "tools/list"),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let reply = r.json();
    assert_eq!(error_code(&reply), -32022);
    assert!(
        reply["error"]["data"]["supported"]
            .as_array()
            .unwrap()
            .contains(&json!(MODERN))
    );
}

#[tokio::test]
async fn http_answers_a_modern_request_missing_its_meta_keys_with_400_and_32602() {
    let h = http().await;
    let r = h.modern("tools/list", None, json!({}), &[]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(error_code(&r.json()), -32602);
}

#[tokio::test]
async fn http_opens_a_legacy_session_on_initialize_and_serves_tools_in_it() {
    let h = http().await;
    let init =
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": initialize(LEGACY)});
    let r = h.post(init, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["result"]["protocolVersion"], LEGACY);
    let session = r.headers["mcp-session-id"].to_str().unwrap().to_string();
    let with_session = [
        ("Mcp-Session-Id", session.as_str()),
        ("MCP-Protocol-Version", LEGACY),
    ];
    let initialized = h
        .post(
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            &with_session,
        )
        .await;
    assert_eq!(initialized.status, 202);
    let list = h
        .post(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
            &with_session,
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.body);
    let result = &list.json()["result"];
    assert_eq!(
        result["tools"].as_array().map(Vec::len),
        Some(TOOLS.len()),
        "{result}"
    );
    assert!(result.get("resultType").is_none());
}

// ---- the real binary --------------------------------------------------------

#[tokio::test]
async fn the_binary_writes_only_protocol_to_stdout_and_exits_on_eof() {
    use std::process::Stdio;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_host-harness"))
        .args(["serve", "--sandbox"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let init =
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": initialize(LEGACY)});
    stdin
        .write_all(format!("{init}\n").as_bytes())
        .await
        .unwrap();
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(120), stdout.read_line(&mut line))
        .await
        .expect("the server answers initialize")
        .unwrap();
    let reply: Value = serde_json::from_str(&line).expect("stdout carries JSON-RPC only");
    assert_eq!(reply["result"]["protocolVersion"], LEGACY);
    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("the server exits within 5 s of EOF on stdin")
        .unwrap();
    assert!(status.success(), "{status}");
    let mut rest = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut rest)
        .await
        .unwrap();
    assert_eq!(rest, "", "stdout carried something besides the reply");
}
