//! The demo's inbox chapter: the customer taps a reply button and quotes the
//! receipt (signed webhooks from the sandbox, Meta's shapes); the agent reads
//! the conversation with `whatsapp_get_messages`, marks it read with the
//! typing indicator, reacts, answers quoting the customer, and sees the
//! customer's reaction to that answer.

use std::time::Instant;

use serde_json::{Value, json};

use whatsapp_sandbox::{InboundButton, InboundKind, InboundMessage};

use super::demo_story::{CUSTOMER, CUSTOMER_DIGITS, POLL, Story, WEBHOOK_DEADLINE, field};

/// The customer's profile name on WhatsApp.
const CUSTOMER_NAME: &str = "Sam Jones";
const QUESTION: &str = "Can I pick it up on Saturday?";
const ANSWER: &str = "Saturday works: order #1042 will wait at the counter from 9 am.";

/// The customer writes `message` through the sandbox (a signed webhook).
fn customer_writes(story: &mut Story, what: &str, message: InboundMessage) -> Option<String> {
    let sent = story.sandbox.simulate_inbound_message(&InboundMessage {
        name: Some(CUSTOMER_NAME.into()),
        ..message
    });
    let (passed, detail) = match &sent {
        Ok(id) => (true, format!("{what} ({id})")),
        Err(e) => (false, e.clone()),
    };
    story.push("(sandbox) customer writes", "-", passed, detail);
    sent.ok()
}

/// Reads the conversation until `found` picks what is wanted from it (the
/// webhook is ingested asynchronously).
async fn messages_until(story: &Story, found: impl Fn(&[Value]) -> bool) -> Result<Value, String> {
    let args = json!({"customer": CUSTOMER, "limit": 20});
    let deadline = Instant::now() + WEBHOOK_DEADLINE;
    loop {
        match story.call("whatsapp_get_messages", &args).await {
            Ok(v) => {
                let list = v["messages"].as_array().cloned().unwrap_or_default();
                if found(&list) {
                    return Ok(v);
                }
                if Instant::now() >= deadline {
                    return Err(format!(
                        "not in the inbox after {WEBHOOK_DEADLINE:?}: {}",
                        v["messages"]
                    ));
                }
            }
            Err(e) => return Err(e.one_line()),
        }
        tokio::time::sleep(POLL).await;
    }
}

fn by_id<'a>(list: &'a [Value], id: &str) -> Option<&'a Value> {
    list.iter().find(|m| m["id"] == id)
}

/// Runs the chapter. `receipt_id` is the text message the customer quotes;
/// interactive reply buttons were sent before it.
pub(super) async fn run(story: &mut Story, receipt_id: &str) {
    let tap = customer_writes(
        story,
        "taps \"Pick up in store\" under the reply buttons",
        InboundMessage {
            from: CUSTOMER.into(),
            kind: InboundKind::ButtonReply,
            button: Some(InboundButton {
                id: "pickup".into(),
                title: "Pick up in store".into(),
            }),
            ..InboundMessage::default()
        },
    )
    .unwrap_or_default();
    let question = customer_writes(
        story,
        "quotes the receipt message",
        InboundMessage {
            kind: InboundKind::Reply,
            context_message_id: Some(receipt_id.into()),
            ..InboundMessage::text(CUSTOMER, QUESTION)
        },
    )
    .unwrap_or_default();

    // Read: the question with its quote, and the tapped button.
    let read = messages_until(story, |list| {
        by_id(list, &question).is_some() && by_id(list, &tap).is_some()
    })
    .await;
    let (passed, detail) = match &read {
        Ok(v) => {
            let list = v["messages"].as_array().cloned().unwrap_or_default();
            let q = by_id(&list, &question).cloned().unwrap_or_default();
            let t = by_id(&list, &tap).cloned().unwrap_or_default();
            let ok = q["text"] == QUESTION
                && q["reply_to"] == receipt_id
                && q["read"] == false
                && t.pointer("/reply/id") == Some(&json!("pickup"));
            (
                ok,
                format!(
                    "\"{}\" quoting {}; {} reply \"{}\"; {} messages",
                    field(&q, "/text"),
                    field(&q, "/reply_to"),
                    field(&t, "/type"),
                    field(&t, "/reply/title"),
                    list.len()
                ),
            )
        }
        Err(e) => (false, e.clone()),
    };
    story.push("whatsapp_get_messages", "ok", passed, detail);

    story
        .ok("whatsapp_list_conversations", json!({}), |v| {
            let c = v["conversations"]
                .as_array()?
                .iter()
                .find(|c| c["customer"] == format!("+{CUSTOMER_DIGITS}"))?;
            (c["unread"].as_i64()? >= 2 && c["window_open"] == true).then(|| {
                format!(
                    "{} ({}): {} unread, window open until {}",
                    field(c, "/customer"),
                    field(c, "/name"),
                    field(c, "/unread"),
                    field(c, "/window_expires_at")
                )
            })
        })
        .await;

    // Mark read with the typing indicator: Meta's documented body, and the
    // sandbox counts the question and everything before it as read.
    let before = story.sandbox.requests().len();
    story
        .ok(
            "whatsapp_mark_as_read",
            json!({"customer": CUSTOMER, "message_id": question, "typing_indicator": true}),
            |v| {
                (v["success"] == true && v["inbox_updated"] == true)
                    .then(|| "read receipt + typing indicator; the inbox counts it read".into())
            },
        )
        .await;
    let receipt_body = story
        .sandbox
        .requests()
        .iter()
        .skip(before)
        .find(|r| r.path.ends_with("/messages"))
        .and_then(|r| r.json());
    let expected = json!({"messaging_product": "whatsapp", "status": "read",
                          "message_id": question, "typing_indicator": {"type": "text"}});
    let all_read = story
        .sandbox
        .received_messages()
        .iter()
        .filter(|m| m.from == CUSTOMER_DIGITS)
        .all(|m| m.read);
    story.push(
        "(sandbox) read receipt",
        "-",
        receipt_body.as_ref() == Some(&expected) && all_read,
        match &receipt_body {
            Some(b) => format!("POST /messages {b}; every message of the customer read"),
            None => "no read receipt reached the API".into(),
        },
    );

    story
        .ok(
            "whatsapp_send_reaction",
            json!({"to": CUSTOMER, "message_id": question, "emoji": "👍"}),
            |v| Some(format!("👍 on the question: {}", field(v, "/message_id"))),
        )
        .await;
    let answer = story
        .ok(
            "whatsapp_send_message",
            json!({"to": CUSTOMER, "text": ANSWER, "reply_to": question}),
            |v| {
                (v["window"]["state"] == "open")
                    .then(|| format!("{} quoting the question", field(v, "/message_id")))
            },
        )
        .await;
    let answer_id = answer
        .as_ref()
        .map(|v| field(v, "/message_id"))
        .unwrap_or_default();
    let quoted = story
        .sandbox
        .sent_messages()
        .iter()
        .find(|m| m.id == answer_id)
        .map(|m| m.request["context"]["message_id"] == question)
        .unwrap_or(false);
    story.push(
        "(sandbox) answer quotes question",
        "-",
        quoted,
        format!("context.message_id = {question}"),
    );
    story
        .ok(
            "whatsapp_list_conversations",
            json!({"unread_only": true}),
            |v| {
                v["conversations"]
                    .as_array()?
                    .is_empty()
                    .then(|| "no unread conversations left".into())
            },
        )
        .await;

    // The customer likes the answer: the reaction reaches the inbox too.
    customer_writes(
        story,
        "reacts ❤️ to the answer",
        InboundMessage {
            from: CUSTOMER.into(),
            kind: InboundKind::Reaction,
            context_message_id: Some(answer_id.clone()),
            emoji: Some("❤️".into()),
            ..InboundMessage::default()
        },
    );
    let reacted = messages_until(story, |list| {
        list.iter()
            .any(|m| m["type"] == "reaction" && m["reaction"]["message_id"] == answer_id)
    })
    .await;
    let (passed, detail) = match reacted {
        Ok(_) => (
            true,
            "the customer's ❤️ on the answer is in the inbox".into(),
        ),
        Err(e) => (false, e),
    };
    story.push("whatsapp_get_messages", "ok", passed, detail);
}
