//! Adversarial cases: floods. Unsigned and forged webhooks must cost no
//! component instance; one app's slow or flooding calls must not hold up
//! another app, nor tool calls hold up webhooks; a call that finds no free
//! slot fails fast with a retryable error instead of waiting without bound.
//! Everything goes through real HTTP on loopback (MCP over HTTP with app
//! keys, webhooks as POSTs).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use whatsapp_host::gateway::Gateway;
use whatsapp_host::mcp::{self, HttpOptions, McpServer};
use whatsapp_host::policy::{Policy, ToolInfo, hash_key};
use whatsapp_host::webhook_endpoint::{WebhookOptions, WebhookServer, Webhooks};
use whatsapp_sandbox::{Fault, FaultKind, webhook_signature};

use crate::common::{CUSTOMER, Env, EnvBuilder};

const MODERN: &str = "2026-07-28";
const KEY_A: &str = "floods-key-of-app-a-0123456789";
const KEY_B: &str = "floods-key-of-app-b-0123456789";
/// Long enough that a slow call is still running when the test looks.
const SLOW: Duration = Duration::from_secs(30);
/// How long a call may wait for a slot in these tests.
const QUEUE_TIMEOUT_MS: u64 = 300;

fn client() -> reqwest::Client {
    whatsapp_host::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// An MCP HTTP endpoint over `gateway`, on a free loopback port.
async fn serve_mcp(gateway: Arc<Gateway>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = mcp::router(
        McpServer::with_gateway(gateway, None),
        mcp::http_config(addr, &HttpOptions::default()),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/mcp")
}

/// One stateless (2026-07-28) `tools/call` over HTTP; the JSON-RPC result.
async fn call(url: &str, key: Option<&str>, tool: &str, arguments: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": tool, "arguments": arguments,
        "_meta": {"io.modelcontextprotocol/protocolVersion": MODERN,
                  "io.modelcontextprotocol/clientCapabilities": {},
                  "io.modelcontextprotocol/clientInfo": {"name": "floods", "version": "0"}}}});
    let mut request = client()
        .post(url)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", MODERN)
        .header("Mcp-Method", "tools/call")
        .header("Mcp-Name", tool)
        .body(body.to_string());
    if let Some(key) = key {
        request = request.header("Authorization", format!("Bearer {key}"));
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let reply: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    reply["result"].clone()
}

/// The structured error of a failed call's result (its second text block).
fn tool_error(result: &Value) -> Value {
    assert_eq!(result["isError"], true, "expected an error: {result}");
    let json: Value = serde_json::from_str(result["content"][1]["text"].as_str().unwrap()).unwrap();
    json["error"].clone()
}

fn send_args(i: usize) -> Value {
    json!({"to": CUSTOMER, "text": format!("slow {i}")})
}

/// Starts `n` sends as `key`, each on its own task.
fn start_sends(url: &str, key: Option<&'static str>, n: usize) -> Vec<JoinHandle<Value>> {
    (0..n)
        .map(|i| {
            let url = url.to_string();
            tokio::spawn(
                async move { call(&url, key, "whatsapp_send_message", send_args(i)).await },
            )
        })
        .collect()
}

/// Waits until the sandbox holds `n` requests to `/messages` (calls in flight).
async fn wait_for_sends_in_flight(env: &Env, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while env
        .requests()
        .iter()
        .filter(|r| r.path.contains("/messages"))
        .count()
        < n
    {
        assert!(
            Instant::now() < deadline,
            "{n} sends never reached the sandbox"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every send to the sandbox answers after `SLOW`.
fn slow_sends(env: &Env) {
    env.sandbox.inject_fault(
        Fault::new(FaultKind::Latency(SLOW))
            .on_path("/messages")
            .times(1_000),
    );
}

fn with_limits(max_instances: u32) -> impl FnOnce(EnvBuilder) -> EnvBuilder {
    move |b: EnvBuilder| {
        b.settings(move |s| {
            s.runtime.max_instances = max_instances;
            s.runtime.queue_timeout_ms = QUEUE_TIMEOUT_MS;
        })
    }
}

/// Two apps with keys and every tool; app `b` may run `b_max` calls at once.
fn two_apps(env: &Env, b_max: u32) -> Arc<Gateway> {
    let text = format!(
        "version = 1\n\n[[apps]]\nname = \"a\"\nkey_hash = \"{}\"\ntools = [\"*\"]\n\n\
         [[apps]]\nname = \"b\"\nkey_hash = \"{}\"\ntools = [\"*\"]\nmax_concurrent = {b_max}\n",
        hash_key(KEY_A),
        hash_key(KEY_B)
    );
    let tools = ToolInfo::from_descriptors(env.harness.runtime().tools());
    let policy = Policy::parse(&text, "floods.toml", &tools).unwrap_or_else(|e| panic!("{e}"));
    Arc::new(Gateway::with_policy(env.harness.runtime().clone(), policy))
}

#[tokio::test]
async fn an_unsigned_or_forged_webhook_flood_creates_no_component_instance() {
    let env = Env::new().await;
    let runtime = env.harness.runtime().clone();
    let hooks = Webhooks::new(runtime.clone(), WebhookOptions::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = WebhookServer::start(hooks, listener).await.unwrap();
    let url = server.url();
    let http = client();
    let app_secret = env.sandbox.config().app_secret.clone();
    let big = vec![b'{'; 1 << 20];
    let small = br#"{"object":"whatsapp_business_account","entry":[]}"#.to_vec();
    let forged = webhook_signature(b"not-the-app-secret", &big);
    let signed_other_body = webhook_signature(app_secret.as_bytes(), &small);

    let before = runtime.instances_created();
    let mut refused = 0;
    for round in 0..10 {
        // (signature header, body, the status the attacker gets)
        let attempts: [(Option<&str>, &[u8], u16); 6] = [
            (None, &big, 401),
            (None, &small, 401),
            (Some("sha256=not-hex"), &big, 403),
            (Some("sha1=0123"), &small, 403),
            (Some(&forged), &big, 403),
            // A real signature, of another body.
            (Some(&signed_other_body), &big, 403),
        ];
        for (signature, body, status) in attempts {
            let mut request = http.post(&url).body(body.to_vec());
            if let Some(s) = signature {
                request = request.header("X-Hub-Signature-256", s);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status().as_u16(),
                status,
                "round {round}, {signature:?}"
            );
            refused += 1;
        }
        let bad_token = http
            .get(format!(
                "{url}?hub.mode=subscribe&hub.verify_token=guess{round}&hub.challenge=7"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(bad_token.status().as_u16(), 403);
        refused += 1;
    }
    assert_eq!(
        runtime.instances_created(),
        before,
        "a refused webhook request instantiated the component"
    );
    assert_eq!(server.webhooks().stats().rejected, refused);
    assert_eq!(server.webhooks().stats().accepted, 0);

    // The genuine ones still pass, and the component still checks them.
    let token = env.sandbox.config().verify_token.clone();
    let handshake = http
        .get(format!(
            "{url}?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(handshake.status().as_u16(), 200);
    assert_eq!(handshake.text().await.unwrap(), "1158201444");
    let genuine = http
        .post(&url)
        .header(
            "X-Hub-Signature-256",
            webhook_signature(app_secret.as_bytes(), &small),
        )
        .body(small.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(genuine.status().as_u16(), 200);
    assert!(
        runtime.instances_created() > before,
        "genuine requests are verified by the component too"
    );
    assert_eq!(server.webhooks().stats().accepted, 1);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_app_holding_its_full_concurrency_with_slow_calls_does_not_hold_up_another_app() {
    // Four instances in all; app `b` may use two of them.
    let env = with_limits(4)(Env::builder()).start().await;
    slow_sends(&env);
    let url = serve_mcp(two_apps(&env, 2)).await;

    let mut b_calls = start_sends(&url, Some(KEY_B), 6);
    wait_for_sends_in_flight(&env, 2).await;
    // `b`'s calls past its cap fail fast, as retryable, while its two slow ones run.
    let mut refused = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while refused < 4 {
        assert!(
            Instant::now() < deadline,
            "b's extra calls were not refused"
        );
        if let Some(i) = b_calls.iter().position(|h| h.is_finished()) {
            let result = b_calls.swap_remove(i).await.unwrap();
            let e = tool_error(&result);
            assert_eq!(e["retryable"], true, "{e}");
            assert!(
                e["details"].as_str().unwrap().contains("max_concurrent"),
                "{e}"
            );
            assert!(e["hint"].as_str().unwrap().contains("retry"), "{e}");
            refused += 1;
        } else {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    // App `a` is served meanwhile, more than once.
    for _ in 0..3 {
        let result = call(
            &url,
            Some(KEY_A),
            "whatsapp_get_business_profile",
            json!({}),
        )
        .await;
        assert_eq!(result["isError"], false, "{result}");
    }
    assert_eq!(b_calls.len(), 2);
    assert!(
        b_calls.iter().all(|h| !h.is_finished()),
        "app a was served only after b's slow calls ended"
    );
    assert_eq!(
        env.requests()
            .iter()
            .filter(|r| r.path.contains("/messages"))
            .count(),
        2,
        "a refused call reached WhatsApp"
    );
    for h in b_calls {
        h.abort();
    }
}

#[tokio::test]
async fn a_call_that_finds_every_instance_busy_fails_fast_with_a_retryable_error() {
    // No policy: one app without a cap of its own; two instances in all.
    let env = with_limits(2)(Env::builder()).start().await;
    slow_sends(&env);
    let url = serve_mcp(Arc::new(Gateway::open(env.harness.runtime().clone()))).await;
    let slow = start_sends(&url, None, 2);
    wait_for_sends_in_flight(&env, 2).await;

    let result = call(&url, None, "whatsapp_get_business_profile", json!({})).await;
    let e = tool_error(&result);
    assert_eq!(e["retryable"], true, "{e}");
    assert_eq!(e["kind"], "timeout", "{e}");
    let details = e["details"].as_str().unwrap();
    assert!(
        details.contains(&format!("{QUEUE_TIMEOUT_MS} ms")),
        "{details}"
    );
    assert!(details.contains("nothing was sent"), "{details}");
    assert!(
        e["hint"]
            .as_str()
            .unwrap()
            .contains("runtime.max_instances"),
        "{e}"
    );
    assert!(
        slow.iter().all(|h| !h.is_finished()),
        "the busy call waited for the slow ones to end"
    );
    for h in slow {
        h.abort();
    }
}

#[tokio::test]
async fn a_signed_webhook_is_accepted_while_tool_calls_hold_every_instance() {
    let env = with_limits(1)(Env::builder()).start().await;
    slow_sends(&env);
    let runtime = env.harness.runtime().clone();
    let url = serve_mcp(Arc::new(Gateway::open(runtime.clone()))).await;
    let slow = start_sends(&url, None, 1);
    wait_for_sends_in_flight(&env, 1).await;

    let hooks = Webhooks::new(runtime, WebhookOptions::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = WebhookServer::start(hooks, listener).await.unwrap();
    let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
    let signature = webhook_signature(env.sandbox.config().app_secret.as_bytes(), body);
    let response = client()
        .post(server.url())
        .header("X-Hub-Signature-256", signature)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.webhooks().stats().ingested < 1 {
        assert!(Instant::now() < deadline, "the delivery was never applied");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        slow.iter().all(|h| !h.is_finished()),
        "the webhook was served only after the tool call ended"
    );
    for h in slow {
        h.abort();
    }
    server.stop().await.unwrap();
}
