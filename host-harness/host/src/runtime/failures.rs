//! How a call that the component did not finish is reported: as a
//! `ToolError` a model can act on.

use wasmtime::Trap;

use super::engine::Limits;
use super::instance::MemoryLimitExceeded;
use crate::tool::{ErrorKind, ToolError};

/// Arguments larger than the host accepts; nothing ran.
pub(crate) fn arguments_too_large(len: usize, limits: &Limits) -> ToolError {
    let mut e = ToolError::new(
        ErrorKind::InvalidArguments,
        "Arguments too large",
        format!(
            "the arguments are {len} bytes; at most {} are accepted",
            limits.max_argument_bytes
        ),
        "send shorter values; media should be passed as a link or media id, not inline",
    );
    e.field = Some("arguments".into());
    e
}

/// The runtime stopped taking calls.
pub(crate) fn shutting_down() -> ToolError {
    ToolError::new(
        ErrorKind::Internal,
        "Shutting down",
        "the host is shutting down",
        "retry later",
    )
    .retryable(true)
}

/// No instance slot of `budget` came free within the queue timeout; nothing ran.
pub(crate) fn no_free_instance(budget: &str, capacity: u32, limits: &Limits) -> ToolError {
    ToolError::new(
        ErrorKind::Timeout,
        "Host busy",
        format!(
            "all {capacity} {budget} instance slots stayed busy for {} ms, so the call did not \
             start; nothing was sent",
            limits.queue_timeout.as_millis()
        ),
        "retry in a few seconds; if this keeps happening, the operator can raise \
         runtime.max_instances or runtime.queue_timeout_ms",
    )
    .retryable(true)
}

/// The component returned a result that is not JSON.
pub(crate) fn malformed_result(e: &serde_json::Error) -> ToolError {
    ToolError::new(
        ErrorKind::Internal,
        "Malformed tool result",
        format!("the component returned a result that is not JSON: {e}"),
        "this is a bug in the connector; report it",
    )
}

/// Maps a trap or instantiation failure to an error a model can act on.
pub(crate) fn component_failure(
    e: &wasmtime::Error,
    write_may_have_landed: bool,
    limits: &Limits,
) -> ToolError {
    tracing::warn!(error = ?e, "component call failed");
    if let Some(m) = e.downcast_ref::<MemoryLimitExceeded>() {
        return ToolError::new(
            ErrorKind::ComponentFailure,
            "Memory limit exceeded",
            m.to_string(),
            "the input is too large to process; send smaller arguments",
        );
    }
    if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        let mut err = ToolError::new(
            ErrorKind::Timeout,
            "Call timed out",
            format!(
                "the call did not finish within {} ms",
                limits.call_timeout.as_millis()
            ),
            "retry later; if it keeps happening, the API or the network is slow",
        )
        .retryable(!write_may_have_landed);
        if write_may_have_landed {
            err.kind = ErrorKind::OutcomeUnknown;
            err.title = "Outcome unknown".into();
            err.hint = "the request may have reached WhatsApp: check whatsapp_get_message_status \
                        or list the templates before repeating it"
                .into();
        }
        return err;
    }
    ToolError::new(
        ErrorKind::ComponentFailure,
        "Connector failure",
        format!("the connector stopped unexpectedly: {}", root_cause(e)),
        "retry once; if it fails again, report it with the host's log",
    )
}

fn root_cause(e: &wasmtime::Error) -> String {
    match e.downcast_ref::<Trap>() {
        Some(trap) => format!("trap: {trap}"),
        None => e.root_cause().to_string(),
    }
}
