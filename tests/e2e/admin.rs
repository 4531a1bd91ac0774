//! The admin listener (`serve --admin`) of the real binary over real HTTP:
//! liveness, readiness that names what is not ready, and metrics that move
//! as MCP calls, policy denials and webhook deliveries happen.

use std::io::{BufRead as _, BufReader as StdBufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

const MODERN: &str = "2026-07-28";
const CUSTOMER: &str = "+16505551234";
const WAIT: Duration = Duration::from_secs(30);

/// An app that may read and send, with one guardrail: no card numbers.
const POLICY: &str = r#"
[[apps]]
name = "ops"
tools = ["read", "whatsapp_send_message", "whatsapp_send_template"]

[[apps.rules]]
id = "no-card-numbers"
template = "block_card_numbers"
tools = ["whatsapp_send_message", "whatsapp_send_template"]
"#;

/// `host-harness serve --sandbox --admin 127.0.0.1:0` over stdio as app `ops`.
struct Served {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    admin: String,
    http: reqwest::Client,
}

impl Served {
    async fn start(dir: &Path) -> Served {
        whatsapp_host::install_crypto_provider();
        let policy = dir.join("policy.toml");
        std::fs::write(&policy, POLICY).unwrap();
        let config = dir.join("config.toml");
        std::fs::write(&config, "[policy]\nreload_interval_ms = 50\n").unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_host-harness"))
            .arg("--config")
            .arg(&config)
            .args([
                "serve",
                "--sandbox",
                "--inbound-from",
                CUSTOMER,
                "--admin",
                "127.0.0.1:0",
                "--app",
                "ops",
                "--policy",
            ])
            .arg(&policy)
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env(
                "XDG_CACHE_HOME",
                crate::common::cache_dir()
                    .parent()
                    .unwrap()
                    .join("binary-cache"),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap().into_owned_fd().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in StdBufReader::new(std::fs::File::from(stderr))
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        let admin = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(120))
                .expect("the server starts and names its admin address");
            if let Some(rest) = line.split("Admin endpoints listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        Served {
            stdin: child.stdin.take().unwrap(),
            stdout: BufReader::new(child.stdout.take().unwrap()),
            _child: child,
            admin,
            http: reqwest::Client::new(),
        }
    }

    async fn tool(&mut self, id: u64, name: &str, arguments: Value) -> Value {
        let request = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": name, "arguments": arguments, "_meta": {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "e2e", "version": "0"}}}});
        self.stdin
            .write_all(format!("{request}\n").as_bytes())
            .await
            .unwrap();
        let mut line = String::new();
        tokio::time::timeout(WAIT, self.stdout.read_line(&mut line))
            .await
            .expect("the server answers")
            .unwrap();
        serde_json::from_str::<Value>(&line).unwrap()["result"].clone()
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.admin))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// The value of sample `name` whose labels include `labels` (0 when absent).
    async fn sample(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let (status, text) = self.get("/metrics").await;
        assert_eq!(status, 200, "{text}");
        sample(&text, name, labels)
    }
}

fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().ok())
            .flatten()
        })
        .sum()
}

#[tokio::test]
async fn the_admin_listener_reports_alive_and_ready_with_every_check_named() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path()).await;
    assert_eq!(served.get("/healthz").await.0, 200);
    let (status, body) = served.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        json!({"ready": true, "checks": {"component": "ok", "store": "ok", "policy": "ok"}})
    );
}

#[tokio::test]
async fn metrics_count_tool_calls_policy_denials_graph_responses_and_webhook_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir.path()).await;
    let sent = [
        ("tool", "whatsapp_send_template"),
        ("app", "ops"),
        ("outcome", "ok"),
    ];
    let denied = [("rule", "no-card-numbers")];
    assert_eq!(served.sample("whatsapp_tool_calls_total", &sent).await, 0.0);
    assert_eq!(
        served
            .sample("whatsapp_policy_denials_total", &denied)
            .await,
        0.0
    );

    let ok = served
        .tool(
            1,
            "whatsapp_send_template",
            json!({"to": CUSTOMER, "name": "hello_world", "language": "en_US"}),
        )
        .await;
    assert_eq!(ok["isError"], false, "{ok}");
    let refused = served
        .tool(
            2,
            "whatsapp_send_message",
            json!({"to": CUSTOMER, "text": "my card is 4111 1111 1111 1111"}),
        )
        .await;
    assert_eq!(refused["isError"], true, "{refused}");

    assert_eq!(served.sample("whatsapp_tool_calls_total", &sent).await, 1.0);
    let refused_call = [("tool", "whatsapp_send_message"), ("outcome", "denied")];
    assert_eq!(
        served
            .sample("whatsapp_tool_calls_total", &refused_call)
            .await,
        1.0
    );
    assert_eq!(
        served
            .sample("whatsapp_policy_denials_total", &denied)
            .await,
        1.0
    );
    let timed = [("tool", "whatsapp_send_template")];
    assert_eq!(
        served
            .sample("whatsapp_tool_call_duration_seconds_count", &timed)
            .await,
        1.0
    );
    assert!(
        served
            .sample("whatsapp_graph_responses_total", &[("status", "200")])
            .await
            >= 1.0
    );
    // The sandbox sends the template's status webhooks to the endpoint.
    let deadline = Instant::now() + WAIT;
    loop {
        let accepted = served
            .sample(
                "whatsapp_webhook_deliveries_total",
                &[("result", "accepted")],
            )
            .await;
        let applied = served
            .sample("whatsapp_webhook_ingests_total", &[("result", "applied")])
            .await;
        if accepted >= 1.0 && applied >= 1.0 {
            break;
        }
        assert!(Instant::now() < deadline, "no webhook delivery counted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, text) = served.get("/metrics").await;
    for family in [
        "whatsapp_instances_live",
        "whatsapp_mcp_sessions_live",
        "whatsapp_webhook_queue_depth",
        "whatsapp_webhook_queue_oldest_age_seconds",
        "whatsapp_store_errors_total",
    ] {
        assert!(
            text.contains(&format!("\n{family} ")),
            "{family} missing:\n{text}"
        );
    }
}

#[tokio::test]
async fn readiness_turns_503_naming_the_policy_while_its_file_fails_to_load_and_200_once_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path()).await;
    assert_eq!(served.get("/readyz").await.0, 200);
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        POLICY.replace("block_card_numbers", "no_such_template"),
    )
    .unwrap();
    let deadline = Instant::now() + WAIT;
    let body = loop {
        let (status, body) = served.get("/readyz").await;
        if status == 503 {
            break serde_json::from_str::<Value>(&body).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "still ready with a broken policy: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(body["ready"], false);
    assert_eq!(body["checks"]["component"], "ok");
    assert_eq!(body["checks"]["store"], "ok");
    let why = body["checks"]["policy"].as_str().unwrap();
    assert!(why.contains("failed to load"), "{why}");
    assert!(why.contains("no_such_template"), "{why}");
    // Liveness is not readiness: the process is still alive.
    assert_eq!(served.get("/healthz").await.0, 200);

    std::fs::write(&policy, POLICY).unwrap();
    let deadline = Instant::now() + WAIT;
    while served.get("/readyz").await.0 != 200 {
        assert!(Instant::now() < deadline, "not ready again after the fix");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_admin_address_beyond_loopback_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_host-harness"))
        .args(["serve", "--sandbox", "--admin", "0.0.0.0:0"])
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing to serve the admin endpoints"),
        "{stderr}"
    );
    assert!(stderr.contains("allow_remote = true"), "{stderr}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_state_file_defaults_to_the_xdg_data_directory_owner_only_not_the_working_directory() {
    use std::os::unix::fs::PermissionsExt as _;
    whatsapp_host::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().join("cwd");
    std::fs::create_dir(&cwd).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_host-harness"))
        .args(["serve", "--admin", "127.0.0.1:0"])
        .current_dir(&cwd)
        .env_remove("WHATSAPP_STATE_PATH")
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("WHATSAPP_ACCESS_TOKEN", "EAAtest")
        .env("WHATSAPP_API_BASE_URL", "http://127.0.0.1:9")
        .env("WHATSAPP_PHONE_NUMBER_ID", "106540352242922")
        .env("WHATSAPP_WABA_ID", "102290129340398")
        .env(
            "XDG_CACHE_HOME",
            crate::common::cache_dir()
                .parent()
                .unwrap()
                .join("binary-cache"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let admin = loop {
        let line = tokio::time::timeout(Duration::from_secs(120), stderr.next_line())
            .await
            .expect("the server starts")
            .unwrap()
            .expect("the server names its admin address");
        if let Some(rest) = line.split("Admin endpoints listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let ready: Value = reqwest::get(format!("{admin}/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["checks"]["store"], "ok", "{ready}");
    let home = dir.path().join("data/whatsapp-connector");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&home), 0o700);
    assert_eq!(mode(&home.join("state.redb")), 0o600);
    assert_eq!(
        std::fs::read_dir(&cwd).unwrap().count(),
        0,
        "nothing is written to the working directory"
    );
}
