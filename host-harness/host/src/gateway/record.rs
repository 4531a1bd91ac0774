//! Audit records of calls, including calls the client cancels.

use std::time::Instant;

use serde_json::Value;

use crate::audit::{AuditLog, CallRecord};
use crate::tool::{ErrorKind, ToolError};

/// Who called what, and when: the parts of an audit line known before
/// the call's outcome.
#[derive(Clone, Copy)]
pub(super) struct Recorder<'a> {
    pub(super) audit: Option<&'a AuditLog>,
    pub(super) time: jiff::Timestamp,
    pub(super) app: &'a str,
    pub(super) tool: &'a str,
    pub(super) args: Option<&'a Value>,
    pub(super) started: Instant,
}

impl Recorder<'_> {
    /// Writes the call's line; `denied` when the policy refused it.
    pub(super) fn record(&self, result: Result<&Value, &ToolError>, denied: bool) {
        let outcome = match result {
            Ok(_) => "ok".to_string(),
            Err(_) if denied => "denied".to_string(),
            Err(e) => serde_json::to_value(e.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "error".into()),
        };
        let graph_error = result
            .err()
            .and_then(|e| e.code.map(|code| (e.http_status, code)));
        crate::admin::metrics::global().tool_call(
            [self.app, self.tool],
            outcome,
            graph_error,
            self.started.elapsed(),
        );
        if let Some(audit) = self.audit {
            audit.record(&CallRecord {
                time: self.time,
                app: self.app,
                tool: self.tool,
                args: self.args,
                result,
                denied,
                latency: self.started.elapsed(),
            });
        }
    }
}

/// An allowed call on its way; writes a `cancelled` audit line if dropped
/// before the component returns.
pub(super) struct Pending<'a> {
    pub(super) recorder: Recorder<'a>,
    pub(super) done: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let e = ToolError::new(
            ErrorKind::OutcomeUnknown,
            "Cancelled",
            "the client cancelled the call while it ran",
            "check before repeating it",
        );
        self.recorder.record(Err(&e), false);
    }
}
