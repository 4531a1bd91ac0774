//! The inbox on a Redis state store: a customer's message is read back
//! through the tools, and what Redis writes to disk (its append-only file)
//! holds the inbox keys but not the message's content.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::net::TcpListener as TokioListener;
use whatsapp_host::webhook_endpoint::{self, WebhookOptions, WebhookServer, Webhooks};

use super::storage::{customer_writes, holds, texts};
use crate::common::Env;

const SECRET_TEXT: &str = "my new passport number is X1234567";

/// A `redis-server` of this test's own (loopback, free port, append-only
/// with fsync on every write), stopped when dropped.
struct Redis {
    port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl Redis {
    fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir"])
            .arg(dir.path())
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start `redis-server` ({e}): install it (apt-get install redis-server)"
                )
            });
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis { port, dir, child }
    }

    /// Every byte Redis wrote under its directory (the append-only files).
    fn disk_bytes(&self) -> Vec<u8> {
        fn walk(dir: &Path, out: &mut Vec<u8>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.extend(std::fs::read(&path).unwrap());
                }
            }
        }
        let mut out = Vec::new();
        walk(self.dir.path(), &mut out);
        out
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn on_redis_a_message_is_read_back_but_not_readable_in_what_redis_writes_to_disk() {
    let redis = Redis::start();
    let keys = tempfile::tempdir().unwrap();
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let (vault, key_file) = (
        keys.path().join("vault.json"),
        keys.path().join("vault.key"),
    );
    let env = Env::builder()
        .settings(move |s| {
            s.state.url = url;
            // Every replica seals with the deployment's vault key.
            s.vault.path = vault;
            s.vault.key_file = key_file;
            s.vault_file(true).expect("a vault key file");
            s.whatsapp.webhooks_configured = true;
            s.inbox.enabled = true;
        })
        .start()
        .await;
    let hooks = Webhooks::new(env.harness.runtime().clone(), WebhookOptions::default());
    let listener = TokioListener::bind("127.0.0.1:0").await.unwrap();
    let url = webhook_endpoint::callback_url(listener.local_addr().unwrap());
    let server = WebhookServer::start(hooks.clone(), listener).await.unwrap();
    env.sandbox.set_webhook_callback(Some(url));

    customer_writes(&env, &hooks, SECRET_TEXT).await;
    assert_eq!(texts(&env).await, [SECRET_TEXT]);
    let disk = redis.disk_bytes();
    assert!(
        disk.windows(b"inbox/m/".len()).any(|w| w == b"inbox/m/"),
        "what was read is Redis' append-only file, with the inbox keys"
    );
    assert!(
        !holds(&disk, SECRET_TEXT),
        "the customer's message is readable in Redis' files"
    );
    server.stop().await.unwrap();
}
