use serde_json::json;

use super::{call, send_ok};
use crate::error::ErrorKind;
use crate::testing::{FakeHost, NOW_S};

fn inbound_at(host: &FakeHost, ts: i64) {
    host.put_json("win/16505551234", &json!({"last_inbound": ts}));
}

fn send_text(host: &FakeHost) -> Result<serde_json::Value, crate::error::ToolError> {
    call(
        host,
        "whatsapp_send_message",
        json!({"to": "+16505551234", "text": "hi"}),
    )
}

#[test]
fn enforce_refuses_free_form_without_recent_inbound_and_sends_nothing() {
    let host = FakeHost::new();
    host.set("window-policy", "enforce");
    let e = send_text(&host).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Denied);
    assert_eq!(e.code, Some(131047));
    assert_eq!(e.title, "Re-engagement message");
    assert!(e.hint.contains("whatsapp_send_template"));
    let e = call(
        &host,
        "whatsapp_send_media",
        json!({"to": "+16505551234", "media_type": "image", "media_id": "1"}),
    )
    .unwrap_err();
    assert_eq!(e.code, Some(131047));
    assert_eq!(host.request_count(), 0);
}

#[test]
fn enforce_allows_free_form_inside_the_window_and_reports_it() {
    let host = FakeHost::new();
    host.set("window-policy", "enforce");
    inbound_at(&host, NOW_S - 3600);
    host.respond(200, &send_ok());
    let out = send_text(&host).unwrap();
    assert_eq!(out["window"]["state"], "open");
    assert_eq!(out["window"]["last_inbound_at"], "2025-11-24T15:00:00Z");
    assert_eq!(out["window"]["closes_at"], "2025-11-25T15:00:00Z");
    assert!(out.get("warning").is_none());
}

#[test]
fn the_window_is_closed_exactly_24_hours_after_the_last_inbound() {
    let host = FakeHost::new();
    host.set("window-policy", "enforce");
    inbound_at(&host, NOW_S - 86_400 + 1);
    host.respond(200, &send_ok());
    assert_eq!(send_text(&host).unwrap()["window"]["state"], "open");
    inbound_at(&host, NOW_S - 86_400);
    let e = send_text(&host).unwrap_err();
    assert_eq!(e.code, Some(131047));
    assert!(e.details.contains("2025-11-23T16:00:00Z"));
    assert_eq!(host.request_count(), 1);
}

#[test]
fn warn_lets_the_send_through_with_a_warning_when_closed() {
    let host = FakeHost::new();
    host.set("webhooks-configured", "true");
    host.respond(200, &send_ok());
    let out = send_text(&host).unwrap();
    assert_eq!(out["window"]["state"], "closed");
    assert!(out["warning"].as_str().unwrap().contains("131047"));
    inbound_at(&host, NOW_S - 86_400);
    host.respond(200, &send_ok());
    let out = send_text(&host).unwrap();
    assert_eq!(out["window"]["state"], "closed");
    assert_eq!(out["window"]["closes_at"], "2025-11-24T16:00:00Z");
}

#[test]
fn off_sends_without_warning_but_still_reports_the_window() {
    let host = FakeHost::new();
    host.set("window-policy", "off");
    host.respond(200, &send_ok());
    let out = send_text(&host).unwrap();
    assert!(out.get("warning").is_none());
    assert_eq!(out["window"]["state"], "unknown");
}

#[test]
fn templates_are_never_blocked_by_the_window_but_unapproved_ones_are_refused_under_enforce() {
    let host = FakeHost::new();
    host.set("window-policy", "enforce");
    host.respond(200, &send_ok());
    let args = json!({"to": "+16505551234", "name": "order_update", "language": "en_US"});
    call(&host, "whatsapp_send_template", args.clone()).unwrap();
    host.put_json(
        "tpl/order_update/en_US",
        &json!({"status": "PAUSED", "updated_at": NOW_S}),
    );
    let e = call(&host, "whatsapp_send_template", args.clone()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Denied);
    assert_eq!(e.code, Some(132015));
    assert!(e.details.contains("PAUSED"));
    host.put_json(
        "tpl/order_update/en_US",
        &json!({"status": "REJECTED", "updated_at": NOW_S}),
    );
    assert_eq!(
        call(&host, "whatsapp_send_template", args.clone())
            .unwrap_err()
            .code,
        Some(132001)
    );
    assert_eq!(host.request_count(), 1);
    // Under warn the recorded status does not block.
    host.set("window-policy", "warn");
    host.respond(200, &send_ok());
    call(&host, "whatsapp_send_template", args).unwrap();
}

#[test]
fn an_invalid_window_policy_is_an_internal_error() {
    let host = FakeHost::new();
    host.set("window-policy", "strict");
    let e = send_text(&host).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Internal);
    assert!(e.details.contains("window-policy"));
}

#[test]
fn the_window_of_a_differing_wa_id_is_found_after_a_first_send() {
    let host = FakeHost::new();
    host.set("window-policy", "enforce");
    // Brazil: sent with the extra 9, WhatsApp knows the user without it.
    host.put_json("win/551187654321", &json!({"last_inbound": NOW_S - 60}));
    let to = json!({"to": "+55 11 98765-4321", "name": "hello", "language": "pt_BR"});
    host.respond(
        200,
        r#"{"contacts":[{"input":"5511987654321","wa_id":"551187654321"}],"messages":[{"id":"wamid.br"}]}"#,
    );
    call(&host, "whatsapp_send_template", to).unwrap();
    assert_eq!(
        host.kv_json("wa/5511987654321").unwrap(),
        json!({"wa_id": "551187654321"})
    );
    host.respond(200, &send_ok());
    let out = call(
        &host,
        "whatsapp_send_message",
        json!({"to": "+5511987654321", "text": "oi"}),
    )
    .unwrap();
    assert_eq!(out["window"]["state"], "open");
}

#[test]
fn the_window_of_another_spelling_of_the_same_number_is_found_before_any_send() {
    // WhatsApp delivers each pair to one account, so an inbound message
    // under one spelling opens the window for the other.
    for (inbound, to) in [
        ("551187654321", "+55 11 98765-4321"),
        ("5511987654321", "+55 11 8765-4321"),
        ("5215512345678", "+52 55 1234 5678"),
        ("5491123456789", "+54 11 2345 6789"),
    ] {
        let host = FakeHost::new();
        host.set("window-policy", "enforce");
        host.put_json(
            &format!("win/{inbound}"),
            &json!({"last_inbound": NOW_S - 60}),
        );
        host.respond(200, &send_ok());
        let out = call(
            &host,
            "whatsapp_send_message",
            json!({"to": to, "text": "oi"}),
        )
        .unwrap();
        assert_eq!(out["window"]["state"], "open", "{to}");
    }
}

#[test]
fn a_number_that_only_looks_like_another_spelling_keeps_its_own_closed_window() {
    let host = FakeHost::new();
    host.set("window-policy", "enforce");
    // A landline (3…) has no mobile 9 spelling: its window is not this one.
    host.put_json("win/5511934567890", &json!({"last_inbound": NOW_S - 60}));
    let e = call(
        &host,
        "whatsapp_send_message",
        json!({"to": "+55 11 3456-7890", "text": "oi"}),
    )
    .unwrap_err();
    assert_eq!(e.code, Some(131047));
}
