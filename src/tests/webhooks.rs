use serde_json::{Value, json};

use super::{WAMID, call};
use crate::testing::{FakeHost, NOW_S, PNID, VERIFY_TOKEN, WABA};
use crate::webhooks::{WebhookRequest, ingest, verify};

fn get(query: &str) -> WebhookRequest {
    WebhookRequest {
        method: "GET".into(),
        query: query.into(),
        headers: vec![],
        body: vec![],
    }
}

fn post(body: &[u8], signature: Option<String>) -> WebhookRequest {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if let Some(s) = signature {
        headers.push(("x-hub-signature-256".to_string(), s));
    }
    WebhookRequest {
        method: "POST".into(),
        query: String::new(),
        headers,
        body: body.to_vec(),
    }
}

#[test]
fn handshake_with_the_right_token_echoes_the_raw_challenge() {
    let host = FakeHost::new();
    let token = std::str::from_utf8(VERIFY_TOKEN).unwrap();
    let v = verify(
        &host,
        &get(&format!(
            "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={token}"
        )),
    );
    assert_eq!(
        (v.status, v.body.as_slice(), v.accept),
        (200, b"1158201444".as_slice(), false)
    );
    // Percent-encoded token and challenge are decoded.
    let v = verify(
        &host,
        &get("hub.verify_token=verify%2Dme%2D123&hub.challenge=a%20b&hub.mode=subscribe"),
    );
    assert_eq!((v.status, v.body.as_slice()), (200, b"a b".as_slice()));
}

#[test]
fn handshake_with_a_wrong_token_wrong_mode_or_missing_params_is_403() {
    let host = FakeHost::new();
    for q in [
        "hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong",
        "hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=verify-me-123",
        "hub.mode=subscribe&hub.verify_token=verify-me-123",
        "hub.challenge=1&hub.verify_token=verify-me-123",
        "hub.mode=subscribe&hub.challenge=1",
        "",
    ] {
        let v = verify(&host, &get(q));
        assert_eq!((v.status, v.accept), (403, false), "{q}");
        assert_ne!(v.body, b"1");
    }
}

#[test]
fn handshake_without_the_credential_is_503() {
    let host = FakeHost::new();
    host.secrets.borrow_mut().clear();
    let v = verify(
        &host,
        &get("hub.mode=subscribe&hub.challenge=1&hub.verify_token=x"),
    );
    assert_eq!(v.status, 503);
    assert!(String::from_utf8_lossy(&v.body).contains("whatsapp-verify-token"));
}

#[test]
fn a_valid_signature_over_the_raw_body_is_accepted() {
    let host = FakeHost::new();
    let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
    let v = verify(&host, &post(body, Some(FakeHost::sign(body))));
    assert_eq!((v.status, v.accept), (200, true));
    assert_eq!(v.body, b"EVENT_RECEIVED");
    // Upper-case hex and prefix are tolerated.
    let sig = FakeHost::sign(body).to_ascii_uppercase();
    assert!(verify(&host, &post(body, Some(sig))).accept);
}

#[test]
fn a_non_ascii_raw_body_passes_but_its_re_serialisation_fails() {
    let host = FakeHost::new();
    // Meta escapes non-ASCII as \uXXXX on the wire; a parser + serialiser would
    // write the raw UTF-8 and change the bytes.
    let raw = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":[{"from":"16505551234","id":"wamid.x","timestamp":"1764000000","type":"text","text":{"body":"Ol\u00e1 caf\u00e9 @ \ud83c\udf35"}}]}}]}]}"#;
    let sig = FakeHost::sign(raw.as_bytes());
    assert!(verify(&host, &post(raw.as_bytes(), Some(sig.clone()))).accept);
    let reserialised = serde_json::from_str::<Value>(raw).unwrap().to_string();
    assert_ne!(reserialised.as_bytes(), raw.as_bytes());
    let v = verify(&host, &post(reserialised.as_bytes(), Some(sig)));
    assert_eq!((v.status, v.accept), (403, false));
    // Raw UTF-8 bytes signed as sent also pass.
    let utf8 = "{\"text\":\"Olá ☕\"}".as_bytes();
    assert!(verify(&host, &post(utf8, Some(FakeHost::sign(utf8)))).accept);
}

#[test]
fn missing_signature_is_401_and_malformed_or_wrong_is_403() {
    let host = FakeHost::new();
    let body = b"{}";
    assert_eq!(verify(&host, &post(body, None)).status, 401);
    let good = FakeHost::sign(body);
    for bad in [
        "sha1=abc".to_string(),
        good.trim_start_matches("sha256=").to_string(),
        "sha256=zz".to_string(),
        format!("{}00", good),
        FakeHost::sign(b"{ }"),
    ] {
        let v = verify(&host, &post(body, Some(bad.clone())));
        assert_eq!((v.status, v.accept), (403, false), "{bad}");
    }
}

#[test]
fn signature_check_without_the_app_secret_is_503_and_other_methods_405() {
    let host = FakeHost::new();
    host.secrets.borrow_mut().remove("whatsapp-app-secret");
    let v = verify(&host, &post(b"{}", Some(FakeHost::sign(b"{}"))));
    assert_eq!((v.status, v.accept), (503, false));
    let v = verify(
        &host,
        &WebhookRequest {
            method: "PUT".into(),
            query: String::new(),
            headers: vec![],
            body: vec![],
        },
    );
    assert_eq!(v.status, 405);
}

fn statuses(items: Value) -> Vec<u8> {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "statuses": items}}]}]})
    .to_string()
    .into_bytes()
}

fn st(status: &str, ts: i64) -> Value {
    json!({"id": WAMID, "status": status, "timestamp": ts.to_string(), "recipient_id": "16505551234"})
}

fn current(host: &FakeHost) -> Value {
    host.put_json(&format!("msg/{WAMID}"), &json!({"id": WAMID, "to": "16505551234", "type": "text", "accepted_at": NOW_S, "message_status": "accepted"}));
    call(
        host,
        "whatsapp_get_message_status",
        json!({"message_id": WAMID}),
    )
    .unwrap()
}

#[test]
fn ingest_deduplicates_redelivered_statuses() {
    let host = FakeHost::new();
    let body = statuses(json!([st("sent", NOW_S + 1), st("delivered", NOW_S + 2)]));
    let r = ingest(&host, &body).unwrap();
    assert_eq!((r.statuses, r.ignored), (2, 0));
    let r = ingest(&host, &body).unwrap();
    assert_eq!((r.statuses, r.ignored), (0, 2));
    let out = current(&host);
    assert_eq!(out["status"], "delivered");
    assert_eq!(out["timeline"].as_array().unwrap().len(), 3);
}

#[test]
fn a_late_sent_never_overwrites_read() {
    let host = FakeHost::new();
    ingest(&host, &statuses(json!([st("read", NOW_S + 9)]))).unwrap();
    ingest(&host, &statuses(json!([st("delivered", NOW_S + 5)]))).unwrap();
    ingest(&host, &statuses(json!([st("sent", NOW_S + 2)]))).unwrap();
    let out = current(&host);
    assert_eq!(out["status"], "read");
    let states: Vec<_> = out["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states, ["accepted", "sent", "delivered", "read"]);
}

#[test]
fn failed_is_terminal_and_carries_hints() {
    let host = FakeHost::new();
    let failed = json!({"id": WAMID, "status": "failed", "timestamp": (NOW_S + 3).to_string(), "recipient_id": "16505551234",
        "errors": [{"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
                    "error_data": {"details": "Message failed to send because more than 24 hours have passed"}}]});
    ingest(&host, &statuses(json!([failed.clone()]))).unwrap();
    ingest(&host, &statuses(json!([st("delivered", NOW_S + 9)]))).unwrap();
    let r = ingest(&host, &statuses(json!([failed]))).unwrap();
    assert_eq!(r.statuses, 0, "repeat is a duplicate");
    let out = current(&host);
    assert_eq!(out["status"], "failed");
    let errors = out["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["code"], 131047);
    assert!(
        errors[0]["hint"]
            .as_str()
            .unwrap()
            .contains("whatsapp_send_template")
    );
    assert_eq!(errors[0]["retryable"], false);
}

#[test]
fn statuses_keep_pricing_and_bsuid_recipients() {
    let host = FakeHost::new();
    let s = json!({"id": "wamid.bsuid", "status": "delivered", "timestamp": NOW_S, "recipient_user_id": "US.13491208655302741918",
        "pricing": {"billable": true, "pricing_model": "PMP", "type": "regular", "category": "marketing"}});
    assert_eq!(ingest(&host, &statuses(json!([s]))).unwrap().statuses, 1);
    let out = call(
        &host,
        "whatsapp_get_message_status",
        json!({"message_id": "wamid.bsuid"}),
    )
    .unwrap();
    assert_eq!(out["status"], "delivered");
    assert_eq!(out["recipient"], "US.13491208655302741918");
    assert_eq!(out["pricing"]["category"], "marketing");
    assert_eq!(out["webhooks_configured"], true);
}

fn inbound(messages: Value, contacts: Value) -> Vec<u8> {
    inbound_for(WABA, PNID, messages, contacts)
}

fn inbound_for(waba: &str, pnid: &str, messages: Value, contacts: Value) -> Vec<u8> {
    json!({"object": "whatsapp_business_account", "entry": [{"id": waba, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550783881", "phone_number_id": pnid},
        "contacts": contacts, "messages": messages}}]}]})
    .to_string()
    .into_bytes()
}

#[test]
fn inbound_messages_record_only_the_latest_time_per_user() {
    let host = FakeHost::new();
    let m = |ts: i64| json!({"from": "16505551234", "id": "wamid.in", "timestamp": ts.to_string(), "type": "text", "text": {"body": "secret content"}});
    let r = ingest(
        &host,
        &inbound(
            json!([m(NOW_S - 100)]),
            json!([{"wa_id": "16505551234", "profile": {"name": "Sheena"}}]),
        ),
    )
    .unwrap();
    assert_eq!(r.messages, 1);
    assert_eq!(
        host.kv_json("win/16505551234").unwrap(),
        json!({"last_inbound": NOW_S - 100})
    );
    assert_eq!(host.kv.borrow()["win/16505551234"].1, Some(30 * 86_400));
    // An older (reordered) message does not move the time back.
    let r = ingest(&host, &inbound(json!([m(NOW_S - 500)]), json!([]))).unwrap();
    assert_eq!((r.messages, r.ignored), (0, 1));
    assert_eq!(
        host.kv_json("win/16505551234").unwrap()["last_inbound"],
        NOW_S - 100
    );
    // Nothing of the content is stored anywhere.
    assert!(
        host.kv
            .borrow()
            .values()
            .all(|(v, _)| !String::from_utf8_lossy(v).contains("secret content"))
    );
    // The window is now open for free-form sends under enforce.
    host.set("window-policy", "enforce");
    host.respond(200, &super::send_ok());
    let out = call(
        &host,
        "whatsapp_send_message",
        json!({"to": "+16505551234", "text": "hi"}),
    )
    .unwrap();
    assert_eq!(out["window"]["state"], "open");
}

#[test]
fn bsuid_only_inbound_payloads_are_recorded_by_user_id() {
    let host = FakeHost::new();
    let m = json!({"from_user_id": "US.13491208655302741918", "id": "wamid.in2", "timestamp": NOW_S.to_string(), "type": "text", "text": {"body": "hi"}});
    let r = ingest(
        &host,
        &inbound(
            json!([m]),
            json!([{"user_id": "US.13491208655302741918", "profile": {"username": "sheena"}}]),
        ),
    )
    .unwrap();
    assert_eq!(r.messages, 1);
    assert_eq!(
        host.kv_json("win/US.13491208655302741918").unwrap()["last_inbound"],
        NOW_S
    );
    // Neither from nor from_user_id: fall back to the single contact.
    let m = json!({"id": "wamid.in3", "timestamp": (NOW_S + 1).to_string(), "type": "text"});
    let r = ingest(&host, &inbound(json!([m]), json!([{"user_id": "US.999"}]))).unwrap();
    assert_eq!(r.messages, 1);
    assert!(host.kv_json("win/US.999").is_some());
}

fn template_update(event: &str, time: i64) -> Vec<u8> {
    template_update_for(WABA, event, time)
}

fn template_update_for(waba: &str, event: &str, time: i64) -> Vec<u8> {
    json!({"object": "whatsapp_business_account", "entry": [{"id": waba, "time": time, "changes": [{"field": "message_template_status_update", "value": {
        "event": event, "message_template_id": 1192339204654487u64, "message_template_name": "order_update",
        "message_template_language": "en_US", "reason": "NONE"}}]}]})
    .to_string()
    .into_bytes()
}

#[test]
fn template_status_updates_keep_the_newest() {
    let host = FakeHost::new();
    assert_eq!(
        ingest(&host, &template_update("APPROVED", NOW_S))
            .unwrap()
            .template_updates,
        1
    );
    let rec = host.kv_json("tpl/order_update/en_US").unwrap();
    assert_eq!(rec["status"], "APPROVED");
    assert_eq!(rec["template_id"], "1192339204654487");
    // Older update arriving late is ignored; a newer one wins.
    let r = ingest(&host, &template_update("PENDING", NOW_S - 60)).unwrap();
    assert_eq!((r.template_updates, r.ignored), (0, 1));
    assert_eq!(
        ingest(&host, &template_update("PAUSED", NOW_S + 60))
            .unwrap()
            .template_updates,
        1
    );
    assert_eq!(
        host.kv_json("tpl/order_update/en_US").unwrap()["status"],
        "PAUSED"
    );
    // Repeating the same delivery is a no-op.
    let r = ingest(&host, &template_update("PAUSED", NOW_S + 60)).unwrap();
    assert_eq!((r.template_updates, r.ignored), (0, 1));
}

#[test]
fn an_edited_templates_text_is_kept_for_the_hosts_rules() {
    let host = FakeHost::new();
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA, "time": NOW_S, "changes": [
        {"field": "message_template_components_update", "value": {
            "message_template_id": 1192339204654487u64, "message_template_name": "order_update",
            "message_template_language": "en_US", "message_template_element": "Hi {{1}}, order {{2}} left.",
            "message_template_title": "Order {{1}}", "message_template_footer": "Thanks"}}]}]});
    let r = ingest(&host, body.to_string().as_bytes()).unwrap();
    assert_eq!(r.template_updates, 1);
    assert_eq!(
        host.kv_json("tpltext/order_update/en_US").unwrap(),
        json!({"body": "Hi {{1}}, order {{2}} left.", "header": "Order {{1}}"})
    );
}

#[test]
fn ingest_ignores_untracked_fields_and_rejects_bad_json() {
    let host = FakeHost::new();
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": [
        {"field": "account_update", "value": {"event": "X"}},
        {"field": "messages", "value": {"metadata": {"phone_number_id": PNID}, "errors": [{"code": 130429, "title": "Rate limit hit"}]}}]}]});
    let r = ingest(&host, body.to_string().as_bytes()).unwrap();
    assert_eq!(
        (r.statuses, r.messages, r.template_updates, r.ignored),
        (0, 0, 0, 2)
    );
    let r = ingest(&host, br#"{"object":"page","entry":[]}"#).unwrap();
    assert_eq!(r.ignored, 1);
    assert!(
        ingest(&host, b"not json")
            .unwrap_err()
            .contains("not valid JSON")
    );
    assert!(ingest(&host, b"[1]").is_err());
}

#[test]
fn ingest_reports_store_failures_so_the_host_retries() {
    let host = FakeHost::new();
    host.kv_fail.set(true);
    assert!(ingest(&host, &statuses(json!([st("sent", NOW_S)]))).is_err());
}

#[test]
fn deliveries_for_another_account_or_number_are_skipped_and_counted() {
    let host = FakeHost::new();
    let m = json!([{"from": "16505551234", "id": "wamid.in", "timestamp": NOW_S.to_string(), "type": "text", "text": {"body": "hi"}}]);
    ingest(&host, &template_update("APPROVED", NOW_S)).unwrap();
    for body in [
        inbound_for("999999999999999", PNID, m.clone(), json!([])),
        inbound_for(WABA, "888888888888888", m.clone(), json!([])),
        template_update_for("999999999999999", "REJECTED", NOW_S + 60),
    ] {
        let r = ingest(&host, &body).unwrap();
        assert_eq!(
            (r.messages, r.template_updates, r.foreign),
            (0, 0, 1),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
    // An entry without its id, or a messages change without its metadata, is not shown to be ours.
    let bare = json!({"object": "whatsapp_business_account", "entry": [
        {"changes": [{"field": "messages", "value": {"messages": m.clone()}}]},
        {"id": WABA, "changes": [{"field": "messages", "value": {"messages": m.clone()}}]}]});
    let r = ingest(&host, bare.to_string().as_bytes()).unwrap();
    assert_eq!((r.messages, r.foreign), (0, 2));
    assert!(
        host.kv_json("win/16505551234").is_none(),
        "no window opened"
    );
    assert_eq!(
        host.kv_json("tpl/order_update/en_US").unwrap()["status"],
        "APPROVED"
    );
    // Ours, with the ids as numbers, applies.
    let numeric = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA.parse::<u64>().unwrap(), "changes": [{"field": "messages", "value": {
        "metadata": {"phone_number_id": PNID.parse::<u64>().unwrap()}, "messages": m}}]}]});
    let r = ingest(&host, numeric.to_string().as_bytes()).unwrap();
    assert_eq!((r.messages, r.foreign), (1, 0));
}

#[test]
fn without_configured_ids_every_entry_applies() {
    let host = FakeHost::new();
    host.config.borrow_mut().remove("waba-id");
    host.config.borrow_mut().remove("phone-number-id");
    let m = json!([{"from": "16505551234", "id": "wamid.in", "timestamp": NOW_S.to_string(), "type": "text"}]);
    let r = ingest(&host, &inbound_for("999", "888", m, json!([]))).unwrap();
    assert_eq!((r.messages, r.foreign), (1, 0));
}
