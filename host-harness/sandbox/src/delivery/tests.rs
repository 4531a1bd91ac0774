//! The sandbox's webhooks, received by a recording endpoint on 127.0.0.1.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::payload::signature;
use super::record::WebhookKind;
use crate::config::{SandboxConfig, WebhookBehaviour};
use crate::sandbox::Sandbox;

const CUSTOMER_DIGITS: &str = "16505551234";

/// (`x-hub-signature-256`, body) of every POST received.
type Received = Arc<Mutex<Vec<(Option<String>, Vec<u8>)>>>;

/// An endpoint that records deliveries and answers with `refusals` first, then 200.
struct Receiver {
    url: String,
    received: Received,
}

impl Receiver {
    async fn start(refusals: Vec<u16>) -> Receiver {
        let received: Received = Default::default();
        let refusals = Arc::new(Mutex::new(VecDeque::from(refusals)));
        let log = received.clone();
        let app = axum::Router::new().route(
            "/webhook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let log = log.clone();
                let refusals = refusals.clone();
                async move {
                    let sig = headers
                        .get("x-hub-signature-256")
                        .map(|v| v.to_str().unwrap().to_string());
                    log.lock().unwrap().push((sig, body.to_vec()));
                    match refusals.lock().unwrap().pop_front() {
                        Some(code) => StatusCode::from_u16(code).unwrap(),
                        None => StatusCode::OK,
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, received }
    }

    fn bodies(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| serde_json::from_slice(b).unwrap())
            .collect()
    }

    /// Waits until `n` POSTs have arrived.
    async fn wait_for(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.received.lock().unwrap().len() < n {
            assert!(
                Instant::now() < deadline,
                "only {} of {n} webhooks arrived",
                self.received.lock().unwrap().len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.bodies()
    }
}

async fn sandbox(receiver: &Receiver, tweak: impl FnOnce(&mut SandboxConfig)) -> Sandbox {
    let mut cfg = SandboxConfig {
        webhook_callback: Some(receiver.url.clone()),
        approval_delay: Duration::from_millis(50),
        ..SandboxConfig::default()
    };
    tweak(&mut cfg);
    Sandbox::start(cfg).await.unwrap()
}

fn client() -> reqwest::Client {
    crate::util::install_crypto_provider();
    reqwest::Client::new()
}

/// POSTs a message send; returns (HTTP status, JSON answer).
async fn send(sb: &Sandbox, body: Value) -> (u16, Value) {
    let url = format!(
        "{}/v23.0/{}/messages",
        sb.base_url(),
        sb.config().phone_number_id
    );
    let r = client()
        .post(url)
        .bearer_auth(&sb.config().access_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn text_to(to: &str) -> Value {
    json!({"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": "hi"}})
}

fn template_to(to: &str) -> Value {
    json!({"messaging_product": "whatsapp", "to": to, "type": "template",
           "template": {"name": "hello_world", "language": {"code": "en_US"}}})
}

fn status_of(body: &Value) -> &Value {
    &body["entry"][0]["changes"][0]["value"]["statuses"][0]
}

#[tokio::test]
async fn an_accepted_send_is_followed_by_signed_sent_delivered_read_webhooks_in_the_documented_envelope()
 {
    let rx = Receiver::start(vec![]).await;
    let sb = sandbox(&rx, |_| {}).await;
    let (code, answer) = send(&sb, template_to(CUSTOMER_DIGITS)).await;
    assert_eq!(code, 200, "{answer}");
    let id = answer["messages"][0]["id"].as_str().unwrap();
    let bodies = rx.wait_for(3).await;
    let states: Vec<&str> = bodies
        .iter()
        .map(|b| status_of(b)["status"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["sent", "delivered", "read"]);
    let cfg = sb.config();
    for (sig, raw) in rx.received.lock().unwrap().iter() {
        assert_eq!(
            sig.as_deref(),
            Some(signature(cfg.app_secret.as_bytes(), raw).as_str()),
            "signed over the exact body"
        );
    }
    let b = &bodies[0];
    assert_eq!(b["object"], "whatsapp_business_account");
    assert_eq!(b["entry"][0]["id"], cfg.waba_id.as_str());
    let change = &b["entry"][0]["changes"][0];
    assert_eq!(change["field"], "messages");
    assert_eq!(change["value"]["messaging_product"], "whatsapp");
    assert_eq!(
        change["value"]["metadata"]["phone_number_id"],
        cfg.phone_number_id.as_str()
    );
    let s = status_of(b);
    assert_eq!(s["id"], id);
    assert_eq!(s["recipient_id"], CUSTOMER_DIGITS);
    assert!(
        s["timestamp"].as_str().unwrap().parse::<u64>().is_ok(),
        "{s}"
    );
    assert_eq!(s["pricing"]["category"], "utility");
    assert_eq!(s["pricing"]["pricing_model"], "PMP");
    assert_eq!(s["conversation"]["origin"]["type"], "utility");
    assert!(s["conversation"]["expiration_timestamp"].is_string(), "{s}");
}

#[tokio::test]
async fn with_a_callback_a_send_outside_the_window_is_accepted_then_fails_with_131047() {
    let rx = Receiver::start(vec![]).await;
    let sb = sandbox(&rx, |_| {}).await;
    let (code, answer) = send(&sb, text_to(CUSTOMER_DIGITS)).await;
    assert_eq!(code, 200, "accepted like Meta does: {answer}");
    let bodies = rx.wait_for(1).await;
    let s = status_of(&bodies[0]);
    assert_eq!(s["status"], "failed");
    assert_eq!(s["id"], answer["messages"][0]["id"]);
    let e = &s["errors"][0];
    assert_eq!(e["code"], 131047);
    assert_eq!(e["title"], "Re-engagement message");
    assert!(
        e["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("24 hours")
    );
    assert!(
        e["href"]
            .as_str()
            .unwrap()
            .starts_with("https://developers.facebook.com/")
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        rx.bodies().len(),
        1,
        "a failed message gets no other status"
    );
}

#[tokio::test]
async fn without_a_callback_a_send_outside_the_window_still_fails_synchronously() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let (code, answer) = send(&sb, text_to(CUSTOMER_DIGITS)).await;
    assert_eq!(code, 400);
    assert_eq!(answer["error"]["code"], 131047);
}

#[tokio::test]
async fn undeliverable_numbers_and_unfetchable_media_fail_by_webhook_with_their_codes() {
    let rx = Receiver::start(vec![]).await;
    let sb = sandbox(&rx, |_| {}).await;
    assert_eq!(send(&sb, template_to("16505550000")).await.0, 200);
    let bodies = rx.wait_for(1).await;
    assert_eq!(status_of(&bodies[0])["errors"][0]["code"], 131026);

    sb.simulate_inbound(CUSTOMER_DIGITS, "hi");
    rx.wait_for(2).await; // the inbound message itself
    for link in [
        "https://unreachable.example/a.jpg",
        "https://shop.example.com/missing/a.jpg",
    ] {
        let before = rx.bodies().len();
        let media = json!({"messaging_product": "whatsapp", "to": CUSTOMER_DIGITS, "type": "image",
                           "image": {"link": link}});
        assert_eq!(send(&sb, media).await.0, 200);
        let bodies = rx.wait_for(before + 1).await;
        let s = status_of(&bodies[before]);
        assert_eq!(s["status"], "failed", "{link}");
        assert_eq!(s["errors"][0]["code"], 131053, "{link}");
    }
    let history = sb.sent_messages();
    assert_eq!(history.len(), 3);
}

#[tokio::test]
async fn simulated_inbound_messages_arrive_with_contacts_and_their_own_timestamp() {
    let rx = Receiver::start(vec![]).await;
    let sb = sandbox(&rx, |_| {}).await;
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000);
    let id = sb.simulate_inbound_at("+1 650 555 1234", "Café? 🌵", at);
    let bodies = rx.wait_for(1).await;
    let value = &bodies[0]["entry"][0]["changes"][0]["value"];
    assert_eq!(value["contacts"][0]["wa_id"], CUSTOMER_DIGITS);
    let m = &value["messages"][0];
    assert_eq!(m["id"], id);
    assert_eq!(m["from"], CUSTOMER_DIGITS);
    assert_eq!(m["timestamp"], "1750000000");
    assert_eq!(m["type"], "text");
    assert_eq!(m["text"]["body"], "Café? 🌵");
    // On the wire the text is escaped, as Meta sends it, and signed as sent.
    let (sig, raw) = rx.received.lock().unwrap()[0].clone();
    assert!(raw.is_ascii());
    assert!(
        String::from_utf8(raw.clone())
            .unwrap()
            .contains(r"Caf\u00e9? \ud83c\udf35")
    );
    assert_eq!(
        sig.unwrap(),
        signature(sb.config().app_secret.as_bytes(), &raw)
    );
    // Recorded once the sandbox has read the receiver's answer.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sb.webhook_deliveries().is_empty() {
        assert!(Instant::now() < deadline, "the delivery was never recorded");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sb.webhook_deliveries()[0].kind, WebhookKind::Inbound);
}

#[tokio::test]
async fn template_review_results_are_announced_when_the_review_ends() {
    let rx = Receiver::start(vec![]).await;
    let sb = sandbox(&rx, |_| {}).await;
    let url = format!(
        "{}/v23.0/{}/message_templates",
        sb.base_url(),
        sb.config().waba_id
    );
    for name in ["spring_sale", "reject_spam"] {
        let r = client()
            .post(&url)
            .bearer_auth(&sb.config().access_token)
            .json(
                &json!({"name": name, "language": "en_US", "category": "MARKETING",
                          "components": [{"type": "BODY", "text": "Spring sale!"}]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    // No request reads the templates: the review timer alone announces them.
    let bodies = rx.wait_for(2).await;
    let mut seen: Vec<(String, String, String)> = bodies
        .iter()
        .map(|b| {
            assert!(b["entry"][0]["time"].is_u64(), "{b}");
            let c = &b["entry"][0]["changes"][0];
            assert_eq!(c["field"], "message_template_status_update");
            let v = &c["value"];
            assert!(v["message_template_id"].is_u64(), "{v}");
            assert_eq!(v["message_template_language"], "en_US");
            (
                v["message_template_name"].as_str().unwrap().to_string(),
                v["event"].as_str().unwrap().to_string(),
                v["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                "reject_spam".into(),
                "REJECTED".into(),
                "INVALID_FORMAT".into()
            ),
            ("spring_sale".into(), "APPROVED".into(), "NONE".into()),
        ]
    );
}

#[tokio::test]
async fn duplicate_and_reorder_sends_the_last_state_first_then_every_state_again() {
    let rx = Receiver::start(vec![]).await;
    let sb = sandbox(&rx, |c| c.webhooks.duplicate_and_reorder = true).await;
    assert_eq!(send(&sb, template_to(CUSTOMER_DIGITS)).await.0, 200);
    let bodies = rx.wait_for(6).await;
    let states: Vec<&str> = bodies
        .iter()
        .map(|b| status_of(b)["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["read", "delivered", "sent", "sent", "delivered", "read"]
    );
    // Timestamps still tell the true order.
    let ts = |s: &str| {
        bodies
            .iter()
            .map(status_of)
            .find(|x| x["status"] == s)
            .unwrap()["timestamp"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert!(ts("sent") <= ts("delivered") && ts("delivered") <= ts("read"));
}

#[tokio::test]
async fn a_refused_delivery_is_retried_and_a_dead_callback_is_given_up_on() {
    let rx = Receiver::start(vec![500, 503]).await;
    let sb = sandbox(&rx, |c| {
        c.webhooks = WebhookBehaviour {
            retry_backoff: Duration::from_millis(20),
            max_attempts: 3,
            ..WebhookBehaviour::default()
        }
    })
    .await;
    sb.simulate_inbound(CUSTOMER_DIGITS, "hi");
    rx.wait_for(3).await;
    let raw: Vec<Vec<u8>> = rx
        .received
        .lock()
        .unwrap()
        .iter()
        .map(|(_, b)| b.clone())
        .collect();
    assert!(raw.iter().all(|b| *b == raw[0]), "the same body each time");
    // The receiver sees the third attempt before the sandbox has read its answer.
    let deadline = Instant::now() + Duration::from_secs(10);
    let d = loop {
        if let Some(d) = sb.webhook_deliveries().first().filter(|d| d.delivered) {
            break d.clone();
        }
        assert!(Instant::now() < deadline, "the delivery was never recorded");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(
        (d.attempts, d.delivered, d.last_status),
        (3, true, Some(200))
    );

    // Nothing listens here: bounded attempts, then dropped.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhook", dead.local_addr().unwrap());
    drop(dead);
    sb.set_webhook_callback(Some(url));
    sb.simulate_inbound(CUSTOMER_DIGITS, "again");
    let deadline = Instant::now() + Duration::from_secs(10);
    let given_up = loop {
        let d = sb.webhook_deliveries();
        if d.len() == 2 {
            break d[1].clone();
        }
        assert!(Instant::now() < deadline, "the delivery never ended");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(
        (given_up.attempts, given_up.delivered, given_up.last_status),
        (3, false, None)
    );
}

#[tokio::test]
async fn the_control_endpoint_points_webhooks_at_a_callback_and_shows_the_signing_secret() {
    let rx = Receiver::start(vec![]).await;
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let control = format!("{}/_sandbox/webhooks", sb.base_url());
    let r = client()
        .post(&control)
        .json(&json!({"callback": rx.url}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let cfg: Value = client()
        .get(format!("{}/_sandbox/config", sb.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cfg["webhook_callback"], rx.url.as_str());
    let secret = cfg["app_secret"].as_str().unwrap().to_string();
    sb.simulate_inbound(CUSTOMER_DIGITS, "hi");
    rx.wait_for(1).await;
    let (sig, raw) = rx.received.lock().unwrap()[0].clone();
    assert_eq!(sig.unwrap(), signature(secret.as_bytes(), &raw));

    let r = client()
        .post(&control)
        .json(&json!({"callback": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(sb.webhook_callback(), None);
    let r = client()
        .post(&control)
        .json(&json!({"callback": 42}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
}
