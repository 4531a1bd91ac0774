//! `serve --sandbox --inbound-from NUMBER` seeds a customer's question that an
//! agent can read as soon as the server has answered `initialize`.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};

const CUSTOMER: &str = "+16505551234";

struct Stdio {
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::BufReader<tokio::process::ChildStdout>,
}

impl Stdio {
    async fn send(&mut self, msg: Value) {
        self.stdin
            .write_all(format!("{msg}\n").as_bytes())
            .await
            .unwrap();
    }

    async fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        loop {
            let mut line = String::new();
            tokio::time::timeout(Duration::from_secs(120), self.stdout.read_line(&mut line))
                .await
                .expect("the server answers")
                .unwrap();
            let v: Value = serde_json::from_str(&line).expect("stdout carries JSON-RPC only");
            if v["id"] == id {
                return v;
            }
        }
    }
}

#[tokio::test]
async fn serve_with_inbound_from_shows_the_customers_question_right_after_initialize() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_host-harness"))
        .args(["serve", "--sandbox", "--inbound-from", CUSTOMER])
        .env("WHATSAPP_INBOX_ENABLED", "true")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut io = Stdio {
        stdin: child.stdin.take().unwrap(),
        stdout: tokio::io::BufReader::new(child.stdout.take().unwrap()),
    };
    let init = json!({"protocolVersion": "2025-11-25", "capabilities": {},
                      "clientInfo": {"name": "e2e", "version": "0"}});
    io.request(0, "initialize", init).await;
    io.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
    let reply = io
        .request(
            1,
            "tools/call",
            json!({"name": "whatsapp_get_messages", "arguments": {"customer": CUSTOMER}}),
        )
        .await;
    let result = &reply["result"];
    assert_ne!(result["isError"], true, "{reply}");
    let messages = &result["structuredContent"]["messages"];
    assert_eq!(messages.as_array().map(Vec::len), Some(1), "{reply}");
    let m = &messages[0];
    assert_eq!(m["direction"], "inbound", "{m}");
    assert_eq!(m["type"], "text", "{m}");
    assert_eq!(m["text"], "Hi! Is my order ready for pickup?", "{m}");
    assert!(
        m["id"].as_str().is_some_and(|id| id.starts_with("wamid.")),
        "{m}"
    );
    drop(io.stdin);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the server exits after EOF on stdin")
        .unwrap();
    assert!(status.success(), "{status}");
}
