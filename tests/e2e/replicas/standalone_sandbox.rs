//! `host-harness sandbox --webhook-url URL`: one shared sandbox sends its
//! webhooks, signed with the app secret taken from the environment, to the
//! address given (a load balancer in front of the replicas).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use super::harness::{ACCESS_TOKEN, APP_SECRET, CUSTOMER, SandboxProcess, eventually};

/// (X-Hub-Signature-256, body) of each POST received.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A webhook receiver on 127.0.0.1:0 that records and answers 200.
async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let log = received.clone();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let log = log.clone();
        async move {
            let signature = req
                .headers()
                .get("x-hub-signature-256")
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default();
            let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                .await
                .unwrap();
            log.lock().unwrap().push((signature, body.to_vec()));
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn the_standalone_sandbox_signs_with_the_secret_from_the_environment_and_posts_to_the_webhook_url()
 {
    let (url, received) = receiver().await;
    let sandbox = SandboxProcess::start(Some(&url)).await;
    let config = sandbox.config().await;
    assert_eq!(config["webhook_callback"], url.as_str());
    let id = sandbox.inbound(CUSTOMER, "hello from a customer").await;

    let (signature, body) = eventually(Duration::from_secs(30), "no webhook arrived", || {
        let received = received.clone();
        async move { received.lock().unwrap().first().cloned() }
    })
    .await;
    assert_eq!(
        signature,
        sign(APP_SECRET, &body),
        "signed with the shared secret"
    );
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains(&id), "the inbound message {id} is in {text}");

    // Credentials the operator gave stay out of its logs.
    let log = sandbox.stderr.lock().unwrap().join("\n");
    assert!(log.contains("sandbox access token"), "{log}");
    assert!(!log.contains(APP_SECRET), "the app secret is logged: {log}");
    assert!(
        !log.contains(ACCESS_TOKEN),
        "the access token is logged: {log}"
    );
}

/// `host-harness sandbox ARGS` with `env`: (success, stderr).
async fn sandbox_exit(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_host-harness"))
        .args([
            "sandbox",
            "--port",
            &super::harness::free_port().to_string(),
        ])
        .args(args)
        .envs(env.iter().copied())
        .env_remove("WHATSAPP_SANDBOX_APP_SECRET")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("a bad flag stops the sandbox at once")
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_standalone_sandbox_refuses_a_webhook_url_that_is_not_http_and_says_what_to_give() {
    let (ok, stderr) = sandbox_exit(&["--webhook-url", "ftp://127.0.0.1/webhook"], &[]).await;
    assert!(!ok);
    assert!(
        stderr.contains("--webhook-url") && stderr.contains("http://"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_standalone_sandbox_refuses_an_app_secret_variable_that_is_unset_or_empty() {
    let (ok, stderr) = sandbox_exit(&["--app-secret-env", "REPLICAS_E2E_NO_SUCH_VAR"], &[]).await;
    assert!(!ok);
    assert!(
        stderr.contains("REPLICAS_E2E_NO_SUCH_VAR is not set"),
        "{stderr}"
    );
    let (ok, stderr) = sandbox_exit(
        &["--app-secret-env", "REPLICAS_E2E_EMPTY"],
        &[("REPLICAS_E2E_EMPTY", " ")],
    )
    .await;
    assert!(!ok);
    assert!(stderr.contains("REPLICAS_E2E_EMPTY is empty"), "{stderr}");
}
