//! Apps, tool enablement and guardrails, end to end: the policy decides
//! before the real component runs (a denial creates no instance and sends
//! nothing), the three shipped recipes over MCP (in-memory stdio and HTTP
//! with app keys), reloads, the audit log and the CLI.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use whatsapp_host::audit::{AuditConfig, rotated_path};
use whatsapp_host::gateway::{Gateway, Reload, ToolService as _};
use whatsapp_host::mcp::{self, HttpOptions, McpServer};
use whatsapp_host::policy::{ManualClock, Policy, TOOL_NOT_ENABLED, ToolInfo, hash_key, rate_key};
use whatsapp_host::store::Table;
use whatsapp_host::tool::{ErrorKind, ToolError};
use whatsapp_sandbox::{Fault, FaultKind};

use crate::common::{CUSTOMER, CUSTOMER_DIGITS, Env};

const MODERN: &str = "2026-07-28";
const READ_TOOLS: [&str; 3] = [
    "whatsapp_get_message_status",
    "whatsapp_list_templates",
    "whatsapp_get_business_profile",
];
const SEND_TOOLS: [&str; 3] = [
    "whatsapp_send_message",
    "whatsapp_send_template",
    "whatsapp_send_media",
];
/// The inbox's readers: also in category `read`, listed after the send tools.
const INBOX_READ_TOOLS: [&str; 2] = ["whatsapp_list_conversations", "whatsapp_get_messages"];
const CHANGE_TOOLS: [&str; 3] = [
    "whatsapp_create_template",
    "whatsapp_update_business_profile",
    "whatsapp_delete_template",
];

fn recipe_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/policies")
        .join(format!("{name}.toml"))
}

fn recipe(name: &str) -> String {
    std::fs::read_to_string(recipe_path(name)).unwrap()
}

/// `text` with `key_hash` for `key` added to the app named `app`.
fn with_key(text: &str, app: &str, key: &str) -> String {
    let line = format!("name = \"{app}\"\n");
    assert!(text.contains(&line), "no app {app}");
    text.replacen(
        &line,
        &format!("{line}key_hash = \"{}\"\n", hash_key(key)),
        1,
    )
}

fn policy(env: &Env, text: &str) -> Policy {
    let tools = ToolInfo::from_descriptors(env.harness.runtime().tools());
    Policy::parse(text, "test.toml", &tools).unwrap_or_else(|e| panic!("{e}"))
}

fn gateway(env: &Env, text: &str) -> Arc<Gateway> {
    Arc::new(Gateway::with_policy(
        env.harness.runtime().clone(),
        policy(env, text),
    ))
}

fn template_args(to: &str) -> Value {
    json!({"to": to, "name": "hello_world", "language": "en_US"})
}

/// Runs `call` and checks it was refused by `rule` without creating an
/// instance or sending a request.
async fn assert_refused_before_running(
    env: &Env,
    gateway: &Gateway,
    app: &str,
    tool: &str,
    args: Value,
    rule: &str,
) -> ToolError {
    env.sandbox.clear_requests();
    let instances = env.harness.runtime().instances_created();
    let e = gateway
        .call_tool(app, tool, &args.to_string())
        .await
        .expect_err("the call was allowed");
    assert_eq!(e.kind, ErrorKind::Denied, "{e}");
    assert_eq!(e.rule.as_deref(), Some(rule), "{e}");
    assert_eq!(
        env.harness.runtime().instances_created(),
        instances,
        "a denied call ({rule}) created an instance"
    );
    assert!(
        env.requests().is_empty(),
        "a denied call ({rule}) sent {:?}",
        env.requests()
    );
    e
}

// ---- every template, through the real component ------------------------------

const EVERY_TEMPLATE: &str = r#"
[[rules]]
id = "night-shift"
template = "time_window"
tools = ["whatsapp_send_media"]
start = "22:00"
end = "06:00"
timezone = "Asia/Tokyo"

[[rules]]
id = "no-lawsuits"
template = "keyword_block"
tools = ["write"]
keywords = ["lawsuit"]

[[apps]]
name = "bot"
tools = ["read", "whatsapp_send_message", "whatsapp_send_template", "whatsapp_send_media"]

[[apps.rules]]
id = "recipients"
template = "allow_values"
tools = ["whatsapp_send_message", "whatsapp_send_template", "whatsapp_send_media"]
field = "to"
values = ["+1 (650) 555-1234"]

[[apps.rules]]
id = "not-rejected"
template = "block_values"
tools = ["whatsapp_list_templates"]
field = "status"
values = ["REJECTED"]

[[apps.rules]]
id = "short-texts"
template = "content_length"
tools = ["whatsapp_send_message"]
field = "text"
max = 20

[[apps.rules]]
id = "no-cards"
template = "block_pattern"
tools = ["whatsapp_send_message"]
pattern = '\d{16}'
description = "a card number"

[[apps.rules]]
id = "english-templates"
template = "require_prefix"
tools = ["whatsapp_send_template"]
field = "language"
prefix = "en"

[[apps.rules]]
id = "two-profile-reads"
template = "rate_limit"
tools = ["whatsapp_get_business_profile"]
max_calls = 2
window = "1h"
"#;

#[tokio::test]
async fn every_template_denial_creates_no_instance_and_sends_nothing() {
    let env = Env::new().await;
    env.sandbox.simulate_inbound(CUSTOMER, "hi");
    // 23:00 in Tokyo: inside the night shift.
    let clock = Arc::new(ManualClock::new("2026-11-04T14:00:00Z".parse().unwrap()));
    let gw = Gateway::with_policy(env.harness.runtime().clone(), policy(&env, EVERY_TEMPLATE))
        .with_clock(clock.clone());
    let msg = |to: &str, text: &str| json!({"to": to, "text": text});
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "whatsapp_delete_template",
            json!({"name": "hello_world"}),
            TOOL_NOT_ENABLED,
        ),
        (
            "whatsapp_send_message",
            msg("+16505551235", "hi"),
            "recipients",
        ),
        (
            "whatsapp_send_message",
            msg(CUSTOMER, "this text is far too long"),
            "short-texts",
        ),
        (
            "whatsapp_send_message",
            msg(CUSTOMER, "4111111111111111"),
            "no-cards",
        ),
        (
            "whatsapp_send_message",
            msg(CUSTOMER, "a LAWSUIT"),
            "no-lawsuits",
        ),
        (
            "whatsapp_list_templates",
            json!({"status": ["APPROVED", "REJECTED"]}),
            "not-rejected",
        ),
        (
            "whatsapp_send_template",
            json!({"to": CUSTOMER, "name": "hello_world", "language": "de"}),
            "english-templates",
        ),
    ];
    for (tool, args, rule) in cases {
        assert_refused_before_running(&env, &gw, "bot", tool, args, rule).await;
    }
    // The same calls, corrected, run.
    for (tool, args) in [
        ("whatsapp_send_message", msg("+1 650 555 1234", "hello")),
        ("whatsapp_list_templates", json!({"status": ["APPROVED"]})),
        ("whatsapp_send_template", template_args("16505551234")),
    ] {
        gw.call_tool("bot", tool, &args.to_string())
            .await
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
    }
    // Rate limit: two calls run, the third is refused before running.
    for _ in 0..2 {
        gw.call_tool("bot", "whatsapp_get_business_profile", "{}")
            .await
            .unwrap();
    }
    let e = assert_refused_before_running(
        &env,
        &gw,
        "bot",
        "whatsapp_get_business_profile",
        json!({}),
        "two-profile-reads",
    )
    .await;
    assert!(e.retryable);
    // Time window: 07:00 in Tokyo is outside the night shift.
    let media = json!({"to": CUSTOMER, "media_type": "image", "link": "https://example.com/a.png"});
    clock.set("2026-11-04T22:00:00Z".parse().unwrap());
    let e = assert_refused_before_running(
        &env,
        &gw,
        "bot",
        "whatsapp_send_media",
        media.clone(),
        "night-shift",
    )
    .await;
    assert!(e.details.contains("Asia/Tokyo"), "{}", e.details);
    clock.set("2026-11-04T20:59:00Z".parse().unwrap());
    gw.call_tool("bot", "whatsapp_send_media", &media.to_string())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_denial_is_a_denied_error_with_the_rule_a_reason_and_a_hint() {
    let env = Env::new().await;
    let gw = gateway(&env, EVERY_TEMPLATE);
    let e = assert_refused_before_running(
        &env,
        &gw,
        "bot",
        "whatsapp_send_template",
        template_args("+16505550000"),
        "recipients",
    )
    .await;
    assert_eq!(e.title, "Refused by policy");
    assert!(
        e.details.contains("+16505550000") && e.details.contains("nothing was sent"),
        "{}",
        e.details
    );
    assert!(!e.hint.is_empty());
    assert_eq!(e.field.as_deref(), Some("to"));
    let json = e.to_json();
    assert_eq!(json["error"]["rule"], "recipients");
    assert_eq!(json["error"]["kind"], "denied");
}

#[tokio::test]
async fn the_component_sends_to_exactly_the_number_the_rule_allowed() {
    // The policy's normalisation and the component's agree: an allowed
    // spelling reaches the API as the allowed digits.
    let env = Env::new().await;
    let gw = gateway(&env, EVERY_TEMPLATE);
    for spelling in ["+1 (650) 555-1234", "16505551234", " +1.650.555.1234 "] {
        env.sandbox.clear_requests();
        gw.call_tool(
            "bot",
            "whatsapp_send_template",
            &template_args(spelling).to_string(),
        )
        .await
        .unwrap_or_else(|e| panic!("{spelling}: {e}"));
        let sent = env.requests();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].json().unwrap()["to"], CUSTOMER_DIGITS, "{spelling}");
    }
    // Duplicate keys: the component gets the JSON the rules judged, not the
    // raw text a different parser might read otherwise.
    env.sandbox.clear_requests();
    let sneaky = r#"{"to": "+16505551234", "name": "hello_world", "language": "en_US", "to": "+16505550000"}"#;
    let result = gw.call_tool("bot", "whatsapp_send_template", sneaky).await;
    let e = result.expect_err("the last `to` is the one judged and it is not allowed");
    assert_eq!(e.rule.as_deref(), Some("recipients"));
    assert!(env.requests().is_empty());
}

#[tokio::test]
async fn look_alike_recipients_are_denied_before_anything_runs() {
    let env = Env::new().await;
    let gw = gateway(&env, EVERY_TEMPLATE);
    for look_alike in [
        "+165055512345",
        "+446505551234",
        "+1650555123",
        "+1650555l234",
        "+1 650 555 1234 #",
        "0016505551234",
    ] {
        assert_refused_before_running(
            &env,
            &gw,
            "bot",
            "whatsapp_send_template",
            template_args(look_alike),
            "recipients",
        )
        .await;
    }
}

// ---- first deny wins ------------------------------------------------------------

#[tokio::test]
async fn first_deny_wins_enablement_then_global_then_app_rules() {
    let env = Env::new().await;
    let gw = gateway(&env, EVERY_TEMPLATE);
    // Disabled and breaking a global rule: enablement is reported.
    assert_refused_before_running(
        &env,
        &gw,
        "bot",
        "whatsapp_create_template",
        json!({"name": "lawsuit"}),
        TOOL_NOT_ENABLED,
    )
    .await;
    // Breaking a global and two app rules: the global one.
    assert_refused_before_running(
        &env,
        &gw,
        "bot",
        "whatsapp_send_message",
        json!({"to": "+16505550000", "text": "a lawsuit, and far too long"}),
        "no-lawsuits",
    )
    .await;
    // Breaking two app rules: the first in the file.
    assert_refused_before_running(
        &env,
        &gw,
        "bot",
        "whatsapp_send_message",
        json!({"to": "+16505550000", "text": "far too long for this rule"}),
        "recipients",
    )
    .await;
}

// ---- rate limits ------------------------------------------------------------------

const RATE: &str = r#"
[[rules]]
id = "three-an-hour"
template = "rate_limit"
tools = ["whatsapp_list_templates"]
max_calls = 3
window = "1h"

[[apps]]
name = "a"
tools = ["*"]

[[apps]]
name = "b"
tools = ["*"]
"#;

#[tokio::test]
async fn rate_limit_is_exact_at_the_boundary_per_app_and_kept_in_the_host_table() {
    let env = Env::new().await;
    let t0: jiff::Timestamp = "2026-11-04T12:00:00Z".parse().unwrap();
    let clock = Arc::new(ManualClock::new(t0));
    let gw = Gateway::with_policy(env.harness.runtime().clone(), policy(&env, RATE))
        .with_clock(clock.clone());
    for _ in 0..3 {
        gw.call_tool("a", "whatsapp_list_templates", "{}")
            .await
            .unwrap();
    }
    assert_refused_before_running(
        &env,
        &gw,
        "a",
        "whatsapp_list_templates",
        json!({}),
        "three-an-hour",
    )
    .await;
    // Another app has its own count.
    gw.call_tool("b", "whatsapp_list_templates", "{}")
        .await
        .unwrap();
    // The count lives in the durable store, not in the gateway: a new
    // gateway (as after a restart) sees it.
    let state = &env.harness.runtime().capabilities().state;
    let stored = state
        .get(
            Table::Host,
            &rate_key("three-an-hour", "a", "whatsapp_list_templates"),
        )
        .await
        .unwrap()
        .expect("the count is in the host table");
    assert_eq!(stored.len(), 3 * 8);
    let restarted = Gateway::with_policy(env.harness.runtime().clone(), policy(&env, RATE))
        .with_clock(clock.clone());
    assert_refused_before_running(
        &env,
        &restarted,
        "a",
        "whatsapp_list_templates",
        json!({}),
        "three-an-hour",
    )
    .await;
    // One ms before the hour is up: still full. At the hour: a slot frees.
    clock.set(
        t0.checked_add(jiff::SignedDuration::from_millis(3_599_999))
            .unwrap(),
    );
    assert_refused_before_running(
        &env,
        &restarted,
        "a",
        "whatsapp_list_templates",
        json!({}),
        "three-an-hour",
    )
    .await;
    clock.set(
        t0.checked_add(jiff::SignedDuration::from_secs(3600))
            .unwrap(),
    );
    restarted
        .call_tool("a", "whatsapp_list_templates", "{}")
        .await
        .unwrap();
}

#[tokio::test]
async fn rate_limit_lets_exactly_max_calls_through_when_they_race() {
    let env = Env::new().await;
    let gw = gateway(&env, RATE);
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let gw = gw.clone();
            tokio::spawn(async move { gw.call_tool("a", "whatsapp_list_templates", "{}").await })
        })
        .collect();
    let mut allowed = 0;
    let mut denied = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => allowed += 1,
            Err(e) if e.rule.as_deref() == Some("three-an-hour") => denied += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!((allowed, denied), (3, 5));
}

// ---- MCP over an in-memory stream (what stdio carries) ----------------------------

struct Wire {
    write: tokio::io::WriteHalf<tokio::io::DuplexStream>,
    lines: BufReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>,
    next_id: u64,
}

impl Wire {
    fn open(server: McpServer) -> Wire {
        let (client, server_end) = tokio::io::duplex(1 << 20);
        tokio::spawn(mcp::serve_io(server, tokio::io::split(server_end)));
        let (read, write) = tokio::io::split(client);
        Wire {
            write,
            lines: BufReader::new(read),
            next_id: 1,
        }
    }

    /// A 2026-07-28 request (no handshake) and its reply.
    async fn request(&mut self, method: &str, mut params: Value) -> Value {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "e2e", "version": "0"}
        });
        let id = self.next_id;
        self.next_id += 1;
        let mut bytes = serde_json::to_vec(
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        )
        .unwrap();
        bytes.push(b'\n');
        self.write.write_all(&bytes).await.unwrap();
        loop {
            let mut line = String::new();
            tokio::time::timeout(Duration::from_secs(60), self.lines.read_line(&mut line))
                .await
                .expect("the server answers")
                .unwrap();
            let message: Value = serde_json::from_str(&line).unwrap();
            if message["id"] == id {
                return message;
            }
        }
    }

    async fn tool_names(&mut self) -> Vec<String> {
        let reply = self.request("tools/list", json!({})).await;
        names(&reply["result"])
    }

    async fn call(&mut self, tool: &str, args: Value) -> Value {
        self.request("tools/call", json!({"name": tool, "arguments": args}))
            .await
    }
}

fn names(list_result: &Value) -> Vec<String> {
    list_result["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("not a tools/list result: {list_result}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// A disabled tool called anyway: `-32602`, as for a tool that does not
/// exist (to this app it does not), naming the rule and the app's tools.
#[track_caller]
fn assert_unknown_to_this_app(reply: &Value, tool: &str, visible: &[String]) {
    assert_eq!(reply["error"]["code"], -32602, "{reply}");
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(tool) && message.contains("not enabled"),
        "{message}"
    );
    assert_eq!(reply["error"]["data"]["rule"], TOOL_NOT_ENABLED);
    assert_eq!(reply["error"]["data"]["known_tools"], json!(visible));
}

#[tokio::test]
async fn send_only_recipe_lists_read_and_send_tools_and_refuses_the_others_over_mcp() {
    let env = Env::new().await;
    env.sandbox.simulate_inbound(CUSTOMER, "hi");
    let gw = gateway(&env, &recipe("send-only"));
    let mut wire = Wire::open(McpServer::with_gateway(gw, Some("send-only".into())));
    let expected: Vec<String> = strings(
        &[
            READ_TOOLS.as_slice(),
            SEND_TOOLS.as_slice(),
            INBOX_READ_TOOLS.as_slice(),
        ]
        .concat(),
    );
    assert_eq!(wire.tool_names().await, expected);
    for tool in CHANGE_TOOLS {
        env.sandbox.clear_requests();
        let instances = env.harness.runtime().instances_created();
        let reply = wire.call(tool, json!({"name": "hello_world"})).await;
        assert_unknown_to_this_app(&reply, tool, &expected);
        assert_eq!(env.harness.runtime().instances_created(), instances);
        assert!(env.requests().is_empty());
    }
    let ok = wire
        .call(
            "whatsapp_send_message",
            json!({"to": CUSTOMER, "text": "Your order shipped"}),
        )
        .await;
    assert_eq!(ok["result"]["isError"], false, "{ok}");
    let ok = wire.call("whatsapp_list_templates", json!({})).await;
    assert_eq!(ok["result"]["isError"], false, "{ok}");
}

#[tokio::test]
async fn template_only_recipe_lists_two_tools_and_refuses_free_form_sends_over_mcp() {
    let env = Env::new().await;
    let gw = gateway(&env, &recipe("template-only"));
    let mut wire = Wire::open(McpServer::with_gateway(gw, Some("outreach".into())));
    let expected = strings(&["whatsapp_list_templates", "whatsapp_send_template"]);
    let list = wire.request("tools/list", json!({})).await;
    assert_eq!(names(&list["result"]), expected);
    // The list depends on who asks: private, and cached briefly.
    assert_eq!(list["result"]["cacheScope"], "private");
    assert_eq!(list["result"]["ttlMs"], mcp::POLICY_LIST_TTL_MS);
    for tool in [
        "whatsapp_send_message",
        "whatsapp_send_media",
        "whatsapp_delete_template",
    ] {
        env.sandbox.clear_requests();
        let reply = wire
            .call(
                tool,
                json!({"to": CUSTOMER, "text": "hi", "media_type": "image"}),
            )
            .await;
        assert_unknown_to_this_app(&reply, tool, &expected);
        assert!(env.requests().is_empty());
    }
    env.sandbox.clear_requests();
    let ok = wire
        .call("whatsapp_send_template", template_args(CUSTOMER))
        .await;
    assert_eq!(ok["result"]["isError"], false, "{ok}");
    assert_eq!(env.requests().len(), 1);
}

#[tokio::test]
async fn restrict_recipients_recipe_sends_to_listed_numbers_in_any_spelling_and_refuses_others_over_mcp()
 {
    let env = Env::new().await;
    let gw = gateway(&env, &recipe("restrict-recipients"));
    let mut wire = Wire::open(McpServer::with_gateway(gw, Some("team-notifier".into())));
    for spelling in ["+1 (650) 555-1234", "16505551234", "+16505551234"] {
        let ok = wire
            .call("whatsapp_send_template", template_args(spelling))
            .await;
        assert_eq!(ok["result"]["isError"], false, "{spelling}: {ok}");
    }
    for look_alike in [
        "+165055512345",
        "+446505551234",
        "+1650555123a",
        "+16505550000",
    ] {
        env.sandbox.clear_requests();
        let instances = env.harness.runtime().instances_created();
        let reply = wire
            .call("whatsapp_send_template", template_args(look_alike))
            .await;
        let result = &reply["result"];
        assert_eq!(result["isError"], true, "{look_alike}: {reply}");
        let line = result["content"][0]["text"].as_str().unwrap();
        assert!(line.contains("team-phones-only"), "{line}");
        assert!(line.contains("ask an operator to add a number"), "{line}");
        let structured: Value =
            serde_json::from_str(result["content"][1]["text"].as_str().unwrap()).unwrap();
        assert_eq!(structured["error"]["rule"], "team-phones-only");
        assert_eq!(structured["error"]["kind"], "denied");
        assert_eq!(env.harness.runtime().instances_created(), instances);
        assert!(env.requests().is_empty(), "{look_alike} reached the API");
    }
}

#[tokio::test]
async fn the_shipped_recipes_are_valid_for_the_component() {
    let env = Env::new().await;
    let tools = ToolInfo::from_descriptors(env.harness.runtime().tools());
    for name in ["send-only", "template-only", "restrict-recipients"] {
        Policy::load(&recipe_path(name), &tools).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

// ---- MCP over HTTP with app keys ----------------------------------------------------

const SEND_KEY: &str = "send-only-key-0123456789abcdef";
const OUTREACH_KEY: &str = "outreach-key-0123456789abcdef";

struct Http {
    url: String,
    client: reqwest::Client,
    _env: Env,
}

async fn http_with_two_apps() -> Http {
    let env = Env::new().await;
    let text = format!(
        "{}\n{}",
        with_key(&recipe("send-only"), "send-only", SEND_KEY),
        with_key(&recipe("template-only"), "outreach", OUTREACH_KEY)
    );
    let gw = gateway(&env, &text);
    whatsapp_host::install_crypto_provider();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = mcp::router(
        McpServer::with_gateway(gw, None),
        mcp::http_config(addr, &HttpOptions::default()),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Http {
        url: format!("http://{addr}/mcp"),
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
        _env: env,
    }
}

impl Http {
    async fn post(
        &self,
        key: Option<&str>,
        method: &str,
        name: Option<&str>,
        params: Value,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut params = params;
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "e2e", "version": "0"}
        });
        let mut req = self
            .client
            .post(&self.url)
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
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().await.unwrap();
        (
            status,
            headers,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )
    }
}

#[tokio::test]
async fn over_http_each_app_key_sees_its_own_tool_list() {
    let h = http_with_two_apps().await;
    let (status, _, send_only) = h.post(Some(SEND_KEY), "tools/list", None, json!({})).await;
    assert_eq!(status, 200, "{send_only}");
    assert_eq!(
        names(&send_only["result"]),
        strings(
            &[
                READ_TOOLS.as_slice(),
                SEND_TOOLS.as_slice(),
                INBOX_READ_TOOLS.as_slice(),
            ]
            .concat(),
        )
    );
    assert_eq!(send_only["result"]["cacheScope"], "private");
    let (status, _, outreach) = h
        .post(Some(OUTREACH_KEY), "tools/list", None, json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        names(&outreach["result"]),
        strings(&["whatsapp_list_templates", "whatsapp_send_template"])
    );
    // The outreach key cannot call what only send-only sees.
    let params =
        json!({"name": "whatsapp_send_message", "arguments": {"to": CUSTOMER, "text": "hi"}});
    let (_, _, reply) = h
        .post(
            Some(OUTREACH_KEY),
            "tools/call",
            Some("whatsapp_send_message"),
            params,
        )
        .await;
    assert_unknown_to_this_app(
        &reply,
        "whatsapp_send_message",
        &strings(&["whatsapp_list_templates", "whatsapp_send_template"]),
    );
    let params = json!({"name": "whatsapp_send_template", "arguments": template_args(CUSTOMER)});
    let (_, _, ok) = h
        .post(
            Some(OUTREACH_KEY),
            "tools/call",
            Some("whatsapp_send_template"),
            params,
        )
        .await;
    assert_eq!(ok["result"]["isError"], false, "{ok}");
}

#[tokio::test]
async fn over_http_a_missing_or_wrong_app_key_gets_401_with_a_challenge() {
    let h = http_with_two_apps().await;
    for (key, error) in [
        (None, false),
        (Some("not-a-key-of-any-app"), true),
        (Some(""), false),
        (Some(&SEND_KEY[1..]), true),
    ] {
        let (status, headers, body) = h.post(key, "tools/list", None, json!({})).await;
        assert_eq!(status, 401, "{key:?}: {body}");
        let challenge = headers["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Bearer realm="), "{challenge}");
        assert_eq!(challenge.contains("invalid_token"), error, "{challenge}");
        assert!(body["error_description"].as_str().is_some(), "{body}");
    }
    // A key sent with another scheme is no key.
    let resp = h
        .client
        .post(&h.url)
        .header("Authorization", format!("Basic {SEND_KEY}"))
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    // The scheme is case-insensitive.
    let (status, _, _) = {
        let resp = h
            .client
            .post(&h.url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .header("Authorization", format!("bearer {SEND_KEY}"))
            .body(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "0"}}}).to_string())
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), (), ())
    };
    assert_eq!(status, 200);
}

#[tokio::test]
async fn over_http_a_legacy_session_acts_as_the_app_whose_key_each_request_carries() {
    let h = http_with_two_apps().await;
    let post = |key: &'static str, session: Option<String>, body: Value| {
        let mut req = h
            .client
            .post(&h.url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .header("Authorization", format!("Bearer {key}"))
            .body(body.to_string());
        if let Some(s) = session {
            req = req
                .header("Mcp-Session-Id", s)
                .header("MCP-Protocol-Version", "2025-11-25");
        }
        req.send()
    };
    let init = post(
        OUTREACH_KEY,
        None,
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "0"}}}),
    )
    .await
    .unwrap();
    assert_eq!(init.status().as_u16(), 200);
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let _ = init.text().await;
    let done = post(
        OUTREACH_KEY,
        Some(session.clone()),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await
    .unwrap();
    assert_eq!(done.status().as_u16(), 202);
    let list = post(
        OUTREACH_KEY,
        Some(session.clone()),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let message: Value = list
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .find_map(|d| serde_json::from_str(d.trim()).ok())
        .unwrap_or_else(|| serde_json::from_str(&list).unwrap());
    assert_eq!(names(&message["result"]).len(), 2, "{message}");
}

// ---- reload ---------------------------------------------------------------------------

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn a_valid_change_takes_effect_for_the_next_call_and_a_broken_file_leaves_the_old_policy() {
    let env = Env::new().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.toml");
    write(&path, &recipe("send-only"));
    let gw = Gateway::with_policy_file(env.harness.runtime().clone(), &path).unwrap();
    gw.call_tool("send-only", "whatsapp_list_templates", "{}")
        .await
        .unwrap();
    assert_eq!(gw.reload().unwrap(), Reload::Unchanged);

    // Narrow the app to one tool.
    write(&path, &recipe("send-only").replace("\"read\",", ""));
    assert_eq!(gw.reload().unwrap(), Reload::Applied);
    assert_refused_before_running(
        &env,
        &gw,
        "send-only",
        "whatsapp_list_templates",
        json!({}),
        TOOL_NOT_ENABLED,
    )
    .await;
    gw.call_tool(
        "send-only",
        "whatsapp_send_template",
        &template_args(CUSTOMER).to_string(),
    )
    .await
    .unwrap();

    // A broken file: a precise error, and the narrowed policy stays.
    write(
        &path,
        "[[apps]]\nname = \"send-only\"\ntools = [\"*\"]\n\n[[apps.rules]]\nid = \"r\"\ntemplate = \"allow_values\"\ntools = [\"whatsapp_list_templates\"]\nfield = \"to\"\nvalues = [\"+16505551234\"]\n",
    );
    let e = gw.reload().unwrap_err().to_string();
    assert!(e.contains(&path.display().to_string()), "{e}");
    assert!(e.contains("line 6") && e.contains("rule `r`"), "{e}");
    assert!(
        e.contains("the field `to` is not an argument of the tool `whatsapp_list_templates`"),
        "{e}"
    );
    assert_refused_before_running(
        &env,
        &gw,
        "send-only",
        "whatsapp_list_templates",
        json!({}),
        TOOL_NOT_ENABLED,
    )
    .await;
    // Not valid TOML either: the same.
    write(&path, "[[apps]\nname = ");
    assert!(gw.reload().is_err());
    assert_eq!(gw.visible_tools("send-only").len(), 3);
    // A deleted file too.
    std::fs::remove_file(&path).unwrap();
    assert!(gw.reload().unwrap_err().to_string().contains("cannot read"));
    assert_eq!(gw.visible_tools("send-only").len(), 3);
}

#[tokio::test]
async fn the_watcher_applies_a_changed_file_without_being_asked() {
    let env = Env::new().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.toml");
    write(&path, &recipe("send-only"));
    let gw = Arc::new(Gateway::with_policy_file(env.harness.runtime().clone(), &path).unwrap());
    let watcher = gw.watch(Duration::from_millis(20));
    write(
        &path,
        &recipe("send-only").replace("name = \"send-only\"", "name = \"renamed\""),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while gw.policy().app("renamed").is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the change was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    watcher.abort();
}

#[tokio::test]
async fn an_in_flight_call_finishes_under_the_policy_it_started_with() {
    let env = Env::new().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.toml");
    write(&path, &recipe("template-only"));
    let gw = Arc::new(Gateway::with_policy_file(env.harness.runtime().clone(), &path).unwrap());
    env.sandbox
        .inject_fault(Fault::new(FaultKind::Latency(Duration::from_secs(2))).on_path("/messages"));
    let in_flight = {
        let gw = gw.clone();
        tokio::spawn(async move {
            gw.call_tool(
                "outreach",
                "whatsapp_send_template",
                &template_args(CUSTOMER).to_string(),
            )
            .await
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !env.requests().iter().any(|r| r.path.contains("/messages")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the send never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    write(
        &path,
        &recipe("template-only").replace(", \"whatsapp_send_template\"", ""),
    );
    assert_eq!(gw.reload().unwrap(), Reload::Applied);
    let result = in_flight.await.unwrap();
    assert!(result.is_ok(), "the in-flight call was dropped: {result:?}");
    assert_refused_before_running(
        &env,
        &gw,
        "outreach",
        "whatsapp_send_template",
        template_args(CUSTOMER),
        TOOL_NOT_ENABLED,
    )
    .await;
}

// ---- audit log ----------------------------------------------------------------------

fn audit_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn the_audit_log_has_one_masked_line_per_call_without_bodies_or_secrets() {
    let env = Env::new().await;
    env.sandbox.simulate_inbound(CUSTOMER, "hi");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit/audit.jsonl");
    let text = with_key(&recipe("restrict-recipients"), "team-notifier", SEND_KEY);
    let config = AuditConfig::new(&path);
    let ref_key = config.ref_key.clone();
    let gw = Gateway::with_policy(env.harness.runtime().clone(), policy(&env, &text))
        .with_audit_config(config)
        .unwrap();
    let body = "The secret body of the message";
    let sent = gw
        .call_tool(
            "team-notifier",
            "whatsapp_send_message",
            &json!({"to": "+1 (650) 555-1234", "text": body}).to_string(),
        )
        .await
        .unwrap();
    let _ = gw
        .call_tool(
            "team-notifier",
            "whatsapp_send_message",
            &json!({"to": "+16505550000", "text": body}).to_string(),
        )
        .await
        .unwrap_err();
    let _ = gw
        .call_tool(
            "team-notifier",
            "whatsapp_delete_template",
            r#"{"name": "x"}"#,
        )
        .await
        .unwrap_err();
    // Fails at the API: never wrote to this stranger.
    let failed = gw
        .call_tool(
            "team-notifier",
            "whatsapp_send_message",
            &json!({"to": "+44 20 7946 0958", "text": body}).to_string(),
        )
        .await
        .unwrap_err();
    gw.audit().unwrap().flush();
    let lines = audit_lines(&path);
    assert_eq!(lines.len(), 4, "{lines:?}");
    let keys: Vec<&str> = lines[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "time",
        "app",
        "tool",
        "decision",
        "rule",
        "outcome",
        "error_kind",
        "error_code",
        "latency_ms",
        "message_ref",
        "recipient",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(lines[0]["app"], "team-notifier");
    assert_eq!(lines[0]["decision"], "allow");
    assert_eq!(lines[0]["outcome"], "ok");
    let wamid = sent["message_id"].as_str().unwrap();
    assert_eq!(lines[0]["message_ref"], ref_key.reference(wamid).as_str());
    assert_eq!(lines[0]["recipient"], "+1********34");
    assert!(lines[0]["latency_ms"].as_f64().unwrap() > 0.0);
    assert!(lines[0]["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(lines[1]["decision"], "deny");
    assert_eq!(lines[1]["rule"], "team-phones-only");
    assert_eq!(lines[1]["outcome"], "denied");
    assert_eq!(lines[1]["recipient"], "+1********00");
    assert_eq!(lines[2]["rule"], TOOL_NOT_ENABLED);
    assert_eq!(lines[2]["tool"], "whatsapp_delete_template");
    assert_eq!(lines[3]["decision"], "allow");
    assert_eq!(lines[3]["outcome"], "error");
    assert_eq!(
        lines[3]["error_code"],
        failed.code.map_or(Value::Null, Value::from)
    );
    assert_eq!(lines[3]["recipient"], "+44********58");
    let raw = std::fs::read_to_string(&path).unwrap();
    for secret in [env.token(), SEND_KEY.to_string(), hash_key(SEND_KEY)] {
        assert!(!raw.contains(&secret), "the audit log holds a secret");
    }
    for private in [body, "5551234", "16505551234", "79460958", wamid] {
        assert!(!raw.contains(private), "the audit log holds {private:?}");
    }
}

#[tokio::test]
async fn the_audit_log_rotates_by_size_through_the_gateway() {
    let env = Env::new().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut config = AuditConfig::new(&path);
    config.max_bytes = 700;
    config.keep = 2;
    let gw = Gateway::with_policy(
        env.harness.runtime().clone(),
        policy(&env, &recipe("template-only")),
    )
    .with_audit_config(config)
    .unwrap();
    for _ in 0..20 {
        let _ = gw
            .call_tool("outreach", "whatsapp_send_message", "{}")
            .await;
    }
    gw.shutdown();
    let total: usize = [path.clone(), rotated_path(&path, 1), rotated_path(&path, 2)]
        .iter()
        .map(|p| {
            assert!(
                std::fs::metadata(p).unwrap().len() <= 700,
                "{}",
                p.display()
            );
            audit_lines(p).len()
        })
        .sum();
    assert!(total < 20, "older lines were rotated away");
    assert!(!rotated_path(&path, 3).exists());
}

#[tokio::test]
async fn a_cancelled_call_is_still_audited() {
    let env = Env::new().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let gw = Arc::new(
        Gateway::open(env.harness.runtime().clone())
            .with_audit_config(AuditConfig::new(&path))
            .unwrap(),
    );
    env.sandbox
        .inject_fault(Fault::new(FaultKind::Latency(Duration::from_secs(20))).on_path("/messages"));
    let call = {
        let gw = gw.clone();
        tokio::spawn(async move {
            gw.call_tool(
                "default",
                "whatsapp_send_template",
                &template_args(CUSTOMER).to_string(),
            )
            .await
        })
    };
    while !env.requests().iter().any(|r| r.path.contains("/messages")) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    call.abort();
    let _ = call.await;
    gw.audit().unwrap().flush();
    let lines = audit_lines(&path);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["app"], "default");
    assert_eq!(lines[0]["outcome"], "error");
    assert_eq!(lines[0]["error_kind"], "outcome_unknown");
}

// ---- the binary ------------------------------------------------------------------------

fn binary() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_host-harness"))
}

#[test]
fn policy_hash_key_prints_the_hash_line_of_a_key_read_from_stdin() {
    use std::io::Write as _;
    let mut child = binary()
        .args(["policy", "hash-key"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{SEND_KEY}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("key_hash = \"{}\"\n", hash_key(SEND_KEY))
    );
    let short = binary()
        .args(["policy", "hash-key"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!short.status.success());
    let generated = binary()
        .args(["policy", "hash-key", "--generate"])
        .output()
        .unwrap();
    let text = String::from_utf8(generated.stdout).unwrap();
    let key = text.lines().find(|l| l.starts_with("wa_")).unwrap();
    assert!(key.len() >= 40);
    assert!(
        text.contains(&format!("key_hash = \"{}\"", hash_key(key))),
        "{text}"
    );
}

#[test]
fn policy_check_accepts_the_recipes_and_reports_every_problem_of_a_broken_file() {
    for name in ["send-only", "template-only", "restrict-recipients"] {
        let out = binary()
            .args(["policy", "check"])
            .arg(recipe_path(name))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("OK: the policy is valid"), "{stdout}");
    }
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.toml");
    write(
        &broken,
        "[[apps]]\nname = \"a\"\ntools = [\"whatsapp_send_mesage\"]\n[[apps.rules]]\nid = \"r\"\ntemplate = \"block_pattern\"\ntools = [\"*\"]\npattern = '('\n",
    );
    let out = binary()
        .args(["policy", "check"])
        .arg(&broken)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("2 problems"), "{stderr}");
    assert!(
        stderr.contains("did you mean `whatsapp_send_message`?"),
        "{stderr}"
    );
    assert!(
        stderr.contains("rule `r`") && stderr.contains("regular expression"),
        "{stderr}"
    );
}

#[test]
fn call_with_a_policy_and_an_app_is_refused_before_running_and_exits_2() {
    let out = binary()
        .args([
            "call",
            "whatsapp_send_message",
            "--sandbox",
            "--app",
            "outreach",
            "--policy",
        ])
        .arg(recipe_path("template-only"))
        .args(["--args", r#"{"to": "+16505551234", "text": "hi"}"#])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["error"]["kind"], "denied");
    assert_eq!(error["error"]["rule"], TOOL_NOT_ENABLED);
    let unknown_app = binary()
        .args([
            "call",
            "whatsapp_list_templates",
            "--sandbox",
            "--app",
            "nobody",
            "--policy",
        ])
        .arg(recipe_path("template-only"))
        .output()
        .unwrap();
    assert!(!unknown_app.status.success());
    assert!(String::from_utf8_lossy(&unknown_app.stderr).contains("has no app `nobody`"));
}

#[cfg(unix)]
#[tokio::test]
async fn serve_on_stdio_acts_as_the_chosen_app_and_reloads_on_sighup() {
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let policy_path = dir.path().join("policy.toml");
    let both = format!("{}\n{}", recipe("send-only"), recipe("template-only"));
    write(&policy_path, &both);
    // Never polled: only SIGHUP reloads.
    let config = dir.path().join("config.toml");
    write(&config, "[policy]\nreload_interval_ms = 3600000\n");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_host-harness"))
        .arg("--config")
        .arg(&config)
        .args(["serve", "--sandbox", "--app", "outreach", "--policy"])
        .arg(&policy_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut list = async |id: u64| -> Vec<String> {
        let request = json!({"jsonrpc": "2.0", "id": id, "method": "tools/list", "params": {"_meta": {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "e2e", "version": "0"}}}});
        stdin
            .write_all(format!("{request}\n").as_bytes())
            .await
            .unwrap();
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(120), stdout.read_line(&mut line))
            .await
            .expect("the server answers")
            .unwrap();
        names(&serde_json::from_str::<Value>(&line).unwrap()["result"])
    };
    assert_eq!(
        list(1).await,
        strings(&["whatsapp_list_templates", "whatsapp_send_template"])
    );
    write(
        &policy_path,
        &both.replace(", \"whatsapp_send_template\"]", "]"),
    );
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut id = 2;
    loop {
        let names = list(id).await;
        if names == strings(&["whatsapp_list_templates"]) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "SIGHUP did not reload: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        id += 1;
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGHUP ended the server"
    );
}

#[test]
fn serve_refuses_an_app_the_policy_does_not_define_and_a_policy_with_several_apps_needs_one() {
    let both = format!("{}\n{}", recipe("send-only"), recipe("template-only"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.toml");
    write(&path, &both);
    let out = binary()
        .args(["serve", "--sandbox", "--policy"])
        .arg(&path)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("choose one with --app (send-only, outreach)"),
        "{stderr}"
    );
    let out = binary()
        .args(["serve", "--sandbox", "--app", "ghost", "--policy"])
        .arg(&path)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no app `ghost`"));
}
