//! The tools: the generated catalogue, dispatch and shared helpers.
//!
//! A new tool is a case of the WIT enum `tools.tool` plus its schemas in
//! `src/schemas/`; the exhaustive matches on [`Tool`] (here and in
//! `descriptors`) then name what is missing.

mod catalogue;
mod conversations;
mod interactive;
mod media_upload;
mod profile;
mod reactions;
mod send;
mod status;
pub(crate) mod template_gate;
mod template_params;
mod templates;

use serde_json::Value;

use crate::args::Args;
use crate::error::{ErrorKind, ToolError};
use crate::host::Host;

pub use catalogue::Tool;

/// Runs tool `name` with `arguments` (JSON object text). On success, the
/// result as JSON text conforming to the tool's output schema.
pub fn call_tool(host: &dyn Host, name: &str, arguments: &str) -> Result<String, ToolError> {
    let out = run(host, name, arguments)?;
    Ok(out.to_string())
}

/// Like [`call_tool`] but returns the JSON value.
pub fn run(host: &dyn Host, name: &str, arguments: &str) -> Result<Value, ToolError> {
    // The host checks names too, but the component must be safe on its own.
    let Some(tool) = Tool::from_name(name) else {
        let names: Vec<&str> = Tool::ALL.iter().map(|t| t.name()).collect();
        return Err(ToolError::new(
            ErrorKind::UnknownTool,
            "Unknown tool",
            format!("no tool is named `{name}`"),
            format!("Use one of: {}.", names.join(", ")),
        ));
    };
    let args = Args::parse(arguments, tool.argument_names())?;
    match tool {
        Tool::GetMessageStatus => status::get_message_status(host, &args),
        Tool::ListTemplates => templates::list_templates(host, &args),
        Tool::GetBusinessProfile => profile::get_business_profile(host, &args),
        Tool::SendMessage => send::send_message(host, &args),
        Tool::SendTemplate => send::send_template(host, &args),
        Tool::SendMedia => send::send_media(host, &args),
        Tool::CreateTemplate => templates::create_template(host, &args),
        Tool::UpdateBusinessProfile => profile::update_business_profile(host, &args),
        Tool::DeleteTemplate => templates::delete_template(host, &args),
        Tool::ListConversations => conversations::list_conversations(host, &args),
        Tool::GetMessages => conversations::get_messages(host, &args),
        Tool::MarkAsRead => reactions::mark_as_read(host, &args),
        Tool::SendReaction => reactions::send_reaction(host, &args),
    }
}
