//! What the Redis queue tests share: a replica's connector on a real
//! `redis-server`, the deployment's store and a raw connection, fast retry
//! options, and waiting for a condition.

use std::path::PathBuf;
use std::time::Duration;

use super::types::WebhookOptions;
use crate::Connector;
use crate::caps::vault::Secret;
use crate::config::{ApiEndpoint, EnvSecrets, Settings};
use crate::seal::VAULT_SUBKEY_LABEL;
use crate::store::test_redis::TestRedis;
use crate::store::{StateLocation, StateStore};
use crate::vault_file::VaultKey;

fn cache_dir() -> PathBuf {
    std::env::temp_dir().join("whatsapp-host-unit-test-component-cache")
}

/// The vault key every replica of the test deployment shares (the Redis store seals with a
/// key derived from it).
const VAULT_KEY_HEX: &str = "0707070707070707070707070707070707070707070707070707070707070707";

/// A replica's connector: the embedded component, its state in `redis`, sealing with the
/// deployment's vault key (from a key file, as an operator would give it). Ingest calls no
/// Cloud API.
pub(super) async fn connector(redis: &TestRedis) -> Connector {
    connector_with(redis, |_| {}).await
}

/// [`connector`] with `tweak` applied to its settings.
pub(super) async fn connector_with(
    redis: &TestRedis,
    tweak: impl FnOnce(&mut Settings),
) -> Connector {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("vault.key");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&key_file)
        .and_then(|mut f| f.write_all(VAULT_KEY_HEX.as_bytes()))
        .unwrap();
    let mut settings = Settings::default();
    let mut secrets = EnvSecrets::default();
    settings.point_at(
        ApiEndpoint {
            base_url: "http://127.0.0.1:9".into(),
            phone_number_id: "106540352242922".into(),
            waba_id: "102290129340398".into(),
            access_token: Secret::new("test-token"),
            app_secret: Secret::new("test-app-secret"),
            verify_token: Secret::new("test-verify-token"),
            delivers_webhooks: true,
        },
        &mut secrets,
    );
    settings.state.url = redis.url("");
    settings.vault.path = dir.path().join("vault.json");
    settings.vault.key_file = key_file;
    settings.runtime.cache_dir = Some(cache_dir());
    tweak(&mut settings);
    Connector::builder(settings)
        .secrets(secrets)
        .build()
        .await
        .expect("the connector builds")
}

/// A store on the deployment's Redis, as a replica opens it.
pub(super) async fn deployment_store(redis: &TestRedis) -> StateStore {
    let key = VaultKey::from_hex(VAULT_KEY_HEX).unwrap();
    let location = StateLocation::parse(&redis.url("")).unwrap();
    StateStore::connect(&location, Some(key.derive(VAULT_SUBKEY_LABEL)))
        .await
        .unwrap()
}

/// Fast retries, three attempts, and the given claim timeout.
pub(super) fn options(claim_timeout: Duration) -> WebhookOptions {
    WebhookOptions {
        retry_initial: Duration::from_millis(20),
        retry_max: Duration::from_millis(200),
        max_attempts: 3,
        claim_timeout,
        ..WebhookOptions::default()
    }
}

/// A connection for looking at (or tampering with) Redis directly.
pub(super) async fn conn(redis: &TestRedis) -> redis::aio::ConnectionManager {
    deployment_store(redis).await.redis().unwrap().connection()
}

pub(super) async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
