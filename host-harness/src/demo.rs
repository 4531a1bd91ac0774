//! `host-harness demo`: a realistic session with all nine tools, through the
//! real component and host, against an in-process sandbox of the Cloud API.

use std::time::Duration;

use serde_json::{Value, json};

use crate::Harness;
use crate::runtime::ComponentSource;
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::settings::{EnvSecrets, Settings};
use crate::tool::ToolError;

/// The customer in the story.
const CUSTOMER: &str = "+1 (650) 555-1234";
const APPROVAL_DELAY: Duration = Duration::from_millis(1500);

struct Row {
    step: usize,
    tool: String,
    expected: &'static str,
    passed: bool,
    detail: String,
}

struct Story {
    harness: Harness,
    rows: Vec<Row>,
}

impl Story {
    /// Runs a call that should succeed; `summary` picks what to show from the result.
    async fn ok(
        &mut self,
        tool: &str,
        args: Value,
        summary: impl Fn(&Value) -> Option<String>,
    ) -> Option<Value> {
        let result = self
            .harness
            .runtime()
            .call_tool(tool, &args.to_string())
            .await;
        let (passed, detail, value) = match result {
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
        let result = self
            .harness
            .runtime()
            .call_tool(tool, &args.to_string())
            .await;
        let (passed, detail) = match result {
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

/// Runs the story; returns whether every step behaved as expected.
pub async fn run(component: ComponentSource) -> anyhow::Result<bool> {
    let sandbox = Sandbox::start(SandboxConfig {
        approval_delay: APPROVAL_DELAY,
        ..SandboxConfig::default()
    })
    .await?;
    let mut settings = Settings::default();
    let mut secrets = EnvSecrets::default();
    settings.point_at_sandbox(&sandbox, &mut secrets);
    let harness = Harness::builder(settings)
        .secrets(secrets)
        .component(component)
        .build()
        .await?;
    println!(
        "WhatsApp connector demo: {} tools, sandbox at {}",
        harness.runtime().tools().len(),
        sandbox.base_url()
    );
    println!("{:>2}  {:<34} {:<6}       outcome", "#", "tool", "expect");
    let mut story = Story {
        harness,
        rows: Vec::new(),
    };

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
    tokio::time::sleep(APPROVAL_DELAY + Duration::from_millis(200)).await;
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
    story
        .fails_with(
            "whatsapp_send_message",
            json!({"to": CUSTOMER, "text": "Your order is ready!"}),
            131047,
        )
        .await;
    let template_send = story
        .ok(
            "whatsapp_send_template",
            json!({"to": CUSTOMER, "name": "order_ready", "language": "en_US", "body_parameters": ["Sam", "#1042"]}),
            |v| Some(format!("{} {}", field(v, "/message_status"), field(v, "/message_id"))),
        )
        .await;
    sandbox.simulate_inbound(CUSTOMER, "Great, can you also send the receipt?");
    story.push(
        "(sandbox) customer replies",
        "-",
        true,
        "the 24-hour window opens".into(),
    );
    let text_send = story
        .ok(
            "whatsapp_send_message",
            json!({"to": CUSTOMER, "text": "Here is your receipt, Sam. See you soon!"}),
            |v| {
                Some(format!(
                    "{} {}",
                    field(v, "/message_status"),
                    field(v, "/message_id")
                ))
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
    for sent in [&text_send, &template_send] {
        let id = sent
            .as_ref()
            .map(|v| field(v, "/message_id"))
            .unwrap_or_default();
        story
            .ok(
                "whatsapp_get_message_status",
                json!({"message_id": id}),
                |v| {
                    Some(format!(
                        "{} ({} events)",
                        field(v, "/status"),
                        v["timeline"].as_array()?.len()
                    ))
                },
            )
            .await;
    }
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
    println!(
        "\n{} steps, {} tools exercised, {} failed; the sandbox received {} requests.",
        story.rows.len(),
        tools.len(),
        failed.len(),
        sandbox.requests().len()
    );
    for row in &failed {
        println!(
            "  step {} ({}, expected {}) failed: {}",
            row.step, row.tool, row.expected, row.detail
        );
    }
    sandbox.shutdown().await;
    Ok(failed.is_empty() && tools.len() == 9)
}
