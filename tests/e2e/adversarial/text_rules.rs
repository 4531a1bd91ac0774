//! Adversarial cases: text rules judge what the recipient will read, and
//! recipients compare as WhatsApp compares them. Every attack goes through
//! the real MCP HTTP transport with an app key, against the sandbox, and
//! must be refused before anything is sent; ordinary sends must still go.

use std::sync::Arc;

use serde_json::{Value, json};
use whatsapp_host::gateway::Gateway;
use whatsapp_host::mcp::{self, HttpOptions, McpServer};
use whatsapp_host::policy::{Policy, ToolInfo, hash_key};

use crate::common::{CUSTOMER, Env};

const MODERN: &str = "2026-07-28";
const KEY: &str = "text-rules-key-0123456789abcdef";

/// The README's guardrails: a keyword, the card-number template and the
/// card regex the README used to recommend, for every app.
const GUARDRAILS: &str = r#"
[[rules]]
id = "no-refunds"
template = "keyword_block"
tools = ["write"]
keywords = ["refund"]

[[rules]]
id = "no-card-numbers"
template = "block_card_numbers"
tools = ["write"]

[[rules]]
id = "old-card-pattern"
template = "block_pattern"
tools = ["write"]
pattern = '\b(?:\d[ -]?){13,16}\b'
description = "payment card numbers"
"#;

struct Server {
    env: Env,
    url: String,
    client: reqwest::Client,
}

/// `serve --http` as the router runs it: the guardrails, one app with a
/// key and every tool, plus `app_rules`.
async fn serve(app_rules: &str) -> Server {
    let env = Env::new().await;
    let text = format!(
        "{GUARDRAILS}\n[[apps]]\nname = \"agent\"\nkey_hash = \"{}\"\ntools = [\"*\"]\n{app_rules}",
        hash_key(KEY)
    );
    let tools = ToolInfo::from_descriptors(env.harness.runtime().tools());
    let policy = Policy::parse(&text, "policy.toml", &tools).unwrap_or_else(|e| panic!("{e}"));
    let gateway = Arc::new(Gateway::with_policy(env.harness.runtime().clone(), policy));
    whatsapp_host::install_crypto_provider();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = mcp::router(
        McpServer::with_gateway(gateway, None),
        mcp::http_config(addr, &HttpOptions::default()),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Server {
        env,
        url: format!("http://{addr}/mcp"),
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
    }
}

impl Server {
    /// `tools/call` over HTTP as the app; the JSON-RPC result.
    async fn call(&self, tool: &str, arguments: Value) -> Value {
        let params = json!({
            "name": tool,
            "arguments": arguments,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "attacker", "version": "0"}
            }
        });
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params});
        let resp = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", MODERN)
            .header("Mcp-Method", "tools/call")
            .header("Mcp-Name", tool)
            .header("Authorization", format!("Bearer {KEY}"))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let reply: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
        reply["result"].clone()
    }

    /// Calls `tool` and checks the policy's `rule` refused it and nothing
    /// reached the Cloud API. Returns the error's text.
    async fn assert_refused(&self, rule: &str, tool: &str, arguments: Value) -> String {
        self.env.sandbox.clear_requests();
        let result = self.call(tool, arguments.clone()).await;
        assert_eq!(result["isError"], true, "{arguments} got through: {result}");
        let error = error_of(&result);
        assert_eq!(error["rule"], rule, "{arguments}: {error}");
        assert!(
            self.env.requests().is_empty(),
            "{arguments} reached the Cloud API"
        );
        result.to_string()
    }

    /// Calls `tool` and checks it was sent.
    async fn assert_sent(&self, tool: &str, arguments: Value) -> Value {
        self.env.sandbox.clear_requests();
        let result = self.call(tool, arguments.clone()).await;
        assert_eq!(
            result["isError"], false,
            "{arguments} was refused: {result}"
        );
        assert!(!self.env.requests().is_empty(), "{arguments} sent nothing");
        result
    }
}

/// The structured error of an `isError` result, wherever the era puts it.
fn error_of(result: &Value) -> Value {
    if let Some(e) = result.get("structuredContent").and_then(|s| s.get("error")) {
        return e.clone();
    }
    result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .filter_map(|t| serde_json::from_str::<Value>(t).ok())
        .find_map(|v| v.get("error").cloned())
        .unwrap_or_else(|| panic!("no structured error in {result}"))
}

fn template(to: &str, extra: Value) -> Value {
    let mut args = json!({"to": to, "name": "order_update", "language": "en_US"});
    args.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    args
}

#[tokio::test]
async fn a_blocked_keyword_hidden_by_invisible_or_look_alike_characters_is_refused() {
    let s = serve("").await;
    for disguised in [
        "Your re\u{ad}fund is on its way",
        "Your re\u{200b}fund is on its way",
        "Your r\u{435}fund is on its way",
    ] {
        s.assert_refused(
            "no-refunds",
            "whatsapp_send_message",
            json!({"to": CUSTOMER, "text": disguised}),
        )
        .await;
        s.assert_refused(
            "no-refunds",
            "whatsapp_send_template",
            template(CUSTOMER, json!({"body_parameters": ["Ann", disguised]})),
        )
        .await;
    }
}

#[tokio::test]
async fn a_card_number_split_by_separators_or_over_parameters_is_refused_without_echoing_it() {
    let s = serve("").await;
    let attacks = [
        (
            "whatsapp_send_message",
            json!({"to": CUSTOMER, "text": "card 4111.1111.1111.1111"}),
        ),
        (
            "whatsapp_send_message",
            json!({"to": CUSTOMER, "text": "card 4111\u{200b}1111\u{200b}1111\u{200b}1111"}),
        ),
        // Each parameter alone is harmless; the recipient reads them together.
        (
            "whatsapp_send_template",
            template(
                CUSTOMER,
                json!({"body_parameters": ["4111 1111", "1111 1111"]}),
            ),
        ),
        // A number inside an object of a component, never a string.
        (
            "whatsapp_send_template",
            template(
                CUSTOMER,
                json!({"body_parameters": ["Ann", "#1042"], "components": [{
                    "type": "button", "sub_type": "flow", "index": "0",
                    "parameters": [{"type": "action",
                                    "action": {"flow_action_data": {"card": 4111111111111111u64}}}]}]}),
            ),
        ),
    ];
    for (tool, args) in attacks {
        let refusal = s.assert_refused("no-card-numbers", tool, args).await;
        assert!(
            !refusal.contains("1111"),
            "the refusal echoes the digits: {refusal}"
        );
    }
}

#[tokio::test]
async fn a_word_completed_by_a_parameter_of_a_listed_template_is_refused() {
    let s = serve("").await;
    // The operator's template, approved; its own text is fine to send.
    let created = s
        .call(
            "whatsapp_create_template",
            json!({"name": "offer", "language": "en_US", "category": "UTILITY",
                   "components": [{"type": "BODY", "text": "Your re{{1}} for order {{2}} is ready.",
                                   "example": {"body_text": [["ward", "#1042"]]}}]}),
        )
        .await;
    assert_eq!(created["isError"], false, "{created}");
    let listed = s
        .call("whatsapp_list_templates", json!({"name": "offer"}))
        .await;
    assert_eq!(listed["isError"], false, "{listed}");
    let send = |word: &str| {
        json!({"to": CUSTOMER, "name": "offer", "language": "en_US",
               "body_parameters": [word, "#1042"]})
    };
    s.assert_sent("whatsapp_send_template", send("ward")).await;
    // "re" + "fund": no parameter holds the word, the rendered message does.
    let refusal = s
        .assert_refused("no-refunds", "whatsapp_send_template", send("fund"))
        .await;
    assert!(refusal.contains("as the recipient reads it"), "{refusal}");
}

#[tokio::test]
async fn global_text_rules_do_not_look_at_the_recipient_and_ordinary_text_is_sent() {
    let s = serve("").await;
    // 13 digits that the card regex matched, in `to`: not message content.
    for to in ["+4915123456789", "+4915112345678", CUSTOMER] {
        s.assert_sent(
            "whatsapp_send_template",
            template(to, json!({"body_parameters": ["Ann", "#1042"]})),
        )
        .await;
    }
    for words in [
        ["Grüße aus München", "Fund transfer ref 2026-12-01"],
        ["Ваш заказ", "No. 1234 5678 (returns: 30 days)"],
        ["rebound", "#1042, call +1 650 555 1234"],
    ] {
        s.assert_sent(
            "whatsapp_send_template",
            template(CUSTOMER, json!({"body_parameters": words})),
        )
        .await;
    }
}

#[tokio::test]
async fn a_blocked_number_is_refused_in_the_other_spelling_whatsapp_delivers_to() {
    let blocked = r#"
[[apps.rules]]
id = "blocked-customers"
template = "block_values"
tools = ["whatsapp_send_message", "whatsapp_send_template", "whatsapp_send_media"]
field = "to"
values = ["+55 11 98765-4321", "+52 55 1234 5678", "+54 9 11 2345 6789"]
"#;
    let s = serve(blocked).await;
    for to in [
        "+55 11 8765-4321",   // Brazil without the mobile 9
        "+52 1 55 1234 5678", // Mexico with the 1
        "+54 11 2345 6789",   // Argentina without the 9
        "+55 11 98765-4321",
    ] {
        s.assert_refused(
            "blocked-customers",
            "whatsapp_send_template",
            template(to, json!({"body_parameters": ["Ann", "#1042"]})),
        )
        .await;
    }
    // Another subscriber is not an alias.
    s.assert_sent(
        "whatsapp_send_template",
        template(
            "+55 11 3456-7890",
            json!({"body_parameters": ["Ann", "#1042"]}),
        ),
    )
    .await;
}

#[tokio::test]
async fn an_allowed_number_may_be_messaged_in_either_spelling() {
    let allowed = r#"
[[apps.rules]]
id = "only-our-customer"
template = "allow_values"
tools = ["whatsapp_send_template"]
field = "to"
values = ["+55 11 8765-4321"]
"#;
    let s = serve(allowed).await;
    for to in ["+55 11 98765-4321", "+55 11 8765-4321"] {
        s.assert_sent(
            "whatsapp_send_template",
            template(to, json!({"body_parameters": ["Ann", "#1042"]})),
        )
        .await;
    }
    s.assert_refused(
        "only-our-customer",
        "whatsapp_send_template",
        template(
            "+55 11 98765-4322",
            json!({"body_parameters": ["Ann", "#1042"]}),
        ),
    )
    .await;
}
