//! Safe retries through the tools: what is repeated, how long the waits are,
//! and that a send with an unknown outcome is never repeated.

use serde_json::json;

use super::{call, send_ok};
use crate::error::ErrorKind;
use crate::host::HttpError;
use crate::testing::FakeHost;

fn text() -> serde_json::Value {
    json!({"to": "+16505551234", "text": "hi"})
}

fn graph(code: i64) -> String {
    format!(r#"{{"error":{{"message":"(#{code}) try later","code":{code},"fbtrace_id":"T"}}}}"#)
}

#[test]
fn a_send_refused_by_the_throughput_limit_is_sent_again_and_succeeds() {
    let host = FakeHost::new();
    host.respond(400, &graph(130429)).respond(200, &send_ok());
    let out = call(&host, "whatsapp_send_message", text()).unwrap();
    assert_eq!(out["message_status"], "accepted");
    assert_eq!(host.request_count(), 2);
    let sleeps = host.sleeps.borrow().clone();
    assert_eq!(sleeps.len(), 1);
    assert!((400..=600).contains(&sleeps[0]), "{sleeps:?}");
}

#[test]
fn the_pair_limit_waits_one_then_four_seconds() {
    let host = FakeHost::new();
    host.respond(400, &graph(131056))
        .respond(400, &graph(131056))
        .respond(200, &send_ok());
    call(&host, "whatsapp_send_message", text()).unwrap();
    let sleeps = host.sleeps.borrow().clone();
    assert_eq!(sleeps.len(), 2);
    assert!(
        (800..=1200).contains(&sleeps[0]) && (3200..=4800).contains(&sleeps[1]),
        "{sleeps:?}"
    );
}

#[test]
fn errors_that_need_a_fix_are_returned_after_one_attempt() {
    for code in [131047, 132001, 100, 190] {
        let host = FakeHost::new();
        host.respond(400, &graph(code));
        let e = call(&host, "whatsapp_send_message", text()).unwrap_err();
        assert_eq!(e.code, Some(code));
        assert_eq!(host.request_count(), 1, "code {code}");
        assert!(host.sleeps.borrow().is_empty());
    }
}

#[test]
fn a_send_whose_answer_was_lost_is_never_sent_again() {
    let host = FakeHost::new();
    host.fail(HttpError::Timeout {
        message: "no answer".into(),
        request_sent: true,
    });
    let e = call(&host, "whatsapp_send_message", text()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::OutcomeUnknown);
    assert_eq!(host.request_count(), 1);
    let host = FakeHost::new();
    host.respond(502, "<html>Bad Gateway</html>");
    call(&host, "whatsapp_send_message", text()).unwrap_err();
    assert_eq!(
        host.request_count(),
        1,
        "a proxy's 5xx on a send is not proof it was refused"
    );
}

#[test]
fn a_read_whose_answer_was_lost_is_asked_again() {
    let host = FakeHost::new();
    host.fail(HttpError::Timeout {
        message: "no answer".into(),
        request_sent: true,
    })
    .respond(502, "<html>Bad Gateway</html>")
    .respond(200, r#"{"data":[]}"#);
    let out = call(&host, "whatsapp_list_templates", json!({})).unwrap();
    assert_eq!(out["count"], 0);
    assert_eq!(host.request_count(), 3);
}

#[test]
fn retries_stop_before_the_call_deadline_and_say_how_many_attempts_were_made() {
    let host = FakeHost::new();
    host.set("call-deadline-ms", "3000");
    for _ in 0..4 {
        host.respond(400, &graph(131056));
    }
    let started = host.now_ms.get();
    let e = call(&host, "whatsapp_send_message", text()).unwrap_err();
    assert_eq!(e.code, Some(131056));
    assert!(e.retryable);
    // 1 s fits in the 3 s budget; the next wait (4 s) does not.
    assert_eq!(host.request_count(), 2);
    assert!(e.details.contains("after 2 attempts"), "{e:?}");
    assert!(host.now_ms.get() - started < 3000);
    // A retried request never gets more time than the budget has left.
    let left = 3000 - host.sleeps.borrow()[0];
    let last = host.last_request();
    assert!(
        u64::from(last.timeout_ms.unwrap()) <= left,
        "{:?} > {left}",
        last.timeout_ms
    );
}

#[test]
fn at_most_four_attempts_are_made() {
    let host = FakeHost::new();
    host.set("call-deadline-ms", "600000");
    for _ in 0..10 {
        host.respond(400, &graph(2));
    }
    let e = call(&host, "whatsapp_list_templates", json!({})).unwrap_err();
    assert_eq!(host.request_count(), crate::graph::MAX_ATTEMPTS as usize);
    assert!(e.details.contains("after 4 attempts"));
}

#[test]
fn a_call_opens_the_access_token_credential_once_for_all_its_attempts() {
    let host = FakeHost::new();
    host.respond(400, &graph(130429))
        .respond(400, &graph(130429))
        .respond(200, &send_ok());
    call(&host, "whatsapp_send_message", text()).unwrap();
    assert_eq!(host.request_count(), 3);
    assert_eq!(*host.opened.borrow(), ["whatsapp"], "opened once, by name");
    for (_, credential) in host.requests.borrow().iter() {
        assert_eq!(credential.as_deref(), Some("whatsapp"));
    }
}

#[test]
fn a_call_whose_access_token_is_not_granted_sends_nothing() {
    let host = FakeHost::new();
    host.secrets.borrow_mut().remove("whatsapp");
    let e = call(&host, "whatsapp_send_message", text()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Denied);
    assert_eq!(e.title, "Credential not granted");
    assert!(e.details.contains("`whatsapp`"), "{e:?}");
    assert_eq!(host.request_count(), 0);
}
