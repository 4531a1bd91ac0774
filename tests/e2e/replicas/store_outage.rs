//! One gateway on a Redis state store that goes away and comes back: tool
//! calls and rate-limited calls fail fast with a retryable error naming the
//! store (never its password) and work again once Redis is back; a gateway
//! that cannot reach Redis at start refuses to start, saying which store.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use whatsapp_host::gateway::Gateway;
use whatsapp_host::policy::{Policy, ToolInfo};
use whatsapp_sandbox::{Sandbox, SandboxConfig};

use super::redis_server::Redis;
use crate::common::{CUSTOMER, Env};

/// A connector on `redis`, sealing with a vault key in `keys` (as every
/// replica of a deployment would).
async fn env_on(redis: &Redis, keys: &tempfile::TempDir) -> Env {
    let url = redis.url();
    let (vault, key_file) = (
        keys.path().join("vault.json"),
        keys.path().join("vault.key"),
    );
    let env = Env::builder()
        .settings(move |s| {
            s.state.url = url;
            s.vault.path = vault;
            s.vault.key_file = key_file;
            s.vault_file(true).expect("a vault key file");
        })
        .start()
        .await;
    env.sandbox.simulate_inbound(CUSTOMER, "hi");
    env
}

/// Retries `call` until it succeeds (Redis is back), for at most 15 s.
async fn once_back<F, Fut>(mut call: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Value, whatsapp_host::tool::ToolError>>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match call().await {
            Ok(value) => return value,
            Err(e) => assert!(Instant::now() < deadline, "still failing: {e:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn while_redis_is_down_a_tool_call_fails_retryably_naming_the_store_and_works_once_it_is_back()
 {
    let mut redis = Redis::start().await;
    let keys = tempfile::tempdir().unwrap();
    let env = env_on(&redis, &keys).await;
    let sent = env
        .call(
            "whatsapp_send_message",
            json!({"to": CUSTOMER, "text": "hello"}),
        )
        .await
        .unwrap();
    let id = sent["message_id"].as_str().unwrap().to_string();
    let status = || env.call("whatsapp_get_message_status", json!({"message_id": id}));
    status().await.expect("the send was recorded in Redis");

    redis.kill().await;
    let e = status().await.expect_err("Redis is down");
    assert!(e.retryable, "{e:?}");
    let text = format!("{} {} {}", e.title, e.details, e.hint);
    assert!(text.contains("unreachable"), "{text}");
    assert!(
        text.contains(&format!("127.0.0.1:{}", redis.port)),
        "{text}"
    );

    redis.restart().await;
    let value = once_back(status).await;
    assert_eq!(
        value["message_id"],
        id.as_str(),
        "the record survived (AOF)"
    );
}

const RATE: &str = r#"
[[rules]]
id = "two-a-minute"
template = "rate_limit"
tools = ["whatsapp_list_templates"]
max_calls = 2
window = "1m"

[[apps]]
name = "a"
tools = ["*"]
"#;

#[tokio::test]
async fn while_redis_is_down_a_rate_limited_call_is_refused_retryably_and_nothing_is_sent() {
    let mut redis = Redis::start().await;
    let keys = tempfile::tempdir().unwrap();
    let env = env_on(&redis, &keys).await;
    let tools = ToolInfo::from_descriptors(env.harness.runtime().tools());
    let policy = Policy::parse(RATE, "rate.toml", &tools).unwrap();
    let gateway = Arc::new(Gateway::with_policy(env.harness.runtime().clone(), policy));
    let list = || gateway.call_tool("a", "whatsapp_list_templates", "{}");
    list().await.unwrap();

    redis.kill().await;
    env.sandbox.clear_requests();
    let e = list().await.expect_err("Redis is down");
    assert!(e.retryable, "{e:?}");
    assert!(
        e.details.contains("unreachable") && e.details.contains("nothing was sent"),
        "{e:?}"
    );
    assert!(env.sandbox.requests().is_empty(), "nothing reached the API");

    redis.restart().await;
    once_back(list).await;
    // Two calls counted in all (the refused one left no trace): the third is refused.
    let e = list().await.expect_err("the limit is reached");
    assert!(e.details.contains("two-a-minute"), "{e:?}");
}

#[tokio::test]
async fn serve_refuses_to_start_on_an_unreachable_redis_naming_it_without_its_password() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = sandbox.config().clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_host-harness"))
            .args([
                "--log",
                "debug",
                "serve",
                "--http",
                "127.0.0.1:0",
                "--state-url",
            ])
            .arg(format!("redis://app:hunter2-secret@127.0.0.1:{closed}"))
            .env("WHATSAPP_ACCESS_TOKEN", &cfg.access_token)
            .env("WHATSAPP_API_BASE_URL", sandbox.base_url())
            .env("WHATSAPP_PHONE_NUMBER_ID", &cfg.phone_number_id)
            .env("WHATSAPP_WABA_ID", &cfg.waba_id)
            .env("WHATSAPP_VAULT_KEY", "11".repeat(32))
            .env("WHATSAPP_VAULT_PATH", dir.path().join("vault.json"))
            .env(
                "XDG_CACHE_HOME",
                crate::common::cache_dir()
                    .parent()
                    .unwrap()
                    .join("binary-cache"),
            )
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!output.status.success(), "{all}");
    assert!(all.contains(&format!("127.0.0.1:{closed}")), "{all}");
    assert!(all.contains("unreachable"), "{all}");
    assert!(
        !all.contains("hunter2-secret"),
        "the password leaked:\n{all}"
    );
}
