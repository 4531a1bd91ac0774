//! The README's nginx configuration, run as it stands by a real nginx in
//! front of two named replicas (`--replica-id r1`, `r2`) on one Redis: a
//! 2025-11-25 client that only ever talks to nginx keeps its session on the
//! replica that opened it, whichever replica round-robin gave its
//! `initialize`; stateless 2026-07-28 calls go to either; when that replica is gone, its session gets 404 and the
//! client initialises again on the one that is left.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use reqwest::Client;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use super::harness::{
    CUSTOMER, Redis, Replica, ReplicaOptions, SandboxProcess, free_port, rpc_message,
};

const LEGACY: &str = "2025-11-25";
const MODERN: &str = "2026-07-28";
/// The README's placeholder addresses: replica 1 and 2, MCP and webhooks.
const README_R1_MCP: &str = "10.0.0.11:8765";
const README_R2_MCP: &str = "10.0.0.12:8765";
const README_R1_WEBHOOK: &str = "10.0.0.11:8766";
const README_R2_WEBHOOK: &str = "10.0.0.12:8766";
const README_LISTEN: &str = "listen 443 ssl;";

/// The nginx configuration between the README's markers (inside its fence).
fn readme_snippet() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .or_else(|_| std::fs::read_to_string("README.md"))
        .expect("README.md is readable");
    let begin = "<!-- nginx-replicas: begin";
    let start = readme
        .find(begin)
        .expect("README has the nginx begin marker");
    let end = readme[start..]
        .find("<!-- nginx-replicas: end -->")
        .expect("README has the nginx end marker")
        + start;
    let block = &readme[start..end];
    let fence = block.find("```nginx\n").expect("an ```nginx fence") + "```nginx\n".len();
    let close = block[fence..].find("```").expect("the fence closes") + fence;
    block[fence..close].to_string()
}

/// The `host:port` of a URL like `http://127.0.0.1:PORT/path`.
fn authority(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    rest.split('/').next().unwrap().to_string()
}

/// The `nginx` binary: `$NGINX` (what `.ci/run` exports), else the usual
/// places.
fn nginx_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NGINX") {
        return PathBuf::from(path);
    }
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("nginx"))
}

/// A real nginx, its own process, with everything it writes in a temp dir.
struct Nginx {
    url: String,
    dir: tempfile::TempDir,
    child: Child,
}

impl Nginx {
    /// Runs `http_block` (the content of nginx's `http { }`) on a free
    /// loopback port, which the block's `listen` line must already name.
    async fn start(http_block: &str, port: u16) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        // Workers run as the master's user, so they can use the temp dir.
        // SAFETY: geteuid has no preconditions.
        let user = if unsafe { libc::geteuid() } == 0 {
            "user root;\n"
        } else {
            ""
        };
        let conf = format!(
            "{user}worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n    access_log {d}/access.log;\n    client_body_temp_path {d}/body;\n    \
             proxy_temp_path {d}/proxy;\n    fastcgi_temp_path {d}/fastcgi;\n    \
             uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n{http_block}\n}}\n"
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let binary = nginx_binary();
        let mut child = Command::new(&binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            // Also for what it logs before it has read the configuration.
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start nginx ({}): {e}; install it (`apt-get install nginx`) or set \
                     NGINX to its path",
                    binary.display()
                )
            });
        let started = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(status);
                }
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        let log = || std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
        match started {
            Ok(Ok(())) => {}
            Ok(Err(status)) => panic!("nginx exited ({status}) before listening:\n{}", log()),
            Err(_) => panic!("nginx did not listen on {port} within 30 s:\n{}", log()),
        }
        Nginx {
            url: format!("http://127.0.0.1:{port}/mcp"),
            dir,
            child,
        }
    }

    /// What nginx logged (for failure messages).
    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // `daemon off`: the master is our child. TERM, not KILL, so it ends
        // its workers before it exits instead of orphaning them.
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) on our own child's pid; no memory is shared.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
            for _ in 0..100 {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.start_kill();
    }
}

/// A 2025-11-25 client that knows only one URL (the balancer's).
struct LegacyClient {
    url: String,
    http: Client,
}

impl LegacyClient {
    fn post(&self, body: Value, session: Option<&str>) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .timeout(Duration::from_secs(60))
            .body(body.to_string());
        if let Some(id) = session {
            req = req
                .header("Mcp-Session-Id", id)
                .header("MCP-Protocol-Version", LEGACY);
        }
        req
    }

    /// `initialize` and `notifications/initialized`: the session id.
    async fn initialise(&self) -> String {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params":
            {"protocolVersion": LEGACY, "capabilities": {},
             "clientInfo": {"name": "nginx-e2e", "version": "0"}}});
        let resp = self.post(body, None).send().await.unwrap();
        let status = resp.status().as_u16();
        let id = resp
            .headers()
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_string());
        let text = resp.text().await.unwrap();
        assert_eq!(status, 200, "initialize through nginx: {text}");
        let id = id.unwrap_or_else(|| panic!("initialize opened no session: {text}"));
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let r = self.post(note, Some(&id)).send().await.unwrap();
        assert!(r.status().is_success(), "initialized: {}", r.status());
        id
    }

    /// `tools/call` in `session`: (HTTP status, the JSON-RPC message or body).
    async fn call(&self, session: &str, id: u64, tool: &str, arguments: Value) -> (u16, String) {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments}});
        let resp = self.post(body, Some(session)).send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// A stateless 2026-07-28 `tools/call` (no session): its HTTP status and body.
    async fn stateless_call(&self, tool: &str) -> (u16, String) {
        let meta = json!({
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "nginx-e2e", "version": "0"}
        });
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": tool, "arguments": {}, "_meta": meta}});
        let resp = self
            .post(body, None)
            .header("MCP-Protocol-Version", MODERN)
            .header("Mcp-Method", "tools/call")
            .header("Mcp-Name", tool)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// `tools/call` that must succeed: its result.
    async fn call_ok(&self, session: &str, id: u64, tool: &str, arguments: Value) -> Value {
        let (status, text) = self.call(session, id, tool, arguments).await;
        assert_eq!(status, 200, "{tool} in session {session}: {text}");
        let reply = rpc_message(&text);
        let result = reply
            .get("result")
            .unwrap_or_else(|| panic!("{tool}: no result in {reply}"))
            .clone();
        assert_ne!(result["isError"], true, "{tool} failed: {result}");
        result
    }
}

/// The README's block with the test's addresses in place of its examples.
fn configured(snippet: &str, port: u16, r1: &Replica, r2: &Replica) -> String {
    for placeholder in [
        README_R1_MCP,
        README_R2_MCP,
        README_R1_WEBHOOK,
        README_R2_WEBHOOK,
        README_LISTEN,
    ] {
        assert!(
            snippet.contains(placeholder),
            "the README's nginx block no longer has `{placeholder}`: update this test"
        );
    }
    snippet
        .replace(README_R1_MCP, &authority(&r1.mcp.url))
        .replace(README_R2_MCP, &authority(&r2.mcp.url))
        .replace(README_R1_WEBHOOK, &authority(&r1.webhook_url))
        .replace(README_R2_WEBHOOK, &authority(&r2.webhook_url))
        .replace(README_LISTEN, &format!("listen 127.0.0.1:{port};"))
}

async fn replica(sandbox: &SandboxProcess, redis: &Redis, name: &str) -> Replica {
    let options = ReplicaOptions {
        state_url: redis.url(),
        policy: None,
        env: vec![("WHATSAPP_REPLICA_ID".into(), name.into())],
    };
    Replica::start(sandbox, &options).await
}

#[tokio::test]
async fn behind_the_readme_nginx_every_legacy_session_stays_on_its_replica_and_a_dead_replicas_session_gets_404()
 {
    let redis = Redis::start().await;
    let sandbox = SandboxProcess::start(None).await;
    let r1 = replica(&sandbox, &redis, "r1").await;
    let r2 = replica(&sandbox, &redis, "r2").await;
    sandbox.deliver_to(&r2.webhook_url).await;
    let port = free_port();
    let nginx = Nginx::start(&configured(&readme_snippet(), port, &r1, &r2), port).await;
    let client = LegacyClient {
        url: nginx.url.clone(),
        http: {
            whatsapp_host::install_crypto_provider();
            Client::new()
        },
    };

    // Several clients, each initialising through nginx and then calling tools
    // in its session: every call must reach the replica holding the session.
    let mut sessions = Vec::new();
    for _ in 0..4 {
        let session = client.initialise().await;
        let mut calls = 10;
        client
            .call_ok(&session, calls, "whatsapp_list_templates", json!({}))
            .await;
        for _ in 0..3 {
            calls += 1;
            let sent = client
                .call_ok(
                    &session,
                    calls,
                    "whatsapp_send_template",
                    json!({"to": CUSTOMER, "name": "hello_world", "language": "en_US"}),
                )
                .await;
            let message_id = sent["structuredContent"]["message_id"]
                .as_str()
                .unwrap_or_else(|| panic!("no message id in {sent}"))
                .to_string();
            calls += 1;
            client
                .call_ok(
                    &session,
                    calls,
                    "whatsapp_get_message_status",
                    json!({"message_id": message_id}),
                )
                .await;
        }
        sessions.push(session);
    }

    // Stateless requests carry no session: any replica serves them.
    for _ in 0..2 {
        let (status, body) = client.stateless_call("whatsapp_list_templates").await;
        assert_eq!(status, 200, "a 2026-07-28 call through nginx: {body}");
        assert_ne!(rpc_message(&body)["result"]["isError"], true, "{body}");
    }

    // The round-robin part of the configuration did spread the initialize
    // requests: without the prefix rule, some calls above would have reached
    // the replica that does not hold their session, and got 404.
    let on = |name: &str| {
        sessions
            .iter()
            .filter(|s| s.starts_with(&format!("{name}.")))
            .count()
    };
    assert_eq!(on("r1") + on("r2"), sessions.len(), "{sessions:?}");
    assert!(
        on("r1") > 0 && on("r2") > 0,
        "every initialize went to one replica, so the test proves no routing: {sessions:?}"
    );
    // And the other replica really does not know a session: asked directly,
    // it answers 404.
    let r1_session = sessions.iter().find(|s| s.starts_with("r1.")).unwrap();
    let stranger = LegacyClient {
        url: r2.mcp.url.clone(),
        http: client.http.clone(),
    };
    let (status, body) = stranger
        .call(r1_session, 99, "whatsapp_list_templates", json!({}))
        .await;
    assert_eq!(status, 404, "r2 answered for r1's session: {body}");

    // r1 goes away: its sessions are gone with it. nginx sends their requests
    // to the backup, which answers the specification's 404; the client
    // initialises again and lands on the replica that is up.
    r1.kill().await;
    let (status, body) = client
        .call(r1_session, 100, "whatsapp_list_templates", json!({}))
        .await;
    assert_eq!(
        status,
        404,
        "a dead replica's session through nginx: {body}\nnginx:\n{}",
        nginx.error_log()
    );
    // r1 refuses the connection, so nginx passes the initialize to r2.
    let again = client.initialise().await;
    assert!(again.starts_with("r2."), "{again}");
    client
        .call_ok(&again, 101, "whatsapp_list_templates", json!({}))
        .await;
}
