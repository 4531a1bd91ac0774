//! A real `redis-server` for the store's tests: its own loopback port and
//! directory, append-only with fsync on every write (as production should
//! run), stopped when dropped. Without `redis-server` the test fails, with
//! how to install it.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::StateStore;
use super::location::StateLocation;
use crate::seal::KeyBytes;

pub(crate) struct TestRedis {
    child: Option<Child>,
    pub(crate) port: u16,
    dir: tempfile::TempDir,
}

impl TestRedis {
    pub(crate) fn start() -> TestRedis {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let mut redis = TestRedis {
            child: None,
            port,
            dir: tempfile::tempdir().expect("a temp dir"),
        };
        redis.restart();
        redis
    }

    /// `redis://127.0.0.1:PORT` plus `options` (e.g. `?namespace=x`).
    pub(crate) fn url(&self, options: &str) -> String {
        format!("redis://127.0.0.1:{}{options}", self.port)
    }

    /// A store on this server sealing with `key_byte` repeated (the vault key
    /// every replica of a deployment shares).
    pub(crate) async fn store(&self, key_byte: u8) -> StateStore {
        let location = StateLocation::parse(&self.url("")).unwrap();
        StateStore::connect(&location, Some(KeyBytes::new([key_byte; 32])))
            .await
            .expect("connects to the test redis-server")
    }

    /// Stops the server (its data stays in its directory).
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and data.
    pub(crate) fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(self.dir.path())
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
                    "cannot start `redis-server` ({e}): the Redis store's tests need it \
                     (Debian/Ubuntu: apt-get install redis-server)"
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers_ping() {
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not answer PING within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let mut answer = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok()
            && s.read_exact(&mut answer).is_ok()
            && &answer == b"+PONG\r\n"
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
