//! Every kind of message the sandbox's customers send (its control API, as a
//! client in another language would drive it) arrives as a signed webhook at
//! the real webhook endpoint and is read back with `whatsapp_get_messages`
//! with its details: the tapped button, the photo's media id and caption, the
//! quoted message, the reaction.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::TcpListener;
use whatsapp_host::webhook_endpoint::{self, WebhookOptions, WebhookServer, Webhooks};

use crate::common::Env;

const CUSTOMER: &str = "+16505551234";

fn client() -> reqwest::Client {
    whatsapp_host::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// The customer writes `body` through `POST /_sandbox/inbound`; returns the id.
async fn customer_writes(env: &Env, body: Value) -> String {
    let r = client()
        .post(format!("{}/_sandbox/inbound", env.sandbox.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body} -> {v}");
    v["id"].as_str().unwrap().to_owned()
}

/// `whatsapp_get_messages` once it holds every id in `ids`.
async fn messages_holding(env: &Env, ids: &[&str]) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = env
            .call(
                "whatsapp_get_messages",
                json!({"customer": CUSTOMER, "limit": 50}),
            )
            .await
            .unwrap();
        let list = v["messages"].as_array().unwrap().clone();
        if ids.iter().all(|id| list.iter().any(|m| m["id"] == *id)) {
            return list;
        }
        assert!(Instant::now() < deadline, "not all of {ids:?} in {list:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn by_id<'a>(list: &'a [Value], id: &str) -> &'a Value {
    list.iter().find(|m| m["id"] == id).unwrap()
}

#[tokio::test]
async fn every_kind_a_sandbox_customer_sends_reaches_the_inbox_with_its_details() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = webhook_endpoint::callback_url(listener.local_addr().unwrap());
    let env = Env::builder()
        .sandbox(|c| c.webhook_callback = Some(callback))
        .settings(|s| s.inbox.enabled = true)
        .start()
        .await;
    let hooks = Webhooks::new(env.harness.runtime().clone(), WebhookOptions::default());
    let server = WebhookServer::start(hooks, listener).await.unwrap();

    let hello = customer_writes(&env, json!({"from": CUSTOMER, "text": "Hello!"})).await;
    messages_holding(&env, &[&hello]).await;
    let buttons = env
        .call(
            "whatsapp_send_message",
            json!({"to": CUSTOMER, "text": "Delivery or pick-up?",
                   "buttons": [{"id": "delivery", "title": "Delivery"}, {"id": "pickup", "title": "Pick up"}]}),
        )
        .await
        .unwrap()["message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tap = customer_writes(
        &env,
        json!({"from": CUSTOMER, "kind": "button_reply", "button": {"id": "pickup", "title": "Pick up"}}),
    )
    .await;
    let photo = customer_writes(
        &env,
        json!({"from": CUSTOMER, "kind": "image", "caption": "The cracked pot"}),
    )
    .await;
    let quote = customer_writes(
        &env,
        json!({"from": CUSTOMER, "kind": "reply", "text": "Saturday?", "context_message_id": buttons}),
    )
    .await;
    let like = customer_writes(
        &env,
        json!({"from": CUSTOMER, "kind": "reaction", "context_message_id": buttons, "emoji": "👍"}),
    )
    .await;
    let list = messages_holding(&env, &[&tap, &photo, &quote, &like]).await;

    let m = by_id(&list, &tap);
    assert_eq!(m["direction"], "inbound");
    assert_eq!(m["type"], "interactive");
    assert_eq!(m["reply"]["id"], "pickup", "{m}");
    assert_eq!(m["reply"]["title"], "Pick up", "{m}");
    assert_eq!(m["reply_to"], buttons, "{m}");

    let m = by_id(&list, &photo);
    assert_eq!(m["type"], "image");
    assert_eq!(m["caption"], "The cracked pot", "{m}");
    assert_eq!(m["media"]["mime_type"], "image/jpeg", "{m}");
    // The media id is one the sandbox's media endpoint describes.
    let delivered: Value = client()
        .get(format!("{}/_sandbox/inbound", env.sandbox.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sent_photo = delivered
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == photo)
        .unwrap();
    assert_eq!(
        m["media"]["id"], sent_photo["message"]["image"]["id"],
        "{m}"
    );

    let m = by_id(&list, &quote);
    assert_eq!(m["text"], "Saturday?");
    assert_eq!(m["reply_to"], buttons, "{m}");

    let m = by_id(&list, &like);
    assert_eq!(m["type"], "reaction");
    assert_eq!(
        m["reaction"],
        json!({"message_id": buttons, "emoji": "👍"}),
        "{m}"
    );

    let conversations = env
        .call("whatsapp_list_conversations", json!({}))
        .await
        .unwrap();
    let c = &conversations["conversations"][0];
    assert_eq!(c["customer"], CUSTOMER, "{conversations}");
    // The contact's profile name travels with every message.
    assert_eq!(c["name"], "Sandbox User", "{c}");
    server.stop().await.unwrap();
}
