//! What one replica records, another reads: statuses delivered to B are seen
//! through A, a rate limit holds in total over three replicas, `/readyz`
//! follows Redis, and a legacy session stays in the replica that opened it.

use std::time::Duration;

use serde_json::{Value, json};

use super::harness::{
    CUSTOMER, Deployment, eventually, policy_with, send_template, status_of, tool_error,
};

/// Statuses arrive within a second in the sandbox; generous for a loaded machine.
const WEBHOOK_LIMIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_send_through_replica_a_reads_as_delivered_through_a_when_its_webhooks_went_to_replica_b()
{
    let d = Deployment::start(2, None).await;
    let (a, b) = (&d.replicas[0], &d.replicas[1]);
    assert_eq!(
        d.sandbox.config().await["webhook_callback"],
        b.webhook_url.as_str(),
        "the sandbox delivers to B only"
    );
    let id = send_template(&a.mcp, CUSTOMER)
        .await
        .unwrap_or_else(|r| panic!("the send failed: {r}"));
    let status = eventually(WEBHOOK_LIMIT, "A never saw the delivery B received", || {
        let mcp = a.mcp.clone();
        let id = id.clone();
        async move {
            let r = status_of(&mcp, &id).await;
            let seen: Vec<String> = r["structuredContent"]["timeline"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["status"].as_str().map(str::to_string))
                .collect();
            seen.iter().any(|s| s == "delivered").then_some(r)
        }
    })
    .await;
    let current = status["structuredContent"]["status"].as_str().unwrap();
    assert!(
        current == "delivered" || current == "read",
        "A reads {status}"
    );
    // B reads the same record.
    let from_b = status_of(&b.mcp, &id).await;
    assert_eq!(from_b["structuredContent"]["message_id"], id.as_str());
    assert_ne!(
        from_b["structuredContent"]["status"], "accepted",
        "{from_b}"
    );
}

const FIVE_A_MINUTE: &str = r#"
[[apps.rules]]
id = "five-a-minute"
template = "rate_limit"
tools = ["whatsapp_send_template"]
max_calls = 5
window = "1m"
"#;

#[tokio::test]
async fn a_rate_limit_of_five_a_minute_allows_exactly_five_of_twelve_sends_spread_over_three_replicas()
 {
    let d = Deployment::start(3, Some(policy_with(FIVE_A_MINUTE))).await;
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..12 {
        let mcp = d.replicas[i % 3].mcp.clone();
        calls.spawn(async move { send_template(&mcp, CUSTOMER).await });
    }
    let (mut allowed, mut refused) = (0, 0);
    while let Some(outcome) = calls.join_next().await {
        match outcome.unwrap() {
            Ok(_) => allowed += 1,
            Err(result) => {
                let error = tool_error(&result).unwrap_or_else(|| panic!("{result}"));
                assert_eq!(error["error"]["rule"], "five-a-minute", "{result}");
                refused += 1;
            }
        }
    }
    assert_eq!((allowed, refused), (5, 7));
    // And exactly five reached WhatsApp.
    let sent: Vec<Value> = reqwest::get(format!("{}/_sandbox/messages", d.sandbox.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sent.len(), 5, "{sent:?}");
}

#[tokio::test]
async fn a_legacy_session_id_from_replica_a_is_404_on_replica_b_so_the_client_initialises_again() {
    let d = Deployment::start(2, None).await;
    let (a, b) = (&d.replicas[0], &d.replicas[1]);
    let session = a.mcp.open_legacy_session().await;
    let (status, body) = a.mcp.list_in_session(&session).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = b.mcp.list_in_session(&session).await;
    assert_eq!(status, 404, "{body}");
    // Initialising again on B works; stateless requests work on both.
    let again = b.mcp.open_legacy_session().await;
    assert_eq!(b.mcp.list_in_session(&again).await.0, 200);
    let r = b.mcp.call("whatsapp_list_templates", json!({})).await;
    assert_ne!(r["isError"], true, "{r}");
}

#[tokio::test]
async fn readyz_is_503_naming_the_store_while_redis_is_down_and_200_once_it_is_back() {
    let mut d = Deployment::start(1, None).await;
    let a = &d.replicas[0];
    assert_eq!(a.admin("/readyz").await.0, 200);
    d.redis.kill().await;
    let body = eventually(
        WEBHOOK_LIMIT,
        "/readyz stayed 200 with Redis down",
        || async {
            let (status, body) = a.admin("/readyz").await;
            (status == 503).then_some(body)
        },
    )
    .await;
    assert!(body.contains("store"), "{body}");
    assert!(!body.contains("redis://:"), "no credentials: {body}");
    // Alive throughout.
    assert_eq!(a.admin("/healthz").await.0, 200);
    d.redis.restart().await;
    eventually(WEBHOOK_LIMIT, "/readyz never came back", || async {
        (a.admin("/readyz").await.0 == 200).then_some(())
    })
    .await;
}

/// A round-robin balancer on 127.0.0.1:0 in front of `upstreams`' webhook
/// endpoints: each POST goes, body and headers as received, to the next one,
/// and its answer comes back. Returns the balancer's `/webhook` URL.
async fn round_robin(upstreams: Vec<String>) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = std::sync::Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (next, client, upstreams) = (next.clone(), client.clone(), upstreams.clone());
        async move {
            let target = &upstreams[next.fetch_add(1, Ordering::Relaxed) % upstreams.len()];
            let mut forward = client.post(target);
            for name in ["content-type", "x-hub-signature-256"] {
                if let Some(v) = req.headers().get(name) {
                    forward = forward.header(name, v.as_bytes());
                }
            }
            let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                .await
                .unwrap();
            match forward.body(body).send().await {
                Ok(r) => (
                    axum::http::StatusCode::from_u16(r.status().as_u16()).unwrap(),
                    r.bytes().await.unwrap_or_default(),
                ),
                Err(_) => (axum::http::StatusCode::BAD_GATEWAY, Default::default()),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// `whatsapp_webhook_deliveries_total{result="accepted"}` on one replica.
async fn accepted_deliveries(replica: &super::harness::Replica) -> f64 {
    let (status, text) = replica.admin("/metrics").await;
    assert_eq!(status, 200, "{text}");
    text.lines()
        .find(|l| {
            l.starts_with("whatsapp_webhook_deliveries_total{") && l.contains("result=\"accepted\"")
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn webhooks_spread_by_a_balancer_over_two_replicas_are_all_readable_through_either() {
    let d = Deployment::start(2, None).await;
    let (a, b) = (&d.replicas[0], &d.replicas[1]);
    let balancer = round_robin(vec![a.webhook_url.clone(), b.webhook_url.clone()]).await;
    d.sandbox.deliver_to(&balancer).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let via = &d.replicas[i % 2];
        ids.push(send_template(&via.mcp, CUSTOMER).await.unwrap());
    }
    for id in &ids {
        for replica in [a, b] {
            eventually(WEBHOOK_LIMIT, "a status never became readable", || async {
                let r = status_of(&replica.mcp, id).await;
                (r["structuredContent"]["status"] == "read").then_some(())
            })
            .await;
        }
    }
    // The balancer really split them: each replica accepted some.
    let (on_a, on_b) = (accepted_deliveries(a).await, accepted_deliveries(b).await);
    assert!(on_a > 0.0 && on_b > 0.0, "A took {on_a}, B took {on_b}");
    assert!(
        on_a + on_b >= 12.0,
        "three statuses per send: {on_a} + {on_b}"
    );
}
