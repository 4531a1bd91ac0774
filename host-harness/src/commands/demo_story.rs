//! The demo's story-telling: each step a tool call (or a webhook awaited)
//! with what was expected, printed as a numbered row, remembered for the
//! summary.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use whatsapp_host::Connector;
use whatsapp_host::store::Table;
use whatsapp_host::tool::ToolError;
use whatsapp_sandbox::Sandbox;

/// The customer in the story.
pub(super) const CUSTOMER: &str = "+1 (650) 555-1234";
pub(super) const CUSTOMER_DIGITS: &str = "16505551234";
pub(super) const APPROVAL_DELAY: Duration = Duration::from_millis(1500);
/// How long a webhook-driven step may take before it counts as failed.
pub(super) const WEBHOOK_DEADLINE: Duration = Duration::from_secs(10);
pub(super) const POLL: Duration = Duration::from_millis(50);

pub(super) struct Row {
    pub(super) step: usize,
    pub(super) tool: String,
    pub(super) expected: &'static str,
    pub(super) passed: bool,
    pub(super) detail: String,
}

pub(super) struct Story {
    pub(super) harness: Connector,
    pub(super) sandbox: Sandbox,
    pub(super) rows: Vec<Row>,
}

impl Story {
    pub(super) async fn call(&self, tool: &str, args: &Value) -> Result<Value, ToolError> {
        self.harness
            .runtime()
            .call_tool(tool, &args.to_string())
            .await
    }

    /// Runs a call that should succeed; `summary` picks what to show from the result.
    pub(super) async fn ok(
        &mut self,
        tool: &str,
        args: Value,
        summary: impl Fn(&Value) -> Option<String>,
    ) -> Option<Value> {
        let (passed, detail, value) = match self.call(tool, &args).await {
            Ok(v) => match summary(&v) {
                Some(s) => (true, s, Some(v)),
                None => (false, format!("unexpected result: {v}"), Some(v)),
            },
            Err(e) => (false, e.one_line(), None),
        };
        self.push(tool, "ok", passed, detail);
        value
    }

    /// Runs a call that should fail with Graph error `code`.
    pub(super) async fn fails_with(&mut self, tool: &str, args: Value, code: i64) {
        let (passed, detail) = match self.call(tool, &args).await {
            Err(ToolError {
                code: Some(c),
                ref hint,
                ref title,
                ..
            }) if c == code => (true, format!("{code} {title} -> {hint}")),
            Err(e) => (false, format!("wrong error: {}", e.one_line())),
            Ok(v) => (false, format!("succeeded but should have failed: {v}")),
        };
        self.push(tool, "error", passed, detail);
    }

    /// Asks for a message's status until `want` is its current state (webhooks arrive
    /// asynchronously), then shows the timeline.
    pub(super) async fn status_becomes(&mut self, id: &str, want: &str) -> Option<Value> {
        let tool = "whatsapp_get_message_status";
        let args = json!({"message_id": id});
        let deadline = Instant::now() + WEBHOOK_DEADLINE;
        let last = loop {
            let result = self.call(tool, &args).await;
            let done = matches!(&result, Ok(v) if v["status"] == want);
            if done || Instant::now() >= deadline {
                break result;
            }
            tokio::time::sleep(POLL).await;
        };
        let (passed, detail) = match &last {
            Ok(v) if v["status"] == want => {
                let timeline: Vec<String> = v["timeline"]
                    .as_array()
                    .map(|t| t.iter().map(|e| field(e, "/status")).collect())
                    .unwrap_or_default();
                let mut detail = format!("{want} via webhooks: {}", timeline.join(" -> "));
                if let Some(e) = v.pointer("/errors/0") {
                    detail.push_str(&format!(
                        "; {} {}: {}",
                        field(e, "/code"),
                        field(e, "/title"),
                        field(e, "/hint")
                    ));
                }
                (true, detail)
            }
            Ok(v) => (
                false,
                format!("still {} after {WEBHOOK_DEADLINE:?}", field(v, "/status")),
            ),
            Err(e) => (false, e.one_line()),
        };
        self.push(tool, want_label(want), passed, detail);
        last.ok()
    }

    /// Waits until the component's kv holds `key` with `check` true of its value.
    pub(super) async fn kv_becomes(
        &self,
        key: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let state = &self.harness.runtime().capabilities().state;
        let deadline = Instant::now() + WEBHOOK_DEADLINE;
        loop {
            let value = state
                .get(Table::Kv, key)
                .await
                .ok()
                .flatten()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
            if let Some(v) = value.filter(|v| check(v)) {
                return Some(v);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Messages the sandbox has been asked to send so far.
    pub(super) fn send_requests(&self) -> usize {
        self.sandbox
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/messages"))
            .count()
    }

    pub(super) fn push(
        &mut self,
        tool: &str,
        expected: &'static str,
        passed: bool,
        detail: String,
    ) {
        let step = self.rows.len() + 1;
        println!("{}", format_row(step, tool, expected, passed, &detail));
        self.rows.push(Row {
            step,
            tool: tool.to_string(),
            expected,
            passed,
            detail,
        });
    }
}

fn want_label(status: &str) -> &'static str {
    match status {
        "delivered" => "deliv.",
        "read" => "read",
        "failed" => "failed",
        _ => "ok",
    }
}

fn format_row(step: usize, tool: &str, expected: &str, passed: bool, detail: &str) -> String {
    let mark = if passed { "PASS" } else { "FAIL" };
    let mut detail = detail.replace('\n', " ");
    if detail.chars().count() > 110 {
        detail = detail.chars().take(107).collect::<String>() + "...";
    }
    format!("{step:>2}  {tool:<34} {expected:<6} {mark}  {detail}")
}

pub(super) fn field(v: &Value, pointer: &str) -> String {
    match v.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "?".into(),
    }
}

pub(super) fn message_id(sent: &Option<Value>) -> String {
    sent.as_ref()
        .map(|v| field(v, "/message_id"))
        .unwrap_or_default()
}
