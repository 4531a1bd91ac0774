//! Adversarial cases: leaks. A recipient must not be recoverable from the
//! audit log or the process's log while masking is on: not from the masked
//! number, not from a message id (`wamid.` is base64 of the recipient's
//! digits), not from a denial reason, and no request is logged with its
//! arguments, at any log level.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::Command;

use crate::common::{CUSTOMER, CUSTOMER_DIGITS, cache_dir};

/// The vault key the runs below share: message refs are derived from it.
pub(super) const VAULT_KEY: &str =
    "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
/// A number the policy blocks: the denied call names it.
const BLOCKED: &str = "+447911123456";
const BLOCKED_DIGITS: &str = "447911123456";
const BODY: &str = "Your parcel code is tangerine-falcon";

const POLICY: &str = r#"
[[apps]]
name = "bot"
tools = ["*"]

[[apps.rules]]
id = "not-this-number"
template = "block_values"
tools = ["whatsapp_send_message"]
field = "to"
values = ["+447911123456"]
"#;

/// The binary with a private vault key, no vault file and no settings from
/// the machine running the tests.
pub(super) fn binary(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_host-harness"));
    cmd.env("WHATSAPP_VAULT_KEY", VAULT_KEY)
        .env("WHATSAPP_VAULT_KEY_FILE", dir.join("no-vault.key"))
        .env("WHATSAPP_VAULT_PATH", dir.join("no-vault.json"))
        .env(
            "XDG_CACHE_HOME",
            cache_dir().parent().unwrap().join("binary-cache"),
        )
        .env_remove("RUST_LOG")
        .env_remove("WHATSAPP_CONFIG")
        .env_remove("WHATSAPP_AUDIT_INCLUDE_RECIPIENTS")
        .kill_on_drop(true);
    cmd
}

/// One stdio MCP session: sends the requests in order, each after the
/// previous reply, and returns the replies.
async fn stdio_session(mut cmd: Command, calls: &[(&str, Value)]) -> (Vec<Value>, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stderr = child.stderr.take().unwrap();
    // Drained all along: a full pipe would stall the server at trace level.
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut send = async |message: Value| {
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
    };
    let mut replies = Vec::new();
    let mut messages = vec![json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "e2e", "version": "0"}}})];
    for (id, (tool, args)) in calls.iter().enumerate() {
        messages.push(
            json!({"jsonrpc": "2.0", "id": id + 1, "method": "tools/call",
            "params": {"name": tool, "arguments": args}}),
        );
    }
    for (n, message) in messages.into_iter().enumerate() {
        send(message).await;
        if n == 0 {
            let mut line = String::new();
            tokio::time::timeout(Duration::from_secs(120), stdout.read_line(&mut line))
                .await
                .expect("the server answers initialize")
                .unwrap();
            send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
            continue;
        }
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(60), stdout.read_line(&mut line))
            .await
            .expect("the server answers the call")
            .unwrap();
        replies.push(serde_json::from_str::<Value>(&line).expect("a JSON-RPC reply"));
    }
    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the server exits on EOF")
        .unwrap();
    assert!(status.success(), "{status}");
    (replies, stderr.await.unwrap())
}

/// `host-harness audit ref ID` with the same vault key.
async fn audit_ref(dir: &Path, id: &str) -> String {
    let out = binary(dir)
        .args(["audit", "ref", id])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn at_trace_level_neither_stderr_nor_the_audit_log_reveals_a_recipient_a_wamid_or_a_body() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let audit = dir.path().join("audit.jsonl");
    let mut cmd = binary(dir.path());
    cmd.env("WHATSAPP_AUDIT_LOG", &audit).args([
        "--log",
        "trace",
        "serve",
        "--sandbox",
        "--policy",
    ]);
    cmd.arg(&policy);
    let (replies, stderr) = stdio_session(
        cmd,
        &[
            (
                "whatsapp_send_template",
                json!({"to": CUSTOMER, "name": "hello_world", "language": "en_US"}),
            ),
            (
                "whatsapp_send_message",
                json!({"to": BLOCKED, "text": BODY}),
            ),
        ],
    )
    .await;
    let sent = &replies[0]["result"]["structuredContent"];
    let wamid = sent["message_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no message id in {replies:?}"))
        .to_string();
    let denied = &replies[1]["result"];
    assert_eq!(denied["isError"], true, "{denied}");
    // The premise: the id spells the recipient's number.
    let blob = base64::engine::general_purpose::STANDARD
        .decode(&wamid["wamid.HBgL".len()..])
        .unwrap();
    assert!(String::from_utf8_lossy(&blob).contains(CUSTOMER_DIGITS));

    // The id is looked up afterwards too (its ref must match across processes).
    let mut cmd = binary(dir.path());
    cmd.env("WHATSAPP_AUDIT_LOG", &audit).args([
        "--log",
        "trace",
        "serve",
        "--sandbox",
        "--policy",
    ]);
    cmd.arg(&policy);
    let (status, stderr_again) = stdio_session(
        cmd,
        &[("whatsapp_get_message_status", json!({"message_id": wamid}))],
    )
    .await;
    assert!(status[0].get("result").is_some(), "{:?}", status[0]);

    let wamid_body = &wamid["wamid.".len()..];
    let secrets = [
        CUSTOMER_DIGITS,
        &CUSTOMER_DIGITS[1..],
        BLOCKED_DIGITS,
        &BLOCKED_DIGITS[2..],
        wamid_body,
        "wamid.HBgL",
    ];
    for (name, text) in [("stderr", &stderr), ("stderr (2nd run)", &stderr_again)] {
        assert!(
            text.contains("tool call denied by policy") || name.contains("2nd"),
            "the denial was logged:\n{text}"
        );
        for secret in secrets {
            let at = text.find(secret);
            assert!(
                at.is_none(),
                "{name} holds {secret:?}: {}",
                &text[at.unwrap().saturating_sub(200)..(at.unwrap() + 200).min(text.len())]
            );
        }
        assert!(!text.contains(BODY), "{name} logged a request's arguments");
    }

    let log = std::fs::read_to_string(&audit).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{log}");
    for (line, secret) in log
        .lines()
        .flat_map(|l| secrets.iter().map(move |s| (l, s)))
    {
        assert!(
            !line.contains(secret),
            "an audit line holds {secret:?}: {line}"
        );
    }
    assert_eq!(lines[0]["recipient"], "+1********34");
    assert_eq!(lines[1]["recipient"], "+44********56");
    assert_eq!(lines[1]["decision"], "deny");
    // An operator holding the id finds both of its lines, across restarts.
    let reference = audit_ref(dir.path(), &wamid).await;
    assert_eq!(lines[0]["message_ref"], reference.as_str());
    assert_eq!(lines[2]["message_ref"], reference.as_str());
    assert_eq!(lines[2]["tool"], "whatsapp_get_message_status");
    assert!(lines.iter().all(|l| l.get("message_id").is_none()));
}

#[tokio::test]
async fn with_include_recipients_the_audit_log_keeps_numbers_and_ids_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let mut cmd = binary(dir.path());
    cmd.env("WHATSAPP_AUDIT_LOG", &audit)
        .env("WHATSAPP_AUDIT_INCLUDE_RECIPIENTS", "true")
        .args(["serve", "--sandbox"]);
    let (replies, _) = stdio_session(
        cmd,
        &[(
            "whatsapp_send_template",
            json!({"to": CUSTOMER, "name": "hello_world", "language": "en_US"}),
        )],
    )
    .await;
    let wamid = replies[0]["result"]["structuredContent"]["message_id"]
        .as_str()
        .unwrap()
        .to_string();
    let line: Value =
        serde_json::from_str(std::fs::read_to_string(&audit).unwrap().trim()).unwrap();
    assert_eq!(line["message_id"], wamid.as_str());
    assert_eq!(line["recipient"], CUSTOMER);
    assert!(line.get("message_ref").is_none());
}

#[tokio::test]
async fn log_bodies_lets_requests_into_the_log_with_their_numbers_still_masked() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = binary(dir.path());
    cmd.args(["--log", "trace", "--log-bodies", "serve", "--sandbox"]);
    let (_, stderr) = stdio_session(
        cmd,
        &[(
            "whatsapp_send_message",
            json!({"to": BLOCKED, "text": BODY}),
        )],
    )
    .await;
    assert!(
        stderr.contains(BODY),
        "the request was logged with --log-bodies"
    );
    assert!(stderr.contains("+44********56"), "{stderr}");
    assert!(!stderr.contains(BLOCKED_DIGITS));
}
