//! The nine tools: dispatch and shared helpers.

mod profile;
mod send;
mod status;
mod template_params;
mod templates;

use serde_json::Value;

use crate::descriptors::TOOL_NAMES;
use crate::error::{ErrorKind, ToolError};
use crate::host::Host;

/// Runs tool `name` with `arguments` (JSON object text). On success, the
/// result as JSON text conforming to the tool's output schema.
pub fn call_tool(host: &dyn Host, name: &str, arguments: &str) -> Result<String, ToolError> {
    let out = run(host, name, arguments)?;
    Ok(out.to_string())
}

/// Like [`call_tool`] but returns the JSON value.
pub fn run(host: &dyn Host, name: &str, arguments: &str) -> Result<Value, ToolError> {
    match name {
        "whatsapp_get_message_status" => status::get_message_status(host, arguments),
        "whatsapp_list_templates" => templates::list_templates(host, arguments),
        "whatsapp_get_business_profile" => profile::get_business_profile(host, arguments),
        "whatsapp_send_message" => send::send_message(host, arguments),
        "whatsapp_send_template" => send::send_template(host, arguments),
        "whatsapp_send_media" => send::send_media(host, arguments),
        "whatsapp_create_template" => templates::create_template(host, arguments),
        "whatsapp_update_business_profile" => profile::update_business_profile(host, arguments),
        "whatsapp_delete_template" => templates::delete_template(host, arguments),
        other => Err(ToolError::new(
            ErrorKind::UnknownTool,
            "Unknown tool",
            format!("no tool is named `{other}`"),
            format!("Use one of: {}.", TOOL_NAMES.join(", ")),
        )),
    }
}

/// Current Unix time in seconds.
pub(crate) fn now_seconds(host: &dyn Host) -> i64 {
    i64::try_from(host.now_unix_ms() / 1000).unwrap_or(i64::MAX)
}
