//! The inbox fan-out against a real `redis-server`: two replicas in one
//! process, each with its own broadcast, as two `serve` processes would be.

use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use tokio::sync::broadcast;

use super::from_another_replica;
use crate::inbox_events::{InboxEvents, InboxNotifier};
use crate::store::StateStore;
use crate::store::test_redis::TestRedis;

const CHANNEL: &str = "whatsapp:inbox-events";

struct Replica {
    notifier: InboxNotifier,
    listener: broadcast::Receiver<String>,
    _store: StateStore,
}

async fn replica(redis: &TestRedis) -> Replica {
    let store = redis.store(7).await;
    let events = InboxEvents::new();
    let listener = events.subscribe();
    let notifier = InboxNotifier::new(events, store.redis());
    Replica {
        notifier,
        listener,
        _store: store,
    }
}

impl Replica {
    /// Waits until the fan-out has subscribed more than `times` times.
    async fn subscribed_more_than(&self, times: u64) {
        let mut subscriptions = self.notifier.fanout().expect("a fan-out").subscriptions();
        subscriptions
            .wait_for(|n| *n > times)
            .await
            .expect("the listener task runs");
    }

    fn subscriptions(&self) -> u64 {
        *self.notifier.fanout().unwrap().subscriptions().borrow()
    }

    async fn next(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(30), self.listener.recv())
            .await
            .expect("an event within 30 s")
            .expect("no lag")
    }
}

/// A subscriber of the channel of its own, to see what goes through Redis.
struct Watcher {
    messages: redis::aio::PubSubStream,
    connection: redis::aio::MultiplexedConnection,
}

impl Watcher {
    async fn start(redis: &TestRedis) -> Watcher {
        let client = redis::Client::open(redis.url("")).unwrap();
        let mut pubsub = client.get_async_pubsub().await.unwrap();
        pubsub.subscribe(CHANNEL).await.unwrap();
        Watcher {
            messages: pubsub.into_on_message(),
            connection: client.get_multiplexed_async_connection().await.unwrap(),
        }
    }

    /// Waits for a message on the channel ending in ` customer`.
    async fn saw(&mut self, customer: &str) {
        loop {
            let message = tokio::time::timeout(
                Duration::from_secs(30),
                std::future::poll_fn(|cx| Pin::new(&mut self.messages).poll_next(cx)),
            )
            .await
            .expect("a message within 30 s")
            .expect("the subscription stays up");
            let text = String::from_utf8(message.get_payload_bytes().to_vec()).unwrap();
            if text.ends_with(&format!(" {customer}")) {
                return;
            }
        }
    }

    /// Publishes `customer` as a third replica would, once Redis has it.
    async fn publish_from_elsewhere(&mut self, customer: &str) {
        let _: u64 = redis::cmd("PUBLISH")
            .arg(CHANNEL)
            .arg(format!("elsewhere {customer}"))
            .query_async(&mut self.connection)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_replica_hears_once_of_a_customer_whichever_replica_ingested_the_message() {
    let redis = TestRedis::start();
    let mut a = replica(&redis).await;
    let mut b = replica(&redis).await;
    a.subscribed_more_than(0).await;
    b.subscribed_more_than(0).await;
    let mut watcher = Watcher::start(&redis).await;

    for (ingesting, customer, sentinel) in [
        ("b", "+15550000001", "+15550000901"),
        ("a", "+15550000002", "+15550000902"),
    ] {
        let by = if ingesting == "a" { &a } else { &b };
        by.notifier.published(&[customer.to_string()]);
        assert_eq!(a.next().await, customer, "replica a hears of {customer}");
        assert_eq!(b.next().await, customer, "replica b hears of {customer}");
        // Redis delivers in order: once the ingesting replica's message is through and a
        // later one is published, each replica's next event is that later one, not the
        // same customer a second time.
        watcher.saw(customer).await;
        watcher.publish_from_elsewhere(sentinel).await;
        assert_eq!(
            a.next().await,
            sentinel,
            "replica a heard of {customer} once"
        );
        assert_eq!(
            b.next().await,
            sentinel,
            "replica b heard of {customer} once"
        );
    }
    // The heartbeat pings (every 20 ms in tests) kept each subscription, never replaced it.
    assert_eq!(a.subscriptions(), 1, "replica a subscribed once");
    assert_eq!(b.subscriptions(), 1, "replica b subscribed once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fan_out_resumes_after_redis_restarts() {
    let mut redis = TestRedis::start();
    let mut a = replica(&redis).await;
    let b = replica(&redis).await;
    a.subscribed_more_than(0).await;
    b.subscribed_more_than(0).await;
    let before = a.subscriptions();

    redis.stop();
    redis.restart();
    a.subscribed_more_than(before).await;

    // The first publish after the restart may go out on a connection Redis closed (and is
    // then lost, as pub/sub is fire-and-forget); the next ones go through.
    let mut published = Vec::new();
    for attempt in 0..100u32 {
        let customer = format!("+1555000{attempt:04}");
        b.notifier.published(std::slice::from_ref(&customer));
        published.push(customer);
        if let Ok(heard) = tokio::time::timeout(Duration::from_millis(300), a.listener.recv()).await
        {
            let heard = heard.unwrap();
            assert!(
                published.contains(&heard),
                "{heard} is one of b's customers"
            );
            return;
        }
    }
    panic!("replica a never heard of replica b's customers after Redis restarted");
}

#[test]
fn only_other_replicas_numbers_are_forwarded() {
    let own = "00000000000000aa";
    assert_eq!(
        from_another_replica(b"00000000000000bb +15550000001", own),
        Some("+15550000001".to_string())
    );
    assert_eq!(
        from_another_replica(b"00000000000000aa +15550000001", own),
        None
    );
    for junk in [
        &b"00000000000000bb hello"[..],
        b"00000000000000bb +1555 0000001",
        b"00000000000000bb 15550000001",
        b"00000000000000bb +1234567890123456",
        b"+15550000001",
        b"\xff\xfe +15550000001",
    ] {
        assert_eq!(from_another_replica(junk, own), None, "{junk:?}");
    }
}
