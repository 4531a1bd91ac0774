use serde_json::json;

use super::{GRAPH, assert_invalid, call, input_schema_accepts};
use crate::host::Method;
use crate::testing::{FakeHost, NOW_S, WABA};

const LIST: &str = r##"{"data":[
 {"id":"1192339204654487","name":"order_update","language":"en_US","status":"APPROVED","category":"UTILITY","parameter_format":"POSITIONAL",
  "components":[{"type":"HEADER","format":"TEXT","text":"Order {{1}}"},
                {"type":"BODY","text":"Hi {{1}}, order {{2}} ships {{3}}.","example":{"body_text":[["Mark","#1","today"]]}},
                {"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Stop"},{"type":"URL","text":"Track","url":"https://x.com/t/{{1}}"}]}],
  "quality_score":{"score":"GREEN"}},
 {"id":"2","name":"welcome","language":"en","status":"BRAND_NEW_STATUS","category":"MARKETING",
  "components":[{"type":"HEADER","format":"IMAGE"},{"type":"BODY","text":"Hello {{first_name}}, use {{code}} or {{first_name}}"}]}],
 "paging":{"cursors":{"before":"MAZDZD","after":"MjQZD"},"next":"https://graph.facebook.com/v23.0/x?after=MjQZD"}}"##;

#[test]
fn list_templates_sends_fields_limit_and_encoded_filters() {
    let host = FakeHost::new();
    host.respond(200, LIST);
    let out = call(
        &host,
        "whatsapp_list_templates",
        json!({"status": ["APPROVED", "PENDING"], "category": "UTILITY", "language": "en_US", "name": "order", "limit": 50, "after": "MjQ=ZD+/"}),
    )
    .unwrap();
    let req = host.last_request();
    assert_eq!(req.method, Method::Get);
    assert!(req.body.is_none());
    assert_eq!(
        req.url,
        format!(
            "{GRAPH}/{WABA}/message_templates?fields=id,name,language,status,category,sub_category,previous_category,parameter_format,components,quality_score,rejected_reason&limit=50&name=order&status=APPROVED,PENDING&category=UTILITY&language=en_US&after=MjQ%3DZD%2B%2F"
        )
    );
    assert_eq!(out["count"], 2);
    assert_eq!(out["next_cursor"], "MjQZD");
    let t0 = &out["templates"][0];
    assert_eq!(t0["body_parameter_count"], 3);
    assert_eq!(t0["header_parameter_count"], 1);
    assert_eq!(t0["body_text"], "Hi {{1}}, order {{2}} ships {{3}}.");
    assert_eq!(t0["quality_score"], "GREEN");
    assert_eq!(
        t0["button_parameters"],
        json!([{"index": "1", "sub_type": "url", "parameter_type": "text"}])
    );
    let t1 = &out["templates"][1];
    assert_eq!(
        t1["status"], "BRAND_NEW_STATUS",
        "unknown enum values are kept"
    );
    assert_eq!(t1["parameter_format"], "NAMED");
    assert_eq!(t1["body_parameter_count"], 2);
    assert_eq!(t1["body_parameter_names"], json!(["first_name", "code"]));
    assert_eq!(
        t1["header_parameter_count"], 1,
        "an image header needs one media parameter"
    );
    // Statuses seen are remembered for the enforce policy.
    assert_eq!(
        host.kv_json("tpl/order_update/en_US").unwrap()["status"],
        "APPROVED"
    );
}

#[test]
fn list_templates_keeps_each_templates_text_for_the_hosts_rules() {
    let host = FakeHost::new();
    host.respond(200, LIST);
    call(&host, "whatsapp_list_templates", json!({})).unwrap();
    assert_eq!(
        host.kv_json("tpltext/order_update/en_US").unwrap(),
        json!({"body": "Hi {{1}}, order {{2}} ships {{3}}.", "header": "Order {{1}}"})
    );
    assert_eq!(
        host.kv_json("tpltext/welcome/en").unwrap(),
        json!({"body": "Hello {{first_name}}, use {{code}} or {{first_name}}"})
    );
}

#[test]
fn list_templates_defaults_to_25_and_has_no_cursor_on_the_last_page() {
    let host = FakeHost::new();
    host.respond(
        200,
        r#"{"data":[],"paging":{"cursors":{"before":"A","after":"B"}}}"#,
    );
    let out = call(&host, "whatsapp_list_templates", json!({})).unwrap();
    assert!(host.last_request().url.ends_with("&limit=25"));
    assert_eq!(out, json!({"templates": [], "count": 0}));
}

#[test]
fn list_templates_validation_rejects_each_rule() {
    let host = FakeHost::new();
    let n = "whatsapp_list_templates";
    assert_invalid(&host, n, json!({"status": "APPROVED"}), "status");
    assert_invalid(&host, n, json!({"status": []}), "status");
    assert_invalid(&host, n, json!({"status": ["approved"]}), "status[0]");
    assert_invalid(
        &host,
        n,
        json!({"status": ["APPROVED", "APPROVED"]}),
        "status[1]",
    );
    assert_invalid(&host, n, json!({"category": "PROMO"}), "category");
    assert_invalid(&host, n, json!({"language": "en-US"}), "language");
    assert_invalid(&host, n, json!({"name": "Bad Name"}), "name");
    assert_invalid(&host, n, json!({"limit": 0}), "limit");
    assert_invalid(&host, n, json!({"limit": 101}), "limit");
    assert_invalid(&host, n, json!({"limit": 2.5}), "limit");
    assert_invalid(&host, n, json!({"after": "a b"}), "after");
    assert_invalid(&host, n, json!({"page": 2}), "page");
    assert!(!input_schema_accepts(n, &json!({"limit": 101})));
}

#[test]
fn missing_waba_id_is_an_internal_error_naming_the_env_var() {
    let host = FakeHost::new();
    host.unset("waba-id");
    let e = call(&host, "whatsapp_list_templates", json!({})).unwrap_err();
    assert_eq!(e.kind, crate::error::ErrorKind::Internal);
    assert!(e.hint.contains("WHATSAPP_WABA_ID") && e.details.contains("waba-id"));
}

fn create_args() -> serde_json::Value {
    json!({
        "name": "seasonal_promotion", "language": "en", "category": "MARKETING", "parameter_format": "POSITIONAL",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Our {{1}} is on!", "example": {"header_text": ["Summer Sale"]}},
            {"type": "BODY", "text": "Shop now through {{1}} and use code {{2}} to get {{3}} off.",
             "example": {"body_text": [["the end of August", "25OFF", "25%"]]}},
            {"type": "FOOTER", "text": "Use the buttons below to manage your subscriptions"},
            {"type": "BUTTONS", "buttons": [
                {"type": "QUICK_REPLY", "text": "Unsubscribe"},
                {"type": "URL", "text": "Shop Now", "url": "https://x.com/shop?promo={{1}}", "example": ["summer2023"]},
                {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "16467043595"}]}
        ]
    })
}

#[test]
fn create_template_posts_the_definition_and_remembers_it_as_pending() {
    let host = FakeHost::new();
    host.respond(
        200,
        r#"{"id":"1689556908129832","status":"PENDING","category":"MARKETING"}"#,
    );
    let args = create_args();
    assert!(input_schema_accepts("whatsapp_create_template", &args));
    let out = call(&host, "whatsapp_create_template", args.clone()).unwrap();
    let req = host.last_request();
    assert_eq!(req.method, Method::Post);
    assert_eq!(req.url, format!("{GRAPH}/{WABA}/message_templates"));
    let mut expected = args.clone();
    expected
        .as_object_mut()
        .unwrap()
        .remove("allow_category_change");
    assert_eq!(host.last_body(), expected);
    assert_eq!(out["id"], "1689556908129832");
    assert_eq!(out["status"], "PENDING");
    assert!(
        out["note"]
            .as_str()
            .unwrap()
            .contains("whatsapp_list_templates")
    );
    let rec = host.kv_json("tpl/seasonal_promotion/en").unwrap();
    assert_eq!(rec["status"], "PENDING");
    assert_eq!(rec["updated_at"], NOW_S);
}

#[test]
fn create_template_accepts_named_parameters_with_named_examples() {
    let host = FakeHost::new();
    host.respond(
        200,
        r#"{"id":"1","status":"APPROVED","category":"UTILITY"}"#,
    );
    call(
        &host,
        "whatsapp_create_template",
        json!({"name": "order_named", "language": "en_US", "category": "UTILITY", "parameter_format": "NAMED",
               "allow_category_change": true,
               "components": [{"type": "BODY", "text": "Hi {{first_name}}, order {{order_id}} ({{first_name}})",
                  "example": {"body_text_named_params": [{"param_name": "first_name", "example": "Mark"}, {"param_name": "order_id", "example": "#1"}]}}]}),
    )
    .unwrap();
    assert_eq!(host.last_body()["allow_category_change"], true);
}

#[test]
fn create_template_validation_rejects_each_rule_and_sends_nothing() {
    let host = FakeHost::new();
    let n = "whatsapp_create_template";
    let with = |path: &str, v: serde_json::Value| {
        let mut a = create_args();
        let ptr = a.pointer_mut(path).unwrap_or_else(|| panic!("{path}"));
        *ptr = v;
        a
    };
    assert_invalid(&host, n, with("/name", json!("Seasonal")), "name");
    assert_invalid(&host, n, with("/category", json!("PROMO")), "category");
    assert_invalid(
        &host,
        n,
        with("/parameter_format", json!("positional")),
        "parameter_format",
    );
    assert_invalid(
        &host,
        n,
        with("/components", json!([{"type": "FOOTER", "text": "x"}])),
        "components",
    );
    assert_invalid(
        &host,
        n,
        with("/components/1/text", json!("x".repeat(1025))),
        "components[1].text",
    );
    assert_invalid(
        &host,
        n,
        with("/components/1/text", json!("Hi {{1}} and {{3}}")),
        "components[1].text",
    );
    assert_invalid(
        &host,
        n,
        with("/components/1/text", json!("Hi {{ 1 }}")),
        "components[1].text",
    );
    assert_invalid(
        &host,
        n,
        with("/components/1/text", json!("Hi {{first_name}}")),
        "components[1].text",
    );
    assert_invalid(
        &host,
        n,
        with("/components/1/example", json!({"body_text": [["a", "b"]]})),
        "components[1].example.body_text",
    );
    assert_invalid(
        &host,
        n,
        with(
            "/components/1/example",
            json!({"body_text": ["a", "b", "c"]}),
        ),
        "components[1].example.body_text",
    );
    assert_invalid(
        &host,
        n,
        with("/components/1/example", json!({})),
        "components[1].example.body_text",
    );
    assert_invalid(
        &host,
        n,
        with("/components/0/text", json!("x".repeat(61))),
        "components[0].text",
    );
    assert_invalid(
        &host,
        n,
        with("/components/0/text", json!("{{1}} and {{2}}")),
        "components[0].text",
    );
    assert_invalid(
        &host,
        n,
        with("/components/0/example", json!({"header_text": []})),
        "components[0].example.header_text",
    );
    assert_invalid(
        &host,
        n,
        with("/components/2/text", json!("Hi {{1}}")),
        "components[2].text",
    );
    assert_invalid(
        &host,
        n,
        with("/components/2/text", json!("x".repeat(61))),
        "components[2].text",
    );
    assert_invalid(
        &host,
        n,
        with("/components/3/buttons/0/text", json!("x".repeat(26))),
        "components[3].buttons[0].text",
    );
    assert_invalid(
        &host,
        n,
        with("/components/3/buttons/1/url", json!("ftp://x.com/shop")),
        "components[3].buttons[1].url",
    );
    assert_invalid(
        &host,
        n,
        with(
            "/components/3/buttons/1/url",
            json!("https://x.com/{{1}}/shop"),
        ),
        "components[3].buttons[1].url",
    );
    assert_invalid(
        &host,
        n,
        with("/components/3/buttons/1/example", json!([])),
        "components[3].buttons[1].example",
    );
    assert_invalid(
        &host,
        n,
        with("/components/3/buttons/0/type", json!("LINK")),
        "components[3].buttons[0].type",
    );
    let eleven: Vec<_> = (0..11)
        .map(|i| json!({"type": "QUICK_REPLY", "text": format!("b{i}")}))
        .collect();
    assert_invalid(
        &host,
        n,
        with("/components/3/buttons", json!(eleven)),
        "components[3].buttons",
    );
    assert_invalid(
        &host,
        n,
        with(
            "/components/0",
            json!({"type": "HEADER", "format": "IMAGE"}),
        ),
        "components[0].example.header_handle",
    );
    assert_invalid(
        &host,
        n,
        with("/components/2", json!({"type": "BODY", "text": "again"})),
        "components[2].type",
    );
    assert_invalid(
        &host,
        n,
        with(
            "/components/2",
            json!({"type": "FOOTER", "text": "x", "colour": "red"}),
        ),
        "components[2].colour",
    );
    let named = json!({"name": "n", "language": "en", "category": "UTILITY", "parameter_format": "NAMED",
        "components": [{"type": "BODY", "text": "Hi {{first_name}} {{last}}",
          "example": {"body_text_named_params": [{"param_name": "first_name", "example": "Mark"}]}}]});
    assert_invalid(
        &host,
        n,
        named,
        "components[0].example.body_text_named_params",
    );
}

#[test]
fn delete_template_by_name_deletes_all_languages() {
    let host = FakeHost::new();
    host.respond(200, r#"{"success":true}"#);
    let out = call(
        &host,
        "whatsapp_delete_template",
        json!({"name": "order_update"}),
    )
    .unwrap();
    let req = host.last_request();
    assert_eq!(req.method, Method::Delete);
    assert_eq!(
        req.url,
        format!("{GRAPH}/{WABA}/message_templates?name=order_update")
    );
    assert_eq!(
        out,
        json!({"success": true, "name": "order_update", "scope": "all_languages"})
    );
    host.respond(200, r#"{"success":true}"#);
    let out = call(
        &host,
        "whatsapp_delete_template",
        json!({"name": "order_update", "template_id": "1192339204654487"}),
    )
    .unwrap();
    assert_eq!(
        host.last_request().url,
        format!("{GRAPH}/{WABA}/message_templates?name=order_update&hsm_id=1192339204654487")
    );
    assert_eq!(out["scope"], "single");
    assert_eq!(out["template_id"], "1192339204654487");
}

#[test]
fn delete_template_validation_rejects_each_rule() {
    let host = FakeHost::new();
    let n = "whatsapp_delete_template";
    assert_invalid(&host, n, json!({}), "name");
    assert_invalid(&host, n, json!({"name": "Order"}), "name");
    assert_invalid(
        &host,
        n,
        json!({"name": "order", "template_id": "12a"}),
        "template_id",
    );
    assert_invalid(
        &host,
        n,
        json!({"name": "order", "language": "en"}),
        "language",
    );
}
