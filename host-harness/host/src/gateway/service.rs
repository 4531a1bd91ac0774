//! The seam between the clients' protocols (MCP) and the gateway: what a
//! protocol layer needs to serve tools, and the typed ways a call can fail.
//!
//! [`Gateway`](super::Gateway) implements [`ToolService`]; the MCP server is
//! generic over it, so it can be tested against a stub without wasmtime.

use std::fmt;
use std::future::Future;

use serde_json::{Map, Value};

use crate::policy::Denial;
use crate::tool::{ErrorKind, ToolDescriptor, ToolError};

/// What a protocol layer needs from the gateway: the tools, who may see
/// them, who is calling, and the calls themselves.
pub trait ToolService: Send + Sync + 'static {
    /// Every tool the component offers, in the component's order.
    fn tools(&self) -> &[ToolDescriptor];

    /// The tools `app` may see and call, in the component's order; none for
    /// an app the policy in force does not have.
    fn visible_tools(&self, app: &str) -> Vec<&ToolDescriptor>;

    /// Whether clients must present an app key (a policy file is in force).
    fn requires_auth(&self) -> bool;

    /// The name of the app whose API key `key` is.
    fn authenticate(&self, key: &str) -> Option<String>;

    /// The app a client acts as when it names none and needs no key: the
    /// only app of the policy in force, or `None` when there are several.
    fn default_app(&self) -> Option<String>;

    /// Whether `app` may see the inbox conversation with `customer` (any
    /// format `to` accepts): the policy's visibility rule.
    fn may_see_customer(&self, app: &str, customer: &str) -> bool;

    /// Runs `tool` for `app` with `arguments` (a JSON object).
    fn call(
        &self,
        app: &str,
        tool: &str,
        arguments: Map<String, Value>,
    ) -> impl Future<Output = Result<Value, CallError>> + Send;
}

/// Why a tool call did not return a result.
///
/// The first two mean the tool does not exist for the caller (MCP answers
/// them with a protocol error, `-32602`); the last two are results the model
/// should read (MCP answers `isError` with the [`ToolError`]). Every variant
/// converts to the [`ToolError`] the CLI prints and the audit log records.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallError {
    /// The component has no tool named `tool`. Nothing ran.
    UnknownTool {
        /// The name the client asked for.
        tool: String,
        /// The tools the calling app may use, in the component's order.
        known: Vec<String>,
    },
    /// The tool exists but the calling app may not use it: it is not
    /// enabled for the app, or the app is not (or no longer) in the policy.
    /// To the app the tool does not exist. Nothing ran.
    NotEnabled {
        /// The enablement denial; its `rule` is
        /// [`TOOL_NOT_ENABLED`](crate::policy::TOOL_NOT_ENABLED) or
        /// [`UNKNOWN_APP`](crate::policy::UNKNOWN_APP).
        denial: Denial,
        /// The tools the calling app may use, in the component's order.
        known: Vec<String>,
    },
    /// Refused before anything was sent: a policy rule (named in `rule`),
    /// arguments a rule cannot read, a rate limit that cannot be counted, or
    /// an OAuth scope the access token lacks.
    Denied(ToolError),
    /// The component ran (or the runtime refused to run it) and failed.
    Failed(ToolError),
}

impl CallError {
    /// The error as a client or the audit log sees it.
    pub fn to_tool_error(&self) -> ToolError {
        match self {
            CallError::UnknownTool { tool, known } => ToolError::new(
                ErrorKind::UnknownTool,
                "Unknown tool",
                format!("there is no tool named `{tool}`"),
                format!("use one of: {}", known.join(", ")),
            ),
            CallError::NotEnabled { denial, .. } => denial.to_tool_error(),
            CallError::Denied(e) | CallError::Failed(e) => e.clone(),
        }
    }
}

impl From<CallError> for ToolError {
    fn from(e: CallError) -> ToolError {
        match e {
            CallError::Denied(e) | CallError::Failed(e) => e,
            other => other.to_tool_error(),
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_tool_error().fmt(f)
    }
}

impl std::error::Error for CallError {}
