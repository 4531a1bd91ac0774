//! What an attacker finds on disk, and what another business's deliveries can
//! change: the state file holds no customer's message text (the webhook queue
//! and the dead letters are encrypted) and is owner-only; a delivery for
//! another WhatsApp Business Account or phone number sharing the Meta app is
//! ignored. Every delivery goes through the real endpoint as a signed POST.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use whatsapp_host::Connector;
use whatsapp_host::config::{EnvSecrets, Settings};
use whatsapp_host::store::{StateStore, Table};
use whatsapp_host::webhook_endpoint::{self, WebhookOptions, WebhookServer, Webhooks};
use whatsapp_sandbox::webhook_signature;

use crate::common::{CUSTOMER_DIGITS, Env, cache_dir};

const DEADLINE: Duration = Duration::from_secs(20);
/// What a customer wrote; it must never be found in the state file.
const INBOUND_TEXT: &str = "my card is 4111 1111 1111 1111, call me at home";
/// Inside a delivery the component cannot parse, so it ends in the dead letters.
const DEAD_LETTER_TEXT: &str = "my new address is 12 Rue Secrete, Paris";

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
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn client() -> reqwest::Client {
    whatsapp_host::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// POSTs `body` to `url` signed over its exact bytes, as Meta does.
async fn post_signed(url: &str, app_secret: &str, body: &[u8]) -> u16 {
    client()
        .post(url)
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            webhook_signature(app_secret.as_bytes(), body),
        )
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Whether `text` is in `haystack` as is, or base64-encoded at any alignment
/// (the form earlier dead letters stored bodies in).
fn holds(haystack: &[u8], text: &str) -> bool {
    let find = |needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
    if find(text.as_bytes()) {
        return true;
    }
    (0..3).any(|shift| {
        let mut shifted = vec![b'x'; shift];
        shifted.extend_from_slice(text.as_bytes());
        let encoded = base64::engine::general_purpose::STANDARD.encode(&shifted);
        // Skip the characters the shift and the padding touch.
        find(&encoded.as_bytes()[4..encoded.len() - 4])
    })
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Settings and secrets for a harness against `env`'s sandbox whose state
/// lives in the file at `path`.
fn on_disk(env: &Env, path: &Path) -> (Settings, EnvSecrets) {
    let mut settings = Settings::default();
    let mut secrets = EnvSecrets::default();
    settings.point_at(
        host_harness::commands::sandbox::endpoint(&env.sandbox),
        &mut secrets,
    );
    // point_at chose in-memory state: this test is about the file.
    settings.state.url = path.display().to_string();
    settings.whatsapp.webhooks_configured = true;
    settings.runtime.cache_dir = Some(cache_dir());
    (settings, secrets)
}

/// A harness on the state file, retrying while the previous run's writer
/// thread still holds it.
async fn harness_on(settings: &Settings, secrets: &EnvSecrets) -> Connector {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match Connector::builder(settings.clone())
            .secrets(secrets.clone())
            .build()
            .await
        {
            Ok(h) => return h,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            Err(e) => panic!("cannot reopen the state file: {e:#}"),
        }
    }
}

async fn window_of(state: &StateStore, user: &str) -> Option<Value> {
    let v = state
        .get(Table::Kv, &format!("win/{user}"))
        .await
        .unwrap()?;
    Some(serde_json::from_slice(&v).unwrap())
}

#[tokio::test]
async fn webhook_bodies_reach_the_state_file_only_encrypted_and_still_apply_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    // The store creates its directory.
    let state_dir: PathBuf = dir.path().join("state");
    let path = state_dir.join("state.redb");
    let env = Env::new().await;
    let (settings, secrets) = on_disk(&env, &path);
    let app_secret = env.sandbox.config().app_secret.clone();
    let malformed =
        format!(r#"{{"object":"whatsapp_business_account","entry":[{{"note":"{DEAD_LETTER_TEXT}""#);

    {
        // First run: the endpoint acknowledges (so the bodies are stored), no
        // worker applies them.
        let harness = harness_on(&settings, &secrets).await;
        let hooks = Webhooks::new(harness.runtime().clone(), WebhookOptions::default());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = webhook_endpoint::callback_url(listener.local_addr().unwrap());
        let app = hooks.router();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        // The sandbox delivers the customer's message as Meta would.
        env.sandbox.set_webhook_callback(Some(url.clone()));
        env.sandbox.simulate_inbound(CUSTOMER_DIGITS, INBOUND_TEXT);
        eventually("the inbound delivery to be stored", || async {
            (hooks.pending().await.unwrap().len() == 1).then_some(())
        })
        .await;
        env.sandbox.set_webhook_callback(None);
        assert_eq!(
            post_signed(&url, &app_secret, malformed.as_bytes()).await,
            200
        );
        assert_eq!(hooks.pending().await.unwrap().len(), 2);

        let raw = std::fs::read(&path).unwrap();
        assert!(
            holds(&raw, "webhook_queue"),
            "the file read is the store (its table names are in the clear)"
        );
        assert!(!holds(&raw, INBOUND_TEXT), "inbound text on disk");
        assert!(!holds(&raw, DEAD_LETTER_TEXT), "queued body on disk");
        #[cfg(unix)]
        assert_eq!((mode(&path), mode(&state_dir)), (0o600, 0o700));
        server.abort();
        let _ = server.await;
    }

    // Second run on the same file: the worker applies what was acknowledged.
    let harness = harness_on(&settings, &secrets).await;
    let hooks = Webhooks::new(harness.runtime().clone(), WebhookOptions::default());
    let server = WebhookServer::start(
        hooks.clone(),
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await
    .unwrap();
    let state = harness.runtime().capabilities().state.clone();
    eventually("both deliveries to be handled", || async {
        let s = hooks.stats();
        (s.ingested == 1 && s.dead_lettered == 1).then_some(())
    })
    .await;
    assert!(
        window_of(&state, CUSTOMER_DIGITS).await.is_some(),
        "the inbound message opened the window after the restart"
    );
    let dead = hooks.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        dead[0].body,
        malformed.as_bytes(),
        "the dead letter is kept whole"
    );
    let raw = std::fs::read(&path).unwrap();
    assert!(!holds(&raw, INBOUND_TEXT), "inbound text on disk");
    assert!(!holds(&raw, DEAD_LETTER_TEXT), "dead letter on disk");
    server.stop().await.unwrap();
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A `messages` change with one inbound text message from the customer.
fn inbound(waba_id: &str, phone_number_id: &str, ts: u64) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": waba_id, "changes": [{
        "field": "messages",
        "value": {"messaging_product": "whatsapp",
                  "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
                  "contacts": [{"profile": {"name": "Sheena"}, "wa_id": CUSTOMER_DIGITS}],
                  "messages": [{"from": CUSTOMER_DIGITS, "id": "wamid.other", "timestamp": ts.to_string(),
                                "type": "text", "text": {"body": "hi"}}]}}]}]})
}

/// A template review result for `order_update` (en_US).
fn template_event(waba_id: &str, event: &str, time: u64) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": waba_id, "time": time, "changes": [{
        "field": "message_template_status_update",
        "value": {"event": event, "message_template_id": 1192339204654487u64,
                  "message_template_name": "order_update", "message_template_language": "en_US",
                  "reason": "NONE"}}]}]})
}

#[tokio::test]
async fn a_delivery_for_another_business_neither_opens_a_window_nor_overwrites_a_template_status() {
    let env = Env::new().await;
    let hooks = Webhooks::new(env.harness.runtime().clone(), WebhookOptions::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = webhook_endpoint::callback_url(listener.local_addr().unwrap());
    let server = WebhookServer::start(hooks.clone(), listener).await.unwrap();
    let app_secret = env.sandbox.config().app_secret.clone();
    let state = env.harness.runtime().capabilities().state.clone();
    let (ours, our_number) = (env.waba_id(), env.phone_number_id());
    let (theirs, their_number) = ("987654321098765", "123456789012345");
    assert_ne!((ours.as_str(), our_number.as_str()), (theirs, their_number));
    let post = |body: Value| {
        let (url, secret) = (url.clone(), app_secret.clone());
        async move { post_signed(&url, &secret, &serde_json::to_vec(&body).unwrap()).await }
    };
    let tpl = || async {
        let v = state
            .get(Table::Kv, "tpl/order_update/en_US")
            .await
            .unwrap()?;
        serde_json::from_slice::<Value>(&v).ok()
    };

    // Our template is approved.
    let t = now_s();
    assert_eq!(post(template_event(&ours, "APPROVED", t)).await, 200);
    eventually("the approval", || async {
        tpl().await.filter(|v| v["status"] == "APPROVED")
    })
    .await;

    // Another business on the same Meta app: its entries, and a change for another number.
    assert_eq!(post(template_event(theirs, "REJECTED", t + 60)).await, 200);
    assert_eq!(post(inbound(theirs, their_number, t)).await, 200);
    assert_eq!(post(inbound(&ours, their_number, t)).await, 200);
    eventually("the three deliveries to be applied", || async {
        (hooks.stats().ingested == 4).then_some(())
    })
    .await;
    assert_eq!(
        tpl().await.unwrap()["status"],
        "APPROVED",
        "not overwritten by another business's review"
    );
    assert!(
        window_of(&state, CUSTOMER_DIGITS).await.is_none(),
        "no window opened by another business's customer"
    );
    assert_eq!(hooks.stats().foreign, 3, "{:?}", hooks.stats());

    // The same message for our number does open it.
    assert_eq!(post(inbound(&ours, &our_number, t)).await, 200);
    let window = eventually("our inbound message", || async {
        window_of(&state, CUSTOMER_DIGITS).await
    })
    .await;
    assert_eq!(window["last_inbound"], t);
    assert_eq!(hooks.stats().foreign, 3);
    server.stop().await.unwrap();
}
