//! Interactive messages (reply buttons, lists, a URL button) and replies
//! (`reply_to`) on every send tool.

use serde_json::{Value, json};

use super::{assert_invalid, call, input_schema_accepts, send_ok};
use crate::testing::{FakeHost, NOW_S, PNID, WABA};
use crate::webhooks::ingest;

const SEND: &str = "whatsapp_send_message";

fn sent(args: Value) -> Value {
    let host = FakeHost::new();
    host.respond(200, &send_ok());
    call(&host, SEND, args).unwrap();
    host.last_body()
}

fn base(extra: Value) -> Value {
    let mut args = json!({"to": "+16505551234", "text": "Is 3 pm on Monday fine?"});
    for (k, v) in extra.as_object().unwrap() {
        args[k] = v.clone();
    }
    args
}

#[test]
fn reply_buttons_are_sent_as_an_interactive_button_message_with_header_and_footer() {
    let body = sent(base(json!({
        "buttons": [{"id": "yes", "title": "Yes"}, {"id": "other-time", "title": "Another time"}],
        "header": "Your appointment",
        "footer": "Lucky Shrub",
    })));
    assert_eq!(
        body,
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234",
               "type": "interactive", "interactive": {
                   "type": "button",
                   "header": {"type": "text", "text": "Your appointment"},
                   "body": {"text": "Is 3 pm on Monday fine?"},
                   "footer": {"text": "Lucky Shrub"},
                   "action": {"buttons": [
                       {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                       {"type": "reply", "reply": {"id": "other-time", "title": "Another time"}}]}}})
    );
}

#[test]
fn a_list_is_sent_with_its_sections_rows_and_descriptions() {
    let body = sent(base(json!({"list": {"button": "Pick a slot", "sections": [
        {"title": "Monday", "rows": [{"id": "mon-9", "title": "9:00", "description": "Main St."}]},
        {"title": "Tuesday", "rows": [{"id": "tue-9", "title": "9:00"}, {"id": "tue-10", "title": "10:00"}]}]}})));
    assert_eq!(body["type"], "interactive");
    assert_eq!(
        body["interactive"],
        json!({"type": "list", "body": {"text": "Is 3 pm on Monday fine?"}, "action": {"button": "Pick a slot", "sections": [
            {"title": "Monday", "rows": [{"id": "mon-9", "title": "9:00", "description": "Main St."}]},
            {"title": "Tuesday", "rows": [{"id": "tue-9", "title": "9:00"}, {"id": "tue-10", "title": "10:00"}]}]}})
    );
    // One section needs no title.
    let body = sent(base(
        json!({"list": {"button": "Pick", "sections": [{"rows": [{"id": "a", "title": "A"}]}]}}),
    ));
    assert_eq!(
        body["interactive"]["action"]["sections"],
        json!([{"rows": [{"id": "a", "title": "A"}]}])
    );
}

#[test]
fn a_url_button_is_sent_as_a_cta_url_action() {
    let body = sent(base(
        json!({"cta_url": {"display_text": "Track the order", "url": "https://example.com/o/1042?x=1"}}),
    ));
    assert_eq!(
        body["interactive"],
        json!({"type": "cta_url", "body": {"text": "Is 3 pm on Monday fine?"},
               "action": {"name": "cta_url", "parameters": {"display_text": "Track the order", "url": "https://example.com/o/1042?x=1"}}})
    );
}

#[test]
fn reply_buttons_outside_meta_limits_are_refused_naming_the_field_and_rule() {
    let host = FakeHost::new();
    let b = |id: &str, title: &str| json!({"id": id, "title": title});
    let four = json!([b("a", "A"), b("b", "B"), b("c", "C"), b("d", "D")]);
    let e = assert_invalid(&host, SEND, base(json!({ "buttons": four })), "buttons");
    assert!(e.details.contains("1 to 3"), "{e:?}");
    assert_invalid(&host, SEND, base(json!({"buttons": []})), "buttons");
    let long_title = "x".repeat(21);
    let e = assert_invalid(
        &host,
        SEND,
        base(json!({"buttons": [b("a", "A"), b("b", &long_title)]})),
        "buttons[1].title",
    );
    assert!(e.details.contains("at most 20"), "{e:?}");
    assert_invalid(
        &host,
        SEND,
        base(json!({"buttons": [b(&"i".repeat(257), "A")]})),
        "buttons[0].id",
    );
    assert_invalid(
        &host,
        SEND,
        base(json!({"buttons": [b(" a", "A")]})),
        "buttons[0].id",
    );
    let e = assert_invalid(
        &host,
        SEND,
        base(json!({"buttons": [b("a", "Same"), b("b", "Same")]})),
        "buttons[1].title",
    );
    assert!(e.details.contains("unique"), "{e:?}");
    assert_invalid(
        &host,
        SEND,
        base(json!({"buttons": [b("a", "A"), b("a", "B")]})),
        "buttons[1].id",
    );
    assert_invalid(
        &host,
        SEND,
        base(json!({"buttons": [{"id": "a"}]})),
        "buttons[0].title",
    );
    assert_invalid(
        &host,
        SEND,
        base(json!({"buttons": [{"id": "a", "title": "A", "emoji": "x"}]})),
        "buttons[0].emoji",
    );
    // Meta allows 20 characters, counted as characters, not bytes.
    host.respond(200, &send_ok());
    call(
        &host,
        SEND,
        base(json!({"buttons": [b("a", &"é".repeat(20))]})),
    )
    .unwrap();
}

#[test]
fn lists_outside_meta_limits_are_refused_naming_the_field_and_rule() {
    let host = FakeHost::new();
    let row = |id: String| json!({"id": id, "title": "Row"});
    let list = |sections: Value| base(json!({"list": {"button": "Open", "sections": sections}}));
    let eleven: Vec<Value> = (0..11).map(|i| row(format!("r{i}"))).collect();
    let e = assert_invalid(
        &host,
        SEND,
        list(json!([{"title": "A", "rows": eleven[..6]}, {"title": "B", "rows": eleven[6..]}])),
        "list.sections",
    );
    assert!(e.details.contains("11 rows"), "{e:?}");
    let e = assert_invalid(
        &host,
        SEND,
        list(json!([{"title": "A", "rows": [row("a".into())]}, {"rows": [row("b".into())]}])),
        "list.sections[1].title",
    );
    assert!(e.details.contains("more than one section"), "{e:?}");
    assert_invalid(
        &host,
        SEND,
        list(
            json!([{"title": "A", "rows": [row("a".into())]}, {"title": "B", "rows": [row("a".into())]}]),
        ),
        "list.sections[1].rows[0].id",
    );
    assert_invalid(&host, SEND, list(json!([])), "list.sections");
    assert_invalid(
        &host,
        SEND,
        list(json!([{"rows": []}])),
        "list.sections[0].rows",
    );
    assert_invalid(
        &host,
        SEND,
        list(json!([{"rows": [{"id": "a", "title": "x".repeat(25)}]}])),
        "list.sections[0].rows[0].title",
    );
    assert_invalid(
        &host,
        SEND,
        list(json!([{"rows": [{"id": "a", "title": "A", "description": "d".repeat(73)}]}])),
        "list.sections[0].rows[0].description",
    );
    assert_invalid(
        &host,
        SEND,
        list(json!([{"rows": [{"id": "i".repeat(201), "title": "A"}]}])),
        "list.sections[0].rows[0].id",
    );
    assert_invalid(
        &host,
        SEND,
        list(json!([{"title": "t".repeat(25), "rows": [row("a".into())]}])),
        "list.sections[0].title",
    );
    assert_invalid(
        &host,
        SEND,
        base(
            json!({"list": {"button": "b".repeat(21), "sections": [{"rows": [row("a".into())]}]}}),
        ),
        "list.button",
    );
    assert_invalid(
        &host,
        SEND,
        base(json!({"list": {"sections": [{"rows": [row("a".into())]}]}})),
        "list.button",
    );
    assert_invalid(
        &host,
        SEND,
        base(json!({"list": {"button": "Open"}})),
        "list.sections",
    );
}

#[test]
fn url_buttons_need_a_short_label_and_a_web_address() {
    let host = FakeHost::new();
    let cta = |text: &str, url: &str| base(json!({"cta_url": {"display_text": text, "url": url}}));
    assert_invalid(
        &host,
        SEND,
        cta(&"x".repeat(21), "https://example.com"),
        "cta_url.display_text",
    );
    for bad in [
        "javascript:alert(1)",
        "ftp://example.com/a",
        "https://",
        "https://user:pw@example.com/",
        "https://example.com/a b",
    ] {
        let e = assert_invalid(&host, SEND, cta("Open", bad), "cta_url.url");
        assert!(e.hint.contains("https://"), "{e:?}");
    }
    host.respond(200, &send_ok());
    call(&host, SEND, cta("Open", "http://example.com/plain")).unwrap();
}

#[test]
fn interactive_arguments_that_do_not_fit_together_are_refused() {
    let host = FakeHost::new();
    let buttons = json!([{"id": "a", "title": "A"}]);
    let cta = json!({"display_text": "Open", "url": "https://example.com"});
    let e = assert_invalid(
        &host,
        SEND,
        base(json!({"buttons": buttons, "cta_url": cta})),
        "cta_url",
    );
    assert!(e.details.contains("one interactive form"), "{e:?}");
    let e = assert_invalid(&host, SEND, base(json!({"header": "Hi"})), "header");
    assert!(e.hint.contains("buttons"), "{e:?}");
    assert_invalid(&host, SEND, base(json!({"footer": "Bye"})), "footer");
    assert_invalid(
        &host,
        SEND,
        base(json!({"buttons": buttons, "preview_url": true})),
        "preview_url",
    );
    assert_invalid(
        &host,
        SEND,
        base(json!({"buttons": buttons, "header": "h".repeat(61)})),
        "header",
    );
    assert_invalid(
        &host,
        SEND,
        base(json!({"buttons": buttons, "footer": "f".repeat(61)})),
        "footer",
    );
    assert_invalid(
        &host,
        SEND,
        base(json!({"buttons": {"id": "a"}})),
        "buttons",
    );
    // The body of an interactive message is 1024 characters at most; plain text keeps 4096.
    let mut long = base(json!({ "buttons": buttons }));
    long["text"] = Value::from("é".repeat(1025));
    let e = assert_invalid(&host, SEND, long.clone(), "text");
    assert!(e.details.contains("1024"), "{e:?}");
    long["text"] = Value::from("é".repeat(1024));
    host.respond(200, &send_ok());
    call(&host, SEND, long).unwrap();
}

#[test]
fn every_send_tool_sends_reply_to_as_the_context_message_id() {
    let wamid = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTg5";
    for (tool, args) in [
        (
            SEND,
            json!({"to": "+16505551234", "text": "Yes", "reply_to": wamid}),
        ),
        (
            SEND,
            json!({"to": "+16505551234", "text": "Which?", "reply_to": wamid,
                   "buttons": [{"id": "a", "title": "A"}]}),
        ),
        (
            "whatsapp_send_template",
            json!({"to": "+16505551234", "name": "order_update", "language": "en_US", "reply_to": wamid}),
        ),
        (
            "whatsapp_send_media",
            json!({"to": "+16505551234", "media_type": "image", "media_id": "123", "reply_to": wamid}),
        ),
    ] {
        let host = FakeHost::new();
        host.respond(200, &send_ok());
        call(&host, tool, args).unwrap();
        assert_eq!(
            host.last_body()["context"],
            json!({ "message_id": wamid }),
            "{tool}"
        );
    }
}

#[test]
fn reply_to_must_be_a_whatsapp_message_id() {
    let host = FakeHost::new();
    for tool_args in [
        json!({"to": "+16505551234", "text": "Yes"}),
        json!({"to": "+16505551234", "name": "order_update", "language": "en_US"}),
        json!({"to": "+16505551234", "media_type": "image", "media_id": "123"}),
    ] {
        let tool = if tool_args.get("text").is_some() {
            SEND
        } else if tool_args.get("name").is_some() {
            "whatsapp_send_template"
        } else {
            "whatsapp_send_media"
        };
        for bad in ["12345", "wamid.", "wamid.has space", "msg.ABC"] {
            let mut args = tool_args.clone();
            args["reply_to"] = Value::from(bad);
            let e = assert_invalid(&host, tool, args.clone(), "reply_to");
            assert!(e.hint.contains("wamid."), "{tool} {bad}: {e:?}");
            assert!(!input_schema_accepts(tool, &args), "{tool} {bad}");
        }
    }
}

#[test]
fn a_tapped_button_or_picked_row_opens_the_window_like_any_inbound_message() {
    for reply in [
        json!({"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes"}}),
        json!({"type": "list_reply", "list_reply": {"id": "mon-9", "title": "9:00", "description": "Main St."}}),
    ] {
        let host = FakeHost::new();
        host.set("window-policy", "enforce");
        let webhook = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PNID},
            "contacts": [{"wa_id": "16505551234", "profile": {"name": "Sheena"}}],
            "messages": [{"from": "16505551234", "id": "wamid.in", "timestamp": (NOW_S - 60).to_string(),
                          "type": "interactive", "interactive": reply,
                          "context": {"from": "15550783881", "id": "wamid.out"}}]}}]}]});
        assert_eq!(
            ingest(&host, webhook.to_string().as_bytes())
                .unwrap()
                .messages,
            1
        );
        host.respond(200, &send_ok());
        let out = call(
            &host,
            SEND,
            json!({"to": "+16505551234", "text": "Booked!", "reply_to": "wamid.in"}),
        )
        .unwrap();
        assert_eq!(out["window"]["state"], "open");
    }
}
