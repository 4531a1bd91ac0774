//! whatsapp_list_templates: paging back with `before`, and the categories and
//! quality Meta reports.

use serde_json::json;

use super::{assert_invalid, call};
use crate::testing::FakeHost;

const PAGE: &str = r##"{"data":[
 {"id":"7","name":"order_ready","language":"en_US","status":"APPROVED","category":"MARKETING","sub_category":"CUSTOM",
  "previous_category":"UTILITY","quality_score":{"score":"YELLOW","date":1767225600},"components":[{"type":"BODY","text":"Ready!"}]}],
 "paging":{"cursors":{"before":"QkVGT1JF","after":"QUZURVI="},
           "previous":"https://graph.facebook.com/v23.0/x?before=QkVGT1JF","next":"https://graph.facebook.com/v23.0/x?after=QUZURVI="}}"##;

#[test]
fn list_templates_pages_back_with_before_and_reports_both_cursors() {
    let host = FakeHost::new();
    host.respond(200, PAGE);
    let out = call(
        &host,
        "whatsapp_list_templates",
        json!({"before": "QkVGT1JF", "limit": 10}),
    )
    .unwrap();
    let url = host.last_request().url;
    assert!(url.ends_with("&limit=10&before=QkVGT1JF"), "{url}");
    assert_eq!(out["previous_cursor"], "QkVGT1JF");
    assert_eq!(out["next_cursor"], "QUZURVI=");
    // On the first page Graph gives no `previous` link: no previous cursor either.
    host.respond(
        200,
        r#"{"data":[],"paging":{"cursors":{"before":"A","after":"B"},"next":"https://x/?after=B"}}"#,
    );
    let out = call(&host, "whatsapp_list_templates", json!({})).unwrap();
    assert!(out.get("previous_cursor").is_none(), "{out}");
}

#[test]
fn list_templates_returns_sub_category_previous_category_and_quality_score() {
    let host = FakeHost::new();
    host.respond(200, PAGE);
    let out = call(&host, "whatsapp_list_templates", json!({})).unwrap();
    let url = host.last_request().url;
    assert!(url.contains("sub_category,previous_category,"), "{url}");
    let t = &out["templates"][0];
    assert_eq!(t["sub_category"], "CUSTOM");
    assert_eq!(t["previous_category"], "UTILITY");
    assert_eq!(t["category"], "MARKETING");
    assert_eq!(t["quality_score"], "YELLOW");
    assert_eq!(t["quality_score_date"], 1767225600);
}

#[test]
fn before_and_after_together_or_a_bad_before_cursor_are_refused() {
    let host = FakeHost::new();
    let e = assert_invalid(
        &host,
        "whatsapp_list_templates",
        json!({"before": "A", "after": "B"}),
        "before",
    );
    assert!(e.hint.contains("previous_cursor"), "{e:?}");
    assert_invalid(
        &host,
        "whatsapp_list_templates",
        json!({"before": "has space"}),
        "before",
    );
}
