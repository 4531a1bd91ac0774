//! Tool descriptors. Names, titles, descriptions and schemas come from the
//! generated [`Tool`] catalogue; categories, annotations and scopes are code,
//! one exhaustive match each, so a new WIT case cannot be forgotten here.

use crate::graph::{SCOPE_MANAGEMENT, SCOPE_MESSAGING};
use crate::tools::Tool;

/// Whether a tool reads, writes or deletes (WIT `tools.category`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Reads only.
    Read,
    /// Creates or changes something (a send, a new template, a profile update).
    Write,
    /// Deletes something.
    Delete,
}

/// MCP behaviour hints, all explicit (WIT `tools.annotations`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Annotations {
    /// The tool changes nothing.
    pub read_only: bool,
    /// The tool may overwrite or delete existing data.
    pub destructive: bool,
    /// Repeating a call with the same arguments has no further effect.
    pub idempotent: bool,
    /// The tool talks to the outside world (the Graph API).
    pub open_world: bool,
}

/// How a tool is presented to MCP clients (WIT `tools.tool-descriptor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// The MCP name, e.g. `whatsapp_send_message`.
    pub name: &'static str,
    /// A short human title.
    pub title: &'static str,
    /// What the tool does and how to use it, for the model.
    pub description: &'static str,
    /// Read, write or delete.
    pub category: Category,
    /// JSON Schema of the arguments (compact text).
    pub input_schema: &'static str,
    /// JSON Schema of the result (compact text).
    pub output_schema: &'static str,
    /// MCP behaviour hints.
    pub annotations: Annotations,
    /// The Graph permissions the tool needs.
    pub scopes: &'static [&'static str],
}

const MESSAGING: &[&str] = &[SCOPE_MESSAGING];
const MANAGEMENT: &[&str] = &[SCOPE_MANAGEMENT];
const BOTH: &[&str] = &[SCOPE_MANAGEMENT, SCOPE_MESSAGING];

const fn ann(
    read_only: bool,
    destructive: bool,
    idempotent: bool,
    open_world: bool,
) -> Annotations {
    Annotations {
        read_only,
        destructive,
        idempotent,
        open_world,
    }
}

fn category(tool: Tool) -> Category {
    match tool {
        Tool::GetMessageStatus
        | Tool::ListTemplates
        | Tool::GetBusinessProfile
        | Tool::ListConversations
        | Tool::GetMessages => Category::Read,
        Tool::SendMessage
        | Tool::SendTemplate
        | Tool::SendMedia
        | Tool::CreateTemplate
        | Tool::UpdateBusinessProfile
        | Tool::MarkAsRead
        | Tool::SendReaction => Category::Write,
        Tool::DeleteTemplate => Category::Delete,
    }
}

fn annotations(tool: Tool) -> Annotations {
    match tool {
        // Answered from the local store: no outside call.
        Tool::GetMessageStatus | Tool::ListConversations | Tool::GetMessages => {
            ann(true, false, true, false)
        }
        // A repeated read receipt changes nothing more.
        Tool::MarkAsRead => ann(false, false, true, true),
        // Each call sends a message (a new reaction replaces the earlier one).
        Tool::SendReaction => ann(false, false, false, true),
        Tool::ListTemplates | Tool::GetBusinessProfile => ann(true, false, true, true),
        Tool::SendMessage | Tool::SendTemplate | Tool::SendMedia | Tool::CreateTemplate => {
            ann(false, false, false, true)
        }
        Tool::UpdateBusinessProfile | Tool::DeleteTemplate => ann(false, true, true, true),
    }
}

fn scopes(tool: Tool) -> &'static [&'static str] {
    match tool {
        Tool::GetMessageStatus
        | Tool::SendMessage
        | Tool::SendTemplate
        | Tool::SendMedia
        | Tool::ListConversations
        | Tool::GetMessages
        | Tool::MarkAsRead
        | Tool::SendReaction => MESSAGING,
        Tool::ListTemplates | Tool::CreateTemplate | Tool::DeleteTemplate => MANAGEMENT,
        Tool::GetBusinessProfile | Tool::UpdateBusinessProfile => BOTH,
    }
}

/// The descriptor of `tool`.
pub(crate) fn descriptor(tool: Tool) -> Descriptor {
    Descriptor {
        name: tool.name(),
        title: tool.title(),
        description: tool.description(),
        category: category(tool),
        input_schema: tool.input_schema(),
        output_schema: tool.output_schema(),
        annotations: annotations(tool),
        scopes: scopes(tool),
    }
}

/// Every tool, in the WIT's (stable) order.
pub fn descriptors() -> Vec<Descriptor> {
    Tool::ALL.into_iter().map(descriptor).collect()
}
