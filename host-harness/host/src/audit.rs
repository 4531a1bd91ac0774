//! The audit log: one JSON line per tool call, written by a background
//! thread to a file that rotates by size.
//!
//! ```json
//! {"time":"2026-11-04T12:00:00.123Z","app":"support-bot","tool":"whatsapp_send_message",
//!  "decision":"allow","rule":null,"outcome":"ok","error_kind":null,"error_code":null,
//!  "latency_ms":84.2,"message_id":"wamid.HBgL…","recipient":"+1650*****34"}
//! ```
//!
//! Recipients are masked unless `mask_recipients = false`; message bodies
//! (the arguments) are written only with `include_bodies = true`, and then
//! with recipients masked too. Nothing secret reaches this code: the host
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
    /// Mask recipients (`+1650*****34`); on by default.
    pub mask_recipients: bool,
}

impl AuditConfig {
    /// Writes to `path`: 10 MiB files, 5 kept, no bodies, recipients masked.
    pub fn new(path: impl Into<PathBuf>) -> AuditConfig {
        AuditConfig {
            path: path.into(),
            max_bytes: 10 << 20,
            keep: 5,
            include_bodies: false,
            mask_recipients: true,
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
    message_id: Option<&'a str>,
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
            .then(|| call.args.map(|a| masked(a, mask)))
            .flatten();
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
            message_id,
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

/// The arguments with recipient fields masked (when `mask`).
fn masked(args: &Value, mask: bool) -> Value {
    let Some(map) = args.as_object() else {
        return args.clone();
    };
    let out: Map<String, Value> = map
        .iter()
        .map(|(k, v)| {
            let v = match (mask && phone::is_recipient_field(k), v) {
                (true, Value::String(s)) => Value::String(phone::mask(s)),
                (true, _) => Value::String("*".into()),
                (false, v) => v.clone(),
            };
            (k.clone(), v)
        })
        .collect();
    Value::Object(out)
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
mod tests {
    use super::*;
    use serde_json::json;

    fn record<'a>(
        args: Option<&'a Value>,
        result: &'a Result<Value, ToolError>,
        denied: bool,
    ) -> CallRecord<'a> {
        CallRecord {
            time: "2026-11-04T12:00:00.1234Z".parse().unwrap(),
            app: "support-bot",
            tool: "whatsapp_send_message",
            args,
            result: result.as_ref(),
            denied,
            latency: Duration::from_micros(84_216),
        }
    }

    #[test]
    fn an_allowed_call_line_has_every_field_and_a_masked_recipient_and_no_body() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(AuditConfig::new(dir.path().join("a.jsonl"))).unwrap();
        let args = json!({"to": "+1 (650) 555-1234", "text": "the body"});
        let result = Ok(json!({"message_id": "wamid.X", "status": "accepted"}));
        let line: Value =
            serde_json::from_str(&log.line(&record(Some(&args), &result, false))).unwrap();
        assert_eq!(
            line,
            json!({"time": "2026-11-04T12:00:00.123Z", "app": "support-bot",
                   "tool": "whatsapp_send_message", "decision": "allow", "rule": null,
                   "outcome": "ok", "error_kind": null, "error_code": null,
                   "latency_ms": 84.216, "message_id": "wamid.X", "recipient": "+1650*****34"})
        );
    }

    #[test]
    fn a_denied_call_line_names_the_rule_and_bodies_appear_only_when_configured() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = AuditConfig::new(dir.path().join("a.jsonl"));
        config.include_bodies = true;
        let log = AuditLog::open(config).unwrap();
        let args = json!({"to": "+16505551234", "text": "the body"});
        let mut e = ToolError::new(ErrorKind::Denied, "Refused by policy", "d", "h");
        e.rule = Some("recipients".into());
        let result = Err(e);
        let line: Value =
            serde_json::from_str(&log.line(&record(Some(&args), &result, true))).unwrap();
        assert_eq!(line["decision"], "deny");
        assert_eq!(line["rule"], "recipients");
        assert_eq!(line["outcome"], "denied");
        assert_eq!(line["error_kind"], "denied");
        assert_eq!(
            line["arguments"],
            json!({"to": "+1650*****34", "text": "the body"})
        );
    }

    #[test]
    fn unmasked_recipients_are_written_only_when_masking_is_off() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = AuditConfig::new(dir.path().join("a.jsonl"));
        config.mask_recipients = false;
        let log = AuditLog::open(config).unwrap();
        let args = json!({"to": "+16505551234"});
        let result = Err(ToolError::new(
            ErrorKind::ApiError,
            "t",
            "secret-ish details",
            "h",
        ));
        let text = log.line(&record(Some(&args), &result, false));
        let line: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(line["recipient"], "+16505551234");
        assert_eq!(line["outcome"], "error");
        assert!(!text.contains("secret-ish details"), "{text}");
    }

    #[test]
    fn the_log_rotates_by_size_and_keeps_n_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut config = AuditConfig::new(&path);
        config.max_bytes = 1000;
        config.keep = 2;
        let log = AuditLog::open(config).unwrap();
        let args = json!({"to": "+16505551234"});
        let result = Ok(json!({}));
        let one = log.line(&record(Some(&args), &result, false)).len() as u64 + 1;
        let per_file = 1000 / one;
        let total = per_file * 3 + 1;
        for _ in 0..total {
            log.record(&record(Some(&args), &result, false));
        }
        log.flush();
        let lines = |p: &Path| std::fs::read_to_string(p).map(|t| t.lines().count() as u64);
        assert_eq!(lines(&path).unwrap(), 1);
        assert_eq!(lines(&rotated_path(&path, 1)).unwrap(), per_file);
        assert_eq!(lines(&rotated_path(&path, 2)).unwrap(), per_file);
        assert!(
            !rotated_path(&path, 3).exists(),
            "only two rotated files are kept"
        );
        for n in 1..=2 {
            assert!(std::fs::metadata(rotated_path(&path, n)).unwrap().len() <= 1000);
        }
    }

    #[test]
    fn close_writes_everything_queued() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(AuditConfig::new(&path)).unwrap();
        let result = Ok(json!({}));
        for _ in 0..100 {
            log.record(&record(None, &result, false));
        }
        log.close();
        log.record(&record(None, &result, false));
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 100);
    }
}
