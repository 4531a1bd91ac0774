//! Faults and shutdown: every fault the sandbox can inject ends in a clear
//! error within the deadline, never a duplicate send, and the harness keeps
//! serving; SIGTERM with calls in flight loses nothing.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use whatsapp_host::store::{StateStore, Table};
use whatsapp_host::tool::{ErrorKind, ToolError};
use whatsapp_sandbox::{Fault, FaultKind, Sandbox, SandboxConfig};

use crate::common::{CUSTOMER, Env};

/// Call deadline for these tests: the host's request timeout is 500 ms less.
const DEADLINE: Duration = Duration::from_secs(3);

async fn env() -> Env {
    let env = Env::builder()
        .settings(|s| s.runtime.call_timeout_ms = DEADLINE.as_millis() as u64)
        .start()
        .await;
    env.sandbox.simulate_inbound(CUSTOMER, "hi");
    env
}

fn assert_clear(e: &ToolError) {
    assert!(
        !e.title.is_empty() && !e.details.is_empty() && !e.hint.is_empty(),
        "{e:?}"
    );
}

fn send() -> Value {
    json!({"to": CUSTOMER, "text": "Your order shipped"})
}

/// Runs `tool` while a fault is armed; checks the deadline and returns the outcome.
async fn call_with(env: &Env, fault: Fault, tool: &str, args: Value) -> Result<Value, ToolError> {
    env.sandbox.clear_requests();
    env.sandbox.inject_fault(fault);
    let started = Instant::now();
    let result = env.call(tool, args).await;
    assert!(
        started.elapsed() < DEADLINE + Duration::from_secs(1),
        "{tool} took {:?}",
        started.elapsed()
    );
    env.sandbox.clear_faults();
    result
}

fn messages_fault(kind: FaultKind) -> Fault {
    Fault::new(kind).on_path("/messages").times(u32::MAX)
}

fn templates_fault(kind: FaultKind, times: u32) -> Fault {
    Fault::new(kind).on_path("/message_templates").times(times)
}

#[tokio::test]
async fn a_send_meeting_any_fault_fails_clearly_in_time_and_is_never_sent_twice() {
    let env = env().await;
    let faults = [
        FaultKind::GraphError {
            code: 2,
            http_status: 503,
            message: "Service temporarily unavailable".into(),
            is_transient: Some(true),
        },
        FaultKind::Status {
            status: 500,
            body: "<html>Internal Server Error</html>".into(),
            content_type: "text/html".into(),
        },
        FaultKind::Status {
            status: 429,
            body: "Too Many Requests".into(),
            content_type: "text/plain".into(),
        },
        FaultKind::DropConnection,
        FaultKind::MalformedJson,
        FaultKind::SlowBody {
            chunk_delay: Duration::from_millis(400),
        },
        FaultKind::OversizedBody { bytes: 6 << 20 },
        // Last: the sandbox still accepts this one after its delay.
        FaultKind::Latency(Duration::from_secs(10)),
    ];
    for kind in faults {
        let before = env.sandbox.sent_messages().len();
        let e = call_with(
            &env,
            messages_fault(kind.clone()),
            "whatsapp_send_message",
            send(),
        )
        .await
        .expect_err(&format!("{kind:?} must fail"));
        assert_clear(&e);
        let attempts = env.requests().len();
        match &kind {
            // Meta said "not accepted, try later": safe to repeat within the deadline.
            FaultKind::GraphError { .. } => {
                assert_eq!(e.code, Some(2), "{e:?}");
                assert!(e.retryable && attempts > 1, "{kind:?}: {attempts} attempts");
            }
            // The request may have landed: never repeated.
            _ => assert_eq!(attempts, 1, "{kind:?} was sent {attempts} times: {e:?}"),
        }
        if matches!(
            kind,
            FaultKind::Latency(_)
                | FaultKind::DropConnection
                | FaultKind::MalformedJson
                | FaultKind::SlowBody { .. }
        ) {
            assert_eq!(e.kind, ErrorKind::OutcomeUnknown, "{kind:?}: {e:?}");
            assert!(e.hint.contains("whatsapp_get_message_status"), "{e:?}");
        }
        // A processed-then-failed request (latency, slow body) lands once; the rest not at all.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            env.sandbox.sent_messages().len() - before <= 1,
            "{kind:?} produced a duplicate"
        );
    }
    // And the harness still serves.
    env.call("whatsapp_send_message", send()).await.unwrap();
}

#[tokio::test]
async fn a_read_meeting_a_one_off_fault_is_retried_and_succeeds() {
    let env = env().await;
    for kind in [
        FaultKind::Status {
            status: 502,
            body: "<html>Bad Gateway</html>".into(),
            content_type: "text/html".into(),
        },
        FaultKind::Status {
            status: 429,
            body: "slow down".into(),
            content_type: "text/plain".into(),
        },
        // Not 4: an hourly quota is not retried after a short backoff.
        FaultKind::GraphError {
            code: 2,
            http_status: 503,
            message: "Service temporarily unavailable".into(),
            is_transient: None,
        },
        FaultKind::DropConnection,
    ] {
        let out = call_with(
            &env,
            templates_fault(kind.clone(), 1),
            "whatsapp_list_templates",
            json!({}),
        )
        .await;
        assert!(out.is_ok(), "{kind:?}: {out:?}");
        assert_eq!(env.requests().len(), 2, "{kind:?}: one failure, one retry");
    }
}

#[tokio::test]
async fn a_read_meeting_a_lasting_fault_fails_clearly_within_the_deadline() {
    let env = env().await;
    for kind in [
        FaultKind::Status {
            status: 503,
            body: "<html>down</html>".into(),
            content_type: "text/html".into(),
        },
        FaultKind::Latency(Duration::from_secs(10)),
        FaultKind::MalformedJson,
        FaultKind::SlowBody {
            chunk_delay: Duration::from_millis(400),
        },
        FaultKind::OversizedBody { bytes: 6 << 20 },
    ] {
        let e = call_with(
            &env,
            templates_fault(kind.clone(), u32::MAX),
            "whatsapp_list_templates",
            json!({}),
        )
        .await
        .expect_err(&format!("{kind:?} must fail"));
        assert_clear(&e);
        assert!(
            matches!(e.kind, ErrorKind::Transport | ErrorKind::ApiError),
            "{kind:?}: {e:?}"
        );
    }
}

#[tokio::test]
async fn a_hung_request_does_not_hold_up_other_calls() {
    let env = std::sync::Arc::new(env().await);
    env.sandbox
        .inject_fault(messages_fault(FaultKind::Latency(Duration::from_secs(10))));
    let hung = tokio::spawn({
        let env = env.clone();
        async move { env.call("whatsapp_send_message", send()).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    for _ in 0..5 {
        env.call("whatsapp_get_business_profile", json!({}))
            .await
            .unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "reads waited for the hung send"
    );
    let e = hung.await.unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::OutcomeUnknown);
}

/// The real binary over HTTP, SIGTERM while five sends are in flight: every
/// call completes, each message is sent once, recorded and audited, and the
/// process exits cleanly.
#[tokio::test]
async fn sigterm_with_calls_in_flight_loses_nothing() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    sandbox.simulate_inbound(CUSTOMER, "hi");
    sandbox.inject_fault(
        Fault::new(FaultKind::Latency(Duration::from_millis(1500)))
            .on_path("/messages")
            .times(5),
    );
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.redb");
    let audit = dir.path().join("audit.jsonl");
    let cfg = sandbox.config().clone();
    let mut child = Command::new(env!("CARGO_BIN_EXE_host-harness"))
        .args(["--log", "info", "serve", "--http", "127.0.0.1:0"])
        .env("WHATSAPP_ACCESS_TOKEN", &cfg.access_token)
        .env("WHATSAPP_API_BASE_URL", sandbox.base_url())
        .env("WHATSAPP_PHONE_NUMBER_ID", &cfg.phone_number_id)
        .env("WHATSAPP_WABA_ID", &cfg.waba_id)
        .env("WHATSAPP_STATE_PATH", &state)
        .env("WHATSAPP_AUDIT_LOG", &audit)
        .env("WHATSAPP_VAULT_PATH", dir.path().join("no-vault.json"))
        .env("WHATSAPP_VAULT_KEY_FILE", dir.path().join("vault.key"))
        .env(
            "XDG_CACHE_HOME",
            crate::common::cache_dir()
                .parent()
                .unwrap()
                .join("binary-cache"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server starts");
        if let Some(rest) = line.split("MCP server listening on ").nth(1) {
            break rest.trim().to_string();
        }
    };
    let client = reqwest::Client::new();
    let calls: Vec<_> = (0..5)
        .map(|i| {
            let request = client
                .post(&url)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/call")
                .header("mcp-name", "whatsapp_send_message")
                .json(&json!({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {
                    "name": "whatsapp_send_message", "arguments": {"to": CUSTOMER, "text": format!("in flight {i}")},
                    "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                              "io.modelcontextprotocol/clientCapabilities": {}}}}));
            tokio::spawn(async move { request.send().await?.json::<Value>().await })
        })
        .collect();
    // All five are waiting on the sandbox now.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sandbox.requests().len() < 5 {
        assert!(
            Instant::now() < deadline,
            "the calls never reached the sandbox"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    let mut ids = Vec::new();
    for call in calls {
        let response = call
            .await
            .unwrap()
            .expect("every in-flight call gets its answer");
        assert_eq!(
            response.pointer("/result/isError"),
            Some(&Value::Bool(false)),
            "{response}"
        );
        ids.push(
            response
                .pointer("/result/structuredContent/message_id")
                .and_then(Value::as_str)
                .unwrap()
                .to_string(),
        );
    }
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "the server exits cleanly: {exit:?}");
    assert_eq!(
        sandbox.sent_messages().len(),
        5,
        "each message sent exactly once"
    );
    // Acknowledged means durable: every send is in the state file...
    let store = StateStore::open(&state).unwrap();
    for id in &ids {
        assert!(
            store
                .get(Table::Kv, &format!("msg/{id}"))
                .await
                .unwrap()
                .is_some(),
            "{id} not recorded"
        );
    }
    // ...and in the audit log.
    // ...and in the audit log, under the ref the operator's command gives.
    let lines = std::fs::read_to_string(&audit).unwrap();
    for id in &ids {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_host-harness"))
            .args(["audit", "ref", id.as_str()])
            .env("WHATSAPP_VAULT_KEY_FILE", dir.path().join("vault.key"))
            .output()
            .unwrap();
        let reference = String::from_utf8(out.stdout).unwrap();
        assert!(
            !reference.trim().is_empty() && lines.contains(reference.trim()),
            "{id} not audited:\n{lines}"
        );
    }
    // New connections are refused once it is gone.
    assert!(client.post(&url).send().await.is_err());
}
