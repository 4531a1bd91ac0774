//! What users write (text, button replies, photos, quoted replies, reactions) arriving as
//! Meta-shaped signed webhooks, and what the business does with it (read receipts with the
//! typing indicator, reactions), over real HTTP on 127.0.0.1.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::{
    InboundButton, InboundKind, InboundMessage, Sandbox, SandboxConfig, WebhookKind,
    webhook_signature,
};

const V: &str = "v23.0";
const CUSTOMER: &str = "+1 (650) 555-1234";
const CUSTOMER_DIGITS: &str = "16505551234";

fn client() -> reqwest::Client {
    crate::util::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("reqwest client")
}

/// A webhook endpoint that accepts everything (the sandbox keeps what it delivered).
async fn accepting_endpoint() -> String {
    let app =
        axum::Router::new().route("/webhook", axum::routing::post(|| async { StatusCode::OK }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn with_webhooks() -> Sandbox {
    Sandbox::start(SandboxConfig {
        webhook_callback: Some(accepting_endpoint().await),
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

/// The `value` of every delivered webhook of `kind`, once `n` have been delivered.
async fn delivered(sb: &Sandbox, kind: WebhookKind, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found: Vec<Value> = sb
            .webhook_deliveries()
            .into_iter()
            .filter(|d| d.kind == kind && d.delivered)
            .map(|d| {
                // Every delivery is signed over its exact bytes with the app secret.
                assert_eq!(
                    d.signature,
                    webhook_signature(sb.config().app_secret.as_bytes(), &d.body)
                );
                d.json()["entry"][0]["changes"][0]["value"].clone()
            })
            .collect();
        if found.len() >= n {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} {kind:?} webhooks arrived",
            found.len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The `messages[0]` of the inbound webhook whose message has id `id`.
async fn inbound_message(sb: &Sandbox, id: &str) -> (Value, Value) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let values = delivered(sb, WebhookKind::Inbound, 1).await;
        if let Some(v) = values.iter().find(|v| v["messages"][0]["id"] == id) {
            return (v["messages"][0].clone(), v["contacts"][0].clone());
        }
        assert!(Instant::now() < deadline, "no webhook for {id}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn post_messages(sb: &Sandbox, body: Value) -> (u16, Value) {
    let url = format!(
        "{}/{V}/{}/messages",
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

async fn control(sb: &Sandbox, body: Value) -> (u16, Value) {
    let r = client()
        .post(format!("{}/_sandbox/inbound", sb.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Sends `body` (a message to the customer) and returns its id.
async fn business_sends(sb: &Sandbox, body: Value) -> String {
    let (status, v) = post_messages(sb, body).await;
    assert_eq!(status, 200, "{v}");
    v["messages"][0]["id"].as_str().unwrap().to_owned()
}

fn reply_buttons() -> Value {
    json!({"messaging_product": "whatsapp", "to": CUSTOMER_DIGITS, "type": "interactive",
           "interactive": {"type": "button", "body": {"text": "Delivery or pick-up?"},
               "action": {"buttons": [
                   {"type": "reply", "reply": {"id": "delivery", "title": "Delivery"}},
                   {"type": "reply", "reply": {"id": "pickup", "title": "Pick up"}}]}}})
}

fn message(kind: InboundKind) -> InboundMessage {
    InboundMessage {
        from: CUSTOMER.into(),
        kind,
        ..InboundMessage::default()
    }
}

#[tokio::test]
async fn a_text_arrives_as_metas_messages_webhook_with_the_contacts_profile_name() {
    let sb = with_webhooks().await;
    let id = sb
        .simulate_inbound_message(&InboundMessage {
            name: Some("Sheena Nelson".into()),
            ..InboundMessage::text(CUSTOMER, "Does it come in another color?")
        })
        .unwrap();
    let (m, contact) = inbound_message(&sb, &id).await;
    assert_eq!(
        contact,
        json!({"profile": {"name": "Sheena Nelson"}, "wa_id": CUSTOMER_DIGITS})
    );
    assert_eq!(m["from"], CUSTOMER_DIGITS);
    assert_eq!(m["type"], "text");
    assert_eq!(m["text"], json!({"body": "Does it come in another color?"}));
    assert!(m["timestamp"].as_str().unwrap().parse::<u64>().is_ok());
    assert!(m.get("context").is_none());
    // Without a name the profile still has one, as every WhatsApp user does.
    let id = sb
        .simulate_inbound_message(&InboundMessage::text(CUSTOMER, "hi"))
        .unwrap();
    let (_, contact) = inbound_message(&sb, &id).await;
    assert_eq!(contact["profile"]["name"], "Sandbox User");
}

#[tokio::test]
async fn a_tapped_reply_button_arrives_as_button_reply_quoting_the_interactive_message() {
    let sb = with_webhooks().await;
    sb.simulate_inbound(CUSTOMER, "hello");
    let asked = business_sends(&sb, reply_buttons()).await;
    let mut tap = message(InboundKind::ButtonReply);
    tap.button = Some(InboundButton {
        id: "pickup".into(),
        title: "Pick up".into(),
    });
    let id = sb.simulate_inbound_message(&tap).unwrap();
    let (m, _) = inbound_message(&sb, &id).await;
    assert_eq!(m["type"], "interactive");
    assert_eq!(
        m["interactive"],
        json!({"type": "button_reply", "button_reply": {"id": "pickup", "title": "Pick up"}})
    );
    assert_eq!(
        m["context"],
        json!({"from": sb.config().display_phone_number, "id": asked})
    );
}

#[tokio::test]
async fn a_tapped_template_quick_reply_arrives_as_a_button_message_with_its_payload() {
    let sb = with_webhooks().await;
    let template = business_sends(
        &sb,
        json!({"messaging_product": "whatsapp", "to": CUSTOMER_DIGITS, "type": "template",
               "template": {"name": "hello_world", "language": {"code": "en_US"}}}),
    )
    .await;
    let mut tap = message(InboundKind::ButtonReply);
    tap.button = Some(InboundButton {
        id: "STOP_PROMOS".into(),
        title: "Stop promotions".into(),
    });
    tap.context_message_id = Some(template.clone());
    let id = sb.simulate_inbound_message(&tap).unwrap();
    let (m, _) = inbound_message(&sb, &id).await;
    assert_eq!(m["type"], "button");
    assert_eq!(
        m["button"],
        json!({"payload": "STOP_PROMOS", "text": "Stop promotions"})
    );
    assert_eq!(m["context"]["id"], template);
    // A tap with nothing to tap on is refused, saying what to do.
    let lonely = InboundMessage {
        from: "+44 7700 900123".into(),
        ..tap.clone()
    };
    let e = sb
        .simulate_inbound_message(&InboundMessage {
            context_message_id: None,
            ..lonely
        })
        .unwrap_err();
    assert!(
        e.contains("send an interactive or template message first"),
        "{e}"
    );
    // Nor can a tap answer a message without buttons.
    sb.simulate_inbound(CUSTOMER, "hello");
    let plain = business_sends(
        &sb,
        json!({"messaging_product": "whatsapp", "to": CUSTOMER_DIGITS, "text": {"body": "hi"}}),
    )
    .await;
    let e = sb
        .simulate_inbound_message(&InboundMessage {
            from: CUSTOMER.into(),
            context_message_id: Some(plain),
            ..tap
        })
        .unwrap_err();
    assert!(
        e.contains("names a text message, which has no reply buttons"),
        "{e}"
    );
}

#[tokio::test]
async fn a_photo_arrives_with_a_media_id_the_media_endpoint_describes() {
    let sb = with_webhooks().await;
    let mut photo = message(InboundKind::Image);
    photo.caption = Some("The crack in the pot".into());
    let id = sb.simulate_inbound_message(&photo).unwrap();
    let (m, _) = inbound_message(&sb, &id).await;
    assert_eq!(m["type"], "image");
    let image = &m["image"];
    assert_eq!(image["caption"], "The crack in the pot");
    assert_eq!(image["mime_type"], "image/jpeg");
    let media_id = image["id"].as_str().unwrap();
    assert!(media_id.bytes().all(|b| b.is_ascii_digit()), "{media_id}");
    let r = client()
        .get(format!("{}/{V}/{media_id}", sb.base_url()))
        .bearer_auth(&sb.config().access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let described: Value = r.json().await.unwrap();
    assert_eq!(described["id"], media_id);
    assert_eq!(described["mime_type"], "image/jpeg");
    assert!(described["file_size"].as_u64().unwrap() > 0);
    // The webhook's base64 digest and the media endpoint's hex digest are one SHA-256.
    let from_webhook = base64::engine::general_purpose::STANDARD
        .decode(image["sha256"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        hex::encode(from_webhook),
        described["sha256"].as_str().unwrap()
    );
}

#[tokio::test]
async fn a_quoted_reply_carries_the_context_of_the_quoted_message_and_its_sender() {
    let sb = with_webhooks().await;
    let first = sb
        .simulate_inbound_message(&InboundMessage::text(CUSTOMER, "Hi"))
        .unwrap();
    let ours = business_sends(
        &sb,
        json!({"messaging_product": "whatsapp", "to": CUSTOMER_DIGITS, "type": "text",
               "text": {"body": "Your order ships Monday."}}),
    )
    .await;
    let mut reply = message(InboundKind::Reply);
    reply.text = Some("Can it be Saturday?".into());
    reply.context_message_id = Some(ours.clone());
    let id = sb.simulate_inbound_message(&reply).unwrap();
    let (m, _) = inbound_message(&sb, &id).await;
    assert_eq!(m["type"], "text");
    assert_eq!(m["text"]["body"], "Can it be Saturday?");
    assert_eq!(
        m["context"],
        json!({"from": sb.config().display_phone_number, "id": ours})
    );
    // Quoting their own message: the context names the user.
    reply.context_message_id = Some(first.clone());
    let id = sb.simulate_inbound_message(&reply).unwrap();
    let (m, _) = inbound_message(&sb, &id).await;
    assert_eq!(m["context"], json!({"from": CUSTOMER_DIGITS, "id": first}));
    // A quote of a message outside the conversation is refused.
    reply.context_message_id = Some("wamid.HBgLMTIzNDU2Nzg5MDEyFQIAERgS".into());
    let e = sb.simulate_inbound_message(&reply).unwrap_err();
    assert!(e.contains("is not a message of the conversation"), "{e}");
    reply.context_message_id = None;
    let e = sb.simulate_inbound_message(&reply).unwrap_err();
    assert!(e.contains("\"context_message_id\" is required"), "{e}");
}

#[tokio::test]
async fn a_reaction_names_the_message_and_emoji_and_a_removed_one_has_no_emoji() {
    let sb = with_webhooks().await;
    sb.simulate_inbound(CUSTOMER, "hello");
    let ours = business_sends(
        &sb,
        json!({"messaging_product": "whatsapp", "to": CUSTOMER_DIGITS, "text": {"body": "Thanks!"}}),
    )
    .await;
    let mut like = message(InboundKind::Reaction);
    like.context_message_id = Some(ours.clone());
    like.emoji = Some("👍".into());
    let id = sb.simulate_inbound_message(&like).unwrap();
    let (m, _) = inbound_message(&sb, &id).await;
    assert_eq!(m["type"], "reaction");
    assert_eq!(m["reaction"], json!({"message_id": ours, "emoji": "👍"}));
    assert!(m.get("context").is_none());
    like.emoji = Some(String::new());
    let id = sb.simulate_inbound_message(&like).unwrap();
    let (m, _) = inbound_message(&sb, &id).await;
    assert_eq!(m["reaction"], json!({"message_id": ours}));
    like.emoji = None;
    assert!(
        sb.simulate_inbound_message(&like)
            .unwrap_err()
            .contains("\"emoji\" is required")
    );
}

#[tokio::test]
async fn the_control_endpoint_takes_every_kind_and_explains_a_bad_body() {
    let sb = with_webhooks().await;
    // The original body still works and opens the window.
    let (status, v) = control(&sb, json!({"from": CUSTOMER, "text": "hi"})).await;
    assert_eq!(status, 200, "{v}");
    let first = v["id"].as_str().unwrap().to_owned();
    let (status, v) = control(
        &sb,
        json!({"from": CUSTOMER, "kind": "reply", "text": "about this", "context_message_id": first}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (m, _) = inbound_message(&sb, v["id"].as_str().unwrap()).await;
    assert_eq!(m["context"]["id"], first);
    let (status, v) = control(
        &sb,
        json!({"from": CUSTOMER, "kind": "image", "caption": "pot"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = control(
        &sb,
        json!({"from": CUSTOMER, "kind": "reaction", "context_message_id": first, "emoji": "❤️"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    for (body, says) in [
        (
            json!({"from": CUSTOMER, "kind": "sticker"}),
            "unknown variant `sticker`",
        ),
        (
            json!({"from": CUSTOMER, "txt": "typo"}),
            "unknown field `txt`",
        ),
        (
            json!({"from": "nobody", "text": "hi"}),
            "\"from\" must be the user's phone number",
        ),
        (
            json!({"from": CUSTOMER, "kind": "reply", "text": "x"}),
            "\"context_message_id\" is required",
        ),
        (
            json!({"from": CUSTOMER, "kind": "button_reply"}),
            "\"button\"",
        ),
        (
            json!({"from": CUSTOMER, "kind": "image", "text": "hi"}),
            "\"text\" does not go with kind \"image\", which takes \"caption\"",
        ),
    ] {
        let (status, v) = control(&sb, body.clone()).await;
        assert_eq!(status, 400, "{body} -> {v}");
        let e = v["error"].as_str().unwrap();
        assert!(e.contains(says), "{body} -> {e}");
    }
    // What arrived can be listed, for clients in other languages.
    let list: Value = client()
        .get(format!("{}/_sandbox/inbound", sb.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["text", "text", "image", "reaction"]);
}

#[tokio::test]
async fn a_read_receipt_with_the_typing_indicator_marks_the_message_and_earlier_ones_read() {
    let sb = with_webhooks().await;
    let first = sb
        .simulate_inbound_message(&InboundMessage::text(CUSTOMER, "one"))
        .unwrap();
    let second = sb
        .simulate_inbound_message(&InboundMessage::text(CUSTOMER, "two"))
        .unwrap();
    let third = sb
        .simulate_inbound_message(&InboundMessage::text(CUSTOMER, "three"))
        .unwrap();
    let other = sb
        .simulate_inbound_message(&InboundMessage::text("+44 7700 900123", "elsewhere"))
        .unwrap();
    // The body Meta documents ("Send typing indicator and read receipt").
    let (status, v) = post_messages(
        &sb,
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": second,
               "typing_indicator": {"type": "text"}}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v, json!({"success": true}));
    let read: Vec<(String, bool)> = sb
        .received_messages()
        .into_iter()
        .map(|m| (m.id, m.read))
        .collect();
    assert_eq!(
        read,
        [
            (first, true),
            (second, true),
            (third.clone(), false),
            (other, false)
        ]
    );
    // Without the indicator too.
    let (status, _) = post_messages(
        &sb,
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": third}),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_read_receipt_for_an_unknown_message_or_with_a_bad_typing_indicator_is_refused() {
    let sb = with_webhooks().await;
    let id = sb
        .simulate_inbound_message(&InboundMessage::text(CUSTOMER, "hi"))
        .unwrap();
    for (body, says) in [
        (
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.HBgLMTY1MDU1NTk5OTkVAgARGBJDQUZFQkFCRQA="}),
            "Param message_id must be the id of a message a user sent",
        ),
        (
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": id, "typing_indicator": {"type": "audio"}}),
            "Param typing_indicator['type'] must be one of {TEXT}",
        ),
        (
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": id, "typing_indicator": true}),
            "Param typing_indicator must be an object",
        ),
    ] {
        let (status, v) = post_messages(&sb, body.clone()).await;
        assert_eq!(status, 400, "{body} -> {v}");
        assert_eq!(v["error"]["code"], 100, "{v}");
        let text = v["error"].to_string();
        assert!(text.contains(says), "{body} -> {text}");
    }
    assert!(!sb.received_messages()[0].read);
}

#[tokio::test]
async fn a_reaction_to_a_message_of_the_conversation_is_accepted_and_an_empty_emoji_removes_it() {
    let sb = with_webhooks().await;
    let theirs = sb
        .simulate_inbound_message(&InboundMessage::text(CUSTOMER, "Arrived!"))
        .unwrap();
    for emoji in ["🎉", ""] {
        let (status, v) = post_messages(
            &sb,
            json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "reaction",
                   "reaction": {"message_id": theirs, "emoji": emoji}}),
        )
        .await;
        assert_eq!(status, 200, "{v}");
    }
    let statuses = delivered(&sb, WebhookKind::Status, 2).await;
    assert!(
        statuses
            .iter()
            .all(|s| s["statuses"][0]["status"] != "failed"),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_reaction_to_an_unknown_message_fails_with_131009_by_webhook_or_at_once_without_one() {
    let unknown = "wamid.HBgLMTY1MDU1NTk5OTkVAgARGBJDQUZFQkFCRQA=";
    let reaction = json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "reaction",
                          "reaction": {"message_id": unknown, "emoji": "👍"}});
    let sb = with_webhooks().await;
    sb.simulate_inbound(CUSTOMER, "hi");
    let (status, v) = post_messages(&sb, reaction.clone()).await;
    assert_eq!(status, 200, "{v}");
    let id = v["messages"][0]["id"].clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    let failed = loop {
        let statuses = delivered(&sb, WebhookKind::Status, 1).await;
        if let Some(s) = statuses.iter().find(|s| s["statuses"][0]["id"] == id) {
            break s["statuses"][0].clone();
        }
        assert!(Instant::now() < deadline, "no status for the reaction");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["errors"][0]["code"], 131009);

    // Without a webhook callback nothing else could report it: the answer does.
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    sb.simulate_inbound(CUSTOMER, "hi");
    let (status, v) = post_messages(&sb, reaction).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["code"], 131009);
}

#[tokio::test]
async fn a_reaction_outside_the_window_is_refused_like_any_free_form_message() {
    // No callback: the window failure is answered at once.
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let long_ago = std::time::SystemTime::now() - Duration::from_secs(25 * 3600);
    let theirs = sb.simulate_inbound_at(CUSTOMER, "Old news", long_ago);
    let (status, v) = post_messages(
        &sb,
        json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "reaction",
               "reaction": {"message_id": theirs, "emoji": "👍"}}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["code"], 131047, "{v}");
    // A read receipt is not a message: it is accepted outside the window.
    let (status, v) = post_messages(
        &sb,
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": theirs}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
}
