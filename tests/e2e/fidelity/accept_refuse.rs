//! Fidelity cases: accept_refuse. Through the real component and the
//! sandbox: shapes Meta accepts reach the API and are accepted there, shapes
//! it refuses are refused before anything is sent (and by the sandbox too),
//! and Meta's errors keep their details and their retry advice.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::net::TcpListener;
use whatsapp_host::config::WindowPolicy;
use whatsapp_host::store::Table;
use whatsapp_host::tool::ErrorKind;
use whatsapp_host::webhook_endpoint::{self, WebhookOptions, WebhookServer, Webhooks};
use whatsapp_sandbox::webhook_signature;

use crate::common::{CUSTOMER, CUSTOMER_DIGITS, Env};

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn messages_sent(env: &Env) -> usize {
    env.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/messages"))
        .count()
}

fn posts_to(env: &Env, suffix: &str) -> usize {
    env.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with(suffix))
        .count()
}

async fn enforcing() -> Env {
    Env::builder()
        .settings(|s| s.whatsapp.window_policy = WindowPolicy::Enforce)
        .start()
        .await
}

#[tokio::test]
async fn a_seven_digit_recipient_such_as_niue_is_sent_and_accepted() {
    let env = Env::new().await;
    let out = env
        .call(
            "whatsapp_send_template",
            json!({"to": "+683 4002", "name": "hello_world", "language": "en_US"}),
        )
        .await
        .unwrap();
    assert_eq!(out["to"], "6834002");
    assert_eq!(messages_sent(&env), 1);
}

#[tokio::test]
async fn a_template_created_in_lower_case_with_an_http_button_is_sent_under_enforce_after_one_refresh()
 {
    let env = enforcing().await;
    let created = env
        .call(
            "whatsapp_create_template",
            json!({"name": "track_parcel", "language": "en_US", "category": "UTILITY", "components": [
                {"type": "body", "text": "Your parcel is on its way."},
                {"type": "buttons", "buttons": [{"type": "URL", "text": "Track", "url": "http://example.com/track/{{1}}", "example": ["abc123"]}]}
            ]}),
        )
        .await
        .unwrap();
    assert!(
        created["warning"]
            .as_str()
            .unwrap()
            .contains("https:// is recommended")
    );
    assert!(
        env.sandbox
            .templates()
            .iter()
            .any(|t| t.name == "track_parcel"),
        "the sandbox accepted the template"
    );

    // The record says PENDING (the create's answer); Meta has approved it since.
    let gets_before = env.requests().iter().filter(|r| r.method == "GET").count();
    let sent = env
        .call(
            "whatsapp_send_template",
            json!({"to": CUSTOMER, "name": "track_parcel", "language": "en_US", "components": [
                {"type": "BUTTON", "sub_type": "URL", "index": 0, "parameters": [{"type": "text", "text": "abc123"}]}
            ]}),
        )
        .await
        .unwrap();
    assert!(sent["message_id"].as_str().unwrap().starts_with("wamid."));
    let gets = env.requests().iter().filter(|r| r.method == "GET").count() - gets_before;
    assert_eq!(gets, 1, "one refresh of the stale record");
    assert_eq!(messages_sent(&env), 1);
}

#[tokio::test]
async fn an_http_media_link_and_a_filename_without_extension_are_sent_with_warnings() {
    let env = Env::new().await;
    env.sandbox
        .set_last_inbound(CUSTOMER_DIGITS, SystemTime::now());
    let out = env
        .call(
            "whatsapp_send_media",
            json!({"to": CUSTOMER, "media_type": "document", "link": "http://example.com/files/invoice", "filename": "invoice"}),
        )
        .await
        .unwrap();
    let warning = out["warning"].as_str().unwrap();
    assert!(warning.contains("https:// is recommended"), "{warning}");
    assert!(warning.contains("extension"), "{warning}");
    assert_eq!(messages_sent(&env), 1);
}

#[tokio::test]
async fn authentication_shapes_meta_refuses_never_reach_the_api() {
    let env = Env::new().await;
    let otp = json!({"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy"}]});
    for (components, field) in [
        (
            json!([{"type": "BODY", "text": "Your code is {{1}}.", "example": {"body_text": [["1"]]}}, otp]),
            "components[0].text",
        ),
        (
            json!([{"type": "BODY", "add_security_recommendation": true}]),
            "components",
        ),
        (
            json!([{"type": "HEADER", "text": "Hi"}, {"type": "BODY", "text": "x"}]),
            "components[0].format",
        ),
    ] {
        let category = if field == "components[0].format" {
            "UTILITY"
        } else {
            "AUTHENTICATION"
        };
        let e = env
            .call(
                "whatsapp_create_template",
                json!({"name": "login_code", "language": "en_US", "category": category, "components": components}),
            )
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArguments, "{e:?}");
        assert_eq!(e.field.as_deref(), Some(field), "{e:?}");
    }
    assert_eq!(posts_to(&env, "/message_templates"), 0);
}

#[tokio::test]
async fn a_waba_rate_limit_returns_metas_wait_instead_of_quick_retries() {
    let env = Env::builder()
        .sandbox(|c| c.template_creations_per_hour = Some(1))
        .start()
        .await;
    let create = |name: &str| {
        json!({"name": name, "language": "en_US", "category": "UTILITY",
               "components": [{"type": "BODY", "text": "Your order has shipped."}]})
    };
    env.call("whatsapp_create_template", create("first_one"))
        .await
        .unwrap();
    let e = env
        .call("whatsapp_create_template", create("second_one"))
        .await
        .unwrap_err();
    assert_eq!(e.code, Some(80007));
    assert!(e.retryable);
    let wait = e.retry_after_seconds.expect("Meta's wait is passed on");
    assert!((3000..=3600).contains(&wait), "{wait}");
    assert_eq!(
        posts_to(&env, "/message_templates"),
        2,
        "the limited call was made once, not repeated"
    );
}

#[tokio::test]
async fn a_duplicate_template_keeps_metas_subcode_and_user_texts() {
    let env = Env::new().await;
    let e = env
        .call(
            "whatsapp_create_template",
            json!({"name": "hello_world", "language": "en_US", "category": "UTILITY",
                   "components": [{"type": "BODY", "text": "Again."}]}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.error_subcode, Some(2388024));
    assert_eq!(e.title, "Template already exists");
    assert!(e.error_user_title.is_some() && e.error_user_msg.is_some());
    let json = e.to_json();
    assert_eq!(json["error"]["error_subcode"], 2388024);
}

/// A harness with its webhook endpoint on 127.0.0.1 and enforce policy.
struct Wired {
    env: Env,
    server: WebhookServer,
    url: String,
}

impl Wired {
    async fn start() -> Wired {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = webhook_endpoint::callback_url(listener.local_addr().unwrap());
        let callback = url.clone();
        let env = Env::builder()
            .sandbox(|c| c.webhook_callback = Some(callback))
            .settings(|s| s.whatsapp.window_policy = WindowPolicy::Enforce)
            .start()
            .await;
        let hooks = Webhooks::new(env.harness.runtime().clone(), WebhookOptions::default());
        let server = WebhookServer::start(hooks, listener).await.unwrap();
        Wired { env, server, url }
    }

    /// POSTs a signed `messages`-style change and waits until it is applied.
    async fn deliver(&self, field: &str, value: Value) {
        let body =
            json!({"object": "whatsapp_business_account", "entry": [{"id": self.env.waba_id(),
            "changes": [{"field": field, "value": value}]}]})
            .to_string()
            .into_bytes();
        let sig = webhook_signature(self.env.sandbox.config().app_secret.as_bytes(), &body);
        whatsapp_host::install_crypto_provider();
        let status = reqwest::Client::new()
            .post(&self.url)
            .header("content-type", "application/json")
            .header("X-Hub-Signature-256", sig)
            .body(body)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let hooks = self.server.webhooks();
            let s = hooks.stats();
            if hooks.pending().await.unwrap().is_empty()
                && s.ingested + s.dead_lettered == s.accepted
            {
                return;
            }
            assert!(Instant::now() < deadline, "webhook not applied in time");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn kv(&self, key: &str) -> Option<Value> {
        let state = &self.env.harness.runtime().capabilities().state;
        let v = state.get(Table::Kv, key).await.unwrap()?;
        Some(serde_json::from_slice(&v).unwrap())
    }
}

#[tokio::test]
async fn a_user_who_stopped_marketing_gets_no_marketing_template_under_enforce() {
    let w = Wired::start().await;
    w.env
        .call(
            "whatsapp_create_template",
            json!({"name": "spring_sale", "language": "en_US", "category": "MARKETING",
                   "components": [{"type": "body", "text": "Our spring sale starts today."}]}),
        )
        .await
        .unwrap();
    w.deliver(
        "user_preferences",
        json!({"messaging_product": "whatsapp",
               "contacts": [{"wa_id": CUSTOMER_DIGITS, "profile": {"name": "Sheena"}}],
               "user_preferences": [{"wa_id": CUSTOMER_DIGITS, "detail": "User requested to stop marketing messages",
                                     "category": "marketing_messages", "value": "stop", "timestamp": now_s()}]}),
    )
    .await;
    assert_eq!(
        w.kv(&format!("pref/{CUSTOMER_DIGITS}")).await.unwrap()["marketing"],
        "stop"
    );
    let sent_before = messages_sent(&w.env);
    let e = w
        .env
        .call(
            "whatsapp_send_template",
            json!({"to": CUSTOMER, "name": "spring_sale", "language": "en_US"}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, Some(131050), "{e:?}");
    assert_eq!(e.kind, ErrorKind::Denied);
    assert_eq!(messages_sent(&w.env), sent_before);
    // A utility template still goes.
    w.env
        .call(
            "whatsapp_send_template",
            json!({"to": CUSTOMER, "name": "hello_world", "language": "en_US"}),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn errors_given_beside_a_failed_status_are_recorded_with_it() {
    let w = Wired::start().await;
    let sent = w
        .env
        .call(
            "whatsapp_send_template",
            json!({"to": CUSTOMER, "name": "hello_world", "language": "en_US"}),
        )
        .await
        .unwrap();
    let id = sent["message_id"].as_str().unwrap().to_string();
    w.deliver(
        "messages",
        json!({"messaging_product": "whatsapp",
               "metadata": {"display_phone_number": "15550783881", "phone_number_id": w.env.phone_number_id()},
               "statuses": [{"id": id, "status": "failed", "timestamp": now_s().to_string(), "recipient_id": CUSTOMER_DIGITS}],
               "errors": [{"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable",
                           "error_data": {"details": "Message Undeliverable."}}]}),
    )
    .await;
    let status = w
        .env
        .call("whatsapp_get_message_status", json!({"message_id": id}))
        .await
        .unwrap();
    assert_eq!(status["status"], "failed", "{status}");
    let errors = status["errors"].as_array().expect("errors listed");
    assert!(errors.iter().any(|e| e["code"] == 131026), "{status}");
}
