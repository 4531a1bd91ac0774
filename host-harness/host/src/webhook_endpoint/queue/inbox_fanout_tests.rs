//! Inbox events across two replicas on one real `redis-server`: a message one replica's
//! webhook worker ingests reaches the listeners of a replica that runs no webhook endpoint.

use std::time::Duration;

use tokio::sync::watch;

use super::hooks::Webhooks;
use super::test_support::{connector, connector_with, options};
use crate::inbox_events::{self, InboxEvents};
use crate::store::test_redis::TestRedis;

/// A customer no other test of this process writes as, since the listener here hears the
/// process-wide broadcast.
const CUSTOMER: &str = "+16505550142";

/// A text message from [`CUSTOMER`], shaped as Meta delivers it.
fn message_delivery() -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let from = CUSTOMER.trim_start_matches('+');
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550000000","phone_number_id":"106540352242922"}},"contacts":[{{"profile":{{"name":"Ana"}},"wa_id":"{from}"}}],"messages":[{{"from":"{from}","id":"wamid.fanout142","timestamp":"{now}","type":"text","text":{{"body":"Is my order on its way?"}}}}]}}}}]}}]}}"#
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_without_the_webhook_endpoint_hears_of_a_message_another_replica_ingested() {
    let redis = TestRedis::start();
    let mcp_only = connector(&redis).await;
    let following = inbox_events::follow_other_replicas(mcp_only.runtime())
        .expect("on Redis, a replica follows the others");
    following
        .fanout()
        .subscriptions()
        .wait_for(|n| *n > 0)
        .await
        .unwrap();
    let mut listener = inbox_events::global().subscribe();

    let ingesting = Webhooks::telling(
        connector_with(&redis, |s| s.inbox.enabled = true)
            .await
            .runtime()
            .clone(),
        options(Duration::from_secs(30)),
        InboxEvents::new(),
    );
    ingesting.enqueue(message_delivery()).await.unwrap();
    let (stop, rx) = watch::channel(false);
    let worker = {
        let hooks = ingesting.clone();
        tokio::spawn(async move { hooks.run_worker(rx).await })
    };

    let heard = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match listener.recv().await {
                Ok(customer) if customer == CUSTOMER => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("the process's broadcast closed: {e}"),
            }
        }
    })
    .await;
    let stats = ingesting.stats();
    let _ = stop.send(true);
    worker.await.unwrap();
    assert!(
        heard.is_ok(),
        "the replica without an endpoint never heard of {CUSTOMER}; ingesting replica: {stats:?}"
    );
    assert_eq!(stats.ingested, 1, "the other replica ingested the message");
}
