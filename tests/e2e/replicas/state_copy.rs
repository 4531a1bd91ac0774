//! `host-harness state copy`: a file with live records (send records,
//! statuses, rate-limit counters, each with its time to live) copied into
//! Redis and back gives the same records and expiries within a second.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use whatsapp_host::store::{StateStore, Table};

use super::harness::{
    CUSTOMER, Redis, Replica, ReplicaOptions, SandboxProcess, VAULT_KEY, eventually, policy_with,
    send_template, status_of,
};

/// A counter with a time to live, so the host table has one too.
const THREE_AN_HOUR: &str = r#"
[[apps.rules]]
id = "three-an-hour"
template = "rate_limit"
tools = ["whatsapp_get_business_profile"]
max_calls = 3
window = "1h"
"#;

/// key → (value, expiry in Unix ms) of the records a copy must carry: the
/// component's kv and the host's bookkeeping (unsealed values).
type Records = BTreeMap<(String, String), (Vec<u8>, Option<u64>)>;

async fn records_of(path: &Path) -> Records {
    let store = StateStore::open(path).unwrap();
    let mut all = Records::new();
    for table in [Table::Kv, Table::Host] {
        for r in store.records(table).await.unwrap() {
            all.insert((format!("{table:?}"), r.key), (r.value, r.expires_at_ms));
        }
    }
    all
}

/// `host-harness state copy --from FROM --to TO`, with the deployment's vault key.
async fn state_copy(from: &str, to: &str) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_host-harness"))
        .args(["state", "copy", "--from", from, "--to", to])
        .env("WHATSAPP_VAULT_KEY", VAULT_KEY)
        .env("WHATSAPP_VAULT_PATH", "")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), out)
        .await
        .expect("the copy finishes")
        .unwrap();
    assert!(
        out.status.success(),
        "state copy {from} → {to}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn state_copy_from_a_file_into_redis_and_back_keeps_every_record_and_its_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original.redb");
    let back = dir.path().join("back.redb");
    let sandbox = SandboxProcess::start(None).await;
    let replica = Replica::start(
        &sandbox,
        &ReplicaOptions {
            state_url: original.display().to_string(),
            policy: Some(policy_with(THREE_AN_HOUR)),
            ..ReplicaOptions::default()
        },
    )
    .await;
    sandbox.deliver_to(&replica.webhook_url).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(send_template(&replica.mcp, CUSTOMER).await.unwrap());
    }
    for _ in 0..2 {
        let r = replica
            .mcp
            .call("whatsapp_get_business_profile", serde_json::json!({}))
            .await;
        assert_ne!(r["isError"], true, "{r}");
    }
    for id in &ids {
        eventually(
            Duration::from_secs(60),
            "statuses never arrived",
            || async {
                let r = status_of(&replica.mcp, id).await;
                (r["structuredContent"]["status"] == "read").then_some(())
            },
        )
        .await;
    }
    // Stopped, so the file is closed and nothing changes during the copy.
    replica.kill().await;
    let redis = Redis::start().await;
    state_copy(&original.display().to_string(), &redis.url()).await;
    let in_redis = redis.command(&["DBSIZE"]).await.unwrap().int().unwrap();
    state_copy(&redis.url(), &back.display().to_string()).await;
    // Read only now: an open store file is locked against other processes.
    let before = records_of(&original).await;
    assert!(
        before.keys().any(|(t, _)| t == "Host") && before.keys().any(|(t, _)| t == "Kv"),
        "records in both tables: {:?}",
        before.keys().collect::<Vec<_>>()
    );
    assert!(
        before.values().any(|(_, expiry)| expiry.is_some()),
        "some records expire"
    );

    assert!(
        in_redis as usize >= before.len(),
        "Redis held {in_redis} keys for {} records",
        before.len()
    );
    let after = records_of(&back).await;

    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "the same records"
    );
    for (key, (value, expiry)) in &before {
        let (copied, copied_expiry) = &after[key];
        assert_eq!(value, copied, "{key:?}: the same value");
        match (expiry, copied_expiry) {
            (None, None) => {}
            (Some(a), Some(b)) => assert!(
                a.abs_diff(*b) <= 1000,
                "{key:?}: expiry {a} became {b} (more than a second apart)"
            ),
            other => panic!("{key:?}: expiry {other:?}"),
        }
    }
}
