//! Graph errors from the sandbox become structured tool errors mapped by
//! code, each with a hint a model can act on.

use serde_json::json;
use whatsapp_host::tool::{ErrorKind, ToolError};
use whatsapp_sandbox::{Fault, FaultKind, PairLimit};

use crate::common::{CUSTOMER, Env};

fn assert_api_error(e: &ToolError, code: i64, retryable: bool, hint_mentions: &str) {
    assert_eq!(e.kind, ErrorKind::ApiError, "{e:?}");
    assert_eq!(e.code, Some(code), "{e:?}");
    assert_eq!(e.retryable, retryable, "{e:?}");
    assert!(!e.title.is_empty() && !e.details.is_empty(), "{e:?}");
    assert!(
        e.hint.contains(hint_mentions),
        "hint should mention `{hint_mentions}`: {e:?}"
    );
    assert!(
        e.fbtrace_id.as_deref().is_some_and(|t| !t.is_empty()),
        "{e:?}"
    );
}

fn template(name: &str, language: &str) -> serde_json::Value {
    json!({"to": CUSTOMER, "name": name, "language": language, "body_parameters": ["Sam", "#1"]})
}

#[tokio::test]
async fn invalid_parameter_100_names_the_problem() {
    let env = Env::new().await;
    let e = env
        .call(
            "whatsapp_delete_template",
            json!({"name": "no_such_template"}),
        )
        .await
        .unwrap_err();
    assert_api_error(&e, 100, false, "whatsapp_list_templates");
    assert_eq!(e.http_status, Some(400));
}

#[tokio::test]
async fn outside_the_window_131047_points_to_templates() {
    let env = Env::new().await;
    let e = env
        .call(
            "whatsapp_send_message",
            json!({"to": CUSTOMER, "text": "hello"}),
        )
        .await
        .unwrap_err();
    assert_api_error(&e, 131047, false, "whatsapp_send_template");
}

#[tokio::test]
async fn a_parameter_count_mismatch_132000_says_how_many_are_needed() {
    let env = Env::new().await;
    let args = json!({"to": CUSTOMER, "name": "order_update", "language": "en_US", "body_parameters": ["Sam"]});
    let e = env.call("whatsapp_send_template", args).await.unwrap_err();
    assert_api_error(&e, 132000, false, "whatsapp_list_templates");
    assert!(e.details.contains('2') && e.details.contains('1'), "{e:?}");
}

#[tokio::test]
async fn an_unknown_template_or_language_132001_says_to_check_both() {
    let env = Env::new().await;
    for (name, language) in [("no_such_template", "en_US"), ("order_update", "fr")] {
        let e = env
            .call("whatsapp_send_template", template(name, language))
            .await
            .unwrap_err();
        assert_api_error(&e, 132001, false, "whatsapp_list_templates");
        assert_eq!(e.http_status, Some(404));
    }
}

#[tokio::test]
async fn an_expired_token_190_asks_to_reconnect_and_the_credential_is_held_back() {
    let env = Env::new().await;
    env.sandbox.set_token_expired(true);
    let e = env
        .call("whatsapp_list_templates", json!({}))
        .await
        .unwrap_err();
    assert_api_error(&e, 190, false, "connect");
    assert_eq!(e.http_status, Some(401));
    // The host marked the token: the next call fails before any request.
    env.sandbox.clear_requests();
    let again = env
        .call("whatsapp_list_templates", json!({}))
        .await
        .unwrap_err();
    assert!(
        again.details.contains("reconnect") || again.hint.contains("reconnect"),
        "{again:?}"
    );
    assert!(
        env.requests().is_empty(),
        "a rejected token is not sent again"
    );
}

#[tokio::test]
async fn a_wrong_token_190_is_reported_without_the_token() {
    let env = Env::builder()
        .secrets(|s| {
            s.access_token = Some(whatsapp_host::caps::vault::Secret::new(
                "EAAwrong-token-value",
            ))
        })
        .start()
        .await;
    let e = env
        .call("whatsapp_get_business_profile", json!({}))
        .await
        .unwrap_err();
    assert_api_error(&e, 190, false, "connect");
    assert!(
        !serde_json::to_string(&e)
            .unwrap()
            .contains("EAAwrong-token-value")
    );
}

#[tokio::test]
async fn a_send_refused_by_the_throughput_limit_is_retried_and_lands_once() {
    let env = Env::builder()
        .sandbox(|s| s.throughput_per_second = Some(2))
        .start()
        .await;
    for _ in 0..3 {
        env.call("whatsapp_send_template", template("order_update", "en_US"))
            .await
            .unwrap();
    }
    assert_eq!(
        env.sandbox.sent_messages().len(),
        3,
        "each message accepted exactly once"
    );
    // The third send met 130429 (the sandbox's sliding one-second window) and was sent again.
    let refused = env.requests().len() - 3;
    assert!(refused >= 1, "{refused}");
}

#[tokio::test]
async fn a_throughput_limit_that_persists_is_a_retryable_130429_after_the_retries() {
    let env = Env::builder()
        .sandbox(|s| s.throughput_per_second = Some(0))
        .settings(|s| s.runtime.call_timeout_ms = 5_000)
        .start()
        .await;
    let e = env
        .call("whatsapp_send_template", template("order_update", "en_US"))
        .await
        .unwrap_err();
    assert_api_error(&e, 130429, true, "retry");
    assert!(e.details.contains("attempts"), "{e:?}");
    assert!(env.requests().len() > 1);
    assert!(env.sandbox.sent_messages().is_empty());
}

#[tokio::test]
async fn pair_rate_limit_131056_backs_off_then_reports_and_other_recipients_are_unaffected() {
    let env = Env::builder()
        .sandbox(|s| {
            s.pair_limit = Some(PairLimit {
                burst: 2,
                interval: std::time::Duration::from_secs(60),
            })
        })
        .settings(|s| s.runtime.call_timeout_ms = 7_000)
        .start()
        .await;
    for _ in 0..2 {
        env.call("whatsapp_send_template", template("order_update", "en_US"))
            .await
            .unwrap();
    }
    env.sandbox.clear_requests();
    let started = std::time::Instant::now();
    let e = env
        .call("whatsapp_send_template", template("order_update", "en_US"))
        .await
        .unwrap_err();
    assert_api_error(&e, 131056, true, "4^");
    // Waits of ~1 s then ~4 s (Meta's 4^X); the next (16 s) would pass the 7 s deadline.
    assert_eq!(env.requests().len(), 3, "{:?}", env.requests());
    assert!(started.elapsed() >= std::time::Duration::from_millis(3_500));
    assert!(started.elapsed() < std::time::Duration::from_secs(7));
    let other = json!({"to": "+447700900123", "name": "order_update", "language": "en_US", "body_parameters": ["A", "B"]});
    env.call("whatsapp_send_template", other).await.unwrap();
}

#[tokio::test]
async fn a_non_json_502_from_a_proxy_is_a_retryable_transport_error() {
    let env = Env::new().await;
    let bad_gateway = FaultKind::Status {
        status: 502,
        body: "<html><body>502 Bad Gateway</body></html>".into(),
        content_type: "text/html".into(),
    };
    // Every attempt of the read meets the proxy error.
    env.sandbox
        .inject_fault(Fault::new(bad_gateway.clone()).times(4));
    let e = env
        .call("whatsapp_list_templates", json!({}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport, "{e:?}");
    assert!(e.retryable);
    assert_eq!(e.http_status, Some(502));
    assert!(e.details.contains("502"), "{e:?}");
    // A one-off proxy error on a read is absorbed by a retry.
    env.sandbox.inject_fault(Fault::new(bad_gateway));
    env.call("whatsapp_list_templates", json!({}))
        .await
        .unwrap();
    // Once the faults are used up, calls work.
    env.call("whatsapp_list_templates", json!({}))
        .await
        .unwrap();
}

#[tokio::test]
async fn every_error_has_a_one_line_summary_with_the_hint() {
    let env = Env::new().await;
    let e = env
        .call(
            "whatsapp_send_message",
            json!({"to": CUSTOMER, "text": "hello"}),
        )
        .await
        .unwrap_err();
    let line = e.one_line();
    assert!(!line.contains('\n'));
    assert!(line.starts_with("Error 131047"), "{line}");
    assert!(line.contains("Hint: "), "{line}");
}
