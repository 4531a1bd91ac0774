//! The inbox from a customer's message to the agent's quoted answer,
//! through the real transports: the sandbox's signed webhooks into the
//! webhook endpoint, and a 2025-11-25 MCP client over streamable HTTP.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use whatsapp_sandbox::{InboundKind, InboundMessage};

use super::wiring::Inbox;
use crate::fidelity::interactive::openapi;

const MESSAGES_PATH: &str = "/{Version}/{Phone-Number-ID}/messages";
const CUSTOMER: &str = "+16505550301";

/// The JSON bodies POSTed to `/messages` since the last clear.
fn message_posts(inbox: &Inbox) -> Vec<Value> {
    inbox
        .env
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/messages"))
        .map(|r| r.json().expect("a JSON body"))
        .collect()
}

#[tokio::test]
async fn a_subscribed_client_hears_of_a_quoted_reply_reads_it_marks_it_read_and_answers_quoting_it()
{
    let inbox = Inbox::start(None).await;
    let conversation = format!("whatsapp://conversations/{CUSTOMER}");
    let mut client = inbox.session(None).await;
    let subscribed = client
        .request("resources/subscribe", json!({"uri": conversation}))
        .await;
    assert!(subscribed.get("result").is_some(), "{subscribed}");
    let mut stream = client.stream().await;

    // The customer writes: the subscribed client is told.
    inbox
        .env
        .sandbox
        .simulate_inbound(CUSTOMER, "Hi, where is my order?");
    assert_eq!(stream.next_update().await, conversation);

    // The agent asks back, inside the window the message opened.
    let asked = client
        .call(
            "whatsapp_send_message",
            json!({"to": CUSTOMER, "text": "Which order number?"}),
        )
        .await;
    assert_eq!(asked["isError"], false, "{asked}");
    let question = asked["structuredContent"]["message_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{asked}"))
        .to_string();

    // The customer answers quoting that question (the sandbox sends it as a
    // signed webhook shaped like Meta's, with `context`): the client is told
    // again. Written a couple of seconds after the question, as people type.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    let answer_id = inbox
        .env
        .sandbox
        .simulate_inbound_message(&InboundMessage {
            from: CUSTOMER.into(),
            kind: InboundKind::Reply,
            text: Some("Order 4711".into()),
            context_message_id: Some(question.clone()),
            name: Some("Ana".into()),
            timestamp: Some(now),
            ..InboundMessage::default()
        })
        .expect("the sandbox takes the quoted reply");
    let answer_id = answer_id.as_str();
    assert_eq!(stream.next_update().await, conversation);

    // Reading the conversation shows the answer first, with what it quotes.
    let read = client
        .call("whatsapp_get_messages", json!({"customer": CUSTOMER}))
        .await;
    let messages = read["structuredContent"]["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("{read}"));
    let newest = &messages[0];
    assert_eq!(newest["id"], answer_id, "{read}");
    assert_eq!(newest["direction"], "inbound");
    assert_eq!(newest["text"], "Order 4711");
    assert_eq!(newest["reply_to"], question.as_str());
    assert_eq!(newest["read"], false);
    assert!(
        messages
            .iter()
            .any(|m| m["id"] == question.as_str() && m["direction"] == "outbound"),
        "{read}"
    );

    // Marking it read reaches the API with the documented body.
    inbox.env.sandbox.clear_requests();
    let marked = client
        .call(
            "whatsapp_mark_as_read",
            json!({"customer": CUSTOMER, "message_id": answer_id, "typing_indicator": true}),
        )
        .await;
    assert_eq!(marked["isError"], false, "{marked}");
    let posts = message_posts(&inbox);
    assert_eq!(
        posts,
        [
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": answer_id,
                "typing_indicator": {"type": "text"}})
        ],
        "https://developers.facebook.com/docs/whatsapp/cloud-api/typing-indicators"
    );
    let read_receipt =
        openapi::validator(&json!({"$ref": "#/components/schemas/MarkMessageRequestPayload"}));
    assert_eq!(
        openapi::errors(&read_receipt, &posts[0]),
        Vec::<String>::new()
    );

    // The answer quotes the customer's message.
    inbox.env.sandbox.clear_requests();
    let replied = client
        .call(
            "whatsapp_send_message",
            json!({"to": CUSTOMER, "text": "Order 4711 ships today.", "reply_to": answer_id}),
        )
        .await;
    assert_eq!(replied["isError"], false, "{replied}");
    let posts = message_posts(&inbox);
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0]["context"]["message_id"], answer_id, "{}", posts[0]);
    let messages_schema = openapi::validator(&openapi::request_schema(MESSAGES_PATH, "post"));
    assert_eq!(
        openapi::errors(&messages_schema, &posts[0]),
        Vec::<String>::new()
    );

    // The resource reads the same conversation, now read.
    let resource = client
        .request("resources/read", json!({"uri": conversation}))
        .await;
    let text = resource["result"]["contents"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{resource}"));
    let body: Value = serde_json::from_str(text).unwrap();
    let answer = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == answer_id)
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(answer["read"], true, "{body}");
}
