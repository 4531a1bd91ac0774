//! What the inbox keeps on disk: nothing of a message's content while it is
//! off; while it is on, the content is readable through the tools but not in
//! the state file's bytes, and it is gone after the retention. Every message
//! arrives as the sandbox's signed webhook through the real endpoint.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use whatsapp_host::webhook_endpoint::{self, WebhookOptions, WebhookServer, Webhooks};

use crate::common::{CUSTOMER, CUSTOMER_DIGITS, Env};

const DEADLINE: Duration = Duration::from_secs(30);
/// What the customer writes; searched for in the state file's bytes.
const SECRET_TEXT: &str = "my account PIN is 908172, please reset it";

async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Whether `text` is in `haystack` as is, or base64-encoded at any alignment.
fn holds(haystack: &[u8], text: &str) -> bool {
    let find = |needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
    if find(text.as_bytes()) {
        return true;
    }
    (0..3).any(|shift| {
        let mut shifted = vec![b'x'; shift];
        shifted.extend_from_slice(text.as_bytes());
        let encoded = base64::engine::general_purpose::STANDARD.encode(&shifted);
        find(&encoded.as_bytes()[4..encoded.len() - 4])
    })
}

/// A gateway on the state file at `path` with the inbox as `enabled` and
/// `retention_days`, its webhook endpoint registered with the sandbox.
async fn gateway(
    path: &Path,
    enabled: bool,
    retention_days: f64,
) -> (Env, Webhooks, WebhookServer) {
    let state = path.display().to_string();
    let env = Env::builder()
        .settings(move |s| {
            s.state.url = state;
            s.whatsapp.webhooks_configured = true;
            s.inbox.enabled = enabled;
            s.inbox.retention_days = retention_days;
        })
        .start()
        .await;
    let hooks = Webhooks::new(env.harness.runtime().clone(), WebhookOptions::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = webhook_endpoint::callback_url(listener.local_addr().unwrap());
    let server = WebhookServer::start(hooks.clone(), listener).await.unwrap();
    env.sandbox.set_webhook_callback(Some(url));
    (env, hooks, server)
}

/// The customer writes `text`; returns once the gateway applied it.
async fn customer_writes(env: &Env, hooks: &Webhooks, text: &str) {
    let before = hooks.stats().ingested;
    env.sandbox.simulate_inbound(CUSTOMER_DIGITS, text);
    eventually("the inbound delivery to be applied", || async {
        (hooks.stats().ingested > before).then_some(())
    })
    .await;
}

async fn texts(env: &Env) -> Vec<String> {
    let out = env
        .call("whatsapp_get_messages", json!({"customer": CUSTOMER}))
        .await
        .expect("get_messages");
    out["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m.get("text").and_then(Value::as_str).map(str::to_string))
        .collect()
}

#[tokio::test]
async fn with_the_inbox_off_nothing_a_customer_wrote_is_in_the_state_file_and_the_readers_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let (env, hooks, server) = gateway(&path, false, 30.0).await;
    customer_writes(&env, &hooks, SECRET_TEXT).await;
    let raw = std::fs::read(&path).unwrap();
    assert!(
        holds(&raw, &format!("win/{CUSTOMER_DIGITS}")),
        "the file read is the store, and the window moved"
    );
    assert!(!holds(&raw, SECRET_TEXT), "message content on disk");
    assert!(
        !raw.windows(b"inbox/".len()).any(|w| w == b"inbox/"),
        "an inbox key with the inbox off"
    );
    let e = env
        .call("whatsapp_get_messages", json!({"customer": CUSTOMER}))
        .await
        .unwrap_err();
    assert!(e.details.contains("[inbox] enabled"), "{e:?}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn with_the_inbox_on_a_message_is_read_back_but_not_readable_in_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let (env, hooks, server) = gateway(&path, true, 30.0).await;
    customer_writes(&env, &hooks, SECRET_TEXT).await;
    assert_eq!(texts(&env).await, [SECRET_TEXT]);
    let list = env
        .call("whatsapp_list_conversations", json!({}))
        .await
        .unwrap();
    assert_eq!(list["conversations"][0]["customer"], CUSTOMER);
    assert_eq!(list["conversations"][0]["unread"], 1);
    let raw = std::fs::read(&path).unwrap();
    assert!(holds(&raw, "inbox/m/"), "the file holds the inbox records");
    assert!(
        !holds(&raw, SECRET_TEXT),
        "the customer's message is readable in the state file"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn inbox_records_are_gone_after_the_retention_while_the_window_record_stays() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    // Five seconds: long enough to read the message back first.
    let (env, hooks, server) = gateway(&path, true, 5.0 / 86_400.0).await;
    customer_writes(&env, &hooks, "short-lived").await;
    assert_eq!(texts(&env).await, ["short-lived"]);
    // Each record expires on its own clock: wait for the message, then its
    // conversation (written just after it).
    eventually("the message to expire", || async {
        texts(&env).await.is_empty().then_some(())
    })
    .await;
    eventually("the conversation to expire", || async {
        let list = env
            .call("whatsapp_list_conversations", json!({}))
            .await
            .unwrap();
        (list["conversations"] == json!([])).then_some(())
    })
    .await;
    // The 24-hour window (kept for 30 days, content-free) is unaffected.
    let sent = env
        .call(
            "whatsapp_send_message",
            json!({"to": CUSTOMER, "text": "Still there?"}),
        )
        .await
        .unwrap();
    assert_eq!(sent["window"]["state"], "open");
    server.stop().await.unwrap();
}
