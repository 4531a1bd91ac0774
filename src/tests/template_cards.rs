//! Carousel and limited-time-offer template sends, and the time-to-live of a
//! new template.

use serde_json::{Value, json};

use super::{assert_invalid, call, send_ok};
use crate::testing::FakeHost;

const SEND: &str = "whatsapp_send_template";

fn send(components: Value) -> Value {
    json!({"to": "+16505551234", "name": "plant_carousel", "language": "en_US", "components": components})
}

fn card(index: u64) -> Value {
    json!({"card_index": index, "components": [
        {"type": "header", "parameters": [{"type": "image", "image": {"id": "1013859600285441"}}]},
        {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": format!("more-{index}")}]}]})
}

#[test]
fn a_carousel_is_sent_with_one_entry_per_card() {
    let host = FakeHost::new();
    host.respond(200, &send_ok());
    let components = json!([
        {"type": "body", "parameters": [{"type": "text", "text": "Mark"}]},
        {"type": "carousel", "cards": [card(0), card(1)]}]);
    call(&host, SEND, send(components.clone())).unwrap();
    assert_eq!(host.last_body()["template"]["components"], components);
}

#[test]
fn a_limited_time_offer_is_sent_with_its_expiry_in_milliseconds() {
    let host = FakeHost::new();
    host.respond(200, &send_ok());
    let components = json!([
        {"type": "limited_time_offer", "parameters": [{"type": "limited_time_offer", "limited_time_offer": {"expiration_time_ms": 1_767_225_599_000_i64}}]},
        {"type": "button", "sub_type": "copy_code", "index": "0", "parameters": [{"type": "coupon_code", "coupon_code": "SPRING25"}]}]);
    call(&host, SEND, send(components.clone())).unwrap();
    assert_eq!(host.last_body()["template"]["components"], components);
}

#[test]
fn carousels_and_offers_outside_the_rules_are_refused_naming_the_field() {
    let host = FakeHost::new();
    let carousel = |cards: Value| send(json!([{"type": "carousel", "cards": cards}]));
    let eleven: Vec<Value> = (0..11).map(|i| card(i % 10)).collect();
    assert_invalid(&host, SEND, carousel(json!(eleven)), "components[0].cards");
    assert_invalid(&host, SEND, carousel(json!([])), "components[0].cards");
    assert_invalid(
        &host,
        SEND,
        carousel(json!([card(0), card(0)])),
        "components[0].cards[1].card_index",
    );
    assert_invalid(
        &host,
        SEND,
        carousel(json!([card(10)])),
        "components[0].cards[0].card_index",
    );
    let e = assert_invalid(
        &host,
        SEND,
        carousel(
            json!([{"card_index": 0, "components": [{"type": "body", "parameters": [{"type": "text", "text": "x"}]}]}]),
        ),
        "components[0].cards[0].components",
    );
    assert!(e.details.contains("header"), "{e:?}");
    assert_invalid(
        &host,
        SEND,
        carousel(json!([{"card_index": 0, "components": [{"type": "header", "parameters": []}]}])),
        "components[0].cards[0].components[0].parameters",
    );
    let offer = |p: Value| send(json!([{"type": "limited_time_offer", "parameters": p}]));
    assert_invalid(
        &host,
        SEND,
        offer(
            json!([{"type": "limited_time_offer", "limited_time_offer": {"expiration_time_ms": "tomorrow"}}]),
        ),
        "components[0].parameters[0].limited_time_offer.expiration_time_ms",
    );
    assert_invalid(
        &host,
        SEND,
        offer(json!([{"type": "text", "text": "x"}])),
        "components[0].parameters[0].type",
    );
    assert_invalid(&host, SEND, offer(json!([])), "components[0].parameters");
}

#[test]
fn create_template_sends_message_send_ttl_seconds_within_meta_bounds() {
    let args = |ttl: Value| {
        json!({"name": "login_code", "language": "en_US", "category": "UTILITY", "message_send_ttl_seconds": ttl,
               "components": [{"type": "BODY", "text": "Your order shipped."}]})
    };
    let host = FakeHost::new();
    host.respond(200, r#"{"id":"1","status":"PENDING","category":"UTILITY"}"#);
    call(&host, "whatsapp_create_template", args(json!(600))).unwrap();
    assert_eq!(host.last_body()["message_send_ttl_seconds"], 600);
    for bad in [json!(29), json!(2_592_001)] {
        let e = assert_invalid(
            &host,
            "whatsapp_create_template",
            args(bad),
            "message_send_ttl_seconds",
        );
        assert!(e.details.contains("30 days"), "{e:?}");
    }
    assert_invalid(
        &host,
        "whatsapp_create_template",
        args(json!("10m")),
        "message_send_ttl_seconds",
    );
}
