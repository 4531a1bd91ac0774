//! Adversarial cases: exposure. `serve --http` on an address other than
//! loopback must not serve everyone by accident (a non-browser client picks
//! its own `Host`, so the Host check does not stop it), and the token must
//! not go out in cleartext to a network host.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, ChildStderr};
use whatsapp_host::policy::hash_key;

use super::leaks::binary;

const APP_KEY: &str = "exposure-test-app-key-0123456789";

/// Reads stderr until the server says where it listens (its port) or exits.
async fn listening_port(
    lines: &mut tokio::io::Lines<BufReader<ChildStderr>>,
) -> (Option<u16>, String) {
    let mut seen = String::new();
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if let Some(rest) = line.split("MCP server listening on http://").nth(1) {
                let addr = rest.trim_end_matches("/mcp");
                return addr.rsplit(':').next().and_then(|p| p.parse().ok());
            }
        }
        None
    };
    let port = tokio::time::timeout(Duration::from_secs(120), read)
        .await
        .expect("the server starts or exits within 120 s");
    (port, seen)
}

/// A stateless (2026-07-28) MCP request to `127.0.0.1:port`, as any HTTP
/// client would send it; `key` as the bearer token.
async fn post(
    port: u16,
    method: &str,
    name: Option<&str>,
    params: Value,
    key: Option<&str>,
) -> (u16, Value) {
    whatsapp_host::install_crypto_provider();
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "attacker", "version": "0"}
    });
    let mut params = params;
    params["_meta"] = meta;
    let mut req = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("http://127.0.0.1:{port}/mcp"))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2026-07-28")
        .header("Mcp-Method", method)
        .body(json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string());
    if let Some(name) = name {
        req = req.header("Mcp-Name", name);
    }
    if let Some(key) = key {
        req = req.header("Authorization", format!("Bearer {key}"));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

fn spawn(cmd: &mut tokio::process::Command) -> (Child, tokio::io::Lines<BufReader<ChildStderr>>) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    (child, lines)
}

#[tokio::test]
async fn serving_on_all_interfaces_without_app_keys_is_refused_and_the_fix_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, mut lines) =
        spawn(binary(dir.path()).args(["serve", "--sandbox", "--http", "0.0.0.0:0"]));
    let (port, stderr) = listening_port(&mut lines).await;
    if let Some(port) = port {
        // It listens: try what an attacker on the network would.
        let (status, reply) = post(
            port,
            "tools/call",
            Some("whatsapp_delete_template"),
            json!({"name": "whatsapp_delete_template", "arguments": {"name": "order_update"}}),
            None,
        )
        .await;
        panic!("served everyone on 0.0.0.0: an unauthenticated delete got {status} {reply}");
    }
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(!status.success());
    for fix in [
        "--policy",
        "key_hash",
        "127.0.0.1",
        "--allow-unauthenticated",
    ] {
        assert!(stderr.contains(fix), "the refusal names {fix}:\n{stderr}");
    }
}

#[tokio::test]
async fn a_policy_without_keys_is_refused_on_all_interfaces_too() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "[[apps]]\nname = \"bot\"\ntools = [\"*\"]\n").unwrap();
    let mut cmd = binary(dir.path());
    cmd.args(["serve", "--sandbox", "--http", "0.0.0.0:0", "--policy"])
        .arg(&policy);
    let (mut child, mut lines) = spawn(&mut cmd);
    let (port, stderr) = listening_port(&mut lines).await;
    assert_eq!(port, None, "it served:\n{stderr}");
    assert!(!child.wait().await.unwrap().success());
    assert!(
        stderr.contains("no app in the policy has a key_hash"),
        "{stderr}"
    );
}

#[tokio::test]
async fn with_keyed_apps_it_serves_all_interfaces_and_a_request_without_the_key_gets_401() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[[apps]]\nname = \"bot\"\nkey_hash = \"{}\"\ntools = [\"*\"]\n",
            hash_key(APP_KEY)
        ),
    )
    .unwrap();
    let mut cmd = binary(dir.path());
    cmd.args(["serve", "--sandbox", "--http", "0.0.0.0:0", "--policy"])
        .arg(&policy);
    let (mut child, mut lines) = spawn(&mut cmd);
    let (port, stderr) = listening_port(&mut lines).await;
    let port = port.unwrap_or_else(|| panic!("it did not start:\n{stderr}"));
    let delete = json!({"name": "whatsapp_delete_template", "arguments": {"name": "order_update"}});
    let (status, _) = post(
        port,
        "tools/call",
        Some("whatsapp_delete_template"),
        delete.clone(),
        None,
    )
    .await;
    assert_eq!(status, 401);
    let (status, reply) = post(port, "tools/list", None, json!({}), Some(APP_KEY)).await;
    assert_eq!(status, 200, "{reply}");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn allow_unauthenticated_serves_and_warns_at_start_and_on_every_tools_list() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, mut lines) = spawn(binary(dir.path()).args([
        "serve",
        "--sandbox",
        "--http",
        "0.0.0.0:0",
        "--allow-unauthenticated",
    ]));
    let (port, started) = listening_port(&mut lines).await;
    let port = port.unwrap_or_else(|| panic!("it did not start:\n{started}"));
    assert!(
        started.contains("WARN") && started.contains("without authentication"),
        "a warning at start:\n{started}"
    );
    for _ in 0..2 {
        let (status, reply) = post(port, "tools/list", None, json!({}), None).await;
        assert_eq!(status, 200, "{reply}");
    }
    let mut warnings = 0;
    while warnings < 2 {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("a warning for each tools/list")
            .unwrap()
            .expect("stderr open");
        if line.contains("WARN") && line.contains("tools/list served without authentication") {
            warnings += 1;
        }
    }
    child.kill().await.unwrap();
}

#[tokio::test]
async fn a_plain_http_api_base_url_on_a_network_host_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let run = async |allow: bool| {
        let mut cmd = binary(dir.path());
        cmd.arg("tools")
            .env("WHATSAPP_API_BASE_URL", "http://graph.example.test")
            .env("WHATSAPP_ACCESS_TOKEN", "EAAG-not-a-real-token");
        if allow {
            cmd.env("WHATSAPP_ALLOW_INSECURE_HTTP", "true");
        }
        cmd.output().await.unwrap()
    };
    let refused = run(false).await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains("cleartext") && stderr.contains("allow_insecure_http"),
        "{stderr}"
    );
    let allowed = run(true).await;
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
}
