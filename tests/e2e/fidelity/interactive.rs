//! Fidelity cases: interactive messages (reply buttons, lists, URL buttons),
//! replies, and every request body checked against Meta's OpenAPI v23.0.

mod openapi;

use std::time::SystemTime;

use serde_json::{Value, json};

use crate::common::{CUSTOMER, CUSTOMER_DIGITS, Env};

const MESSAGES_PATH: &str = "/{Version}/{Phone-Number-ID}/messages";
const TEMPLATES_PATH: &str = "/{Version}/{WABA-ID}/message_templates";
const PROFILE_PATH: &str = "/{Version}/{Phone-Number-ID}/whatsapp_business_profile";

fn buttons() -> Value {
    json!([{"id": "confirm", "title": "Confirm"}, {"id": "reschedule", "title": "Reschedule"}])
}

fn list() -> Value {
    json!({"button": "Pick a slot", "sections": [
        {"title": "Monday", "rows": [{"id": "mon-9", "title": "9:00", "description": "Main St. shop"}]},
        {"title": "Tuesday", "rows": [{"id": "tue-9", "title": "9:00"}, {"id": "tue-10", "title": "10:00"}]}]})
}

async fn call_ok(env: &Env, tool: &str, args: Value) -> Value {
    env.call(tool, args.clone())
        .await
        .unwrap_or_else(|e| panic!("{tool} {args} failed: {e}"))
}

#[tokio::test]
async fn interactive_messages_reach_the_api_as_meta_documents_them_and_are_accepted() {
    let env = Env::new().await;
    let inbound =
        env.sandbox
            .simulate_inbound_at(CUSTOMER, "Can I come on Monday?", SystemTime::now());
    let out = call_ok(
        &env,
        "whatsapp_send_message",
        json!({"to": CUSTOMER, "text": "Monday 9:00 is free. Book it?", "buttons": buttons(),
               "header": "Your appointment", "footer": "Lucky Shrub", "reply_to": inbound}),
    )
    .await;
    call_ok(
        &env,
        "whatsapp_send_message",
        json!({"to": CUSTOMER, "text": "Other times:", "list": list()}),
    )
    .await;
    call_ok(
        &env,
        "whatsapp_send_message",
        json!({"to": CUSTOMER, "text": "Your booking", "cta_url": {"display_text": "Open booking", "url": "https://example.com/b/1"}}),
    )
    .await;
    let sent = env.sandbox.sent_messages();
    assert_eq!(sent.len(), 3);
    assert_eq!(out["message_id"], sent[0].id.as_str());
    assert!(sent.iter().all(|m| m.kind == "interactive"), "{sent:?}");
    assert_eq!(
        sent[0].request,
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER_DIGITS,
               "type": "interactive", "context": {"message_id": inbound},
               "interactive": {"type": "button",
                   "header": {"type": "text", "text": "Your appointment"},
                   "body": {"text": "Monday 9:00 is free. Book it?"},
                   "footer": {"text": "Lucky Shrub"},
                   "action": {"buttons": [
                       {"type": "reply", "reply": {"id": "confirm", "title": "Confirm"}},
                       {"type": "reply", "reply": {"id": "reschedule", "title": "Reschedule"}}]}}})
    );
    assert_eq!(sent[1].request["interactive"]["type"], "list");
    assert_eq!(
        sent[1].request["interactive"]["action"]["sections"],
        list()["sections"]
    );
    assert_eq!(
        sent[2].request["interactive"]["action"],
        json!({"name": "cta_url", "parameters": {"display_text": "Open booking", "url": "https://example.com/b/1"}})
    );
}

/// Posts `body` to the sandbox's messages endpoint as a client other than
/// the connector would; returns (HTTP status, Graph error code).
async fn post_raw(env: &Env, body: Value) -> (u16, Option<i64>) {
    whatsapp_host::install_crypto_provider();
    let url = format!(
        "{}/v23.0/{}/messages",
        env.sandbox.base_url(),
        env.phone_number_id()
    );
    let resp = reqwest::Client::new()
        .post(url)
        .bearer_auth(env.token())
        .json(&body)
        .send()
        .await
        .expect("the sandbox answers");
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    (status, body["error"]["code"].as_i64())
}

#[tokio::test]
async fn the_sandbox_refuses_interactive_messages_outside_meta_limits_as_the_api_does() {
    let env = Env::new().await;
    env.sandbox.simulate_inbound(CUSTOMER, "hi");
    let message = |interactive: Value| {
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER_DIGITS,
               "type": "interactive", "interactive": interactive})
    };
    let reply =
        |id: &str, title: &str| json!({"type": "reply", "reply": {"id": id, "title": title}});
    let with_buttons = |b: Value| {
        message(json!({"type": "button", "body": {"text": "Pick"}, "action": {"buttons": b}}))
    };
    let ok = with_buttons(json!([reply("a", "A")]));
    assert_eq!(post_raw(&env, ok).await.0, 200);
    let four = json!([
        reply("a", "A"),
        reply("b", "B"),
        reply("c", "C"),
        reply("d", "D")
    ]);
    let rows = |prefix: &str, n: usize| {
        (0..n)
            .map(|i| json!({"id": format!("{prefix}{i}"), "title": "Row"}))
            .collect::<Vec<_>>()
    };
    for (why, body) in [
        ("four buttons", with_buttons(four)),
        (
            "a 21-character title",
            with_buttons(json!([reply("a", &"t".repeat(21))])),
        ),
        (
            "duplicate titles",
            with_buttons(json!([reply("a", "Same"), reply("b", "Same")])),
        ),
        (
            "a 1025-character body",
            message(json!({"type": "button", "body": {"text": "b".repeat(1025)},
                           "action": {"buttons": [reply("a", "A")]}})),
        ),
        (
            "eleven rows",
            message(
                json!({"type": "list", "body": {"text": "Pick"}, "action": {"button": "Open",
                "sections": [{"title": "A", "rows": rows("a", 6)}, {"title": "B", "rows": rows("b", 5)}]}}),
            ),
        ),
        (
            "two sections without titles",
            message(
                json!({"type": "list", "body": {"text": "Pick"}, "action": {"button": "Open",
                "sections": [{"rows": [{"id": "a", "title": "A"}]}, {"rows": [{"id": "b", "title": "B"}]}]}}),
            ),
        ),
        (
            "a URL button label of 21 characters",
            message(
                json!({"type": "cta_url", "body": {"text": "See"}, "action": {"name": "cta_url",
                "parameters": {"display_text": "d".repeat(21), "url": "https://example.com"}}}),
            ),
        ),
    ] {
        let (status, code) = post_raw(&env, body).await;
        assert_eq!(status, 400, "{why}");
        assert!(
            matches!(code, Some(100 | 131008 | 131009)),
            "{why}: {code:?}"
        );
    }
    assert_eq!(
        env.sandbox.sent_messages().len(),
        1,
        "only the valid one was sent"
    );
}

#[tokio::test]
async fn every_request_body_the_tools_build_validates_against_metas_openapi_v23() {
    let env = Env::new().await;
    let inbound = env
        .sandbox
        .simulate_inbound_at(CUSTOMER, "hi", SystemTime::now());
    let handle = "4::aW1hZ2UvanBlZw==:ARb0example";
    // Templates first: their creation bodies are checked too, and the sends below use them.
    let templates = [
        json!({"name": "promo_media", "language": "en_US", "category": "MARKETING", "components": [
            {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": [handle]}},
            {"type": "BODY", "text": "Hi {{1}}, {{2}} off until {{3}}.", "example": {"body_text": [["Mark", "$10", "Friday"]]}},
            {"type": "FOOTER", "text": "Reply STOP to opt out"},
            {"type": "BUTTONS", "buttons": [
                {"type": "QUICK_REPLY", "text": "Stop promotions"},
                {"type": "URL", "text": "Shop", "url": "https://example.com/shop?c={{1}}", "example": ["summer"]}]}]}),
        json!({"name": "order_named", "language": "en_US", "category": "UTILITY", "parameter_format": "NAMED", "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Order {{order_id}}",
             "example": {"header_text_named_params": [{"param_name": "order_id", "example": "1042"}]}},
            {"type": "BODY", "text": "Hi {{first_name}}, it has shipped.",
             "example": {"body_text_named_params": [{"param_name": "first_name", "example": "Mark"}]}}]}),
        json!({"name": "invoice_doc", "language": "en", "category": "UTILITY", "components": [
            {"type": "HEADER", "format": "DOCUMENT", "example": {"header_handle": [handle]}},
            {"type": "BODY", "text": "Your invoice is attached."},
            {"type": "BUTTONS", "buttons": [{"type": "PHONE_NUMBER", "text": "Call us", "phone_number": "16505551234"}]}]}),
        json!({"name": "login_code", "language": "en_US", "category": "AUTHENTICATION", "components": [
            {"type": "BODY", "add_security_recommendation": true},
            {"type": "FOOTER", "code_expiration_minutes": 10},
            {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"}]}]}),
    ];
    let mut calls: Vec<(&str, Value)> = templates
        .into_iter()
        .chain([
            super::carousel::carousel_template("plant_carousel"),
            super::carousel::offer_template("spring_offer"),
        ])
        .map(|t| ("whatsapp_create_template", t))
        .collect();
    let to = CUSTOMER;
    calls.extend([
        ("whatsapp_send_message", json!({"to": to, "text": "Hello https://example.com", "preview_url": true})),
        ("whatsapp_send_message", json!({"to": to, "text": "Yes!", "reply_to": inbound})),
        ("whatsapp_send_message", json!({"to": to, "text": "Book it?", "buttons": buttons(), "header": "Appointment", "footer": "Lucky Shrub", "reply_to": inbound})),
        ("whatsapp_send_message", json!({"to": to, "text": "Other times:", "list": list(), "header": "Free slots"})),
        ("whatsapp_send_message", json!({"to": to, "text": "Your booking", "cta_url": {"display_text": "Open", "url": "https://example.com/b/1"}, "footer": "Thanks"})),
        ("whatsapp_send_media", json!({"to": to, "media_type": "image", "link": "https://example.com/a.jpg", "caption": "A plant"})),
        ("whatsapp_send_media", json!({"to": to, "media_type": "video", "media_id": "1013859600285441", "reply_to": inbound})),
        ("whatsapp_send_media", json!({"to": to, "media_type": "document", "link": "https://example.com/inv.pdf", "filename": "invoice.pdf", "caption": "Invoice"})),
        ("whatsapp_send_media", json!({"to": to, "media_type": "audio", "media_id": "1013859600285442"})),
        ("whatsapp_send_template", json!({"to": to, "name": "hello_world", "language": "en_US"})),
        ("whatsapp_send_template", json!({"to": to, "name": "order_update", "language": "en_US", "body_parameters": ["Sam", "#1042"], "reply_to": inbound})),
        ("whatsapp_send_template", json!({"to": to, "name": "order_named", "language": "en_US",
            "header_parameters": {"order_id": "1042"}, "body_parameters": {"first_name": "Mark"}})),
        ("whatsapp_send_template", json!({"to": to, "name": "promo_media", "language": "en_US", "components": [
            {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://example.com/sale.jpg"}}]},
            {"type": "body", "parameters": [
                {"type": "text", "text": "Mark"},
                {"type": "currency", "currency": {"fallback_value": "$10", "code": "USD", "amount_1000": 10000}},
                {"type": "date_time", "date_time": {"fallback_value": "Friday"}}]},
            {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "STOP"}]},
            {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "summer"}]}]})),
        ("whatsapp_send_template", json!({"to": to, "name": "invoice_doc", "language": "en", "components": [
            {"type": "header", "parameters": [{"type": "document", "document": {"id": "1013859600285443"}}]}]})),
        ("whatsapp_create_template", json!({"name": "order_ttl", "language": "en_US", "category": "UTILITY",
            "message_send_ttl_seconds": 3600, "components": [{"type": "BODY", "text": "Your order shipped."}]})),
        ("whatsapp_mark_as_read", json!({"customer": to, "message_id": inbound})),
        ("whatsapp_mark_as_read", json!({"customer": to, "message_id": inbound, "typing_indicator": true})),
        ("whatsapp_send_reaction", json!({"to": to, "message_id": inbound, "emoji": "👍🏽"})),
        ("whatsapp_send_reaction", json!({"to": to, "message_id": inbound, "emoji": ""})),
        ("whatsapp_update_business_profile", json!({"about": "Succulent specialists!", "address": "1 Hacker Way",
            "description": "We grow succulents.", "email": "shop@example.com", "websites": ["https://example.com"], "vertical": "RETAIL"})),
    ]);
    // Carousel and limited-time-offer sends of the templates created above.
    let cards: Vec<Value> = (0..2)
        .map(|i| json!({"card_index": i, "components": [
            {"type": "header", "parameters": [{"type": "image", "image": {"id": "1013859600285441"}}]},
            {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": format!("more-{i}")}]}]}))
        .collect();
    calls.extend([
        (
            "whatsapp_send_template",
            json!({"to": to, "name": "plant_carousel", "language": "en_US", "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "Mark"}]},
            {"type": "carousel", "cards": cards}]}),
        ),
        (
            "whatsapp_send_template",
            json!({"to": to, "name": "spring_offer", "language": "en_US", "components": [
            {"type": "header", "parameters": [{"type": "image", "image": {"id": "1013859600285441"}}]},
            {"type": "limited_time_offer", "parameters": [{"type": "limited_time_offer", "limited_time_offer": {"expiration_time_ms": 1_767_225_599_000_i64}}]},
            {"type": "body", "parameters": [{"type": "text", "text": "Pablo"}, {"type": "text", "text": "SPRING25"}]},
            {"type": "button", "sub_type": "copy_code", "index": "0", "parameters": [{"type": "coupon_code", "coupon_code": "SPRING25"}]},
            {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "SPRING25"}]}]}),
        ),
    ]);
    let n_calls = calls.len();
    env.sandbox.clear_requests();
    for (tool, args) in calls {
        call_ok(&env, tool, args).await;
    }

    let messages = openapi::validator(&openapi::request_schema(MESSAGES_PATH, "post"));
    let templates = openapi::validator(&openapi::request_schema(TEMPLATES_PATH, "post"));
    let profile = openapi::validator(&openapi::request_schema(PROFILE_PATH, "post"));
    let receipts = openapi::validator(&openapi::read_receipt_schema());
    let spec_receipt = openapi::request_example(
        MESSAGES_PATH,
        "post",
        "Send typing indicator and read receipt",
    );
    assert_eq!(
        openapi::errors(&receipts, &spec_receipt),
        Vec::<String>::new()
    );
    let mut no_id = spec_receipt.clone();
    no_id.as_object_mut().unwrap().remove("message_id");
    assert!(!openapi::errors(&receipts, &no_id).is_empty());
    let mut checked = 0;
    let mut failures = Vec::new();
    for r in env.requests().iter().filter(|r| !r.body.is_empty()) {
        let body = r.json().expect("request bodies are JSON");
        let validator = match r.path.rsplit('/').next().unwrap() {
            "messages" if body.get("status").is_some() => &receipts,
            "messages" => &messages,
            "message_templates" => &templates,
            "whatsapp_business_profile" => &profile,
            other => panic!("no schema chosen for a body sent to {other}: {}", r.path),
        };
        let errors = openapi::errors(validator, &body);
        if !errors.is_empty() {
            failures.push(format!("{} {}: {errors:?}\n{body}", r.method, r.path));
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!(checked, n_calls, "one body per call, every one checked");
}

#[tokio::test]
async fn the_mended_spec_still_refuses_bodies_meta_refuses() {
    let messages = openapi::validator(&openapi::request_schema(MESSAGES_PATH, "post"));
    let valid = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER_DIGITS,
                       "type": "interactive", "interactive": {"type": "button", "body": {"text": "Pick"},
                       "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "A"}}]}}});
    assert_eq!(openapi::errors(&messages, &valid), Vec::<String>::new());
    let mut bad: Vec<(&str, Value)> = Vec::new();
    let mut four = valid.clone();
    four["interactive"]["action"]["buttons"] = json!(
        [1, 2, 3, 4]
            .map(|i| json!({"type": "reply", "reply": {"id": i.to_string(), "title": "T"}}))
    );
    bad.push(("four reply buttons", four));
    let mut long_title = valid.clone();
    long_title["interactive"]["action"]["buttons"][0]["reply"]["title"] = json!("t".repeat(21));
    bad.push(("a 21-character button title", long_title));
    let mut stray = valid.clone();
    stray["text"] = json!({"body": "hi"});
    bad.push(("a property of another message type", stray));
    let mut no_product = valid.clone();
    no_product
        .as_object_mut()
        .unwrap()
        .remove("messaging_product");
    bad.push(("no messaging_product", no_product));
    let mut cta = valid.clone();
    cta["interactive"] = json!({"type": "cta_url", "body": {"text": "See"},
        "action": {"name": "cta_url", "parameters": {"display_text": "d".repeat(21), "url": "https://e.com"}}});
    bad.push(("a 21-character URL button label", cta));
    let template = |index: Value| {
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER_DIGITS, "type": "template",
               "template": {"name": "t", "language": {"code": "en", "policy": "deterministic"}, "components": [
                   {"type": "button", "sub_type": "quick_reply", "index": index, "parameters": [{"type": "payload", "payload": "P"}]}]}})
    };
    assert_eq!(
        openapi::errors(&messages, &template(json!("0"))),
        Vec::<String>::new()
    );
    bad.push(("a two-digit button index", template(json!("10"))));
    let with_components = |components: Value| {
        let mut body = template(json!("0"));
        body["template"]["components"] = components;
        body
    };
    let card = |i: u64| json!({"card_index": i, "components": [{"type": "header", "parameters": [{"type": "image", "image": {"id": "1"}}]}]});
    assert_eq!(
        openapi::errors(
            &messages,
            &with_components(json!([{"type": "carousel", "cards": [card(0), card(1)]}]))
        ),
        Vec::<String>::new()
    );
    bad.push((
        "a carousel card index of 10",
        with_components(json!([{"type": "carousel", "cards": [card(10)]}])),
    ));
    bad.push((
        "an offer expiry that is not a number",
        with_components(json!([{"type": "limited_time_offer", "parameters": [
            {"type": "limited_time_offer", "limited_time_offer": {"expiration_time_ms": "soon"}}]}])),
    ));
    bad.push((
        "an unknown template component",
        with_components(json!([{"type": "footer", "parameters": []}])),
    ));
    for (why, body) in bad {
        assert!(
            !openapi::errors(&messages, &body).is_empty(),
            "the mended spec accepts {why}: {body}"
        );
    }
}
