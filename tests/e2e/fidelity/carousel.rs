//! Fidelity cases: creating media card carousel and limited-time-offer
//! templates with `whatsapp_create_template`, then sending them; the tool
//! and the sandbox refuse what Meta refuses.

use serde_json::{Value, json};
use whatsapp_host::tool::ErrorKind;

use crate::common::{CUSTOMER, Env};

const HANDLE: &str = "4::aW1hZ2UvanBlZw==:ARb0example";

/// A card as Meta's create example writes it (lower-case types).
fn card(format: &str, body: &str, buttons: Value) -> Value {
    json!({"components": [
        {"type": "header", "format": format, "example": {"header_handle": [HANDLE]}},
        {"type": "body", "text": body},
        {"type": "buttons", "buttons": buttons}]})
}

fn card_buttons(i: usize) -> Value {
    json!([{"type": "quick_reply", "text": "Tell me more"},
           {"type": "url", "text": "Buy now", "url": format!("https://example.com/plant/{i}")}])
}

pub(crate) fn carousel_template(name: &str) -> Value {
    let cards: Vec<Value> = (0..2)
        .map(|i| {
            card(
                "image",
                "Rare succulent, fresh from the greenhouse.",
                card_buttons(i),
            )
        })
        .collect();
    json!({"name": name, "language": "en_US", "category": "MARKETING", "components": [
        {"type": "body", "text": "Hi {{1}}, our new plants have arrived!", "example": {"body_text": [["Mark"]]}},
        {"type": "carousel", "cards": cards}]})
}

pub(crate) fn offer_template(name: &str) -> Value {
    json!({"name": name, "language": "en_US", "category": "MARKETING", "components": [
        {"type": "header", "format": "image", "example": {"header_handle": [HANDLE]}},
        {"type": "limited_time_offer", "limited_time_offer": {"text": "Expiring offer!", "has_expiration": true}},
        {"type": "body", "text": "Good news, {{1}}! Use code {{2}} for 25% off.", "example": {"body_text": [["Pablo", "SPRING25"]]}},
        {"type": "buttons", "buttons": [
            {"type": "copy_code", "example": "SPRING25"},
            {"type": "url", "text": "Book now!", "url": "https://example.com/offer?code={{1}}", "example": ["https://example.com/offer?code=SPRING25"]}]}]})
}

fn last_body(env: &Env) -> Value {
    env.requests()
        .last()
        .expect("a request reached the API")
        .json()
        .expect("a JSON body")
}

#[tokio::test]
async fn a_carousel_template_created_with_the_tool_is_accepted_and_then_sent_with_its_cards() {
    let env = Env::new().await;
    let created = env
        .call(
            "whatsapp_create_template",
            carousel_template("plant_carousel"),
        )
        .await
        .unwrap_or_else(|e| panic!("carousel creation refused: {e:?}"));
    let body = last_body(&env);
    assert_eq!(body["components"][1]["type"], "CAROUSEL");
    let cards = body["components"][1]["cards"].as_array().unwrap();
    assert_eq!(cards.len(), 2);
    assert_eq!(cards[0]["components"][0]["format"], "IMAGE");
    assert_eq!(cards[1]["components"][2]["buttons"][1]["type"], "URL");
    let stored = env
        .sandbox
        .templates()
        .into_iter()
        .find(|t| t.name == "plant_carousel")
        .expect("the sandbox holds the template");
    assert_eq!(created["id"], stored.id.as_str());

    env.sandbox.simulate_inbound(CUSTOMER, "hi");
    let send_cards: Vec<Value> = (0..2)
        .map(|i| json!({"card_index": i, "components": [
            {"type": "header", "parameters": [{"type": "image", "image": {"id": "1013859600285441"}}]},
            {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": format!("more-{i}")}]}]}))
        .collect();
    let sent = env
        .call(
            "whatsapp_send_template",
            json!({"to": CUSTOMER, "name": "plant_carousel", "language": "en_US", "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "Mark"}]},
                {"type": "carousel", "cards": send_cards}]}),
        )
        .await
        .unwrap_or_else(|e| panic!("carousel send refused: {e:?}"));
    let messages = env.sandbox.sent_messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(sent["message_id"], messages[0].id.as_str());
    assert_eq!(
        messages[0].template,
        Some(("plant_carousel".into(), "en_US".into()))
    );
    assert_eq!(
        last_body(&env)["template"]["components"][1]["type"],
        "carousel"
    );
}

#[tokio::test]
async fn a_limited_time_offer_template_created_with_the_tool_is_accepted_and_then_sent() {
    let env = Env::new().await;
    env.call("whatsapp_create_template", offer_template("spring_offer"))
        .await
        .unwrap_or_else(|e| panic!("offer creation refused: {e:?}"));
    let body = last_body(&env);
    assert_eq!(body["components"][1]["type"], "LIMITED_TIME_OFFER");
    assert_eq!(
        body["components"][1]["limited_time_offer"],
        json!({"text": "Expiring offer!", "has_expiration": true})
    );
    env.sandbox.simulate_inbound(CUSTOMER, "hi");
    env.call(
        "whatsapp_send_template",
        json!({"to": CUSTOMER, "name": "spring_offer", "language": "en_US", "components": [
            {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://example.com/spring.jpg"}}]},
            {"type": "limited_time_offer", "parameters": [{"type": "limited_time_offer", "limited_time_offer": {"expiration_time_ms": 1_767_225_599_000_i64}}]},
            {"type": "body", "parameters": [{"type": "text", "text": "Pablo"}, {"type": "text", "text": "SPRING25"}]},
            {"type": "button", "sub_type": "copy_code", "index": "0", "parameters": [{"type": "coupon_code", "coupon_code": "SPRING25"}]},
            {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "SPRING25"}]}]}),
    )
    .await
    .unwrap_or_else(|e| panic!("offer send refused: {e:?}"));
    assert_eq!(env.sandbox.sent_messages().len(), 1);
}

/// Templates Meta refuses, each with the argument the tool's error must name.
fn refused_cases() -> Vec<(&'static str, Value, &'static str)> {
    let mut mixed = carousel_template("mixed_headers");
    mixed["components"][1]["cards"][1] = card("video", "A card", card_buttons(1));
    let mut one_card = carousel_template("one_card");
    one_card["components"][1]["cards"]
        .as_array_mut()
        .unwrap()
        .truncate(1);
    let mut long_card = carousel_template("long_card");
    long_card["components"][1]["cards"][0]["components"][1]["text"] = json!("a".repeat(161));
    let mut other_buttons = carousel_template("other_buttons");
    other_buttons["components"][1]["cards"][1] = card(
        "image",
        "A card",
        json!([{"type": "quick_reply", "text": "More"}]),
    );
    let mut text_card = carousel_template("text_card");
    text_card["components"][1]["cards"][0]["components"][0] =
        json!({"type": "header", "format": "text", "text": "Hello"});
    let mut beside = carousel_template("beside");
    beside["components"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "footer", "text": "Reply STOP"}));
    let mut auth = carousel_template("auth_carousel");
    auth["category"] = json!("AUTHENTICATION");
    let mut long_offer = offer_template("long_offer");
    long_offer["components"][1]["limited_time_offer"]["text"] = json!("Expiring offer!!!");
    let mut footer_offer = offer_template("footer_offer");
    footer_offer["components"][0] = json!({"type": "footer", "text": "Reply STOP"});
    let mut utility_offer = offer_template("utility_offer");
    utility_offer["category"] = json!("UTILITY");
    let mut no_code = offer_template("no_code");
    no_code["components"][3]["buttons"]
        .as_array_mut()
        .unwrap()
        .remove(0);
    vec![
        (
            "cards with different header formats",
            mixed,
            "components[1].cards[1].components[0].format",
        ),
        ("a carousel of one card", one_card, "components[1].cards"),
        (
            "a card body over 160 characters",
            long_card,
            "components[1].cards[0].components[1].text",
        ),
        (
            "cards with different buttons",
            other_buttons,
            "components[1].cards[1].components",
        ),
        (
            "a card with a text header",
            text_card,
            "components[1].cards[0].components[0].format",
        ),
        ("a footer beside the carousel", beside, "components[2].type"),
        ("an authentication carousel", auth, "category"),
        (
            "an offer text over 16 characters",
            long_offer,
            "components[1].limited_time_offer.text",
        ),
        ("a footer in an offer", footer_offer, "components[0]"),
        ("a utility offer", utility_offer, "category"),
        (
            "an expiring offer without its copy-code button first",
            no_code,
            "components[3].buttons[0]",
        ),
    ]
}

#[tokio::test]
async fn carousel_and_offer_templates_meta_refuses_are_refused_naming_the_field_and_nothing_is_sent()
 {
    let env = Env::new().await;
    let mut failures = Vec::new();
    for (case, args, field) in refused_cases() {
        match env.call("whatsapp_create_template", args).await {
            Err(e)
                if e.kind == ErrorKind::InvalidArguments && e.field.as_deref() == Some(field) =>
            {
                if e.details.is_empty() || e.hint.is_empty() {
                    failures.push(format!("{case}: no details or hint: {e:?}"));
                }
            }
            other => failures.push(format!("{case}: expected invalid `{field}`, got {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(env.requests().is_empty(), "{:?}", env.requests());
}

#[tokio::test]
async fn the_sandbox_accepts_the_carousel_and_offer_shapes_meta_documents_and_refuses_the_rest() {
    let env = Env::new().await;
    whatsapp_host::install_crypto_provider();
    let url = format!(
        "{}/v23.0/{}/message_templates",
        env.sandbox.base_url(),
        env.waba_id()
    );
    let client = reqwest::Client::new();
    let mut failures = Vec::new();
    let mut cases: Vec<(&str, Value, u16)> = vec![
        ("a carousel", carousel_template("raw_carousel"), 200),
        ("an offer", offer_template("raw_offer"), 200),
    ];
    cases.extend(
        refused_cases()
            .into_iter()
            .map(|(case, args, _)| (case, args, 400)),
    );
    for (case, body, want) in cases {
        let resp = client
            .post(&url)
            .bearer_auth(env.token())
            .json(&body)
            .send()
            .await
            .expect("the sandbox answers");
        let status = resp.status().as_u16();
        if status != want {
            let text = resp.text().await.unwrap_or_default();
            failures.push(format!("{case}: expected {want}, got {status}: {text}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
