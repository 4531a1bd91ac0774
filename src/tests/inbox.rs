//! The inbox: what ingest keeps, and the four inbox tools.

use serde_json::{Value, json};

use super::{GRAPH, WAMID, assert_invalid, call, send_ok};
use crate::error::ErrorKind;
use crate::testing::{FakeHost, NOW_S, PNID, WABA};
use crate::webhooks::{IngestReport, ingest};

const ALICE: &str = "16505551234";
const BOB: &str = "447700900123";

fn inbox_on() -> FakeHost {
    let host = FakeHost::new();
    host.set("inbox-enabled", "true");
    host.set("webhooks-configured", "true");
    host
}

fn deliver(host: &FakeHost, messages: Value, contacts: Value) -> IngestReport {
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550783881", "phone_number_id": PNID},
        "contacts": contacts, "messages": messages}}]}]});
    ingest(host, body.to_string().as_bytes()).expect("ingest")
}

fn text_from(from: &str, id: &str, ts: i64, body: &str) -> Value {
    json!({"from": from, "id": id, "timestamp": ts.to_string(), "type": "text", "text": {"body": body}})
}

fn alice(name: &str) -> Value {
    json!([{"wa_id": ALICE, "profile": {"name": name}}])
}

fn messages_of(host: &FakeHost, customer: &str) -> Vec<Value> {
    call(
        host,
        "whatsapp_get_messages",
        json!({"customer": customer, "limit": 100}),
    )
    .unwrap()["messages"]
        .as_array()
        .unwrap()
        .clone()
}

fn inbox_bytes(host: &FakeHost) -> String {
    host.kv
        .borrow()
        .iter()
        .filter(|(k, _)| k.starts_with("inbox/"))
        .map(|(k, (v, _))| format!("{k}={}", String::from_utf8_lossy(v)))
        .collect()
}

#[test]
fn every_kind_of_inbound_message_is_kept_with_what_an_agent_needs_to_answer() {
    let host = inbox_on();
    let at = |i: i64| (NOW_S - 100 + i).to_string();
    let messages = json!([
        {"from": ALICE, "id": "wamid.t", "timestamp": at(0), "type": "text", "text": {"body": "Where is my order?"}},
        {"from": ALICE, "id": "wamid.q", "timestamp": at(1), "type": "text", "text": {"body": "this one"},
         "context": {"from": "15550783881", "id": "wamid.ours"}},
        {"from": ALICE, "id": "wamid.b", "timestamp": at(2), "type": "interactive",
         "interactive": {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes please"}},
         "context": {"from": "15550783881", "id": "wamid.buttons"}},
        {"from": ALICE, "id": "wamid.l", "timestamp": at(3), "type": "interactive",
         "interactive": {"type": "list_reply", "list_reply": {"id": "row-2", "title": "Tomorrow", "description": "9-12"}}},
        {"from": ALICE, "id": "wamid.qr", "timestamp": at(4), "type": "button", "button": {"text": "Stop promotions", "payload": "STOP"}},
        {"from": ALICE, "id": "wamid.i", "timestamp": at(5), "type": "image",
         "image": {"id": "1479537139650973", "mime_type": "image/jpeg", "sha256": "abc", "caption": "the box"}},
        {"from": ALICE, "id": "wamid.d", "timestamp": at(6), "type": "document",
         "document": {"id": "2", "mime_type": "application/pdf", "filename": "invoice.pdf"}},
        {"from": ALICE, "id": "wamid.s", "timestamp": at(7), "type": "sticker", "sticker": {"id": "3", "mime_type": "image/webp", "animated": false}},
        {"from": ALICE, "id": "wamid.v", "timestamp": at(8), "type": "audio", "audio": {"id": "4", "mime_type": "audio/ogg; codecs=opus", "voice": true}},
        {"from": ALICE, "id": "wamid.loc", "timestamp": at(9), "type": "location",
         "location": {"latitude": 37.48, "longitude": -122.14, "name": "Depot", "address": "1 Hacker Way"}},
        {"from": ALICE, "id": "wamid.c", "timestamp": at(10), "type": "contacts",
         "contacts": [{"name": {"formatted_name": "Bob Smith", "first_name": "Bob"}, "phones": [{"phone": "+1 650 555 9999", "type": "CELL"}]}]},
        {"from": ALICE, "id": "wamid.r", "timestamp": at(11), "type": "reaction", "reaction": {"message_id": "wamid.ours", "emoji": "👍"}},
        {"from": ALICE, "id": "wamid.r2", "timestamp": at(12), "type": "reaction", "reaction": {"message_id": "wamid.ours"}},
    ]);
    let report = deliver(&host, messages, alice("Alice"));
    assert_eq!(report.messages, 13);
    assert_eq!(report.conversations, vec![format!("+{ALICE}")]);
    let got = messages_of(&host, "+1 (650) 555-1234");
    let by_id = |id: &str| got.iter().find(|m| m["id"] == id).unwrap().clone();
    let ids: Vec<&str> = got.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids.first(), Some(&"wamid.r2"), "newest first: {ids:?}");
    assert_eq!(ids.last(), Some(&"wamid.t"));
    let t = by_id("wamid.t");
    assert_eq!(
        (t["direction"].clone(), t["type"].clone(), t["text"].clone()),
        (json!("inbound"), json!("text"), json!("Where is my order?"))
    );
    assert_eq!(t["at"], crate::time::rfc3339(NOW_S - 100));
    assert_eq!(t["read"], false);
    assert_eq!(by_id("wamid.q")["reply_to"], "wamid.ours");
    let b = by_id("wamid.b");
    assert_eq!(b["text"], "Yes please");
    assert_eq!(b["reply"], json!({"id": "yes", "title": "Yes please"}));
    assert_eq!(b["reply_to"], "wamid.buttons");
    assert_eq!(by_id("wamid.l")["reply"]["description"], "9-12");
    assert_eq!(
        by_id("wamid.qr")["reply"],
        json!({"id": "STOP", "title": "Stop promotions"})
    );
    let i = by_id("wamid.i");
    assert_eq!(
        i["media"],
        json!({"id": "1479537139650973", "mime_type": "image/jpeg", "type": "image"})
    );
    assert_eq!(i["caption"], "the box");
    assert_eq!(by_id("wamid.d")["media"]["filename"], "invoice.pdf");
    assert_eq!(by_id("wamid.s")["media"]["type"], "sticker");
    assert_eq!(
        by_id("wamid.v")["media"]["mime_type"],
        "audio/ogg; codecs=opus"
    );
    assert_eq!(by_id("wamid.loc")["location"]["name"], "Depot");
    assert_eq!(by_id("wamid.loc")["location"]["latitude"], 37.48);
    assert_eq!(
        by_id("wamid.c")["contacts"],
        json!([{"name": "Bob Smith", "phones": ["+1 650 555 9999"]}])
    );
    assert_eq!(
        by_id("wamid.r")["reaction"],
        json!({"message_id": "wamid.ours", "emoji": "👍"})
    );
    assert_eq!(by_id("wamid.r2")["reaction"]["emoji"], "", "a removal");
    // Every record expires after the retention (30 days by default).
    for (k, (_, ttl)) in host.kv.borrow().iter() {
        if k.starts_with("inbox/") {
            assert_eq!(*ttl, Some(30 * 86_400), "{k}");
        }
    }
}

#[test]
fn a_redelivered_message_is_stored_once_and_not_announced_again() {
    let host = inbox_on();
    let m = json!([text_from(ALICE, "wamid.once", NOW_S - 10, "hello")]);
    let first = deliver(&host, m.clone(), alice("Alice"));
    assert_eq!(first.conversations, vec![format!("+{ALICE}")]);
    let before = host.kv.borrow().clone();
    let again = deliver(&host, m, alice("Alice"));
    assert_eq!((again.messages, again.ignored), (0, 1));
    assert!(again.conversations.is_empty());
    assert_eq!(*host.kv.borrow(), before, "nothing rewritten");
    assert_eq!(messages_of(&host, ALICE).len(), 1);
}

#[test]
fn with_the_inbox_off_no_content_is_stored_the_window_still_moves_and_readers_say_how_to_turn_it_on()
 {
    let host = FakeHost::new();
    host.set("webhooks-configured", "true");
    let r = deliver(
        &host,
        json!([text_from(
            ALICE,
            "wamid.off",
            NOW_S - 10,
            "my secret address"
        )]),
        alice("Alice"),
    );
    assert_eq!(r.messages, 1);
    assert!(r.conversations.is_empty());
    assert!(inbox_bytes(&host).is_empty());
    assert!(
        host.kv
            .borrow()
            .values()
            .all(|(v, _)| !String::from_utf8_lossy(v).contains("secret")),
        "no content anywhere"
    );
    assert_eq!(
        host.kv_json(&format!("win/{ALICE}")).unwrap()["last_inbound"],
        NOW_S - 10
    );
    for (tool, args) in [
        ("whatsapp_list_conversations", json!({})),
        ("whatsapp_get_messages", json!({"customer": "+16505551234"})),
    ] {
        let e = call(&host, tool, args).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Internal);
        assert!(e.details.contains("[inbox] enabled"), "{e:?}");
        assert!(e.hint.contains("WHATSAPP_INBOX_ENABLED"), "{e:?}");
    }
    // A send records nothing in the inbox either.
    host.respond(200, &send_ok());
    call(
        &host,
        "whatsapp_send_message",
        json!({"to": "+16505551234", "text": "hi"}),
    )
    .unwrap();
    assert!(inbox_bytes(&host).is_empty());
}

#[test]
fn messages_page_newest_first_by_cursor_without_gaps_or_repeats() {
    let host = inbox_on();
    let messages: Vec<Value> = (0..7)
        .map(|i| {
            text_from(
                ALICE,
                &format!("wamid.p{i}"),
                NOW_S - 100 + i,
                &format!("m{i}"),
            )
        })
        .collect();
    deliver(&host, Value::Array(messages), alice("Alice"));
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut args = json!({"customer": "+16505551234", "limit": 3});
        if let Some(c) = &cursor {
            args["cursor"] = json!(c);
        }
        let out = call(&host, "whatsapp_get_messages", args).unwrap();
        assert_eq!(out["customer"], "+16505551234");
        assert!(out["next_check_after"].as_u64().unwrap() >= 1);
        for m in out["messages"].as_array().unwrap() {
            seen.push(m["text"].as_str().unwrap().to_string());
        }
        match out.get("next_cursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ["m6", "m5", "m4", "m3", "m2", "m1", "m0"]);
    assert_invalid(
        &host,
        "whatsapp_get_messages",
        json!({"customer": "+16505551234", "limit": 0}),
        "limit",
    );
    assert_invalid(
        &host,
        "whatsapp_get_messages",
        json!({"customer": "hello"}),
        "customer",
    );
    // Another customer's conversation is empty, not this one.
    assert!(messages_of(&host, BOB).is_empty());
}

#[test]
fn conversations_list_by_last_activity_with_unread_counts_names_and_windows() {
    let host = inbox_on();
    deliver(
        &host,
        json!([
            text_from(ALICE, "wamid.a1", NOW_S - 3 * 86_400, "old"),
            text_from(ALICE, "wamid.a2", NOW_S - 2 * 86_400, "older question"),
        ]),
        alice("Alice"),
    );
    deliver(
        &host,
        json!([text_from(BOB, "wamid.b1", NOW_S - 60, "hi there")]),
        json!([{"wa_id": BOB, "profile": {"name": "Bob"}}]),
    );
    let out = call(&host, "whatsapp_list_conversations", json!({})).unwrap();
    let list = out["conversations"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["customer"], format!("+{BOB}"));
    assert_eq!(list[0]["name"], "Bob");
    assert_eq!(list[0]["unread"], 1);
    assert_eq!(list[0]["window_open"], true);
    assert_eq!(
        list[0]["window_expires_at"],
        crate::time::rfc3339(NOW_S - 60 + 86_400)
    );
    assert_eq!(list[1]["customer"], format!("+{ALICE}"));
    assert_eq!(list[1]["unread"], 2);
    assert_eq!(list[1]["window_open"], false, "two days ago");
    assert!(list[1].get("window_expires_at").is_none());
    assert_eq!(
        list[1]["last_message_at"],
        crate::time::rfc3339(NOW_S - 2 * 86_400)
    );
    // Paging: one at a time, in the same order.
    let first = call(&host, "whatsapp_list_conversations", json!({"limit": 1})).unwrap();
    assert_eq!(first["conversations"][0]["customer"], format!("+{BOB}"));
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = call(
        &host,
        "whatsapp_list_conversations",
        json!({"limit": 1, "cursor": cursor}),
    )
    .unwrap();
    assert_eq!(second["conversations"][0]["customer"], format!("+{ALICE}"));
    assert!(second.get("next_cursor").is_none());

    // An answer to Alice moves her conversation to the top.
    host.respond(200, &send_ok());
    host.set("window-policy", "off");
    call(
        &host,
        "whatsapp_send_template",
        json!({"to": "+16505551234", "name": "order_update", "language": "en_US"}),
    )
    .unwrap();
    let out = call(&host, "whatsapp_list_conversations", json!({})).unwrap();
    assert_eq!(out["conversations"][0]["customer"], format!("+{ALICE}"));
    assert_eq!(
        out["conversations"][0]["last_message_at"],
        crate::time::rfc3339(NOW_S)
    );

    // Reading Alice's newest message reads the earlier one too.
    host.respond(200, r#"{"success": true}"#);
    call(
        &host,
        "whatsapp_mark_as_read",
        json!({"customer": "+16505551234", "message_id": "wamid.a2"}),
    )
    .unwrap();
    let unread = call(
        &host,
        "whatsapp_list_conversations",
        json!({"unread_only": true}),
    )
    .unwrap();
    let list = unread["conversations"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["customer"], format!("+{BOB}"));
    let alice_msgs = messages_of(&host, ALICE);
    let inbound: Vec<&Value> = alice_msgs
        .iter()
        .filter(|m| m["direction"] == "inbound")
        .collect();
    assert!(inbound.iter().all(|m| m["read"] == true), "{alice_msgs:?}");
}

#[test]
fn mark_as_read_sends_metas_read_receipt_body_with_the_optional_typing_indicator() {
    let host = inbox_on();
    deliver(
        &host,
        json!([text_from(ALICE, "wamid.m1", NOW_S - 5, "hi")]),
        alice("Alice"),
    );
    host.respond(200, r#"{"success": true}"#);
    let out = call(
        &host,
        "whatsapp_mark_as_read",
        json!({"customer": "+16505551234", "message_id": "wamid.m1"}),
    )
    .unwrap();
    assert_eq!(out["success"], true);
    assert_eq!(out["inbox_updated"], true);
    let req = host.last_request();
    assert_eq!(req.url, format!("{GRAPH}/{PNID}/messages"));
    assert_eq!(
        host.last_body(),
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.m1"})
    );
    host.respond(200, r#"{"success": true}"#);
    let out = call(
        &host,
        "whatsapp_mark_as_read",
        json!({"customer": "+16505551234", "message_id": "wamid.m1", "typing_indicator": true}),
    )
    .unwrap();
    assert_eq!(out["typing_indicator"], true);
    assert_eq!(
        host.last_body(),
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.m1",
               "typing_indicator": {"type": "text"}})
    );
    assert_eq!(messages_of(&host, ALICE)[0]["read"], true);
}

#[test]
fn mark_as_read_refuses_another_customers_message_and_the_businesss_own() {
    let host = inbox_on();
    deliver(
        &host,
        json!([text_from(BOB, "wamid.bob", NOW_S - 5, "bob's")]),
        json!([]),
    );
    let e = assert_invalid(
        &host,
        "whatsapp_mark_as_read",
        json!({"customer": "+16505551234", "message_id": "wamid.bob"}),
        "message_id",
    );
    assert!(e.details.contains("another customer"), "{e:?}");
    assert!(inbox_bytes(&host).contains("inbox/m/447700900123/"));
    // What the business sent cannot be "read" by it.
    host.set("window-policy", "off");
    host.respond(200, &send_ok());
    call(
        &host,
        "whatsapp_send_message",
        json!({"to": "+16505551234", "text": "hello"}),
    )
    .unwrap();
    let e = assert_invalid(
        &host,
        "whatsapp_mark_as_read",
        json!({"customer": "+16505551234", "message_id": WAMID}),
        "message_id",
    );
    assert!(e.details.contains("this business sent"), "{e:?}");
    assert_invalid(
        &host,
        "whatsapp_mark_as_read",
        json!({"customer": "+16505551234", "message_id": "12345"}),
        "message_id",
    );
}

#[test]
fn what_the_gateway_sends_is_in_the_conversation_with_its_delivery_status() {
    let host = inbox_on();
    host.set("window-policy", "off");
    host.respond(200, &send_ok());
    call(
        &host,
        "whatsapp_send_message",
        json!({"to": "+16505551234", "text": "Your order shipped", "reply_to": "wamid.q"}),
    )
    .unwrap();
    let got = messages_of(&host, "+16505551234");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["direction"], "outbound");
    assert_eq!(got[0]["text"], "Your order shipped");
    assert_eq!(got[0]["reply_to"], "wamid.q");
    assert_eq!(got[0]["status"], "accepted");
    assert!(got[0].get("read").is_none());
    let delivered = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"phone_number_id": PNID},
        "statuses": [{"id": WAMID, "status": "delivered", "timestamp": NOW_S.to_string(), "recipient_id": ALICE}]}}]}]});
    let r = ingest(&host, delivered.to_string().as_bytes()).unwrap();
    assert!(r.conversations.is_empty(), "a status is no new message");
    assert_eq!(messages_of(&host, "+16505551234")[0]["status"], "delivered");
}

#[test]
fn a_reaction_is_sent_as_metas_reaction_message_and_an_empty_emoji_removes_it() {
    let host = inbox_on();
    deliver(
        &host,
        json!([text_from(ALICE, "wamid.in1", NOW_S - 5, "thanks!")]),
        alice("Alice"),
    );
    for emoji in ["👍", "👍🏽", "🇧🇪", "👩‍👩‍👧", "❤️", "1️⃣", ""] {
        host.respond(200, &send_ok());
        let out = call(
            &host,
            "whatsapp_send_reaction",
            json!({"to": "+16505551234", "message_id": "wamid.in1", "emoji": emoji}),
        )
        .unwrap_or_else(|e| panic!("{emoji}: {e:?}"));
        assert_eq!(out["message_id"], WAMID);
        assert_eq!(
            host.last_body(),
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": ALICE,
                   "type": "reaction", "reaction": {"message_id": "wamid.in1", "emoji": emoji}})
        );
    }
    let mine = messages_of(&host, ALICE)
        .into_iter()
        .find(|m| m["direction"] == "outbound")
        .unwrap();
    assert_eq!(mine["type"], "reaction");
    assert_eq!(mine["reaction"]["message_id"], "wamid.in1");
}

#[test]
fn a_reaction_must_be_one_emoji_to_a_message_of_that_conversation_inside_the_window() {
    let host = inbox_on();
    deliver(
        &host,
        json!([text_from(BOB, "wamid.bob", NOW_S - 5, "hey")]),
        json!([]),
    );
    for bad in ["👍👍", "ok", "a", " 👍", "字", "\u{7}"] {
        let e = assert_invalid(
            &host,
            "whatsapp_send_reaction",
            json!({"to": "+447700900123", "message_id": "wamid.bob", "emoji": bad}),
            "emoji",
        );
        assert!(e.hint.contains("single emoji"), "{bad}: {e:?}");
    }
    let e = assert_invalid(
        &host,
        "whatsapp_send_reaction",
        json!({"to": "+16505551234", "message_id": "wamid.bob", "emoji": "👍"}),
        "message_id",
    );
    assert!(e.details.contains("another customer"), "{e:?}");
    // Alice never wrote: under enforce the reaction is refused like any free-form message.
    host.set("window-policy", "enforce");
    let e = call(
        &host,
        "whatsapp_send_reaction",
        json!({"to": "+16505551234", "message_id": "wamid.unknown", "emoji": "👍"}),
    )
    .unwrap_err();
    assert_eq!((e.kind, e.code), (ErrorKind::Denied, Some(131047)));
    assert_eq!(host.request_count(), 0);
}

#[test]
fn the_retention_setting_is_the_ttl_of_every_inbox_record() {
    let host = inbox_on();
    host.set("inbox-retention-seconds", "3");
    deliver(
        &host,
        json!([text_from(ALICE, "wamid.short", NOW_S - 5, "brief")]),
        alice("Alice"),
    );
    let kv = host.kv.borrow();
    let inbox: Vec<_> = kv.iter().filter(|(k, _)| k.starts_with("inbox/")).collect();
    assert!(inbox.len() >= 3, "{inbox:?}");
    assert!(inbox.iter().all(|(_, (_, ttl))| *ttl == Some(3)));
}
