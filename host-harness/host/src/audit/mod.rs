//! The audit log: one JSON line per tool call, written by a background
//! thread to a file that rotates by size.
//!
//! ```json
//! {"time":"2026-11-04T12:00:00.123Z","app":"support-bot","tool":"whatsapp_send_message",
//!  "decision":"allow","rule":null,"outcome":"ok","error_kind":null,"error_code":null,
//!  "latency_ms":84.2,"message_ref":"5c1f…","recipient":"+1********34"}
//! ```
//!
//! Recipients are masked ([`phone::mask`]) and message ids written as a
//! keyed digest ([`MessageRefKey`]; a `wamid.` spells its recipient's
//! number) unless recipients are included (`[audit] include_recipients`):
//! then `recipient` is the number and `message_id` the id. Message bodies
//! (the arguments) are written only with `include_bodies = true`, and then
//! with recipients masked and message ids as refs too. Nothing secret reaches this code: the host
//! never gives tokens to the component, API keys are checked before a call
//! gets here and only the app's name is kept, and error details (which may
//! quote what the API said) are left out: the kind and code are enough to
//! find the call in the host's log.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::policy::phone;
use crate::tool::{ErrorKind, ToolError};

mod message_ref;

pub use message_ref::MessageRefKey;

/// Where and how to write the audit log.
#[derive(Clone, Debug)]
pub struct AuditConfig {
    /// The log file (JSON lines).
    pub path: PathBuf,
    /// Rotate before a line would take the file past this size.
    pub max_bytes: u64,
    /// Rotated files kept (`audit.jsonl.1` … `.N`); 0 keeps none.
    pub keep: usize,
    /// Write the call's arguments (message bodies) too.
    pub include_bodies: bool,
    /// Mask recipients (`+1********34`) and write message ids as refs; on by default.
    pub mask_recipients: bool,
    /// The key message refs are computed with.
    pub ref_key: MessageRefKey,
}

impl AuditConfig {
    /// Writes to `path`: 10 MiB files, 5 kept, no bodies, recipients masked,
    /// message refs under a random key (stable only within this process; the
    /// settings give one derived from the vault key).
    pub fn new(path: impl Into<PathBuf>) -> AuditConfig {
        AuditConfig {
            path: path.into(),
            max_bytes: 10 << 20,
            keep: 5,
            include_bodies: false,
            mask_recipients: true,
            ref_key: MessageRefKey::random(),
        }
    }
}

/// One call, as the gateway saw it.
pub(crate) struct CallRecord<'a> {
    pub(crate) time: Timestamp,
    pub(crate) app: &'a str,
    pub(crate) tool: &'a str,
    /// The arguments, when they could be read as JSON.
    pub(crate) args: Option<&'a Value>,
    pub(crate) result: Result<&'a Value, &'a ToolError>,
    /// Whether the policy refused the call (then nothing ran).
    pub(crate) denied: bool,
    pub(crate) latency: Duration,
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    app: &'a str,
    tool: &'a str,
    decision: &'static str,
    rule: Option<&'a str>,
    outcome: &'static str,
    error_kind: Option<ErrorKind>,
    error_code: Option<i64>,
    latency_ms: f64,
    /// Outer `None`: not written; inner: `null` when the call has no id.
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_ref: Option<Option<String>>,
    recipient: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    arguments: Option<Value>,
}

enum Msg {
    Line(String),
    Flush(mpsc::SyncSender<()>),
}

/// The audit log writer. Lines are queued and written in order by one
/// thread; `flush` waits until everything queued is in the file.
pub struct AuditLog {
    config: AuditConfig,
    queue: Mutex<Option<mpsc::Sender<Msg>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl AuditLog {
    /// Opens (creating if needed) the log file and starts the writer.
    pub(crate) fn open(config: AuditConfig) -> anyhow::Result<AuditLog> {
        if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("cannot create the audit log directory {}", dir.display())
            })?;
        }
        let file = open_append(&config.path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let (tx, rx) = mpsc::channel();
        let mut writer = Writer {
            path: config.path.clone(),
            max_bytes: config.max_bytes.max(1),
            keep: config.keep,
            out: BufWriter::new(file),
            size,
            failed: false,
        };
        let thread = std::thread::Builder::new()
            .name("audit-log".into())
            .spawn(move || writer.run(rx))
            .context("cannot start the audit log writer")?;
        Ok(AuditLog {
            config,
            queue: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues the line for `call`.
    pub(crate) fn record(&self, call: &CallRecord<'_>) {
        let line = self.line(call);
        if let Some(queue) = self
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            let _ = queue.send(Msg::Line(line));
        }
    }

    /// The JSON line for `call` (no newline).
    pub(crate) fn line(&self, call: &CallRecord<'_>) -> String {
        let mask = self.config.mask_recipients;
        let (outcome, error) = match call.result {
            Ok(_) => ("ok", None),
            Err(e) if call.denied => ("denied", Some(e)),
            Err(e) => ("error", Some(e)),
        };
        let message_id = call
            .result
            .ok()
            .and_then(|v| v.get("message_id"))
            .or_else(|| call.args.and_then(|a| a.get("message_id")))
            .and_then(Value::as_str);
        let recipient = call
            .args
            .and_then(|a| phone::RECIPIENT_FIELDS.iter().find_map(|f| a.get(*f)))
            .and_then(Value::as_str)
            .map(|to| {
                if mask {
                    phone::mask(to)
                } else {
                    to.to_string()
                }
            });
        let arguments = self
            .config
            .include_bodies
            .then(|| call.args.map(|a| self.masked(a)))
            .flatten();
        let (message_id, message_ref) = if mask {
            (
                None,
                Some(message_id.map(|id| self.config.ref_key.reference(id))),
            )
        } else {
            (Some(message_id), None)
        };
        let line = Line {
            time: call.time.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            app: call.app,
            tool: call.tool,
            decision: if call.denied { "deny" } else { "allow" },
            rule: if call.denied {
                error.and_then(|e| e.rule.as_deref())
            } else {
                None
            },
            outcome,
            error_kind: error.map(|e| e.kind),
            error_code: error.and_then(|e| e.code),
            latency_ms: (call.latency.as_secs_f64() * 1e6).round() / 1e3,
            // Always present (null without an id), under one name or the other.
            message_id,
            message_ref,
            recipient,
            arguments,
        };
        serde_json::to_string(&line).unwrap_or_else(|_| "{}".into())
    }

    /// Waits until every queued line is written and flushed.
    pub fn flush(&self) {
        let (done, wait) = mpsc::sync_channel(1);
        let sent = self
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|q| q.send(Msg::Flush(done)).is_ok());
        if sent {
            let _ = wait.recv_timeout(Duration::from_secs(10));
        }
    }

    /// Writes what is queued, flushes and stops the writer. Later records
    /// are dropped.
    pub(crate) fn close(&self) {
        drop(self.queue.lock().unwrap_or_else(|p| p.into_inner()).take());
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        self.close();
    }
}

impl AuditLog {
    /// The arguments with recipient fields masked and message ids as refs
    /// (when masking), at any depth.
    fn masked(&self, args: &Value) -> Value {
        if !self.config.mask_recipients {
            return args.clone();
        }
        self.masked_value(None, args)
    }

    fn masked_value(&self, field: Option<&str>, value: &Value) -> Value {
        match value {
            Value::String(s) if field.is_some_and(phone::is_recipient_field) => {
                Value::String(phone::mask(s))
            }
            _ if field.is_some_and(phone::is_recipient_field) => Value::String("*".into()),
            Value::String(s) if s.trim_start().starts_with("wamid.") => {
                Value::String(format!("ref:{}", self.config.ref_key.reference(s)))
            }
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.masked_value(None, v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.masked_value(Some(k), v)))
                    .collect::<Map<String, Value>>(),
            ),
            other => other.clone(),
        }
    }
}

fn open_append(path: &Path) -> anyhow::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("cannot open the audit log {}", path.display()))
}

/// `audit.jsonl` → `audit.jsonl.3`.
pub fn rotated_path(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

struct Writer {
    path: PathBuf,
    max_bytes: u64,
    keep: usize,
    out: BufWriter<File>,
    size: u64,
    /// A write failed; logged once until a write succeeds again.
    failed: bool,
}

impl Writer {
    fn run(&mut self, rx: mpsc::Receiver<Msg>) {
        while let Ok(first) = rx.recv() {
            let mut waiting = Vec::new();
            let mut next = Some(first);
            while let Some(msg) = next {
                match msg {
                    Msg::Line(line) => self.write(&line),
                    Msg::Flush(done) => waiting.push(done),
                }
                next = rx.try_recv().ok();
            }
            if let Err(e) = self.out.flush() {
                self.report(&e);
            }
            for done in waiting {
                let _ = done.send(());
            }
        }
        let _ = self.out.flush();
    }

    fn write(&mut self, line: &str) {
        let len = line.len() as u64 + 1;
        if self.size > 0 && self.size + len > self.max_bytes {
            self.rotate();
        }
        let result = self
            .out
            .write_all(line.as_bytes())
            .and_then(|()| self.out.write_all(b"\n"));
        match result {
            Ok(()) => {
                self.size += len;
                self.failed = false;
            }
            Err(e) => self.report(&e),
        }
    }

    fn rotate(&mut self) {
        if let Err(e) = self.out.flush() {
            self.report(&e);
        }
        if self.keep == 0 {
            let _ = std::fs::remove_file(&self.path);
        } else {
            let _ = std::fs::remove_file(rotated_path(&self.path, self.keep));
            for n in (1..self.keep).rev() {
                let from = rotated_path(&self.path, n);
                if from.exists() {
                    let _ = std::fs::rename(&from, rotated_path(&self.path, n + 1));
                }
            }
            if let Err(e) = std::fs::rename(&self.path, rotated_path(&self.path, 1)) {
                self.report(&e);
            }
        }
        match open_append(&self.path) {
            Ok(file) => {
                self.out = BufWriter::new(file);
                self.size = 0;
            }
            Err(e) => {
                tracing::error!(error = %e, "audit log rotation failed; still writing to the old file")
            }
        }
    }

    fn report(&mut self, e: &std::io::Error) {
        if !self.failed {
            tracing::error!(path = %self.path.display(), error = %e, "cannot write the audit log");
            self.failed = true;
        }
    }
}

#[cfg(test)]
mod tests;
