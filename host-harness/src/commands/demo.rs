//! `host-harness demo`: a realistic session with every tool, through the
//! real component and host, against an in-process sandbox of the Cloud API.
//!
//! The sandbox delivers signed webhooks to the harness's own webhook endpoint
//! (wired with a random app secret and verify token), so message statuses,
//! template approvals and the customer's messages arrive the way Meta sends
//! them. The inbox is on: the customer's replies are read back, marked read,
//! reacted to and answered (`demo_inbox`).
//! The demo runs with `window_policy = enforce`: a free-form message to a
//! customer who has not written is refused locally, before any request.

use std::time::Duration;

use serde_json::json;

use whatsapp_host::Connector;
use whatsapp_host::config::{EnvSecrets, Settings};
use whatsapp_host::runtime::ComponentSource;
use whatsapp_host::tool::ErrorKind;
use whatsapp_host::webhook_endpoint::{self, WebhookOptions, WebhookServer, Webhooks};
use whatsapp_sandbox::{Sandbox, SandboxConfig, WebhookBehaviour};

use super::demo_story::{
    APPROVAL_DELAY, CUSTOMER, CUSTOMER_DIGITS, Row, Story, WEBHOOK_DEADLINE, field, message_id,
};

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
    // What the customer writes is kept for the inbox tools.
    settings.inbox.enabled = true;
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

    // The inbox: the customer writes back, the agent reads, marks read, reacts and answers.
    super::demo_inbox::run(&mut story, &message_id(&text_send)).await;

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
    let every_tool = story.harness.runtime().tools().len();
    Ok(failed.is_empty() && tools.len() == every_tool && stats.rejected == 0)
}
