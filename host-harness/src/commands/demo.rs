//! `host-harness demo`: a realistic session with all nine tools, through the
//! real component and host, against an in-process sandbox of the Cloud API.
//!
//! The sandbox delivers signed webhooks to the harness's own webhook endpoint
//! (wired with a random app secret and verify token), so message statuses,
//! template approvals and the customer's reply arrive the way Meta sends them.
//! The demo runs with `window_policy = enforce`: a free-form message to a
//! customer who has not written is refused locally, before any request.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use whatsapp_host::Connector;
use whatsapp_host::config::{EnvSecrets, Settings};
use whatsapp_host::runtime::ComponentSource;
use whatsapp_host::store::Table;
use whatsapp_host::tool::{ErrorKind, ToolError};
use whatsapp_host::webhook_endpoint::{self, WebhookOptions, WebhookServer, Webhooks};
use whatsapp_sandbox::{Sandbox, SandboxConfig, WebhookBehaviour};

/// The customer in the story.
const CUSTOMER: &str = "+1 (650) 555-1234";
const CUSTOMER_DIGITS: &str = "16505551234";
const APPROVAL_DELAY: Duration = Duration::from_millis(1500);
/// How long a webhook-driven step may take before it counts as failed.
const WEBHOOK_DEADLINE: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(50);

struct Row {
    step: usize,
    tool: String,
    expected: &'static str,
    passed: bool,
    detail: String,
}

struct Story {
    harness: Connector,
    sandbox: Sandbox,
    rows: Vec<Row>,
}

impl Story {
    async fn call(&self, tool: &str, args: &Value) -> Result<Value, ToolError> {
        self.harness
            .runtime()
            .call_tool(tool, &args.to_string())
            .await
    }

    /// Runs a call that should succeed; `summary` picks what to show from the result.
    async fn ok(
        &mut self,
        tool: &str,
        args: Value,
        summary: impl Fn(&Value) -> Option<String>,
    ) -> Option<Value> {
        let (passed, detail, value) = match self.call(tool, &args).await {
            Ok(v) => match summary(&v) {
                Some(s) => (true, s, Some(v)),
                None => (false, format!("unexpected result: {v}"), Some(v)),
            },
            Err(e) => (false, e.one_line(), None),
        };
        self.push(tool, "ok", passed, detail);
        value
    }

    /// Runs a call that should fail with Graph error `code`.
    async fn fails_with(&mut self, tool: &str, args: Value, code: i64) {
        let (passed, detail) = match self.call(tool, &args).await {
            Err(ToolError {
                code: Some(c),
                ref hint,
                ref title,
                ..
            }) if c == code => (true, format!("{code} {title} -> {hint}")),
            Err(e) => (false, format!("wrong error: {}", e.one_line())),
            Ok(v) => (false, format!("succeeded but should have failed: {v}")),
        };
        self.push(tool, "error", passed, detail);
    }

    /// Asks for a message's status until `want` is its current state (webhooks arrive
    /// asynchronously), then shows the timeline.
    async fn status_becomes(&mut self, id: &str, want: &str) -> Option<Value> {
        let tool = "whatsapp_get_message_status";
        let args = json!({"message_id": id});
        let deadline = Instant::now() + WEBHOOK_DEADLINE;
        let last = loop {
            let result = self.call(tool, &args).await;
            let done = matches!(&result, Ok(v) if v["status"] == want);
            if done || Instant::now() >= deadline {
                break result;
            }
            tokio::time::sleep(POLL).await;
        };
        let (passed, detail) = match &last {
            Ok(v) if v["status"] == want => {
                let timeline: Vec<String> = v["timeline"]
                    .as_array()
                    .map(|t| t.iter().map(|e| field(e, "/status")).collect())
                    .unwrap_or_default();
                let mut detail = format!("{want} via webhooks: {}", timeline.join(" -> "));
                if let Some(e) = v.pointer("/errors/0") {
                    detail.push_str(&format!(
                        "; {} {}: {}",
                        field(e, "/code"),
                        field(e, "/title"),
                        field(e, "/hint")
                    ));
                }
                (true, detail)
            }
            Ok(v) => (
                false,
                format!("still {} after {WEBHOOK_DEADLINE:?}", field(v, "/status")),
            ),
            Err(e) => (false, e.one_line()),
        };
        self.push(tool, want_label(want), passed, detail);
        last.ok()
    }

    /// Waits until the component's kv holds `key` with `check` true of its value.
    async fn kv_becomes(&self, key: &str, check: impl Fn(&Value) -> bool) -> Option<Value> {
        let state = &self.harness.runtime().capabilities().state;
        let deadline = Instant::now() + WEBHOOK_DEADLINE;
        loop {
            let value = state
                .get(Table::Kv, key)
                .await
                .ok()
                .flatten()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
            if let Some(v) = value.filter(|v| check(v)) {
                return Some(v);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Messages the sandbox has been asked to send so far.
    fn send_requests(&self) -> usize {
        self.sandbox
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/messages"))
            .count()
    }

    fn push(&mut self, tool: &str, expected: &'static str, passed: bool, detail: String) {
        let step = self.rows.len() + 1;
        println!("{}", format_row(step, tool, expected, passed, &detail));
        self.rows.push(Row {
            step,
            tool: tool.to_string(),
            expected,
            passed,
            detail,
        });
    }
}

fn want_label(status: &str) -> &'static str {
    match status {
        "delivered" => "deliv.",
        "read" => "read",
        "failed" => "failed",
        _ => "ok",
    }
}

fn format_row(step: usize, tool: &str, expected: &str, passed: bool, detail: &str) -> String {
    let mark = if passed { "PASS" } else { "FAIL" };
    let mut detail = detail.replace('\n', " ");
    if detail.chars().count() > 110 {
        detail = detail.chars().take(107).collect::<String>() + "...";
    }
    format!("{step:>2}  {tool:<34} {expected:<6} {mark}  {detail}")
}

fn field(v: &Value, pointer: &str) -> String {
    match v.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "?".into(),
    }
}

fn message_id(sent: &Option<Value>) -> String {
    sent.as_ref()
        .map(|v| field(v, "/message_id"))
        .unwrap_or_default()
}

/// Runs the story; returns whether every step behaved as expected.
pub(crate) async fn run(component: ComponentSource) -> anyhow::Result<bool> {
    // The webhook endpoint is bound first: its URL is the sandbox's callback.
    let listener = webhook_endpoint::bind(None, true)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no webhook listener"))?;
    let sandbox = Sandbox::start(SandboxConfig {
        approval_delay: APPROVAL_DELAY,
        webhook_callback: Some(webhook_endpoint::callback_url(listener.local_addr()?)),
        webhooks: WebhookBehaviour {
            sent_after: Duration::from_millis(100),
            delivered_after: Duration::from_millis(400),
            read_after: Duration::from_millis(1500),
            ..WebhookBehaviour::default()
        },
        ..SandboxConfig::default()
    })
    .await?;
    let mut settings = Settings::default();
    let mut secrets = EnvSecrets::default();
    // Also gives the vault the sandbox's webhook secrets and, with webhooks
    // wired, sets the window policy to enforce.
    settings.point_at(super::sandbox::endpoint::endpoint(&sandbox), &mut secrets);
    // A file server Meta cannot reach; the gateway may fetch from it.
    let files = super::demo_media::start().await?;
    settings.media.fetch_allow = vec![files.origin.clone()];
    let harness = Connector::builder(settings)
        .secrets(secrets)
        .component(component)
        .build()
        .await?;
    let hooks = Webhooks::new(harness.runtime().clone(), WebhookOptions::default());
    let server = WebhookServer::start(hooks.clone(), listener).await?;
    println!(
        "WhatsApp connector demo: {} tools, sandbox at {}, webhooks at {}, window policy enforce",
        harness.runtime().tools().len(),
        sandbox.base_url(),
        server.url()
    );
    println!("{:>2}  {:<34} {:<6}       outcome", "#", "tool", "expect");
    let mut story = Story {
        harness,
        sandbox: sandbox.clone(),
        rows: Vec::new(),
    };

    let verified = sandbox.verify_webhook().await;
    story.push(
        "(sandbox) webhook handshake",
        "-",
        verified.is_ok(),
        match verified {
            Ok(()) => "GET hub.mode=subscribe with the verify token -> 200 + challenge".into(),
            Err(e) => e.to_string(),
        },
    );
    story
        .ok("whatsapp_get_business_profile", json!({}), |v| {
            Some(format!("about: {}", field(v, "/profile/about")))
        })
        .await;
    story
        .ok(
            "whatsapp_update_business_profile",
            json!({"about": "Fresh succulents, delivered.", "websites": ["https://shop.example.com"], "vertical": "RETAIL"}),
            |v| Some(format!("updated {}", field(v, "/updated_fields"))),
        )
        .await;
    story
        .ok(
            "whatsapp_get_business_profile",
            json!({"fields": ["about", "websites"]}),
            |v| {
                (v.pointer("/profile/about")? == "Fresh succulents, delivered.")
                    .then(|| format!("about: {}", field(v, "/profile/about")))
            },
        )
        .await;
    story
        .ok(
            "whatsapp_create_template",
            json!({
                "name": "order_ready",
                "language": "en_US",
                "category": "UTILITY",
                "components": [
                    {"type": "BODY", "text": "Hi {{1}}, your order {{2}} is ready for pickup.",
                     "example": {"body_text": [["Sam", "#1042"]]}},
                    {"type": "FOOTER", "text": "Reply STOP to opt out"}
                ]
            }),
            |v| {
                Some(format!(
                    "id {} status {}",
                    field(v, "/id"),
                    field(v, "/status")
                ))
            },
        )
        .await;
    let approved = story
        .kv_becomes("tpl/order_ready/en_US", |v| {
            v["status"] == "APPROVED" && v["source"] == "webhook"
        })
        .await;
    story.push(
        "(webhook) template status update",
        "-",
        approved.is_some(),
        match approved {
            Some(_) => "message_template_status_update: order_ready en_US APPROVED".into(),
            None => format!("no APPROVED update within {WEBHOOK_DEADLINE:?}"),
        },
    );
    story
        .ok(
            "whatsapp_list_templates",
            json!({"name": "order_ready"}),
            |v| {
                let t = v.pointer("/templates/0")?;
                (t["status"] == "APPROVED")
                    .then(|| format!("{} {} {}", t["name"], t["language"], t["status"]))
            },
        )
        .await;

    // Outside the window: refused by the connector itself, nothing reaches the API.
    let before = story.send_requests();
    story
        .fails_with(
            "whatsapp_send_message",
            json!({"to": CUSTOMER, "text": "Your order is ready!"}),
            131047,
        )
        .await;
    if story.send_requests() != before {
        story.push(
            "(check) nothing was sent",
            "-",
            false,
            "the refused message reached the API".into(),
        );
    }
    let template_send = story
        .ok(
            "whatsapp_send_template",
            json!({"to": CUSTOMER, "name": "order_ready", "language": "en_US", "body_parameters": ["Sam", "#1042"]}),
            |v| Some(format!("{} {}", field(v, "/message_status"), field(v, "/message_id"))),
        )
        .await;
    let template_id = message_id(&template_send);
    story.status_becomes(&template_id, "delivered").await;
    story.status_becomes(&template_id, "read").await;

    sandbox.simulate_inbound(CUSTOMER, "Great, can you also send the receipt?");
    let window = story
        .kv_becomes(&format!("win/{CUSTOMER_DIGITS}"), |v| {
            v["last_inbound"].is_i64()
        })
        .await;
    story.push(
        "(webhook) customer replies",
        "-",
        window.is_some(),
        match window {
            Some(_) => "inbound message recorded: the 24-hour window opens".into(),
            None => format!("no inbound message recorded within {WEBHOOK_DEADLINE:?}"),
        },
    );
    let text_send = story
        .ok(
            "whatsapp_send_message",
            json!({"to": CUSTOMER, "text": "Here is your receipt, Sam. See you soon!"}),
            |v| {
                (v["window"]["state"] == "open").then(|| {
                    format!(
                        "{} {}; window open until {}",
                        field(v, "/message_status"),
                        field(v, "/message_id"),
                        field(v, "/window/closes_at")
                    )
                })
            },
        )
        .await;
    // In the window, interactive messages too: the customer answers with a tap.
    story
        .ok(
            "whatsapp_send_message",
            json!({"to": CUSTOMER, "text": "How would you like your next order?", "header": "Order #1042",
                   "footer": "Lucky Shrub", "buttons": [{"id": "delivery", "title": "Delivery"},
                                                        {"id": "pickup", "title": "Pick up in store"}]}),
            |v| {
                (v["window"]["state"] == "open").then(|| {
                    format!(
                        "{} {}; reply buttons: Delivery | Pick up in store",
                        field(v, "/message_status"),
                        field(v, "/message_id")
                    )
                })
            },
        )
        .await;
    story
        .ok(
            "whatsapp_send_media",
            json!({"to": CUSTOMER, "media_type": "document", "link": "https://shop.example.com/receipts/1042.pdf",
                   "filename": "receipt-1042.pdf", "caption": "Receipt #1042"}),
            |v| Some(format!("{} {}", field(v, "/message_status"), field(v, "/message_id"))),
        )
        .await;
    story
        .ok(
            "whatsapp_send_media",
            json!({"to": CUSTOMER, "media_type": "image", "link": files.photo_url, "upload": true,
                   "caption": "Photo of your receipt"}),
            |v| {
                Some(format!(
                    "{} by media id {} (the gateway fetched the internal link and uploaded it)",
                    field(v, "/message_status"),
                    v.get("uploaded_media_id")?.as_str()?
                ))
            },
        )
        .await;
    let bad_media = story
        .ok(
            "whatsapp_send_media",
            json!({"to": CUSTOMER, "media_type": "image", "link": "https://unreachable.example/photo.jpg"}),
            |v| Some(format!("{} (a link Meta cannot fetch)", field(v, "/message_status"))),
        )
        .await;
    story.status_becomes(&message_id(&text_send), "read").await;
    story
        .status_becomes(&message_id(&bad_media), "failed")
        .await;
    let unknown = story
        .call(
            "whatsapp_get_message_status",
            &json!({"message_id": "wamid.HBgLMTY1MDU1NTk5OTkVAgARGBJDQUZFQkFCRQA="}),
        )
        .await;
    let (passed, detail) = match unknown {
        Err(e) if e.kind == ErrorKind::NotFound => (true, format!("{} -> {}", e.title, e.hint)),
        Err(e) => (false, format!("wrong error: {}", e.one_line())),
        Ok(v) => (false, format!("an unknown id was found: {v}")),
    };
    story.push("whatsapp_get_message_status", "error", passed, detail);
    story
        .ok(
            "whatsapp_delete_template",
            json!({"name": "order_ready"}),
            |v| (v["success"] == true).then(|| format!("deleted {}", field(v, "/name"))),
        )
        .await;
    story
        .ok("whatsapp_list_templates", json!({}), |v| {
            let names: Vec<String> = v["templates"]
                .as_array()?
                .iter()
                .map(|t| field(t, "/name"))
                .collect();
            (!names.contains(&"order_ready".to_string()))
                .then(|| format!("remaining: {}", names.join(", ")))
        })
        .await;

    let failed: Vec<&Row> = story.rows.iter().filter(|r| !r.passed).collect();
    let tools: std::collections::BTreeSet<&str> = story
        .rows
        .iter()
        .filter(|r| r.tool.starts_with("whatsapp_"))
        .map(|r| r.tool.as_str())
        .collect();
    let stats = hooks.stats();
    println!(
        "\n{} steps, {} tools exercised, {} failed; the sandbox received {} requests and \
         delivered {} webhooks ({} applied, {} refused).",
        story.rows.len(),
        tools.len(),
        failed.len(),
        sandbox.requests().len(),
        stats.accepted,
        stats.ingested,
        stats.rejected,
    );
    for row in &failed {
        println!(
            "  step {} ({}, expected {}) failed: {}",
            row.step, row.tool, row.expected, row.detail
        );
    }
    server.stop().await?;
    sandbox.shutdown().await;
    Ok(failed.is_empty() && tools.len() == 9 && stats.rejected == 0)
}
