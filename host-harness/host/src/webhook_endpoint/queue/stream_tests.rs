//! The Redis Stream queue against a real `redis-server` each test starts on a free loopback
//! port (AOF `always`, as the README advises), with the real component applying entries.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::hooks::Webhooks;
use super::stream::StreamQueue;
use super::test_support::{conn, connector, connector_with, deployment_store, eventually, options};
use crate::seal::StateSeal;
use crate::store::test_redis::TestRedis;

struct Replica {
    hooks: Webhooks,
    stop: watch::Sender<bool>,
    worker: tokio::task::JoinHandle<()>,
}

const KEY: &str = "whatsapp:webhooks";

/// A replica's view of the stream: its own connection and consumer, the deployment's seal.
async fn queue_on(redis: &TestRedis) -> StreamQueue {
    let store = deployment_store(redis).await;
    StreamQueue::new(store.redis().unwrap(), store.seal().clone())
}

/// The seal every replica of the test deployment uses.
async fn deployment_seal(redis: &TestRedis) -> Arc<StateSeal> {
    deployment_store(redis).await.seal().clone()
}

/// One replica: its own runtime and consumer on the shared stream and seal; worker running.
async fn replica(redis: &TestRedis, claim_timeout: Duration) -> Replica {
    let connector = connector(redis).await;
    let hooks = Webhooks::new(connector.runtime().clone(), options(claim_timeout));
    let (stop, rx) = watch::channel(false);
    let worker = {
        let hooks = hooks.clone();
        tokio::spawn(async move { hooks.run_worker(rx).await })
    };
    Replica {
        hooks,
        stop,
        worker,
    }
}

impl Replica {
    async fn shut(self) {
        let _ = self.stop.send(true);
        self.worker.await.unwrap();
    }
}

/// A delivery the component applies (an empty batch of changes for our account).
fn delivery(n: u32) -> Vec<u8> {
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550000000","phone_number_id":"106540352242922"}},"statuses":[{{"id":"wamid.test{n}","status":"delivered","timestamp":"1767225600","recipient_id":"16505551234"}}]}}}}]}}]}}"#
    )
    .into_bytes()
}

/// Entries given to a consumer and not acknowledged yet.
async fn group_pending(redis: &TestRedis) -> u64 {
    let (count, ..): (u64, redis::Value, redis::Value, redis::Value) = redis::cmd("XPENDING")
        .arg(KEY)
        .arg("ingest")
        .query_async(&mut conn(redis).await)
        .await
        .unwrap();
    count
}

async fn raw(redis: &TestRedis, cmd: &redis::Cmd) -> redis::Value {
    cmd.query_async(&mut conn(redis).await).await.unwrap()
}

#[tokio::test]
async fn each_enqueued_delivery_is_applied_once_then_removed_from_the_stream() {
    let redis = TestRedis::start();
    let a = replica(&redis, Duration::from_secs(30)).await;
    for n in 0..5 {
        a.hooks.enqueue(delivery(n)).await.unwrap();
    }
    eventually("five deliveries applied", || async {
        (a.hooks.stats().ingested == 5 && a.hooks.pending().await.unwrap().is_empty()).then_some(())
    })
    .await;
    assert_eq!(group_pending(&redis).await, 0, "each was acknowledged");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(a.hooks.stats().ingested, 5, "none applied twice");
    assert!(a.hooks.dead_letters().await.unwrap().is_empty());
    a.shut().await;
}

#[tokio::test]
async fn the_body_in_redis_is_sealed_and_bound_to_its_entry() {
    let redis = TestRedis::start();
    let queue = queue_on(&redis).await;
    queue
        .enqueue(b"{\"text\":\"my card is 4111\"}")
        .await
        .unwrap();
    let dump = raw(&redis, redis::cmd("XRANGE").arg(KEY).arg("-").arg("+")).await;
    let text = format!("{dump:?}");
    assert!(!text.contains("card"), "{text}");
    assert!(text.contains("body") && text.contains("key"), "{text}");
}

#[tokio::test]
async fn entries_a_crashed_replica_took_are_taken_over_by_a_live_one_and_applied_once() {
    let redis = TestRedis::start();
    // The replica that will crash: it stores the deliveries and takes them, then dies
    // before applying or acknowledging any.
    let crashed = queue_on(&redis).await;
    crashed.ensure_group().await.unwrap();
    for n in 0..4 {
        crashed.enqueue(&delivery(n)).await.unwrap();
    }
    let mut taken = 0;
    loop {
        let batch = crashed.take_new().await.unwrap();
        if batch.is_empty() {
            break;
        }
        taken += batch.len();
    }
    assert_eq!(taken, 4);
    drop(crashed);
    assert_eq!(group_pending(&redis).await, 4);

    let b = replica(&redis, Duration::from_millis(500)).await;
    let c = replica(&redis, Duration::from_millis(500)).await;
    eventually("the orphaned deliveries applied", || async {
        let s = (b.hooks.stats(), c.hooks.stats());
        (s.0.ingested + s.1.ingested == 4 && group_pending(&redis).await == 0).then_some(())
    })
    .await;
    assert!(b.hooks.pending().await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let total = b.hooks.stats().ingested + c.hooks.stats().ingested;
    assert_eq!(total, 4, "each applied by exactly one live replica");
    b.shut().await;
    c.shut().await;
}

#[tokio::test]
async fn a_payload_the_component_rejects_goes_to_the_dead_letters_and_the_queue_flows_on() {
    let redis = TestRedis::start();
    let a = replica(&redis, Duration::from_secs(30)).await;
    let poison = b"{\"object\": \"whatsapp_business_account\", \"entry\": [".to_vec();
    a.hooks.enqueue(poison.clone()).await.unwrap();
    a.hooks.enqueue(delivery(1)).await.unwrap();
    let dead = eventually("the poison entry dead-lettered", || async {
        let dead = a.hooks.dead_letters().await.unwrap();
        (!dead.is_empty() && a.hooks.stats().ingested == 1).then_some(dead)
    })
    .await;
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].reason.starts_with("webhook body is"),
        "{}",
        dead[0].reason
    );
    assert_eq!(dead[0].attempts, 1);
    assert_eq!(dead[0].body, poison, "kept as received");
    assert!(a.hooks.pending().await.unwrap().is_empty());
    assert_eq!(group_pending(&redis).await, 0);
    // At rest in the dead-letter stream, the body is sealed too.
    let stored = raw(
        &redis,
        redis::cmd("XRANGE")
            .arg(format!("{KEY}:dead"))
            .arg("-")
            .arg("+"),
    )
    .await;
    assert!(!format!("{stored:?}").contains("whatsapp_business_account"));
    a.shut().await;
}

#[tokio::test]
async fn an_entry_written_into_redis_without_the_deployments_key_is_refused_not_applied() {
    let redis = TestRedis::start();
    let a = replica(&redis, Duration::from_secs(30)).await;
    // Someone with write access to Redis but not the key injects "deliveries": one in
    // plaintext, one sealed under another key, one with a body moved from another entry.
    let forged = delivery(7);
    let _: String = redis::cmd("XADD")
        .arg(KEY)
        .arg("*")
        .arg("key")
        .arg("0000000000000001-00000000-00000000")
        .arg("body")
        .arg(&forged)
        .query_async(&mut conn(&redis).await)
        .await
        .unwrap();
    let other = StateSeal::ephemeral();
    let _: String = redis::cmd("XADD")
        .arg(KEY)
        .arg("*")
        .arg("key")
        .arg("0000000000000002-00000000-00000000")
        .arg("body")
        .arg(other.seal(
            "webhook_queue/q/0000000000000002-00000000-00000000",
            &forged,
        ))
        .query_async(&mut conn(&redis).await)
        .await
        .unwrap();
    let moved = deployment_seal(&redis).await.seal(
        "webhook_queue/q/0000000000000009-00000000-00000000",
        &forged,
    );
    let _: String = redis::cmd("XADD")
        .arg(KEY)
        .arg("*")
        .arg("key")
        .arg("0000000000000003-00000000-00000000")
        .arg("body")
        .arg(moved)
        .query_async(&mut conn(&redis).await)
        .await
        .unwrap();
    a.hooks.enqueue(delivery(1)).await.unwrap();
    eventually(
        "the genuine delivery applied and the forgeries refused",
        || async {
            let dead = a.hooks.dead_letters().await.unwrap();
            (a.hooks.stats().ingested == 1 && dead.len() == 2).then_some(())
        },
    )
    .await;
    let reasons: Vec<String> = a
        .hooks
        .dead_letters()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.reason)
        .collect();
    assert!(reasons[0].contains("not encrypted"), "{reasons:?}");
    assert!(reasons[1].contains("does not authenticate"), "{reasons:?}");
    // The one sealed under another key is left for a replica that has it, never applied here.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        a.hooks.stats().ingested,
        1,
        "only the genuine delivery was applied"
    );
    assert_eq!(group_pending(&redis).await, 1);
    a.shut().await;
}

#[tokio::test]
async fn an_entry_given_out_more_often_than_max_attempts_goes_to_the_dead_letters() {
    let redis = TestRedis::start();
    // Replicas that died while applying it, five times over.
    let crashed = queue_on(&redis).await;
    crashed.ensure_group().await.unwrap();
    let id = crashed.enqueue(&delivery(3)).await.unwrap();
    crashed.take_new().await.unwrap();
    let _: redis::Value = redis::cmd("XCLAIM")
        .arg(KEY)
        .arg("ingest")
        .arg(crashed.consumer())
        .arg(0)
        .arg(&id)
        .arg("RETRYCOUNT")
        .arg(5)
        .query_async(&mut conn(&redis).await)
        .await
        .unwrap();
    drop(crashed);
    let b = replica(&redis, Duration::from_millis(300)).await;
    let dead = eventually("the entry dead-lettered", || async {
        let dead = b.hooks.dead_letters().await.unwrap();
        (!dead.is_empty()).then_some(dead)
    })
    .await;
    assert_eq!(dead[0].attempts, 6, "five earlier deliveries and this one");
    assert!(dead[0].reason.contains("6 times"), "{}", dead[0].reason);
    assert_eq!(dead[0].body, delivery(3));
    assert_eq!(b.hooks.stats().ingested, 0, "not applied once more");
    assert_eq!(group_pending(&redis).await, 0);
    b.shut().await;
}

fn signed(body: &[u8]) -> String {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"test-app-secret").unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn with_redis_down_a_delivery_gets_503_and_nothing_acknowledged_is_lost() {
    crate::install_crypto_provider();
    let mut redis = TestRedis::start();
    let connector = connector(&redis).await;
    let hooks = Webhooks::new(
        connector.runtime().clone(),
        options(Duration::from_secs(30)),
    );
    // The endpoint alone first: what is acknowledged waits in Redis, unapplied.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = crate::webhook_endpoint::callback_url(listener.local_addr().unwrap());
    let app = hooks.router();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::new();
    let post = |body: Vec<u8>| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            http.post(&url)
                .header("content-type", "application/json")
                .header("x-hub-signature-256", signed(&body))
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(post(delivery(1)).await.status(), 200);

    redis.stop();
    let refused = post(delivery(2)).await;
    assert_eq!(refused.status(), 503, "not acknowledged, so Meta retries");
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(hooks.stats().accepted, 1);

    redis.restart();
    // Meta's retry of the refused delivery, until the store answers again.
    eventually("the retried delivery accepted", || async {
        (post(delivery(2)).await.status() == 200).then_some(())
    })
    .await;
    assert_eq!(
        hooks.pending().await.unwrap().len(),
        2,
        "the first survived the crash"
    );

    let (stop, rx) = watch::channel(false);
    let worker = {
        let hooks = hooks.clone();
        tokio::spawn(async move { hooks.run_worker(rx).await })
    };
    eventually("both deliveries applied", || async {
        (hooks.stats().ingested == 2 && hooks.pending().await.unwrap().is_empty()).then_some(())
    })
    .await;
    let _ = stop.send(true);
    worker.await.unwrap();
    server.abort();
}

#[tokio::test]
async fn consumers_of_replicas_long_gone_are_removed_unless_they_still_hold_entries() {
    let redis = TestRedis::start();
    let holding = queue_on(&redis).await;
    holding.ensure_group().await.unwrap();
    holding.enqueue(&delivery(1)).await.unwrap();
    assert_eq!(holding.take_new().await.unwrap().len(), 1);
    // A consumer exists once it was given an entry; this one applied its entry and left.
    let gone = queue_on(&redis).await;
    gone.enqueue(&delivery(2)).await.unwrap();
    let taken = gone.take_new().await.unwrap();
    gone.ack(&taken[0].id).await.unwrap();
    let me = queue_on(&redis).await;
    me.enqueue(&delivery(3)).await.unwrap();
    let taken = me.take_new().await.unwrap();
    me.ack(&taken[0].id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;

    assert_eq!(
        me.prune_consumers(Duration::from_millis(10)).await.unwrap(),
        1
    );
    let consumers: redis::streams::StreamInfoConsumersReply = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(KEY)
        .arg("ingest")
        .query_async(&mut conn(&redis).await)
        .await
        .unwrap();
    let mut names: Vec<String> = consumers.consumers.into_iter().map(|c| c.name).collect();
    names.sort();
    let mut expected = vec![holding.consumer().to_string(), me.consumer().to_string()];
    expected.sort();
    assert_eq!(
        names, expected,
        "the one holding an entry and the caller stay"
    );
    assert_eq!(
        group_pending(&redis).await,
        1,
        "nothing fell out of the pending list"
    );
}

#[tokio::test]
async fn the_depth_counts_waiting_and_held_entries_and_ages_the_oldest() {
    let redis = TestRedis::start();
    let queue = queue_on(&redis).await;
    assert_eq!(
        queue.depth().await.unwrap(),
        super::types::QueueDepth::default()
    );
    queue.ensure_group().await.unwrap();
    queue.enqueue(&delivery(1)).await.unwrap();
    let held = queue.take_new().await.unwrap();
    queue.enqueue(&delivery(2)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let depth = queue.depth().await.unwrap();
    assert_eq!(
        depth.entries, 2,
        "the one being applied counts until acknowledged"
    );
    assert!(depth.oldest_age_seconds >= 0.05, "{depth:?}");
    queue.ack(&held[0].id).await.unwrap();
    assert_eq!(queue.depth().await.unwrap().entries, 1);
}

#[tokio::test]
async fn a_failing_ingest_is_retried_by_its_replica_then_dead_lettered_after_max_attempts() {
    let redis = TestRedis::start();
    // A delivery the component cannot hold within 2 MiB (its 1 MiB stack plus the 1.2 MB
    // body): every ingest of it fails, retryable as far as the queue can tell.
    let connector = connector_with(&redis, |s| s.runtime.memory_limit_mib = 2).await;
    let oversized = format!(
        r#"{{"object":"whatsapp_business_account","entry":[],"pad":"{}"}}"#,
        "x".repeat(1_200_000)
    )
    .into_bytes();
    let hooks = Webhooks::new(
        connector.runtime().clone(),
        options(Duration::from_secs(30)),
    );
    let (stop, rx) = watch::channel(false);
    let worker = {
        let hooks = hooks.clone();
        tokio::spawn(async move { hooks.run_worker(rx).await })
    };
    hooks.enqueue(oversized.clone()).await.unwrap();
    let dead = eventually("the delivery dead-lettered", || async {
        let dead = hooks.dead_letters().await.unwrap();
        (!dead.is_empty()).then_some(dead)
    })
    .await;
    assert_eq!(
        dead[0].attempts, 3,
        "max_attempts deliveries, each one ingest"
    );
    assert_eq!(dead[0].body, oversized);
    assert!(!dead[0].reason.is_empty());
    let stats = hooks.stats();
    assert_eq!(
        (stats.ingested, stats.retries, stats.dead_lettered),
        (0, 2, 1)
    );
    assert_eq!(group_pending(&redis).await, 0);
    assert!(hooks.pending().await.unwrap().is_empty());
    let _ = stop.send(true);
    worker.await.unwrap();
}

#[tokio::test]
async fn deliveries_a_file_queue_left_in_redis_are_moved_into_the_stream_and_applied() {
    let redis = TestRedis::start();
    // What `state copy` from a file with two waiting deliveries and a dead letter leaves.
    let store = deployment_store(&redis).await;
    for (key, body) in [
        ("q/0001767225600000-00000000-0000000a", delivery(1)),
        ("q/0001767225600001-00000001-0000000b", delivery(2)),
    ] {
        store
            .set(crate::store::Table::WebhookQueue, key, body, None)
            .await
            .unwrap();
    }
    let dead = serde_json::json!({"reason": "webhook body is not JSON", "attempts": 1, "body": ""});
    store
        .set(
            crate::store::Table::WebhookQueue,
            "dead/0001767225600002-00000002-0000000c",
            dead.to_string().into_bytes(),
            Some(60),
        )
        .await
        .unwrap();
    let a = replica(&redis, Duration::from_secs(30)).await;
    eventually("the copied deliveries applied", || async {
        (a.hooks.stats().ingested == 2 && a.hooks.pending().await.unwrap().is_empty()).then_some(())
    })
    .await;
    let left = store
        .scan(crate::store::Table::WebhookQueue, "q/")
        .await
        .unwrap();
    assert!(left.is_empty(), "moved out of the table: {left:?}");
    let dead = a.hooks.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1, "the copied dead letter is listed");
    assert_eq!(dead[0].reason, "webhook body is not JSON");
    a.shut().await;
}

#[tokio::test]
async fn a_replica_resumes_applying_by_itself_once_redis_is_back() {
    let mut redis = TestRedis::start();
    let a = replica(&redis, Duration::from_secs(30)).await;
    a.hooks.enqueue(delivery(1)).await.unwrap();
    eventually("the first delivery applied", || async {
        (a.hooks.stats().ingested == 1).then_some(())
    })
    .await;
    redis.stop();
    assert!(a.hooks.enqueue(delivery(2)).await.is_err(), "Redis is down");
    // The worker keeps polling a Redis that is down meanwhile.
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.restart();
    eventually("a delivery stored after the outage", || async {
        a.hooks.enqueue(delivery(2)).await.ok()
    })
    .await;
    eventually("the delivery after the outage applied", || async {
        (a.hooks.stats().ingested == 2 && a.hooks.pending().await.unwrap().is_empty()).then_some(())
    })
    .await;
    a.shut().await;
}
