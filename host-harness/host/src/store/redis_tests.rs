//! The Redis backend against a real `redis-server` (started per test).

use std::time::{Duration, Instant};

use redis::AsyncCommands as _;

use super::location::StateLocation;
use super::test_redis::TestRedis;
use super::*;

/// The raw bytes Redis holds for `key` of `table`.
async fn raw(store: &StateStore, table: Table, key: &str) -> Vec<u8> {
    let redis = store.redis().expect("a Redis store");
    let mut c = redis.connection();
    c.get(redis.key(&format!("{}:{key}", table.name())))
        .await
        .unwrap()
}

#[tokio::test]
async fn values_round_trip_expire_and_delete_in_redis() {
    let server = TestRedis::start();
    let store = server.store(7).await;
    assert!(store.kind().starts_with("redis redis://127.0.0.1:"));
    store.check().await.unwrap();
    assert_eq!(store.get(Table::Kv, "absent").await.unwrap(), None);
    store
        .set(Table::Kv, "k", b"v".to_vec(), None)
        .await
        .unwrap();
    assert_eq!(
        store.get(Table::Kv, "k").await.unwrap(),
        Some(b"v".to_vec())
    );
    assert_eq!(
        store.get(Table::Host, "k").await.unwrap(),
        None,
        "tables are separate"
    );
    store
        .set(Table::Kv, "short", b"v".to_vec(), Some(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(store.get(Table::Kv, "short").await.unwrap(), None);
    assert!(store.delete(Table::Kv, "k").await.unwrap());
    assert!(!store.delete(Table::Kv, "k").await.unwrap());
}

#[tokio::test]
async fn scan_returns_the_prefix_in_key_order_and_treats_glob_characters_literally() {
    let server = TestRedis::start();
    let store = server.store(7).await;
    for key in ["q/2", "q/10", "q/1", "r/1", "p/9", "q*x", "q?/1", "[q]/1"] {
        store
            .set(Table::Kv, key, key.as_bytes().to_vec(), None)
            .await
            .unwrap();
    }
    let keys = |entries: Vec<(String, Vec<u8>)>| -> Vec<String> {
        entries.into_iter().map(|(k, _)| k).collect()
    };
    assert_eq!(
        keys(store.scan(Table::Kv, "q/").await.unwrap()),
        ["q/1", "q/10", "q/2"]
    );
    assert_eq!(keys(store.scan(Table::Kv, "q*").await.unwrap()), ["q*x"]);
    assert_eq!(keys(store.scan(Table::Kv, "[q]").await.unwrap()), ["[q]/1"]);
    assert_eq!(store.scan(Table::Kv, "").await.unwrap().len(), 8);
    assert!(store.scan(Table::Host, "").await.unwrap().is_empty());
}

#[tokio::test]
async fn messages_are_sealed_in_redis_and_another_replica_with_the_vault_key_reads_them() {
    let server = TestRedis::start();
    let a = server.store(7).await;
    let b = server.store(7).await;
    let body = b"{\"text\":{\"body\":\"my card is 4111\"}}".to_vec();
    a.set(Table::WebhookQueue, "q/1", body.clone(), None)
        .await
        .unwrap();
    a.set(Table::Kv, "inbox/msg/+15551234567/1", body.clone(), None)
        .await
        .unwrap();
    a.set(Table::Kv, "win/15551234567", b"plain".to_vec(), None)
        .await
        .unwrap();
    for (table, key) in [
        (Table::WebhookQueue, "q/1"),
        (Table::Kv, "inbox/msg/+15551234567/1"),
    ] {
        let stored = raw(&a, table, key).await;
        assert!(
            crate::seal::StateSeal::is_sealed(&stored),
            "{key} is sealed"
        );
        assert!(
            !stored.windows(4).any(|w| w == b"card"),
            "{key} hides its text"
        );
        assert_eq!(b.get(table, key).await.unwrap(), Some(body.clone()));
    }
    assert_eq!(raw(&a, Table::Kv, "win/15551234567").await, b"plain");
    // A replica with another key cannot read them (and says so in the log).
    let stranger = server.store(8).await;
    assert_eq!(
        stranger.get(Table::WebhookQueue, "q/1").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn a_redis_store_without_the_vault_key_refuses_to_start_and_says_how_to_fix_it() {
    let server = TestRedis::start();
    let location = StateLocation::parse(&server.url("")).unwrap();
    let err = StateStore::connect(&location, None).await.err().unwrap();
    let text = err.to_string();
    assert!(text.contains("WHATSAPP_VAULT_KEY"), "{text}");
    assert!(text.contains("every replica"), "{text}");
}

#[tokio::test]
async fn namespaces_keep_two_deployments_on_one_server_apart() {
    let server = TestRedis::start();
    let key = || Some(crate::seal::KeyBytes::new([7; 32]));
    let open = |ns: &str| {
        let location = StateLocation::parse(&server.url(&format!("?namespace={ns}"))).unwrap();
        async move { StateStore::connect(&location, key()).await.unwrap() }
    };
    let (prod, staging) = (open("prod").await, open("staging").await);
    prod.set(Table::Kv, "k", b"prod".to_vec(), None)
        .await
        .unwrap();
    assert_eq!(staging.get(Table::Kv, "k").await.unwrap(), None);
    assert!(staging.scan(Table::Kv, "").await.unwrap().is_empty());
    assert_eq!(prod.redis().unwrap().key("x"), "prod:x");
}

#[tokio::test]
async fn while_redis_is_down_calls_fail_fast_naming_the_store_and_recover_when_it_returns() {
    let mut server = TestRedis::start();
    let store = server.store(7).await;
    store
        .set(Table::Kv, "k", b"kept".to_vec(), None)
        .await
        .unwrap();
    server.stop();
    let started = Instant::now();
    let err = store
        .get(Table::Kv, "k")
        .await
        .err()
        .expect("Redis is down");
    assert!(err.retryable(), "{err}");
    let text = err.to_string();
    assert!(text.contains("unreachable"), "{text}");
    assert!(
        text.contains(&format!("127.0.0.1:{}", server.port)),
        "{text}"
    );
    assert!(store.check().await.is_err());
    assert!(
        store
            .set(Table::Kv, "k2", b"v".to_vec(), None)
            .await
            .is_err(),
        "writes fail too"
    );
    // Fails fast rather than hanging the call (a generous bound, not a benchmark).
    assert!(started.elapsed() < Duration::from_secs(20));
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match store.get(Table::Kv, "k").await {
            Ok(value) => {
                assert_eq!(value, Some(b"kept".to_vec()), "the AOF kept the data");
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "not recovered: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    store.check().await.unwrap();
}

#[tokio::test]
async fn a_password_from_the_url_authenticates_and_never_appears_in_errors() {
    let server = TestRedis::start();
    let mut c = server.store(7).await.redis().unwrap().connection();
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("s3cret-pw")
        .query_async::<()>(&mut c)
        .await
        .unwrap();
    let key = || Some(crate::seal::KeyBytes::new([7; 32]));
    let good = format!("redis://:s3cret-pw@127.0.0.1:{}", server.port);
    let store = StateStore::connect(&StateLocation::parse(&good).unwrap(), key())
        .await
        .unwrap();
    store.check().await.unwrap();
    assert!(!store.kind().contains("s3cret-pw"), "{}", store.kind());
    let wrong = format!("redis://:wrong-pw@127.0.0.1:{}", server.port);
    let err = StateStore::connect(&StateLocation::parse(&wrong).unwrap(), key())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(!err.contains("wrong-pw"), "{err}");
}
