//! Native unit tests of the core, against the fake host.

mod descriptors;
mod errors;
mod fidelity;
mod helpers;
mod inbox;
mod interactive;
mod profile;
mod retry;
mod send;
mod status;
mod template_cards;
mod template_listing;
mod templates;
mod webhooks;
mod window;

use serde_json::Value;

use crate::descriptors::descriptors;
use crate::error::{ErrorKind, ToolError};
use crate::testing::{FakeHost, check_schema};

pub const WAMID: &str = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA";
pub const GRAPH: &str = "https://graph.facebook.com/v23.0";

pub fn send_ok() -> String {
    format!(
        r#"{{"messaging_product":"whatsapp","contacts":[{{"input":"+16505551234","wa_id":"16505551234"}}],"messages":[{{"id":"{WAMID}","message_status":"accepted"}}]}}"#
    )
}

/// Calls a tool; on success checks the result against its output schema.
pub fn call(host: &FakeHost, name: &str, args: Value) -> Result<Value, ToolError> {
    let text = crate::tools::call_tool(host, name, &args.to_string())?;
    assert!(
        input_schema_accepts(name, &args),
        "{name}: the input schema rejects arguments the tool accepted: {args}"
    );
    let out: Value = serde_json::from_str(&text).expect("tool output is JSON");
    let d = descriptors()
        .into_iter()
        .find(|d| d.name == name)
        .expect("descriptor");
    let schema: Value = serde_json::from_str(d.output_schema).expect("output schema JSON");
    if let Err(e) = check_schema(&schema, &out) {
        panic!("{name} output does not match its schema: {e}\n{out}");
    }
    Ok(out)
}

/// Asserts an invalid-arguments error on `field` and that nothing was sent.
pub fn assert_invalid(host: &FakeHost, name: &str, args: Value, field: &str) -> ToolError {
    let before = host.request_count();
    let e = call(host, name, args.clone()).expect_err(&format!("{name} should reject {args}"));
    assert_eq!(e.kind, ErrorKind::InvalidArguments, "{e:?}");
    assert_eq!(e.field.as_deref(), Some(field), "{e:?}");
    assert!(!e.hint.is_empty() && !e.details.is_empty() && !e.title.is_empty());
    assert_eq!(
        host.request_count(),
        before,
        "nothing may be sent on invalid arguments"
    );
    e
}

/// Also checks that the input is accepted by the input schema (or not).
pub fn input_schema_accepts(name: &str, args: &Value) -> bool {
    let d = descriptors()
        .into_iter()
        .find(|d| d.name == name)
        .expect("descriptor");
    let schema: Value = serde_json::from_str(d.input_schema).expect("input schema JSON");
    check_schema(&schema, args).is_ok()
}
