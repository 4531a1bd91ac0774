//! The inbox on a Redis state store: a customer's message is read back
//! through the tools, and what Redis writes to disk (its append-only file)
//! holds the inbox keys but not the message's content.

use tokio::net::TcpListener as TokioListener;
use whatsapp_host::webhook_endpoint::{self, WebhookOptions, WebhookServer, Webhooks};

use super::storage::{customer_writes, holds, texts};
use crate::common::Env;
use crate::replicas::redis_server::Redis;

const SECRET_TEXT: &str = "my new passport number is X1234567";

#[tokio::test]
async fn on_redis_a_message_is_read_back_but_not_readable_in_what_redis_writes_to_disk() {
    let redis = Redis::start().await;
    let keys = tempfile::tempdir().unwrap();
    let url = redis.url();
    let (vault, key_file) = (
        keys.path().join("vault.json"),
        keys.path().join("vault.key"),
    );
    let env = Env::builder()
        .settings(move |s| {
            s.state.url = url;
            // Every replica seals with the deployment's vault key.
            s.vault.path = vault;
            s.vault.key_file = key_file;
            s.vault_file(true).expect("a vault key file");
            s.whatsapp.webhooks_configured = true;
            s.inbox.enabled = true;
        })
        .start()
        .await;
    let hooks = Webhooks::new(env.harness.runtime().clone(), WebhookOptions::default());
    let listener = TokioListener::bind("127.0.0.1:0").await.unwrap();
    let url = webhook_endpoint::callback_url(listener.local_addr().unwrap());
    let server = WebhookServer::start(hooks.clone(), listener).await.unwrap();
    env.sandbox.set_webhook_callback(Some(url));

    customer_writes(&env, &hooks, SECRET_TEXT).await;
    assert_eq!(texts(&env).await, [SECRET_TEXT]);
    let disk = redis.disk_bytes();
    assert!(
        disk.windows(b"inbox/m/".len()).any(|w| w == b"inbox/m/"),
        "what was read is Redis' append-only file, with the inbox keys"
    );
    assert!(
        !holds(&disk, SECRET_TEXT),
        "the customer's message is readable in Redis' files"
    );
    server.stop().await.unwrap();
}
