//! Every validation rule, through the real component: bad input is refused
//! with the field, the rule and a fix, and nothing reaches the API.

use serde_json::{Value, json};
use whatsapp_host::tool::ErrorKind;

use crate::common::{CUSTOMER, Env};

/// (tool, arguments, the field the error must name)
fn cases() -> Vec<(&'static str, Value, &'static str)> {
    let to = CUSTOMER;
    vec![
        // Recipients: E.164 with country code.
        (
            "whatsapp_send_message",
            json!({"to": "12", "text": "hi"}),
            "to",
        ),
        (
            "whatsapp_send_message",
            json!({"to": "phone", "text": "hi"}),
            "to",
        ),
        (
            "whatsapp_send_message",
            json!({"to": "+0 650 555 1234", "text": "hi"}),
            "to",
        ),
        (
            "whatsapp_send_message",
            json!({"to": "+1234567890123456", "text": "hi"}),
            "to",
        ),
        ("whatsapp_send_message", json!({"text": "hi"}), "to"),
        // Text.
        (
            "whatsapp_send_message",
            json!({"to": to, "text": ""}),
            "text",
        ),
        (
            "whatsapp_send_message",
            json!({"to": to, "text": "x".repeat(4097)}),
            "text",
        ),
        (
            "whatsapp_send_message",
            json!({"to": to, "text": "hi", "preview_url": "yes"}),
            "preview_url",
        ),
        (
            "whatsapp_send_message",
            json!({"to": to, "text": "hi", "unexpected": 1}),
            "unexpected",
        ),
        // Media.
        (
            "whatsapp_send_media",
            json!({"to": to, "media_type": "gif", "link": "https://e.com/a.gif"}),
            "media_type",
        ),
        (
            "whatsapp_send_media",
            json!({"to": to, "media_type": "image", "link": "ftp://e.com/a.png"}),
            "link",
        ),
        (
            "whatsapp_send_media",
            json!({"to": to, "media_type": "image", "link": "javascript:alert(1)"}),
            "link",
        ),
        (
            "whatsapp_send_media",
            json!({"to": to, "media_type": "image"}),
            "link",
        ),
        (
            "whatsapp_send_media",
            json!({"to": to, "media_type": "image", "link": "https://e.com/a.png", "media_id": "123"}),
            "media_id",
        ),
        (
            "whatsapp_send_media",
            json!({"to": to, "media_type": "image", "media_id": "abc"}),
            "media_id",
        ),
        (
            "whatsapp_send_media",
            json!({"to": to, "media_type": "image", "link": "https://e.com/a.png", "caption": "c".repeat(1025)}),
            "caption",
        ),
        (
            "whatsapp_send_media",
            json!({"to": to, "media_type": "audio", "link": "https://e.com/a.ogg", "caption": "hi"}),
            "caption",
        ),
        (
            "whatsapp_send_media",
            json!({"to": to, "media_type": "image", "link": "https://e.com/a.png", "filename": "a.png"}),
            "filename",
        ),
        (
            "whatsapp_send_media",
            json!({"to": to, "media_type": "document", "link": "https://e.com/a", "filename": "docs/invoice"}),
            "filename",
        ),
        // Template sends.
        (
            "whatsapp_send_template",
            json!({"to": to, "name": "Order-Update", "language": "en_US"}),
            "name",
        ),
        (
            "whatsapp_send_template",
            json!({"to": to, "name": "order_update", "language": "english"}),
            "language",
        ),
        (
            "whatsapp_send_template",
            json!({"to": to, "name": "order_update"}),
            "language",
        ),
        (
            "whatsapp_send_template",
            json!({"to": to, "name": "order_update", "language": "en_US", "body_parameters": [1, 2]}),
            "body_parameters[0]",
        ),
        (
            "whatsapp_send_template",
            json!({"to": to, "name": "order_update", "language": "en_US", "body_parameters": {"First Name": "Sam"}}),
            "body_parameters.First Name",
        ),
        (
            "whatsapp_send_template",
            json!({"to": to, "name": "order_update", "language": "en_US", "body_parameters": ["a"],
                   "components": [{"type": "body", "parameters": [{"type": "text", "text": "a"}]}]}),
            "body_parameters",
        ),
        (
            "whatsapp_send_template",
            json!({"to": to, "name": "order_update", "language": "en_US",
                   "components": [{"type": "button", "sub_type": "url", "index": "x", "parameters": [{"type": "text", "text": "a"}]}]}),
            "components[0].index",
        ),
        (
            "whatsapp_send_template",
            json!({"to": to, "name": "order_update", "language": "en_US",
                   "components": [{"type": "header", "parameters": [{"type": "image", "image": {"link": "ftp://e.com/a.png"}}]}]}),
            "components[0].parameters[0].image.link",
        ),
        // Template creation.
        (
            "whatsapp_create_template",
            json!({"name": "Bad Name", "language": "en_US", "category": "UTILITY", "components": [{"type": "BODY", "text": "hi"}]}),
            "name",
        ),
        (
            "whatsapp_create_template",
            json!({"name": "ok_name", "language": "en_US", "category": "PROMO", "components": [{"type": "BODY", "text": "hi"}]}),
            "category",
        ),
        (
            "whatsapp_create_template",
            json!({"name": "ok_name", "language": "en_US", "category": "UTILITY", "components": [{"type": "FOOTER", "text": "hi"}]}),
            "components",
        ),
        (
            "whatsapp_create_template",
            json!({"name": "ok_name", "language": "en_US", "category": "UTILITY", "components": [{"type": "BODY", "text": "b".repeat(1025)}]}),
            "components[0].text",
        ),
        (
            "whatsapp_create_template",
            json!({"name": "ok_name", "language": "en_US", "category": "UTILITY", "components": [{"type": "BODY", "text": "Hi {{1}}, code {{2}}"}]}),
            "components[0].example.body_text",
        ),
        (
            "whatsapp_create_template",
            json!({"name": "ok_name", "language": "en_US", "category": "UTILITY",
                   "components": [{"type": "BODY", "text": "Hi {{1}} and {{3}}", "example": {"body_text": [["a", "b"]]}}]}),
            "components[0].text",
        ),
        // Business profile.
        ("whatsapp_update_business_profile", json!({}), "arguments"),
        (
            "whatsapp_update_business_profile",
            json!({"about": ""}),
            "about",
        ),
        (
            "whatsapp_update_business_profile",
            json!({"about": "a".repeat(140)}),
            "about",
        ),
        (
            "whatsapp_update_business_profile",
            json!({"address": "a".repeat(257)}),
            "address",
        ),
        (
            "whatsapp_update_business_profile",
            json!({"description": "d".repeat(513)}),
            "description",
        ),
        (
            "whatsapp_update_business_profile",
            json!({"email": "not-an-email"}),
            "email",
        ),
        (
            "whatsapp_update_business_profile",
            json!({"email": format!("{}@example.com", "a".repeat(120))}),
            "email",
        ),
        (
            "whatsapp_update_business_profile",
            json!({"websites": ["https://a.com", "https://b.com", "https://c.com"]}),
            "websites",
        ),
        (
            "whatsapp_update_business_profile",
            json!({"websites": ["ftp://a.com"]}),
            "websites[0]",
        ),
        (
            "whatsapp_update_business_profile",
            json!({"websites": [format!("https://a.com/{}", "p".repeat(250))]}),
            "websites[0]",
        ),
        (
            "whatsapp_update_business_profile",
            json!({"vertical": "SHOPPING"}),
            "vertical",
        ),
        (
            "whatsapp_get_business_profile",
            json!({"fields": ["about", "phone"]}),
            "fields[1]",
        ),
        // Template listing.
        (
            "whatsapp_list_templates",
            json!({"status": ["ACCEPTED"]}),
            "status[0]",
        ),
        (
            "whatsapp_list_templates",
            json!({"category": "PROMO"}),
            "category",
        ),
        ("whatsapp_list_templates", json!({"limit": 0}), "limit"),
        ("whatsapp_list_templates", json!({"limit": 101}), "limit"),
        (
            "whatsapp_list_templates",
            json!({"language": "en-US"}),
            "language",
        ),
        (
            "whatsapp_list_templates",
            json!({"after": "has space"}),
            "after",
        ),
        // Deletion.
        ("whatsapp_delete_template", json!({}), "name"),
        (
            "whatsapp_delete_template",
            json!({"name": "hello_world", "template_id": "12ab"}),
            "template_id",
        ),
        // Status lookups.
        (
            "whatsapp_get_message_status",
            json!({"message_id": ""}),
            "message_id",
        ),
        (
            "whatsapp_get_message_status",
            json!({"message_id": "wamid with spaces"}),
            "message_id",
        ),
    ]
}

#[tokio::test]
async fn each_rule_rejects_bad_input_naming_the_field_and_sends_nothing() {
    let env = Env::new().await;
    let mut failures = Vec::new();
    for (tool, args, field) in cases() {
        match env.call(tool, args.clone()).await {
            Err(e)
                if e.kind == ErrorKind::InvalidArguments && e.field.as_deref() == Some(field) =>
            {
                if e.details.is_empty() || e.hint.is_empty() {
                    failures.push(format!("{tool} {args}: no details or hint: {e:?}"));
                }
            }
            other => failures.push(format!(
                "{tool} {args}: expected invalid `{field}`, got {other:?}"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        env.requests().is_empty(),
        "rejected input reached the API: {:?}",
        env.requests()
    );
}

#[tokio::test]
async fn arguments_that_are_not_a_json_object_are_rejected() {
    let env = Env::new().await;
    for raw in ["[]", "\"text\"", "42", "{not json", "null"] {
        let err = env
            .harness
            .runtime()
            .call_tool("whatsapp_send_message", raw)
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArguments, "{raw}: {err:?}");
    }
    assert!(env.requests().is_empty());
}

#[tokio::test]
async fn a_multi_megabyte_text_is_refused_by_the_component_without_a_request() {
    let env = Env::new().await;
    let err = env
        .call(
            "whatsapp_send_message",
            json!({"to": CUSTOMER, "text": "z".repeat(3 << 20)}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("text"), "{err:?}");
    assert!(err.details.contains("4096"), "{err:?}");
    assert!(env.requests().is_empty());
}

#[tokio::test]
async fn an_unknown_tool_is_named_with_the_list_of_tools() {
    let env = Env::new().await;
    let err = env.call("whatsapp_send_fax", json!({})).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::UnknownTool);
    assert!(err.hint.contains("whatsapp_send_message"), "{err:?}");
}
