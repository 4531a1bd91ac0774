//! Shared set-up: a sandbox on 127.0.0.1:0 and a harness running the real
//! component against it, with in-memory state and a shared compile cache.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use whatsapp_host::Connector;
use whatsapp_host::config::{EnvSecrets, Settings};
use whatsapp_host::runtime::ComponentSource;
use whatsapp_host::tool::ToolError;
use whatsapp_sandbox::{RecordedRequest, Sandbox, SandboxConfig};

pub const CUSTOMER: &str = "+16505551234";
pub const CUSTOMER_DIGITS: &str = "16505551234";

/// Compiled components are cached here so only the first test compiles.
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("component-cache")
}

/// The hostile test guest (`tests/hostile-guest`), built on first use: it
/// exists only for these tests, so no production build compiles it.
pub fn hostile_component() -> ComponentSource {
    static WASM: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ComponentSource::File(WASM.get_or_init(build_hostile_guest).clone())
}

fn build_hostile_guest() -> PathBuf {
    let manifest =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/hostile-guest/Cargo.toml");
    let target_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hostile-guest");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--quiet", "--locked", "--target", "wasm32-wasip2"])
        .args(["--profile", "guest-release", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        // The test build's flags and wrappers are for the host only.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("cargo runs to build the hostile guest");
    assert!(
        status.success(),
        "building tests/hostile-guest failed (is `rustup target add wasm32-wasip2` done?)"
    );
    target_dir.join("wasm32-wasip2/guest-release/hostile_guest.wasm")
}

pub struct Env {
    pub sandbox: Sandbox,
    pub harness: Connector,
}

type Tweak<T> = Box<dyn FnOnce(&mut T)>;

pub struct EnvBuilder {
    sandbox: SandboxConfig,
    settings: Vec<Tweak<Settings>>,
    secrets: Vec<Tweak<EnvSecrets>>,
    component: ComponentSource,
}

impl EnvBuilder {
    pub fn sandbox(mut self, f: impl FnOnce(&mut SandboxConfig)) -> Self {
        f(&mut self.sandbox);
        self
    }

    /// Applied after the settings are wired to the sandbox.
    pub fn settings(mut self, f: impl FnOnce(&mut Settings) + 'static) -> Self {
        self.settings.push(Box::new(f));
        self
    }

    /// Applied after the sandbox's token is in place.
    pub fn secrets(mut self, f: impl FnOnce(&mut EnvSecrets) + 'static) -> Self {
        self.secrets.push(Box::new(f));
        self
    }

    pub fn component(mut self, component: ComponentSource) -> Self {
        self.component = component;
        self
    }

    pub async fn start(self) -> Env {
        let sandbox = Sandbox::start(self.sandbox).await.expect("sandbox starts");
        let mut settings = Settings::default();
        let mut secrets = EnvSecrets::default();
        settings.point_at(
            host_harness::commands::sandbox::endpoint(&sandbox),
            &mut secrets,
        );
        settings.runtime.cache_dir = Some(cache_dir());
        settings.runtime.max_instances = 16;
        for tweak in self.settings {
            tweak(&mut settings);
        }
        for tweak in self.secrets {
            tweak(&mut secrets);
        }
        let harness = Connector::builder(settings)
            .secrets(secrets)
            .component(self.component)
            .build()
            .await
            .expect("harness builds");
        Env { sandbox, harness }
    }
}

impl Env {
    pub fn builder() -> EnvBuilder {
        EnvBuilder {
            sandbox: SandboxConfig {
                approval_delay: Duration::ZERO,
                ..SandboxConfig::default()
            },
            settings: Vec::new(),
            secrets: Vec::new(),
            component: ComponentSource::Embedded,
        }
    }

    pub async fn new() -> Env {
        Env::builder().start().await
    }

    pub async fn call(&self, tool: &str, args: Value) -> Result<Value, ToolError> {
        self.harness
            .runtime()
            .call_tool(tool, &args.to_string())
            .await
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.sandbox.requests()
    }

    pub fn token(&self) -> String {
        self.sandbox.config().access_token.clone()
    }

    pub fn phone_number_id(&self) -> String {
        self.sandbox.config().phone_number_id.clone()
    }

    pub fn waba_id(&self) -> String {
        self.sandbox.config().waba_id.clone()
    }
}

/// (path, Authorization header) of a request a `Recorder` received.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, Option<String>)>>>;

/// A server on 127.0.0.1:0 that records every request it gets; `/redirect`
/// answers 302 to `location`. Stands in for an attacker's endpoint.
pub struct Recorder {
    pub base_url: String,
    seen: Seen,
}

impl Recorder {
    pub async fn start(location: Option<String>) -> Recorder {
        use axum::extract::Request;
        use axum::response::IntoResponse;
        let seen: Seen = Default::default();
        let log = seen.clone();
        let app = axum::Router::new().fallback(move |req: Request| {
            let log = log.clone();
            let location = location.clone();
            async move {
                let auth = req
                    .headers()
                    .get("authorization")
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                log.lock()
                    .unwrap()
                    .push((req.uri().path().to_string(), auth));
                match (&location, req.uri().path().ends_with("/redirect")) {
                    (Some(to), true) => (
                        axum::http::StatusCode::FOUND,
                        [("location", to.clone())],
                        "moved",
                    )
                        .into_response(),
                    _ => "recorded".into_response(),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Recorder { base_url, seen }
    }

    /// (path, Authorization header) of every request received.
    pub fn seen(&self) -> Vec<(String, Option<String>)> {
        self.seen.lock().unwrap().clone()
    }
}

/// Fails unless `value` validates against `tool`'s output schema (JSON Schema 2020-12).
pub fn assert_matches_output_schema(env: &Env, tool: &str, value: &Value) {
    let descriptor = env.harness.runtime().tool(tool).expect("the tool exists");
    let validator = jsonschema::draft202012::new(&descriptor.output_schema)
        .unwrap_or_else(|e| panic!("{tool}'s output schema is invalid: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{tool} result does not match its output schema: {errors:?}\n{value}"
    );
}

/// `host-harness serve` as a child process speaking newline-delimited
/// JSON-RPC over its stdio, already initialised (2025-11-25).
pub struct StdioServer {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::BufReader<tokio::process::ChildStdout>,
}

impl StdioServer {
    /// Starts `host-harness serve ARGS` with `envs` and initialises a session.
    pub async fn start(args: &[&str], envs: &[(&str, &str)]) -> StdioServer {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_host-harness"))
            .arg("serve")
            .args(args)
            .envs(envs.iter().copied())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut io = StdioServer {
            stdin: child.stdin.take().unwrap(),
            stdout: tokio::io::BufReader::new(child.stdout.take().unwrap()),
            child,
        };
        let init = serde_json::json!({"protocolVersion": "2025-11-25", "capabilities": {},
                                      "clientInfo": {"name": "e2e", "version": "0"}});
        io.request(0, "initialize", init).await;
        io.send(serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        io
    }

    async fn send(&mut self, msg: Value) {
        use tokio::io::AsyncWriteExt as _;
        self.stdin
            .write_all(format!("{msg}\n").as_bytes())
            .await
            .unwrap();
    }

    /// Sends a request and returns the response with its `id` (skipping
    /// notifications); stdout must carry nothing but JSON-RPC.
    pub async fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        use tokio::io::AsyncBufReadExt as _;
        self.send(
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        )
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

    /// A `tools/call`'s result.
    pub async fn tool(&mut self, id: u64, name: &str, args: Value) -> Value {
        let reply = self
            .request(
                id,
                "tools/call",
                serde_json::json!({"name": name, "arguments": args}),
            )
            .await;
        reply["result"].clone()
    }

    /// Closes stdin and asserts the server then exits cleanly.
    pub async fn finish(mut self) {
        drop(self.stdin);
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("the server exits after EOF on stdin")
            .unwrap();
        assert!(status.success(), "{status}");
    }
}
