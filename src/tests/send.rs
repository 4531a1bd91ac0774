use serde_json::json;

use super::{GRAPH, WAMID, assert_invalid, call, input_schema_accepts, send_ok};
use crate::error::ErrorKind;
use crate::host::{HttpError, Method};
use crate::testing::{FakeHost, NOW_S, PNID};

#[test]
fn send_message_posts_the_exact_text_payload_and_records_the_message() {
    let host = FakeHost::new();
    host.respond(200, &send_ok());
    let out = call(
        &host,
        "whatsapp_send_message",
        json!({"to": "+1 (650) 555-1234", "text": "Hello https://example.com", "preview_url": true}),
    )
    .unwrap();
    let req = host.last_request();
    assert_eq!(req.method, Method::Post);
    assert_eq!(req.url, format!("{GRAPH}/{PNID}/messages"));
    assert!(
        req.headers
            .contains(&("content-type".into(), "application/json".into()))
    );
    assert!(
        !req.headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
    );
    assert_eq!(
        host.requests.borrow()[0].1.as_deref(),
        Some("whatsapp"),
        "authorised with the access-token credential"
    );
    assert_eq!(
        host.last_body(),
        json!({"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"text",
               "text":{"body":"Hello https://example.com","preview_url":true}})
    );
    // The exact bytes on the wire (serde_json writes keys in sorted order).
    assert_eq!(
        String::from_utf8(req.body.clone().unwrap()).unwrap(),
        r#"{"messaging_product":"whatsapp","recipient_type":"individual","text":{"body":"Hello https://example.com","preview_url":true},"to":"16505551234","type":"text"}"#
    );
    assert_eq!(req.timeout_ms, Some(20_000));
    assert_eq!(out["message_id"], WAMID);
    assert_eq!(out["to"], "16505551234");
    assert_eq!(out["wa_id"], "16505551234");
    assert_eq!(out["message_status"], "accepted");
    assert_eq!(out["recorded"], true);
    assert_eq!(out["window"]["state"], "unknown");
    assert!(out["warning"].as_str().unwrap().contains("131047"));
    let rec = host.kv_json(&format!("msg/{WAMID}")).unwrap();
    assert_eq!(rec["to"], "16505551234");
    assert_eq!(rec["type"], "text");
    assert_eq!(rec["accepted_at"], NOW_S);
    assert_eq!(
        host.kv.borrow()[&format!("msg/{WAMID}")].1,
        Some(30 * 86_400)
    );
}

#[test]
fn send_message_with_reply_adds_context_and_omits_preview_when_not_given() {
    let host = FakeHost::new();
    host.respond(200, &send_ok());
    call(
        &host,
        "whatsapp_send_message",
        json!({"to": "16505551234", "text": "Yes!", "reply_to": "wamid.ABC"}),
    )
    .unwrap();
    assert_eq!(
        host.last_body(),
        json!({"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"text",
               "text":{"body":"Yes!"},"context":{"message_id":"wamid.ABC"}})
    );
}

#[test]
fn send_message_validation_rejects_each_rule_and_sends_nothing() {
    let host = FakeHost::new();
    let n = "whatsapp_send_message";
    assert_invalid(&host, n, json!({"text": "hi"}), "to");
    assert_invalid(&host, n, json!({"to": "+16505551234"}), "text");
    assert_invalid(&host, n, json!({"to": "+16505551234", "text": ""}), "text");
    let long = "é".repeat(4097);
    let e = assert_invalid(
        &host,
        n,
        json!({"to": "+16505551234", "text": long}),
        "text",
    );
    assert!(e.details.contains("4097"), "{e:?}");
    // 4096 scalar values of a multi-byte character are fine.
    host.respond(200, &send_ok());
    call(
        &host,
        n,
        json!({"to": "+16505551234", "text": "é".repeat(4096)}),
    )
    .unwrap();
    assert_invalid(
        &host,
        n,
        json!({"to": "+16505551234", "text": "hi", "preview_url": "yes"}),
        "preview_url",
    );
    assert_invalid(
        &host,
        n,
        json!({"to": "+16505551234", "text": "hi", "reply_to": "has space"}),
        "reply_to",
    );
    let e = assert_invalid(
        &host,
        n,
        json!({"to": "+16505551234", "text": "hi", "bogus": 1}),
        "bogus",
    );
    assert!(e.details.contains("bogus"));
    assert!(!input_schema_accepts(
        n,
        &json!({"to": "+16505551234", "text": "hi", "bogus": 1})
    ));
}

#[test]
fn phone_numbers_are_normalised_or_rejected_with_an_explanation() {
    let host = FakeHost::new();
    let n = "whatsapp_send_message";
    for bad in [
        "0044 20 7946 0958",
        "020 7946 0958",
        "+1 650",
        "+1650555123456789",
        "+1650abc1234",
        "1-650-555-1234 ext 5",
    ] {
        assert_invalid(&host, n, json!({"to": bad, "text": "hi"}), "to");
    }
    let e = assert_invalid(&host, n, json!({"to": "020 7946 0958", "text": "hi"}), "to");
    assert!(e.details.contains("0"), "{e:?}");
    assert!(e.hint.contains("country code"));
    let e = assert_invalid(
        &host,
        n,
        json!({"to": "0044 20 7946 0958", "text": "hi"}),
        "to",
    );
    assert!(e.hint.contains("+44"), "{e:?}");
    for good in ["+44 20 7946 0958", "44.20.7946.0958", "(44) 20-7946-0958"] {
        host.respond(200, &send_ok());
        let out = call(&host, n, json!({"to": good, "text": "hi"})).unwrap();
        assert_eq!(out["to"], "442079460958");
        assert!(
            input_schema_accepts(n, &json!({"to": good, "text": "hi"})),
            "{good}"
        );
    }
}

#[test]
fn arguments_that_are_not_an_object_are_invalid() {
    let host = FakeHost::new();
    for text in ["[1,2]", "\"hi\"", "42", "{not json"] {
        let e = crate::tools::call_tool(&host, "whatsapp_send_message", text).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArguments, "{text}");
    }
    assert_eq!(host.request_count(), 0);
}

#[test]
fn unknown_tool_names_are_an_unknown_tool_error() {
    let host = FakeHost::new();
    let e = crate::tools::call_tool(&host, "whatsapp_send_fax", "{}").unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownTool);
    assert!(e.hint.contains("whatsapp_send_message"));
}

#[test]
fn missing_phone_number_id_is_an_internal_error_naming_the_setting() {
    let host = FakeHost::new();
    host.unset("phone-number-id");
    let e = call(
        &host,
        "whatsapp_send_message",
        json!({"to": "+16505551234", "text": "hi"}),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Internal);
    assert!(e.details.contains("phone-number-id"));
    assert!(e.hint.contains("WHATSAPP_PHONE_NUMBER_ID"));
    assert_eq!(host.request_count(), 0);
}

#[test]
fn api_base_url_and_version_come_from_config() {
    let host = FakeHost::new();
    host.set("api-base-url", "http://127.0.0.1:8089/")
        .set("api-version", "v24.0");
    host.respond(200, &send_ok());
    call(
        &host,
        "whatsapp_send_message",
        json!({"to": "+16505551234", "text": "hi"}),
    )
    .unwrap();
    assert_eq!(
        host.last_request().url,
        format!("http://127.0.0.1:8089/v24.0/{PNID}/messages")
    );
    host.set("api-version", "23");
    let e = call(
        &host,
        "whatsapp_send_message",
        json!({"to": "+16505551234", "text": "hi"}),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Internal);
    assert!(e.details.contains("api-version"));
}

#[test]
fn send_template_builds_positional_body_and_header_parameters() {
    let host = FakeHost::new();
    host.respond(200, &send_ok());
    let out = call(
        &host,
        "whatsapp_send_template",
        json!({"to": "+16505551234", "name": "order_update", "language": "en_US",
               "header_parameters": ["Summer"], "body_parameters": ["Mark", "#1234"]}),
    )
    .unwrap();
    assert_eq!(host.last_request().url, format!("{GRAPH}/{PNID}/messages"));
    assert_eq!(
        host.last_body(),
        json!({"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"template",
               "template":{"name":"order_update","language":{"code":"en_US","policy":"deterministic"},
                 "components":[
                   {"type":"header","parameters":[{"type":"text","text":"Summer"}]},
                   {"type":"body","parameters":[{"type":"text","text":"Mark"},{"type":"text","text":"#1234"}]}]}})
    );
    assert!(
        out.get("warning").is_none(),
        "templates are allowed outside the window"
    );
    let rec = host.kv_json(&format!("msg/{WAMID}")).unwrap();
    assert_eq!(
        rec["template"],
        json!({"name": "order_update", "language": "en_US"})
    );
}

#[test]
fn send_template_builds_named_parameters_and_passes_full_components() {
    let host = FakeHost::new();
    host.respond(200, &send_ok());
    let components = json!([
        {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://example.com/a.jpg"}}]},
        {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "order-123"}]},
        {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "STOP"}]}
    ]);
    call(
        &host,
        "whatsapp_send_template",
        json!({"to": "+16505551234", "name": "order_update", "language": "en",
               "body_parameters": {"first_name": "Mark"}, "components": components}),
    )
    .unwrap();
    let body = host.last_body();
    let comps = body["template"]["components"].as_array().unwrap();
    assert_eq!(
        comps[0],
        json!({"type":"body","parameters":[{"type":"text","parameter_name":"first_name","text":"Mark"}]})
    );
    assert_eq!(comps[1], components[0]);
    assert_eq!(comps[2], components[1]);
    assert_eq!(comps[3], components[2]);
    // Template without parameters: no components key.
    host.respond(200, &send_ok());
    call(
        &host,
        "whatsapp_send_template",
        json!({"to": "+16505551234", "name": "hello_world", "language": "en_US"}),
    )
    .unwrap();
    assert_eq!(
        host.last_body()["template"],
        json!({"name":"hello_world","language":{"code":"en_US","policy":"deterministic"}})
    );
}

#[test]
fn send_template_currency_and_date_time_parameters_are_accepted() {
    let host = FakeHost::new();
    host.respond(200, &send_ok());
    let args = json!({"to": "+16505551234", "name": "bill", "language": "en_US", "components": [
        {"type": "body", "parameters": [
            {"type": "currency", "currency": {"fallback_value": "$100.99", "code": "USD", "amount_1000": 100990}},
            {"type": "date_time", "date_time": {"fallback_value": "February 25, 1977"}}]}]});
    assert!(input_schema_accepts("whatsapp_send_template", &args));
    call(&host, "whatsapp_send_template", args).unwrap();
}

#[test]
fn send_template_validation_rejects_each_rule_and_sends_nothing() {
    let host = FakeHost::new();
    let n = "whatsapp_send_template";
    let base = |extra: serde_json::Value| {
        let mut v = json!({"to": "+16505551234", "name": "order_update", "language": "en_US"});
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        v
    };
    assert_invalid(
        &host,
        n,
        json!({"to": "+16505551234", "language": "en_US"}),
        "name",
    );
    assert_invalid(&host, n, base(json!({"name": "Order-Update"})), "name");
    assert_invalid(&host, n, base(json!({"name": "x".repeat(513)})), "name");
    assert_invalid(&host, n, base(json!({"language": "en-US"})), "language");
    assert_invalid(&host, n, base(json!({"language": "English"})), "language");
    assert_invalid(
        &host,
        n,
        base(json!({"body_parameters": []})),
        "body_parameters",
    );
    assert_invalid(
        &host,
        n,
        base(json!({"body_parameters": "Mark"})),
        "body_parameters",
    );
    assert_invalid(
        &host,
        n,
        base(json!({"body_parameters": ["Mark", 3]})),
        "body_parameters[1]",
    );
    assert_invalid(
        &host,
        n,
        base(json!({"body_parameters": [""]})),
        "body_parameters[0]",
    );
    assert_invalid(
        &host,
        n,
        base(json!({"body_parameters": {"First Name": "Mark"}})),
        "body_parameters.First Name",
    );
    assert_invalid(
        &host,
        n,
        base(json!({"header_parameters": ["a", "b"]})),
        "header_parameters",
    );
    assert_invalid(
        &host,
        n,
        base(json!({"header_parameters": ["x".repeat(61)]})),
        "header_parameters[0]",
    );
    assert_invalid(
        &host,
        n,
        base(json!({"body_parameters": ["x".repeat(32769)]})),
        "body_parameters[0]",
    );
    let e = assert_invalid(
        &host,
        n,
        base(
            json!({"body_parameters": ["Mark"], "components": [{"type": "body", "parameters": [{"type": "text", "text": "x"}]}]}),
        ),
        "body_parameters",
    );
    assert!(e.details.contains("body_parameters") && e.details.contains("components"));
    assert_invalid(
        &host,
        n,
        base(
            json!({"header_parameters": ["a"], "components": [{"type": "header", "parameters": [{"type": "text", "text": "x"}]}]}),
        ),
        "header_parameters",
    );
    assert_invalid(&host, n, base(json!({"components": []})), "components");
    assert_invalid(
        &host,
        n,
        base(
            json!({"components": [{"type": "button", "index": "0", "parameters": [{"type": "payload", "payload": "x"}]}]}),
        ),
        "components[0].sub_type",
    );
    assert_invalid(
        &host,
        n,
        base(
            json!({"components": [{"type": "button", "sub_type": "url", "index": "10", "parameters": [{"type": "text", "text": "x"}]}]}),
        ),
        "components[0].index",
    );
    assert_invalid(
        &host,
        n,
        base(
            json!({"components": [{"type": "body", "index": "0", "parameters": [{"type": "text", "text": "x"}]}]}),
        ),
        "components[0].index",
    );
    assert_invalid(
        &host,
        n,
        base(json!({"components": [{"type": "body", "parameters": []}]})),
        "components[0].parameters",
    );
    assert_invalid(
        &host,
        n,
        base(
            json!({"components": [{"type": "body", "parameters": [{"type": "image", "image": {"link": "https://e.com/a.jpg"}}]}]}),
        ),
        "components[0].parameters[0].type",
    );
    assert_invalid(
        &host,
        n,
        base(
            json!({"components": [{"type": "header", "parameters": [{"type": "image", "image": {}}]}]}),
        ),
        "components[0].parameters[0].image",
    );
    assert_invalid(
        &host,
        n,
        base(
            json!({"components": [{"type": "header", "parameters": [{"type": "text", "text": "x".repeat(61)}]}]}),
        ),
        "components[0].parameters[0].text",
    );
    assert_invalid(
        &host,
        n,
        base(
            json!({"components": [{"type": "body", "parameters": [{"type": "currency", "currency": {"fallback_value": "$1", "code": "usd", "amount_1000": 1000}}]}]}),
        ),
        "components[0].parameters[0].currency.code",
    );
    assert_invalid(
        &host,
        n,
        base(
            json!({"components": [{"type": "body", "parameters": [{"type": "text", "text": "a", "extra": 1}]}]}),
        ),
        "components[0].parameters[0].extra",
    );
    assert_invalid(
        &host,
        n,
        base(json!({"components": [
        {"type": "body", "parameters": [{"type": "text", "text": "a"}]},
        {"type": "body", "parameters": [{"type": "text", "text": "b"}]}]})),
        "components[1].type",
    );
    assert_invalid(
        &host,
        n,
        base(json!({"components": [
        {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "a"}]},
        {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "b"}]}]})),
        "components[1].index",
    );
    assert_invalid(
        &host,
        n,
        base(
            json!({"components": [{"type": "button", "sub_type": "copy_code", "index": "0", "parameters": [{"type": "coupon_code", "coupon_code": "X".repeat(16)}]}]}),
        ),
        "components[0].parameters[0].coupon_code",
    );
}

#[test]
fn send_media_builds_link_and_id_payloads() {
    let host = FakeHost::new();
    host.respond(200, &send_ok());
    call(&host, "whatsapp_send_media", json!({"to": "+16505551234", "media_type": "image", "link": "https://example.com/a.png", "caption": "Look"})).unwrap();
    assert_eq!(
        host.last_body(),
        json!({"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"image",
               "image":{"link":"https://example.com/a.png","caption":"Look"}})
    );
    host.respond(200, &send_ok());
    call(&host, "whatsapp_send_media", json!({"to": "+16505551234", "media_type": "document", "media_id": "1013859600285441", "filename": "invoice.pdf", "caption": "Invoice"})).unwrap();
    assert_eq!(
        host.last_body(),
        json!({"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"document",
               "document":{"id":"1013859600285441","caption":"Invoice","filename":"invoice.pdf"}})
    );
    host.respond(200, &send_ok());
    call(
        &host,
        "whatsapp_send_media",
        json!({"to": "+16505551234", "media_type": "audio", "media_id": "42"}),
    )
    .unwrap();
    assert_eq!(host.last_body()["audio"], json!({"id": "42"}));
    let rec = host.kv_json(&format!("msg/{WAMID}")).unwrap();
    assert_eq!(rec["type"], "audio");
}

#[test]
fn send_media_validation_rejects_each_rule_and_sends_nothing() {
    let host = FakeHost::new();
    let n = "whatsapp_send_media";
    let to = "+16505551234";
    assert_invalid(
        &host,
        n,
        json!({"to": to, "link": "https://e.com/a.png"}),
        "media_type",
    );
    assert_invalid(
        &host,
        n,
        json!({"to": to, "media_type": "sticker", "link": "https://e.com/a.webp"}),
        "media_type",
    );
    assert_invalid(&host, n, json!({"to": to, "media_type": "image"}), "link");
    assert_invalid(
        &host,
        n,
        json!({"to": to, "media_type": "image", "link": "https://e.com/a.png", "media_id": "1"}),
        "media_id",
    );
    for bad in [
        "data:image/png;base64,AAAA",
        "javascript:alert(1)",
        "https://e.com/a b.png",
        "https://",
        "ftp://e.com/a",
    ] {
        assert_invalid(
            &host,
            n,
            json!({"to": to, "media_type": "image", "link": bad}),
            "link",
        );
    }
    let long = format!("https://e.com/{}", "a".repeat(2040));
    assert_invalid(
        &host,
        n,
        json!({"to": to, "media_type": "image", "link": long}),
        "link",
    );
    assert_invalid(
        &host,
        n,
        json!({"to": to, "media_type": "image", "media_id": "abc"}),
        "media_id",
    );
    let e = assert_invalid(
        &host,
        n,
        json!({"to": to, "media_type": "audio", "media_id": "1", "caption": "hi"}),
        "caption",
    );
    assert!(e.details.contains("audio"));
    assert_invalid(
        &host,
        n,
        json!({"to": to, "media_type": "image", "media_id": "1", "caption": "x".repeat(1025)}),
        "caption",
    );
    assert_invalid(
        &host,
        n,
        json!({"to": to, "media_type": "image", "media_id": "1", "filename": "a.png"}),
        "filename",
    );
    assert_invalid(
        &host,
        n,
        json!({"to": to, "media_type": "document", "media_id": "1", "filename": "../etc/passwd.txt"}),
        "filename",
    );
    assert_invalid(
        &host,
        n,
        json!({"to": to, "media_type": "document", "media_id": "1", "filename": format!("{}.pdf", "a".repeat(240))}),
        "filename",
    );
}

#[test]
fn a_lost_answer_to_a_send_is_outcome_unknown_but_not_when_nothing_was_sent() {
    let host = FakeHost::new();
    host.fail(HttpError::Timeout {
        message: "deadline".into(),
        request_sent: true,
    });
    let e = call(
        &host,
        "whatsapp_send_message",
        json!({"to": "+16505551234", "text": "hi"}),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::OutcomeUnknown);
    assert_eq!(e.title, "Outcome unknown");
    assert!(e.hint.contains("whatsapp_get_message_status"));
    assert!(!e.retryable);
    for _ in 0..crate::graph::MAX_ATTEMPTS {
        host.fail(HttpError::Transport {
            message: "connection refused".into(),
            request_sent: false,
        });
    }
    let e = call(
        &host,
        "whatsapp_send_message",
        json!({"to": "+16505551234", "text": "hi"}),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport);
    assert!(e.retryable);
    host.fail(HttpError::Denied("origin not allowed".into()));
    let e = call(
        &host,
        "whatsapp_send_message",
        json!({"to": "+16505551234", "text": "hi"}),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Denied);
    host.fail(HttpError::InvalidRequest("bad header".into()));
    let e = call(
        &host,
        "whatsapp_send_message",
        json!({"to": "+16505551234", "text": "hi"}),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Internal);
    host.fail(HttpError::TooLarge(9_999_999));
    let e = call(
        &host,
        "whatsapp_send_message",
        json!({"to": "+16505551234", "text": "hi"}),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport);
    host.respond(200, "<html>ok</html>");
    let e = call(
        &host,
        "whatsapp_send_message",
        json!({"to": "+16505551234", "text": "hi"}),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::OutcomeUnknown);
    assert!(
        host.kv.borrow().is_empty(),
        "nothing recorded without a message id"
    );
}

#[test]
fn a_send_whose_record_cannot_be_stored_still_succeeds_with_recorded_false() {
    let host = FakeHost::new();
    host.kv_fail.set(true);
    host.respond(200, &send_ok());
    let out = call(
        &host,
        "whatsapp_send_message",
        json!({"to": "+16505551234", "text": "hi"}),
    )
    .unwrap();
    assert_eq!(out["recorded"], false);
    assert!(
        out["warning"]
            .as_str()
            .unwrap()
            .contains("could not be stored")
    );
}

#[test]
fn send_response_without_wa_id_and_with_held_status_is_reported() {
    let host = FakeHost::new();
    host.respond(
        200,
        &format!(r#"{{"messaging_product":"whatsapp","contacts":[{{"input":"+16505551234","user_id":"US.1349"}}],"messages":[{{"id":"{WAMID}","message_status":"held_for_quality_assessment"}}]}}"#),
    );
    let out = call(
        &host,
        "whatsapp_send_template",
        json!({"to": "+16505551234", "name": "promo", "language": "en"}),
    )
    .unwrap();
    assert!(out.get("wa_id").is_none());
    assert_eq!(out["message_status"], "held_for_quality_assessment");
    assert!(out["warning"].as_str().unwrap().contains("quality"));
}

#[test]
fn deeply_nested_or_huge_arguments_are_rejected_without_panicking() {
    let host = FakeHost::new();
    let deep = format!("{{\"to\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let e = crate::tools::call_tool(&host, "whatsapp_send_message", &deep).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArguments);
    let e = crate::tools::call_tool(
        &host,
        "whatsapp_send_message",
        r#"{"to": "\u0000", "text": "\uFFFF"}"#,
    )
    .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("to"));
    assert!(crate::webhooks::ingest(&host, deep.as_bytes()).is_err());
    assert_eq!(host.request_count(), 0);
}
