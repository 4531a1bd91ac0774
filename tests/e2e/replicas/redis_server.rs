//! A real `redis-server` for the replica tests: a free loopback port, its
//! own temp dir, an append-only file fsynced on every write; killed (`-9`)
//! and restarted from the same file on demand, and asked for what the tests
//! inspect over a bare RESP connection.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The `redis-server` binary: `$REDIS_SERVER` (what `.ci/run` exports),
/// else the one on `PATH`.
fn redis_binary() -> PathBuf {
    std::env::var_os("REDIS_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("redis-server"))
}

/// A real `redis-server` on a free loopback port, persisting to an
/// append-only file fsynced on every write, in its own temp dir.
pub struct Redis {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Redis {
    pub async fn start() -> Redis {
        let mut redis = Redis {
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        redis.launch().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn launch(&mut self) {
        let binary = redis_binary();
        let spawned = Command::new(&binary)
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
            .args(["--logfile", "redis.log"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) => panic!(
                "cannot start {} ({e}): these tests need a real Redis. Install it \
                 (`apt-get install redis-server`) or set REDIS_SERVER to its path",
                binary.display()
            ),
        };
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(reply) = self.command(&["PING"]).await
                && reply == Resp::Simple("PONG".into())
            {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "redis-server exited ({status}) on port {}: {}",
                    self.port,
                    self.log_tail()
                );
            }
            assert!(
                Instant::now() < deadline,
                "redis-server never answered PING on port {}: {}",
                self.port,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every byte Redis wrote under its directory (the append-only files).
    pub fn disk_bytes(&self) -> Vec<u8> {
        fn walk(dir: &std::path::Path, out: &mut Vec<u8>) {
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

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().rev().take(10).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// `kill -9`: whatever Redis acknowledged is in the fsynced AOF, nothing
    /// more is flushed on the way out.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }

    /// Starts again on the same port and directory (so from the same AOF).
    pub async fn restart(&mut self) {
        self.kill().await;
        self.launch().await;
    }

    /// One command over a fresh connection (RESP2), for what the test itself
    /// inspects (stream entries pending, keys).
    pub async fn command(&self, args: &[&str]) -> std::io::Result<Resp> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).await?;
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        stream.write_all(out.as_bytes()).await?;
        let mut reader = BufReader::new(stream);
        tokio::time::timeout(Duration::from_secs(5), Resp::read(&mut reader))
            .await
            .map_err(|_| std::io::Error::other("redis answered nothing within 5 s"))?
    }
}

/// A Redis reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Resp>>),
}

impl Resp {
    fn read<'a>(
        r: &'a mut BufReader<TcpStream>,
    ) -> std::pin::Pin<Box<dyn Future<Output = std::io::Result<Resp>> + Send + 'a>> {
        Box::pin(async move {
            let mut line = String::new();
            r.read_line(&mut line).await?;
            let line = line.trim_end_matches("\r\n");
            let (kind, rest) = line.split_at(1.min(line.len()));
            let number = || {
                rest.parse::<i64>()
                    .map_err(|e| std::io::Error::other(format!("bad RESP {line:?}: {e}")))
            };
            Ok(match kind {
                "+" => Resp::Simple(rest.to_string()),
                "-" => Resp::Error(rest.to_string()),
                ":" => Resp::Int(number()?),
                "$" => match number()? {
                    -1 => Resp::Bulk(None),
                    n => {
                        let mut buf = vec![0; n as usize + 2];
                        r.read_exact(&mut buf).await?;
                        buf.truncate(n as usize);
                        Resp::Bulk(Some(buf))
                    }
                },
                "*" => match number()? {
                    -1 => Resp::Array(None),
                    n => {
                        let mut items = Vec::new();
                        for _ in 0..n {
                            items.push(Resp::read(r).await?);
                        }
                        Resp::Array(Some(items))
                    }
                },
                _ => return Err(std::io::Error::other(format!("bad RESP line {line:?}"))),
            })
        })
    }

    pub fn int(&self) -> Option<i64> {
        match self {
            Resp::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn items(&self) -> &[Resp] {
        match self {
            Resp::Array(Some(items)) => items,
            _ => &[],
        }
    }
}
