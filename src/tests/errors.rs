use serde_json::json;

use super::call;
use crate::error::{ErrorKind, ToolError};
use crate::graph::{MANAGE, SEND, describe_code, map_graph_error};
use crate::testing::FakeHost;

/// The error a send ends with when every attempt gets this answer.
fn graph_error(status: u16, body: &str) -> ToolError {
    let host = FakeHost::new();
    for _ in 0..crate::graph::MAX_ATTEMPTS {
        host.respond(status, body);
    }
    call(
        &host,
        "whatsapp_send_message",
        json!({"to": "+16505551234", "text": "hi"}),
    )
    .unwrap_err()
}

#[test]
fn invalid_parameter_100_names_the_parameter() {
    let e = graph_error(
        400,
        r#"{"error":{"message":"(#100) The parameter text['body'] is required.","type":"OAuthException","code":100,"fbtrace_id":"AbC123"}}"#,
    );
    assert_eq!(e.kind, ErrorKind::ApiError);
    assert_eq!(e.code, Some(100));
    assert_eq!(e.http_status, Some(400));
    assert_eq!(e.fbtrace_id.as_deref(), Some("AbC123"));
    assert!(e.hint.contains("text['body']"), "{}", e.hint);
    assert!(!e.retryable);
}

#[test]
fn re_engagement_131047_points_to_send_template() {
    let e = graph_error(
        400,
        r#"{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"fbtrace_id":"X"}}"#,
    );
    assert_eq!(e.code, Some(131047));
    assert_eq!(e.title, "Re-engagement message");
    assert!(
        e.details
            .starts_with("Message failed to send because more than 24 hours")
    );
    assert!(e.hint.contains("whatsapp_send_template"));
    assert!(!e.retryable);
}

#[test]
fn template_errors_132000_and_132001_point_to_list_templates() {
    let e = graph_error(
        400,
        r#"{"error":{"message":"(#132000) Number of parameters does not match the expected number of params","code":132000,"error_data":{"details":"body: number of localizable_params (1) does not match the expected number of params (2)"}}}"#,
    );
    assert_eq!(e.code, Some(132000));
    assert!(
        e.hint.contains("exactly as many parameters") && e.hint.contains("whatsapp_list_templates")
    );
    let e = graph_error(
        404,
        r#"{"error":{"message":"(#132001) Template name does not exist in the translation","code":132001,"error_data":{"details":"template name (hello) does not exist in en_GB"}}}"#,
    );
    assert_eq!(e.code, Some(132001));
    assert_eq!(e.http_status, Some(404));
    assert!(e.hint.contains("whatsapp_list_templates") && e.hint.contains("APPROVED"));
}

#[test]
fn expired_token_190_says_to_reconnect() {
    let e = graph_error(
        401,
        r#"{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"T"}}"#,
    );
    assert_eq!(e.code, Some(190));
    assert!(e.hint.contains("host-harness connect"));
    assert!(!e.retryable);
}

#[test]
fn throttling_codes_are_retryable_even_as_http_400() {
    let e = graph_error(
        400,
        r#"{"error":{"message":"(#130429) Rate limit hit","code":130429}}"#,
    );
    assert!(e.retryable);
    let e = graph_error(
        400,
        r#"{"error":{"message":"(#131056) (Business Account, Consumer Account) pair rate limit hit","code":131056}}"#,
    );
    assert!(e.retryable);
    assert!(e.hint.contains("4^X") && e.hint.contains("other recipients"));
    for code in [2, 4, 80007] {
        let (_, hint, retry) = describe_code(code, "", "x");
        assert!(retry, "{code}");
        assert!(
            hint.contains("retry") || hint.contains("wait"),
            "{code}: {hint}"
        );
    }
}

#[test]
fn code_as_a_numeric_string_is_understood() {
    let e = graph_error(
        400,
        r#"{"error":{"message":"Re-engagement","code":"131047"}}"#,
    );
    assert_eq!(e.code, Some(131047));
    assert!(e.hint.contains("whatsapp_send_template"));
}

#[test]
fn is_transient_makes_an_error_retryable() {
    let v = json!({"message": "odd", "code": 135000, "is_transient": true});
    assert!(map_graph_error(400, &v, MANAGE).retryable);
}

#[test]
fn a_non_json_502_is_a_retryable_transport_error_with_a_sanitised_excerpt() {
    let e = graph_error(
        502,
        "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad   Gateway</h1></body></html>",
    );
    assert_eq!(e.kind, ErrorKind::Transport);
    assert!(e.retryable);
    assert_eq!(e.http_status, Some(502));
    assert!(
        e.details.contains("502") && e.details.contains("Bad Gateway"),
        "{}",
        e.details
    );
    assert!(!e.details.contains('<'));
}

#[test]
fn unknown_codes_get_a_generic_hint_with_code_and_trace() {
    let e = graph_error(
        400,
        r#"{"error":{"message":"Something new","code":999999,"fbtrace_id":"TRACE9"}}"#,
    );
    assert_eq!(e.code, Some(999999));
    assert!(e.hint.contains("999999") && e.hint.contains("TRACE9"));
}

#[test]
fn every_code_in_the_reference_table_has_a_specific_hint() {
    let codes = [
        0, 1, 2, 3, 4, 10, 100, 190, 200, 299, 368, 80007, 130429, 130472, 131000, 131005, 131008,
        131009, 131016, 131021, 131026, 131030, 131031, 131042, 131045, 131047, 131048, 131049,
        131050, 131051, 131052, 131053, 131056, 131057, 132000, 132001, 132005, 132007, 132012,
        132015, 132016, 133010, 135000, 131037, 131062, 131063, 131064, 130497, 133016, 137000,
        132068, 132069, 33,
    ];
    for c in codes {
        let (title, hint, _) = describe_code(c, "details", "scope_x");
        assert!(
            !hint.is_empty() && title != "WhatsApp API error",
            "code {c} lacks a hint"
        );
    }
    let retry_yes = [2, 4, 80007, 130429, 131000, 131016, 131056, 131057];
    for c in retry_yes {
        assert!(describe_code(c, "", "").2, "{c} should be retryable");
    }
    for c in [131050, 131047, 131026, 132000, 132001, 100, 190, 200, 10] {
        assert!(!describe_code(c, "", "").2, "{c} should not be retryable");
    }
    assert!(
        describe_code(200, "", "whatsapp_business_management")
            .1
            .contains("whatsapp_business_management")
    );
    assert!(
        describe_code(10, "", "whatsapp_business_messaging")
            .1
            .contains("whatsapp_business_messaging")
    );
    assert!(describe_code(131053, "", "").1.contains("HTTPS"));
}

#[test]
fn permission_errors_name_the_scope_of_the_tool() {
    let host = FakeHost::new();
    host.respond(
        403,
        r#"{"error":{"message":"(#200) Permissions error","code":200}}"#,
    );
    let e = call(&host, "whatsapp_list_templates", json!({})).unwrap_err();
    assert!(
        e.hint.contains("whatsapp_business_management"),
        "{}",
        e.hint
    );
    let e = map_graph_error(403, &json!({"code": 10}), SEND);
    assert!(e.hint.contains("whatsapp_business_messaging"));
}

#[test]
fn json_error_bodies_without_an_error_object_are_transport_errors() {
    let e = graph_error(500, r#"{"oops":true}"#);
    assert_eq!(e.kind, ErrorKind::Transport);
    assert!(e.retryable);
    let e = graph_error(302, "");
    assert_eq!(e.kind, ErrorKind::Transport);
    assert!(!e.retryable);
}
