use serde_json::json;

use super::{WAMID, call, send_ok};
use crate::error::ErrorKind;
use crate::testing::{FakeHost, NOW_S, PNID};

#[test]
fn status_of_a_fresh_send_is_accepted_with_a_note_about_webhooks() {
    let host = FakeHost::new();
    host.respond(200, &send_ok());
    call(
        &host,
        "whatsapp_send_template",
        json!({"to": "+16505551234", "name": "order_update", "language": "en_US"}),
    )
    .unwrap();
    let out = call(
        &host,
        "whatsapp_get_message_status",
        json!({"message_id": WAMID}),
    )
    .unwrap();
    assert_eq!(host.request_count(), 1, "served from local state");
    assert_eq!(out["status"], "accepted");
    assert_eq!(
        out["timeline"],
        json!([{"status": "accepted", "timestamp": NOW_S, "at": "2025-11-24T16:00:00Z"}])
    );
    assert_eq!(out["recipient"], "16505551234");
    assert_eq!(out["message_type"], "template");
    assert_eq!(
        out["template"],
        json!({"name": "order_update", "language": "en_US"})
    );
    assert_eq!(out["webhooks_configured"], false);
    assert!(out["note"].as_str().unwrap().contains("serve --webhook"));
}

#[test]
fn status_merges_webhook_events_into_a_timeline() {
    let host = FakeHost::new();
    host.respond(200, &send_ok());
    call(
        &host,
        "whatsapp_send_message",
        json!({"to": "+16505551234", "text": "hi"}),
    )
    .unwrap();
    host.put_json(
        &format!("msgst/{WAMID}"),
        &json!({"events": [{"status": "read", "timestamp": NOW_S + 20}, {"status": "sent", "timestamp": NOW_S + 2}, {"status": "delivered", "timestamp": NOW_S + 5}],
                "pricing": {"billable": true, "pricing_model": "PMP", "category": "utility"}, "errors": []}),
    );
    let out = call(
        &host,
        "whatsapp_get_message_status",
        json!({"message_id": WAMID}),
    )
    .unwrap();
    assert_eq!(out["status"], "read");
    let states: Vec<_> = out["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states, ["accepted", "sent", "delivered", "read"]);
    assert_eq!(out["pricing"]["pricing_model"], "PMP");
    assert_eq!(out["webhooks_configured"], true);
    assert!(out.get("note").is_none());
}

#[test]
fn an_unknown_message_id_is_not_found_with_a_hint() {
    let host = FakeHost::new();
    let e = call(
        &host,
        "whatsapp_get_message_status",
        json!({"message_id": "wamid.nope"}),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(e.hint.contains("serve --webhook") && e.hint.contains("subscribe"));
    host.set("webhooks-configured", "true");
    let e = call(
        &host,
        "whatsapp_get_message_status",
        json!({"message_id": "wamid.nope"}),
    )
    .unwrap_err();
    assert!(!e.hint.contains("serve --webhook"));
    assert_eq!(host.request_count(), 0);
}

#[test]
fn message_id_validation_rejects_bad_ids() {
    let host = FakeHost::new();
    let n = "whatsapp_get_message_status";
    super::assert_invalid(&host, n, json!({}), "message_id");
    super::assert_invalid(&host, n, json!({"message_id": ""}), "message_id");
    super::assert_invalid(&host, n, json!({"message_id": "wamid. x"}), "message_id");
    super::assert_invalid(
        &host,
        n,
        json!({"message_id": "x".repeat(513)}),
        "message_id",
    );
    super::assert_invalid(&host, n, json!({"message_id": 5}), "message_id");
}

#[test]
fn history_fallback_is_used_only_when_enabled_and_unavailability_is_not_found() {
    let host = FakeHost::new();
    host.set("message-history-fallback", "true");
    host.respond(
        200,
        r#"{"data":[{"id":"1","message_id":"wamid.other","events":{"data":[{"delivery_status":"SENT","timestamp":1764000010},{"delivery_status":"DELIVERED","timestamp":"1764000020"}]}}]}"#,
    );
    let out = call(
        &host,
        "whatsapp_get_message_status",
        json!({"message_id": "wamid.other"}),
    )
    .unwrap();
    assert_eq!(
        host.last_request().url,
        format!(
            "https://graph.facebook.com/v23.0/{PNID}/message_history?message_id=wamid.other&fields=id,message_id,events%7Bdelivery_status,timestamp,error_description%7D"
        )
    );
    assert_eq!(out["status"], "delivered");
    assert_eq!(out["timeline"].as_array().unwrap().len(), 2);
    host.respond(
        403,
        r#"{"error":{"message":"(#200) no permission","code":200}}"#,
    );
    let e = call(
        &host,
        "whatsapp_get_message_status",
        json!({"message_id": "wamid.other"}),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    host.respond(
        400,
        r#"{"error":{"message":"(#100) Unknown path","code":"100"}}"#,
    );
    let e = call(
        &host,
        "whatsapp_get_message_status",
        json!({"message_id": "wamid.other"}),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
}
