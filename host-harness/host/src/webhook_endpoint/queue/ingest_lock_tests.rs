//! The ingest lock against a real `redis-server`: two replicas in one process ingesting
//! statuses of the same messages at once lose none, and a lock left behind by a crashed
//! replica is respected until its ttl, then taken.

use std::time::Duration;

use tokio::sync::watch;

use super::hooks::Webhooks;
use super::ingest_lock::IngestLock;
use super::test_support::{conn, connector, deployment_store, eventually, options};
use crate::store::test_redis::TestRedis;

const LOCK_KEY: &str = "whatsapp:lock:ingest";

/// One status of message `wamid` as Meta delivers it: a delivery of its own.
fn status_delivery(wamid: &str, status: &str, timestamp: u32) -> Vec<u8> {
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550000000","phone_number_id":"106540352242922"}},"statuses":[{{"id":"{wamid}","status":"{status}","timestamp":"{timestamp}","recipient_id":"16505551234"}}]}}}}]}}]}}"#
    )
    .into_bytes()
}

async fn lock_value(redis: &TestRedis) -> Option<String> {
    redis::cmd("GET")
        .arg(LOCK_KEY)
        .query_async(&mut conn(redis).await)
        .await
        .unwrap()
}

/// How many waits for the lock the process's metrics have recorded.
fn lock_waits_recorded() -> u64 {
    let text = crate::admin::metrics::render(crate::admin::metrics::Snapshot::default());
    text.lines()
        .find_map(|l| l.strip_prefix("whatsapp_webhook_ingest_lock_wait_seconds_count "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("the lock wait histogram is exposed:\n{text}"))
}

/// Entries a replica took and has not acknowledged.
async fn group_pending(redis: &TestRedis) -> u64 {
    let (count, ..): (u64, redis::Value, redis::Value, redis::Value) = redis::cmd("XPENDING")
        .arg("whatsapp:webhooks")
        .arg("ingest")
        .query_async(&mut conn(redis).await)
        .await
        .unwrap();
    count
}

/// The statuses in message `wamid`'s timeline, as `whatsapp_get_message_status` shows it.
async fn timeline(hooks: &Webhooks, wamid: &str) -> Vec<String> {
    let out = hooks
        .runtime()
        .call_tool(
            "whatsapp_get_message_status",
            &serde_json::json!({ "message_id": wamid }).to_string(),
        )
        .await
        .unwrap_or_else(|e| panic!("the status of {wamid} is readable: {e:?}"));
    out["timeline"]
        .as_array()
        .expect("a timeline")
        .iter()
        .map(|e| e["status"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_applying_statuses_of_the_same_messages_at_once_lose_none() {
    const MESSAGES: u32 = 150;
    let redis = TestRedis::start();
    let a = Webhooks::new(
        connector(&redis).await.runtime().clone(),
        options(Duration::from_secs(30)),
    );
    let b = Webhooks::new(
        connector(&redis).await.runtime().clone(),
        options(Duration::from_secs(30)),
    );
    // Each message's sent, delivered and read, then each again (Meta delivers at least
    // once), one delivery each, alternately through the two replicas: consecutive entries
    // are about the same message, and the two workers take them side by side.
    let mut total = 0;
    for m in 0..MESSAGES {
        let wamid = format!("wamid.lock{m}");
        for round in 0..2 {
            for (i, (status, ts)) in [("sent", 100), ("delivered", 200), ("read", 300)]
                .into_iter()
                .enumerate()
            {
                let via = if (round * 3 + i) % 2 == 0 { &a } else { &b };
                via.enqueue(status_delivery(&wamid, status, ts))
                    .await
                    .unwrap();
                total += 1;
            }
        }
    }
    let waits_before = lock_waits_recorded();
    let (stop, rx) = watch::channel(false);
    let workers = [a.clone(), b.clone()].map(|hooks| {
        let rx = rx.clone();
        tokio::spawn(async move { hooks.run_worker(rx).await })
    });
    eventually("every delivery applied", || async {
        (a.stats().ingested + b.stats().ingested == total && a.pending().await.unwrap().is_empty())
            .then_some(())
    })
    .await;
    assert!(
        a.stats().ingested > 0 && b.stats().ingested > 0,
        "both replicas applied deliveries: {:?} {:?}",
        a.stats(),
        b.stats()
    );
    let mut lost = Vec::new();
    for m in 0..MESSAGES {
        let wamid = format!("wamid.lock{m}");
        let seen = timeline(&a, &wamid).await;
        if seen != ["sent", "delivered", "read"] {
            lost.push(format!("{wamid}: {seen:?}"));
        }
    }
    assert!(
        lost.is_empty(),
        "every timeline holds sent, delivered and read exactly once; these do not: {lost:#?}"
    );
    assert_eq!(lock_value(&redis).await, None, "the lock was freed");
    assert!(
        lock_waits_recorded() - waits_before >= total,
        "each ingest's wait for the lock is in the metrics"
    );
    let _ = stop.send(true);
    for w in workers {
        w.await.unwrap();
    }
}

#[tokio::test]
async fn a_lock_left_by_a_crashed_replica_is_respected_until_its_ttl_then_taken() {
    let redis = TestRedis::start();
    let hooks = Webhooks::new(
        connector(&redis).await.runtime().clone(),
        options(Duration::from_secs(30)),
    );
    // A replica that died holding the lock: nobody owns this token.
    let _: () = redis::cmd("SET")
        .arg(LOCK_KEY)
        .arg("crashed-replica")
        .arg("PX")
        .arg(60_000)
        .query_async(&mut conn(&redis).await)
        .await
        .unwrap();
    let (stop, rx) = watch::channel(false);
    let worker = {
        let hooks = hooks.clone();
        tokio::spawn(async move { hooks.run_worker(rx).await })
    };
    hooks
        .enqueue(status_delivery("wamid.crashed", "delivered", 200))
        .await
        .unwrap();
    // The worker took the entry and waits for the lock.
    eventually("the worker took the entry", || async {
        (group_pending(&redis).await == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        lock_value(&redis).await.as_deref(),
        Some("crashed-replica"),
        "the waiting replica neither freed nor overwrote another's lock"
    );
    assert_eq!(
        hooks.stats().ingested,
        0,
        "nothing applied under another's lock"
    );
    // Its ttl runs out.
    let _: () = redis::cmd("PEXPIRE")
        .arg(LOCK_KEY)
        .arg(100)
        .query_async(&mut conn(&redis).await)
        .await
        .unwrap();
    eventually("the delivery applied once the lock expired", || async {
        (hooks.stats().ingested == 1).then_some(())
    })
    .await;
    assert_eq!(timeline(&hooks, "wamid.crashed").await, ["delivered"]);
    assert_eq!(hooks.stats().retries, 0, "waiting is not a failed attempt");
    assert_eq!(lock_value(&redis).await, None, "the lock was freed after");
    let _ = stop.send(true);
    worker.await.unwrap();
}

#[tokio::test]
async fn a_replica_whose_lock_expired_does_not_free_the_lock_another_replica_took_since() {
    let redis = TestRedis::start();
    let store = deployment_store(&redis).await;
    let ttl = Duration::from_millis(300);
    let slow = IngestLock::new(store.redis(), ttl);
    let next = IngestLock::new(store.redis(), ttl);
    let stale = slow.acquire().await.unwrap();
    // `next` waits for the ttl, then holds it.
    let held = next.acquire().await.unwrap();
    assert_eq!(lock_value(&redis).await, held.token.clone());
    slow.release(stale).await;
    assert_eq!(
        lock_value(&redis).await,
        held.token.clone(),
        "the late release left the other replica's lock alone"
    );
    next.release(held).await;
    assert_eq!(lock_value(&redis).await, None);
}

#[tokio::test]
async fn a_lock_held_longer_than_its_ttl_fails_the_ingest_as_retryable_naming_the_lock() {
    let redis = TestRedis::start();
    let _: () = redis::cmd("SET")
        .arg(LOCK_KEY)
        .arg("someone-else")
        .arg("PX")
        .arg(60_000)
        .query_async(&mut conn(&redis).await)
        .await
        .unwrap();
    let store = deployment_store(&redis).await;
    let lock = IngestLock::new(store.redis(), Duration::from_millis(200));
    let reason = match lock.acquire().await {
        Ok(_) => panic!("a lock held by another must not be taken"),
        Err(reason) => reason,
    };
    assert!(
        reason.contains(LOCK_KEY) && reason.contains("retried"),
        "{reason}"
    );
    assert_eq!(lock_value(&redis).await.as_deref(), Some("someone-else"));
}

#[tokio::test]
async fn without_redis_the_lock_is_a_no_op() {
    let lock = IngestLock::new(None, Duration::from_secs(1));
    let first = lock.acquire().await.unwrap();
    let second = lock.acquire().await.unwrap();
    assert_eq!((first.token.clone(), second.token.clone()), (None, None));
    lock.release(first).await;
    lock.release(second).await;
}

#[tokio::test]
async fn a_lock_left_behind_by_a_redis_outage_is_freed_when_redis_returns_not_at_its_ttl() {
    let mut redis = TestRedis::start();
    let store = deployment_store(&redis).await;
    // A ttl longer than `eventually` waits: the lock must be freed, not expire.
    let lock = IngestLock::new(store.redis(), Duration::from_secs(120));
    let held = lock.acquire().await.unwrap();
    redis.stop();
    // Redis is down when the ingest ends: the release fails. The lock is in the AOF, so it
    // is back with Redis, with the rest of its ttl.
    lock.release(held).await;
    redis.restart();
    eventually("the lock freed once Redis is back", || async {
        lock_value(&redis).await.is_none().then_some(())
    })
    .await;
}
