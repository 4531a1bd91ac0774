//! A client subscribed to a conversation on one replica is told of the
//! customer's new message when another replica ingested it, once.

use std::time::Duration;

use serde_json::json;

use super::harness::{Replica, ReplicaOptions, SandboxProcess, eventually};
use super::redis_server::Redis;
use crate::inbox::wiring::Session;

const CUSTOMER: &str = "+16505551234";
const LATER_CUSTOMER: &str = "+16505559876";

/// `whatsapp_webhook_ingests_total{result="applied"}` on one replica.
async fn applied(replica: &Replica) -> f64 {
    let (status, text) = replica.admin("/metrics").await;
    assert_eq!(status, 200, "{text}");
    text.lines()
        .find(|l| {
            l.starts_with("whatsapp_webhook_ingests_total{") && l.contains("result=\"applied\"")
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_client_subscribed_on_one_replica_is_told_once_of_a_message_another_replica_ingested() {
    let redis = Redis::start().await;
    let sandbox = SandboxProcess::start(None).await;
    let options = ReplicaOptions {
        state_url: redis.url(),
        policy: None,
        env: vec![("WHATSAPP_INBOX_ENABLED".into(), "true".into())],
    };
    let a = Replica::start(&sandbox, &options).await;
    let b = Replica::start(&sandbox, &options).await;
    sandbox.deliver_to(&b.webhook_url).await;

    whatsapp_host::install_crypto_provider();
    let mut client = Session::open(&a.mcp.url, reqwest::Client::new(), None).await;
    for customer in [CUSTOMER, LATER_CUSTOMER] {
        let uri = format!("whatsapp://conversations/{customer}");
        let subscribed = client
            .request("resources/subscribe", json!({"uri": uri}))
            .await;
        assert!(subscribed.get("result").is_some(), "{subscribed}");
    }
    let mut stream = client.stream().await;

    // While replica a is frozen, only b's worker can take the delivery from the shared
    // queue: b ingests it, and a hears of it through Redis once it runs again.
    a.freeze(true);
    sandbox.inbound(CUSTOMER, "Hi, where is my order?").await;
    eventually(
        Duration::from_secs(60),
        "replica b applied the delivery",
        || async { (applied(&b).await >= 1.0).then_some(()) },
    )
    .await;
    a.freeze(false);
    assert_eq!(
        stream.next_update().await,
        format!("whatsapp://conversations/{CUSTOMER}"),
        "{}",
        a.stderr()
    );

    // The next update is the later customer's, not the first one's again.
    sandbox.inbound(LATER_CUSTOMER, "Hello?").await;
    assert_eq!(
        stream.next_update().await,
        format!("whatsapp://conversations/{LATER_CUSTOMER}"),
        "{}",
        a.stderr()
    );
}
