//! Crashes: a replica `kill -9`ed while holding webhook deliveries it took
//! from the shared stream but never applied, and Redis itself killed and
//! restarted (AOF `always`) in the middle of traffic.

use std::time::Duration;

use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use sha2::Sha256;

use super::harness::{
    APP_SECRET, CUSTOMER, Deployment, McpClient, Redis, Replica, ReplicaOptions, SandboxProcess,
    eventually, send_template, status_of, tool_error,
};

/// The stream every replica's webhook queue shares, and its consumer group.
const STREAM: &str = "whatsapp:webhooks";
const GROUP: &str = "ingest";
/// `[webhooks] claim_timeout_secs` of the replicas in the crash test.
const CLAIM_TIMEOUT_SECS: &str = "3";
/// Past the claim timeout, with room for a loaded machine.
const TAKEOVER_LIMIT: Duration = Duration::from_secs(180);

/// The statuses of `id` as `mcp` reads them, oldest first.
async fn timeline(mcp: &McpClient, id: &str) -> Vec<String> {
    let r = status_of(mcp, id).await;
    r["structuredContent"]["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["status"].as_str().map(str::to_string))
        .collect()
}

/// Waits until every message in `ids` has its three statuses applied (in
/// whatever order their webhooks were acknowledged and retried), then checks
/// that each was recorded exactly once (an ingest applied twice would not
/// show otherwise, since the status itself only moves forward).
async fn all_read_each_status_once(mcp: &McpClient, ids: &[String]) {
    for id in ids {
        let what = format!("{id}: a status never applied");
        let seen = eventually(TAKEOVER_LIMIT, &what, || async {
            let seen = timeline(mcp, id).await;
            let complete = ["sent", "delivered", "read"]
                .iter()
                .all(|status| seen.iter().any(|s| s == status));
            complete.then_some(seen)
        })
        .await;
        for status in ["sent", "delivered", "read"] {
            let n = seen.iter().filter(|s| *s == status).count();
            assert_eq!(n, 1, "{id}: `{status}` {n} times in {seen:?}");
        }
    }
}

/// Entries of the shared stream taken by some consumer and not yet acknowledged.
async fn pending(redis: &Redis) -> i64 {
    let reply = redis.command(&["XPENDING", STREAM, GROUP]).await.unwrap();
    reply.items().first().and_then(|r| r.int()).unwrap_or(0)
}

/// The sandbox finished `expected` webhooks, and every one it finished was
/// acknowledged with a 2xx (none given up after its retries).
async fn sandbox_delivered_everything(sandbox: &SandboxProcess, expected: usize) {
    let log = eventually(TAKEOVER_LIMIT, "the sandbox never finished", || async {
        let log = sandbox.deliveries().await;
        (log.len() >= expected).then_some(log)
    })
    .await;
    let refused: Vec<&Value> = log.iter().filter(|d| d["delivered"] != true).collect();
    assert!(refused.is_empty(), "given up: {refused:?}");
}

#[tokio::test]
async fn a_replica_killed_while_holding_taken_webhooks_loses_none_and_another_applies_each_once() {
    let redis = Redis::start().await;
    let sandbox = SandboxProcess::start(None).await;
    let options = ReplicaOptions {
        state_url: redis.url(),
        // Short, so the takeover comes soon after the crash.
        env: vec![(
            "WHATSAPP_WEBHOOK_CLAIM_TIMEOUT_SECS".into(),
            CLAIM_TIMEOUT_SECS.into(),
        )],
        ..ReplicaOptions::default()
    };
    let victim = Replica::start(&sandbox, &options).await;
    sandbox.deliver_to(&victim.webhook_url).await;
    let mcp = victim.mcp.clone();

    // Traffic until the victim is caught, frozen, holding entries it took
    // but has not acknowledged; each round adds three statuses per send and
    // a burst of inbound messages.
    let mut ids = Vec::new();
    let mut caught = 0;
    'rounds: for round in 0..20 {
        for _ in 0..5 {
            ids.push(send_template(&mcp, CUSTOMER).await.unwrap());
        }
        for i in 0..20 {
            sandbox
                .inbound(CUSTOMER, &format!("round {round} message {i}"))
                .await;
        }
        for _ in 0..100 {
            victim.freeze(true);
            caught = pending(&redis).await;
            if caught > 0 {
                break 'rounds;
            }
            victim.freeze(false);
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    }
    assert!(
        caught > 0,
        "the victim never held an unapplied entry; its stderr:\n{}",
        victim.stderr()
    );
    victim.kill().await;
    eprintln!("killed the victim holding {caught} taken, unacknowledged entries");
    assert_eq!(
        pending(&redis).await,
        caught,
        "killed: nothing applies them"
    );

    let heir = Replica::start(&sandbox, &options).await;
    sandbox.deliver_to(&heir.webhook_url).await;
    eventually(
        TAKEOVER_LIMIT,
        "the heir never took over the entries",
        || async { (pending(&redis).await == 0).then_some(()) },
    )
    .await;
    // Three statuses per send, one webhook per inbound message.
    let inbound = ids.len() / 5 * 20;
    sandbox_delivered_everything(&sandbox, ids.len() * 3 + inbound).await;
    all_read_each_status_once(&heir.mcp, &ids).await;
    let dead: Value = dead_letters(&redis).await;
    assert_eq!(dead, json!(0), "nothing went to the dead letters");
}

/// How many entries the dead-letter stream holds.
async fn dead_letters(redis: &Redis) -> Value {
    let n = redis
        .command(&["XLEN", &format!("{STREAM}:dead")])
        .await
        .unwrap()
        .int()
        .unwrap_or(0);
    json!(n)
}

/// A status webhook for `id`, signed as Meta signs it.
fn signed_status(phone_number_id: &str, id: &str) -> (Vec<u8>, String) {
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "0", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
        "statuses": [{"id": id, "status": "delivered", "timestamp": "1700000000",
                      "recipient_id": "16505551234"}]}}]}]})
    .to_string()
    .into_bytes();
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(&body);
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    (body, signature)
}

#[tokio::test]
async fn redis_killed_and_restarted_mid_traffic_loses_no_acknowledged_webhook_and_calls_fail_retryably_meanwhile()
 {
    let mut d = Deployment::start(2, None).await;
    let (a, b) = (&d.replicas[0], &d.replicas[1]);
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(send_template(&a.mcp, CUSTOMER).await.unwrap());
    }
    // Statuses are on their way to B (50 to 300 ms after each send).
    d.redis.kill().await;

    // A call that needs state fails with the retryable store error.
    let error = eventually(
        TAKEOVER_LIMIT,
        "no store error during the outage",
        || async {
            let r = status_of(&a.mcp, &ids[0]).await;
            tool_error(&r)
        },
    )
    .await;
    assert_eq!(error["error"]["retryable"], true, "{error}");
    let text = error.to_string();
    assert!(text.contains("store"), "names the store: {text}");
    // A webhook arriving now is refused with 503, so Meta retries it.
    let cfg = d.sandbox.config().await;
    let (body, signature) = signed_status(cfg["phone_number_id"].as_str().unwrap(), &ids[0]);
    let refused = reqwest::Client::new()
        .post(&b.webhook_url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 503);

    d.redis.restart().await;
    let a = &d.replicas[0];
    sandbox_delivered_everything(&d.sandbox, ids.len() * 3).await;
    all_read_each_status_once(&a.mcp, &ids).await;
    // Calls succeed again, sends included.
    let again = send_template(&a.mcp, CUSTOMER).await;
    assert!(again.is_ok(), "{again:?}");
}
