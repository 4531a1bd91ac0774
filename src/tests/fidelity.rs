//! Accept what Meta accepts, refuse what Meta refuses: each case here was
//! answered the other way before.

use serde_json::{Value, json};

use super::{WAMID, assert_invalid, call, send_ok};
use crate::error::ErrorKind;
use crate::host::HttpResponse;
use crate::testing::{FakeHost, NOW_S, PNID, WABA};

fn template_send(extra: Value) -> Value {
    let mut args = json!({"to": "+16505551234", "name": "order_update", "language": "en_US"});
    for (k, v) in extra.as_object().unwrap() {
        args[k] = v.clone();
    }
    args
}

fn created() -> String {
    r#"{"id":"1689556908129832","status":"PENDING","category":"UTILITY"}"#.to_string()
}

fn create(category: &str, components: Value) -> Value {
    json!({"name": "order_update", "language": "en_US", "category": category, "components": components})
}

#[test]
fn a_seven_digit_number_such_as_niue_is_accepted_and_six_digits_are_not() {
    let host = FakeHost::new();
    host.respond(200, &send_ok());
    call(
        &host,
        "whatsapp_send_message",
        json!({"to": "+683 4002", "text": "hi"}),
    )
    .unwrap();
    assert_eq!(host.last_body()["to"], "6834002");
    let e = assert_invalid(
        &host,
        "whatsapp_send_message",
        json!({"to": "+683 400", "text": "hi"}),
        "to",
    );
    assert!(e.details.contains("7 to 15 digits"), "{e:?}");
    assert_invalid(
        &host,
        "whatsapp_send_message",
        json!({"to": "+1234567890123456", "text": "hi"}),
        "to",
    );
}

#[test]
fn a_numeric_button_index_and_upper_case_types_are_sent_as_meta_expects() {
    let host = FakeHost::new();
    host.respond(200, &send_ok());
    // Meta's "Send Catalog Template Message" example, as written there.
    let catalog = json!([
        {"type": "BODY", "parameters": [{"type": "text", "text": "100"}]},
        {"type": "BUTTON", "sub_type": "CATALOG", "index": 0,
         "parameters": [{"type": "action", "action": {"thumbnail_product_retailer_id": "2lc20305pt"}}]}
    ]);
    call(
        &host,
        "whatsapp_send_template",
        template_send(json!({"components": catalog})),
    )
    .unwrap();
    let sent = &host.last_body()["template"]["components"];
    assert_eq!(sent[0]["type"], "body");
    assert_eq!(sent[1]["type"], "button");
    assert_eq!(sent[1]["sub_type"], "catalog");
    assert_eq!(sent[1]["index"], "0");
    // Two buttons at index 0 and "0" are still the same button.
    let twice = json!([
        {"type": "button", "sub_type": "quick_reply", "index": 0, "parameters": [{"type": "payload", "payload": "a"}]},
        {"type": "BUTTON", "sub_type": "QUICK_REPLY", "index": "0", "parameters": [{"type": "payload", "payload": "b"}]}
    ]);
    assert_invalid(
        &host,
        "whatsapp_send_template",
        template_send(json!({"components": twice})),
        "components[1].index",
    );
}

#[test]
fn button_only_parameters_in_a_header_or_body_are_refused() {
    let host = FakeHost::new();
    for (component, kind, value) in [
        ("body", "payload", json!("STOP")),
        ("body", "coupon_code", json!("FALL25")),
        ("header", "action", json!({"flow_token": "t"})),
    ] {
        let comps = json!([{"type": component, "parameters": [{"type": kind, kind: value}]}]);
        let e = assert_invalid(
            &host,
            "whatsapp_send_template",
            template_send(json!({"components": comps})),
            "components[0].parameters[0].type",
        );
        assert!(e.details.contains(component), "{e:?}");
    }
}

#[test]
fn plain_http_media_links_are_sent_with_a_warning() {
    let host = FakeHost::new();
    host.respond(200, &send_ok()).respond(200, &send_ok());
    let out = call(
        &host,
        "whatsapp_send_media",
        json!({"to": "+16505551234", "media_type": "image", "link": "http://example.com/a.png"}),
    )
    .unwrap();
    assert_eq!(
        host.last_body()["image"]["link"],
        "http://example.com/a.png"
    );
    assert!(
        out["warning"]
            .as_str()
            .unwrap()
            .contains("https:// is recommended"),
        "{out}"
    );
    let header = json!([{"type": "header", "parameters": [{"type": "image", "image": {"link": "http://example.com/b.jpg"}}]}]);
    let out = call(
        &host,
        "whatsapp_send_template",
        template_send(json!({"components": header})),
    )
    .unwrap();
    let warning = out["warning"].as_str().unwrap();
    assert!(
        warning.contains("components[0].parameters[0].image.link"),
        "{warning}"
    );
    // Other schemes stay refused.
    assert_invalid(
        &host,
        "whatsapp_send_media",
        json!({"to": "+16505551234", "media_type": "image", "link": "ftp://example.com/a.png"}),
        "link",
    );
}

#[test]
fn a_document_filename_without_an_extension_is_sent_with_a_warning() {
    let host = FakeHost::new();
    host.respond(200, &send_ok());
    let out = call(
        &host,
        "whatsapp_send_media",
        json!({"to": "+16505551234", "media_type": "document", "media_id": "1", "filename": "invoice"}),
    )
    .unwrap();
    assert_eq!(host.last_body()["document"]["filename"], "invoice");
    assert!(out["warning"].as_str().unwrap().contains("extension"));
}

#[test]
fn the_body_limit_follows_the_template_not_the_call() {
    let host = FakeHost::new();
    let long = "x".repeat(1025);
    // Unknown template: a header parameter in the call no longer forces 1024.
    host.respond(200, &send_ok());
    call(
        &host,
        "whatsapp_send_template",
        template_send(json!({"header_parameters": ["a"], "body_parameters": [long]})),
    )
    .unwrap();
    // A template known to have buttons allows 1024, even without button parameters in the call.
    host.put_json(
        "tpl/order_update/en_US",
        &json!({"status": "APPROVED", "body_only": false, "updated_at": NOW_S}),
    );
    let e = assert_invalid(
        &host,
        "whatsapp_send_template",
        template_send(json!({"body_parameters": [long]})),
        "body_parameters[0]",
    );
    assert!(e.details.contains("1024"), "{e:?}");
    let comps = json!([{"type": "body", "parameters": [{"type": "text", "text": "a"}, {"type": "text", "text": long}]}]);
    assert_invalid(
        &host,
        "whatsapp_send_template",
        template_send(json!({"components": comps})),
        "components[0].parameters[1].text",
    );
    // A body-only template allows up to 32768.
    host.put_json(
        "tpl/order_update/en_US",
        &json!({"status": "APPROVED", "body_only": true, "updated_at": NOW_S}),
    );
    host.respond(200, &send_ok());
    call(
        &host,
        "whatsapp_send_template",
        template_send(json!({"body_parameters": ["x".repeat(32_768)]})),
    )
    .unwrap();
    assert_invalid(
        &host,
        "whatsapp_send_template",
        template_send(json!({"body_parameters": ["x".repeat(32_769)]})),
        "body_parameters[0]",
    );
}

#[test]
fn a_listing_records_whether_a_template_is_body_only_and_its_category() {
    let host = FakeHost::new();
    host.respond(
        200,
        &json!({"data": [
            {"id": "1", "name": "order_update", "language": "en_US", "status": "APPROVED", "category": "MARKETING",
             "components": [{"type": "BODY", "text": "Hi {{1}}"}, {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Stop"}]}]}
        ]})
        .to_string(),
    );
    call(&host, "whatsapp_list_templates", json!({})).unwrap();
    let rec = host.kv_json("tpl/order_update/en_US").unwrap();
    assert_eq!(rec["body_only"], false);
    assert_eq!(rec["category"], "MARKETING");
}

#[test]
fn create_template_accepts_lower_case_component_types_and_sends_them_upper_case() {
    let host = FakeHost::new();
    host.respond(200, &created());
    call(
        &host,
        "whatsapp_create_template",
        create(
            "UTILITY",
            json!([
                {"type": "header", "format": "text", "text": "Order update"},
                {"type": "body", "text": "Your order has shipped."}
            ]),
        ),
    )
    .unwrap();
    let sent = &host.last_body()["components"];
    assert_eq!(sent[0]["type"], "HEADER");
    assert_eq!(sent[0]["format"], "TEXT");
    assert_eq!(sent[1]["type"], "BODY");
}

#[test]
fn create_template_refuses_a_header_without_format() {
    let host = FakeHost::new();
    assert_invalid(
        &host,
        "whatsapp_create_template",
        create(
            "UTILITY",
            json!([{"type": "HEADER", "text": "Hello"}, {"type": "BODY", "text": "Hi there."}]),
        ),
        "components[0].format",
    );
}

#[test]
fn create_template_refuses_authentication_shapes_meta_refuses() {
    let host = FakeHost::new();
    let otp = json!({"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"}]});
    let body = json!({"type": "BODY", "add_security_recommendation": true});
    assert_invalid(
        &host,
        "whatsapp_create_template",
        create(
            "AUTHENTICATION",
            json!([{"type": "BODY", "text": "Your code is {{1}}.", "example": {"body_text": [["123456"]]}}, otp]),
        ),
        "components[0].text",
    );
    assert_invalid(
        &host,
        "whatsapp_create_template",
        create(
            "AUTHENTICATION",
            json!([{"type": "HEADER", "format": "TEXT", "text": "Code"}, body, otp]),
        ),
        "components[0].type",
    );
    assert_invalid(
        &host,
        "whatsapp_create_template",
        create("AUTHENTICATION", json!([body])),
        "components",
    );
    assert_invalid(
        &host,
        "whatsapp_create_template",
        create(
            "AUTHENTICATION",
            json!([body, {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Hi"}]}]),
        ),
        "components[1].buttons[0].type",
    );
    assert_invalid(
        &host,
        "whatsapp_create_template",
        create("MARKETING", json!([{"type": "BODY", "text": "Hi."}, otp])),
        "components[1].buttons[0].type",
    );
    // The documented authentication shape still passes.
    host.respond(200, &created());
    call(
        &host,
        "whatsapp_create_template",
        create(
            "AUTHENTICATION",
            json!([body, {"type": "FOOTER", "code_expiration_minutes": 10}, otp]),
        ),
    )
    .unwrap();
}

#[test]
fn create_template_accepts_an_http_url_button_with_a_warning() {
    let host = FakeHost::new();
    host.respond(200, &created());
    let out = call(
        &host,
        "whatsapp_create_template",
        create(
            "MARKETING",
            json!([{"type": "BODY", "text": "Our sale is on."},
                   {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Shop", "url": "http://example.com/shop"}]}]),
        ),
    )
    .unwrap();
    assert!(
        out["warning"]
            .as_str()
            .unwrap()
            .contains("components[1].buttons[0].url")
    );
}

#[test]
fn an_about_text_of_only_spaces_is_refused() {
    let host = FakeHost::new();
    let e = assert_invalid(
        &host,
        "whatsapp_update_business_profile",
        json!({"about": "   "}),
        "about",
    );
    assert!(e.details.contains("spaces"));
}

#[test]
fn the_business_description_allows_512_characters() {
    let host = FakeHost::new();
    host.respond(200, r#"{"success":true}"#);
    call(
        &host,
        "whatsapp_update_business_profile",
        json!({"description": "d".repeat(512)}),
    )
    .unwrap();
    assert_invalid(
        &host,
        "whatsapp_update_business_profile",
        json!({"description": "d".repeat(513)}),
        "description",
    );
}

fn send_template_with(host: &FakeHost) -> Result<Value, crate::error::ToolError> {
    call(host, "whatsapp_send_template", template_send(json!({})))
}

#[test]
fn enforce_sends_flagged_and_reinstated_templates() {
    let host = FakeHost::new();
    host.set("window-policy", "enforce");
    for status in ["FLAGGED", "REINSTATED", "APPROVED"] {
        host.put_json(
            "tpl/order_update/en_US",
            &json!({"status": status, "updated_at": NOW_S}),
        );
        host.respond(200, &send_ok());
        send_template_with(&host).unwrap();
    }
    assert_eq!(host.request_count(), 3);
}

#[test]
fn enforce_refuses_a_freshly_paused_template_without_asking_meta() {
    let host = FakeHost::new();
    host.set("window-policy", "enforce");
    host.put_json(
        "tpl/order_update/en_US",
        &json!({"status": "PAUSED", "updated_at": NOW_S - 10, "template_id": "55"}),
    );
    let e = send_template_with(&host).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Denied);
    assert_eq!(e.code, Some(132015));
    assert_eq!(host.request_count(), 0);
}

#[test]
fn enforce_refreshes_the_pending_a_create_answered_and_sends_once_approved() {
    let host = FakeHost::new();
    host.set("window-policy", "enforce");
    // Recorded a second ago, but by the create call: review may be over already.
    host.put_json(
        "tpl/order_update/en_US",
        &json!({"status": "PENDING", "updated_at": NOW_S - 1, "template_id": "1689556908129832", "source": "create"}),
    );
    host.respond(
        200,
        r#"{"id":"1689556908129832","name":"order_update","language":"en_US","status":"APPROVED","category":"UTILITY","components":[{"type":"BODY","text":"Hi"}]}"#,
    )
    .respond(200, &send_ok());
    send_template_with(&host).unwrap();
    let reqs = host.requests.borrow();
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs[0]
            .0
            .url
            .starts_with("https://graph.facebook.com/v23.0/1689556908129832?fields=")
    );
    assert!(reqs[1].0.url.ends_with(&format!("{PNID}/messages")));
    drop(reqs);
    let rec = host.kv_json("tpl/order_update/en_US").unwrap();
    assert_eq!(rec["status"], "APPROVED");
    assert_eq!(rec["body_only"], true);
}

#[test]
fn enforce_refuses_after_one_refresh_when_meta_still_says_pending() {
    let host = FakeHost::new();
    host.set("window-policy", "enforce");
    host.put_json(
        "tpl/order_update/en_US",
        &json!({"status": "PENDING", "updated_at": NOW_S - 3600, "source": "webhook"}),
    );
    host.respond(
        200,
        r#"{"data":[{"id":"9","name":"order_update","language":"en_US","status":"PENDING","category":"UTILITY"}]}"#,
    );
    let e = send_template_with(&host).unwrap_err();
    assert_eq!(e.code, Some(132001));
    assert_eq!(host.request_count(), 1);
    assert!(
        host.last_request()
            .url
            .contains(&format!("{WABA}/message_templates?name=order_update"))
    );
    // The refreshed record is fresh: the next refusal asks nobody.
    send_template_with(&host).unwrap_err();
    assert_eq!(host.request_count(), 1);
}

fn graph_error_body(err: Value) -> String {
    json!({ "error": err }).to_string()
}

#[test]
fn meta_subcodes_and_user_texts_are_kept_with_their_own_hints() {
    let host = FakeHost::new();
    host.respond(
        401,
        &graph_error_body(json!({"message": "Error validating access token", "code": 190, "error_subcode": 463, "fbtrace_id": "T"})),
    )
    .respond(
        401,
        &graph_error_body(json!({"message": "Error validating access token", "code": 190, "error_subcode": 467, "fbtrace_id": "T"})),
    );
    let expired = call(&host, "whatsapp_list_templates", json!({})).unwrap_err();
    let invalidated = call(&host, "whatsapp_list_templates", json!({})).unwrap_err();
    assert_eq!(expired.error_subcode, Some(463));
    assert_eq!(invalidated.error_subcode, Some(467));
    assert_eq!(expired.title, "Access token expired");
    assert_eq!(invalidated.title, "Access token invalidated");
    assert_ne!(expired.hint, invalidated.hint);

    host.respond(
        400,
        &graph_error_body(
            json!({"message": "Invalid parameter", "code": 100, "error_subcode": 2388024,
            "error_user_title": "Content in this language already exists",
            "error_user_msg": "There is already English (US) content for this template."}),
        ),
    );
    let e = call(
        &host,
        "whatsapp_create_template",
        create("UTILITY", json!([{"type": "BODY", "text": "Hi."}])),
    )
    .unwrap_err();
    assert_eq!(e.error_subcode, Some(2388024));
    assert_eq!(e.title, "Template already exists");
    assert_eq!(
        e.error_user_title.as_deref(),
        Some("Content in this language already exists")
    );
    assert_eq!(
        e.error_user_msg.as_deref(),
        Some("There is already English (US) content for this template.")
    );
}

#[test]
fn codes_803_and_132008_have_their_own_titles() {
    for (code, title) in [
        (803, "Object not found"),
        (132008, "Template parameter not valid"),
    ] {
        let host = FakeHost::new();
        host.respond(
            400,
            &graph_error_body(json!({"message": "x", "code": code})),
        );
        let e = call(&host, "whatsapp_list_templates", json!({})).unwrap_err();
        assert_eq!(e.title, title);
        assert!(!e.retryable);
    }
}

#[test]
fn engagement_limit_131049_and_inbound_media_131052_are_not_retryable() {
    let e = crate::graph::webhook_error(&json!({"code": 131049, "title": "x"}));
    assert_eq!(e["retryable"], false);
    assert!(e["hint"].as_str().unwrap().contains("24 hours"));
    let e = crate::graph::webhook_error(&json!({"code": 131052, "title": "x"}));
    assert_eq!(e["retryable"], false);
    assert!(!e["hint"].as_str().unwrap().to_lowercase().contains("retry"));
}

fn respond_with_usage(host: &FakeHost, code: i64, regain_minutes: u32) {
    host.responses.borrow_mut().push_back(Ok(HttpResponse {
        status: 400,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            (
                "x-business-use-case-usage".into(),
                json!({ WABA: [{"type": "whatsapp_business_management", "call_count": 100,
                    "total_cputime": 1, "total_time": 1, "estimated_time_to_regain_access": regain_minutes}] })
                .to_string(),
            ),
        ],
        body: graph_error_body(json!({"message": "(#80007) Rate limit", "code": code}))
            .into_bytes(),
    }));
}

#[test]
fn an_hourly_quota_is_not_retried_when_the_wait_does_not_fit_the_deadline() {
    let host = FakeHost::new();
    respond_with_usage(&host, 80007, 5);
    host.respond(200, r#"{"data":[]}"#);
    let e = call(&host, "whatsapp_list_templates", json!({})).unwrap_err();
    assert_eq!(host.request_count(), 1);
    assert!(host.sleeps.borrow().is_empty());
    assert!(e.retryable);
    assert_eq!(e.retry_after_seconds, Some(300));
    assert!(e.hint.contains("300 seconds"), "{e:?}");
}

#[test]
fn an_hourly_quota_is_retried_after_metas_wait_when_it_fits() {
    let host = FakeHost::new();
    host.set("call-deadline-ms", "600000");
    respond_with_usage(&host, 4, 1);
    host.respond(200, r#"{"data":[]}"#);
    call(&host, "whatsapp_list_templates", json!({})).unwrap();
    assert_eq!(host.request_count(), 2);
    assert_eq!(*host.sleeps.borrow(), [60_000]);
}

#[test]
fn an_hourly_quota_without_usage_headers_is_not_retried() {
    let host = FakeHost::new();
    host.set("call-deadline-ms", "600000");
    host.respond(400, &graph_error_body(json!({"message": "x", "code": 4})))
        .respond(200, r#"{"data":[]}"#);
    let e = call(&host, "whatsapp_list_templates", json!({})).unwrap_err();
    assert_eq!(host.request_count(), 1);
    assert!(e.retryable);
    assert_eq!(e.retry_after_seconds, None);
}

fn webhook(mut value: Value, field: &str) -> Vec<u8> {
    value["metadata"] = json!({"display_phone_number": "15550783881", "phone_number_id": PNID});
    json!({"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": [{"field": field, "value": value}]}]})
        .to_string()
        .into_bytes()
}

#[test]
fn value_level_errors_are_recorded_with_the_failed_status() {
    let host = FakeHost::new();
    let body = webhook(
        json!({"messaging_product": "whatsapp",
               "statuses": [{"id": WAMID, "status": "failed", "timestamp": NOW_S.to_string(), "recipient_id": "16505551234"}],
               "errors": [{"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable"}]}),
        "messages",
    );
    crate::webhooks::ingest(&host, &body).unwrap();
    let rec = host.kv_json(&format!("msgst/{WAMID}")).unwrap();
    assert_eq!(rec["errors"][0]["code"], 131026);
}

fn opt_out(host: &FakeHost, choice: &str, ts: i64) {
    let body = webhook(
        json!({"messaging_product": "whatsapp",
               "user_preferences": [{"wa_id": "16505551234", "detail": "User requested to stop marketing messages",
                                     "category": "marketing_messages", "value": choice, "timestamp": ts}]}),
        "user_preferences",
    );
    crate::webhooks::ingest(host, &body).unwrap();
}

#[test]
fn enforce_refuses_marketing_templates_to_users_who_opted_out() {
    let host = FakeHost::new();
    host.set("window-policy", "enforce");
    opt_out(&host, "stop", NOW_S - 60);
    host.put_json(
        "tpl/order_update/en_US",
        &json!({"status": "APPROVED", "category": "MARKETING", "updated_at": NOW_S}),
    );
    let e = send_template_with(&host).unwrap_err();
    assert_eq!(e.code, Some(131050));
    assert!(e.hint.contains("UTILITY"));
    assert_eq!(host.request_count(), 0);
    // A utility template still goes.
    host.put_json(
        "tpl/order_update/en_US",
        &json!({"status": "APPROVED", "category": "UTILITY", "updated_at": NOW_S}),
    );
    host.respond(200, &send_ok());
    send_template_with(&host).unwrap();
    // Resuming lifts the refusal; an older stop does not undo it.
    host.put_json(
        "tpl/order_update/en_US",
        &json!({"status": "APPROVED", "category": "MARKETING", "updated_at": NOW_S}),
    );
    opt_out(&host, "resume", NOW_S - 30);
    opt_out(&host, "stop", NOW_S - 90);
    host.respond(200, &send_ok());
    send_template_with(&host).unwrap();
}
