//! Tool descriptors. Names, titles and descriptions come from the WIT (via
//! `build.rs`); categories, schemas, annotations and scopes are here.

mod generated {
    include!(concat!(env!("OUT_DIR"), "/tool_docs.rs"));
}
pub use generated::TOOL_DOCS;

use crate::graph::{SCOPE_MANAGEMENT, SCOPE_MESSAGING};

/// Whether a tool reads, writes or deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Read,
    Write,
    Delete,
}

/// MCP behaviour hints, all explicit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Annotations {
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
}

/// How a tool is presented to MCP clients (WIT `tools.tool-descriptor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub category: Category,
    pub input_schema: &'static str,
    pub output_schema: &'static str,
    pub annotations: Annotations,
    pub scopes: &'static [&'static str],
}

/// The tools in their stable order (the WIT order).
pub const TOOL_NAMES: &[&str] = &[
    "whatsapp_get_message_status",
    "whatsapp_list_templates",
    "whatsapp_get_business_profile",
    "whatsapp_send_message",
    "whatsapp_send_template",
    "whatsapp_send_media",
    "whatsapp_create_template",
    "whatsapp_update_business_profile",
    "whatsapp_delete_template",
];

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

const SEND_OUTPUT: &str = include_str!(concat!(env!("OUT_DIR"), "/schemas/send.output.json"));
const MESSAGING: &[&str] = &[SCOPE_MESSAGING];
const MANAGEMENT: &[&str] = &[SCOPE_MANAGEMENT];
const BOTH: &[&str] = &[SCOPE_MANAGEMENT, SCOPE_MESSAGING];

/// (category, input schema, output schema, annotations, scopes) per tool.
fn meta(
    name: &str,
) -> Option<(
    Category,
    &'static str,
    &'static str,
    Annotations,
    &'static [&'static str],
)> {
    use Category::*;
    Some(match name {
        "whatsapp_get_message_status" => (
            Read,
            include_str!(concat!(
                env!("OUT_DIR"),
                "/schemas/whatsapp_get_message_status.input.json"
            )),
            include_str!(concat!(
                env!("OUT_DIR"),
                "/schemas/whatsapp_get_message_status.output.json"
            )),
            ann(true, false, true, false),
            MESSAGING,
        ),
        "whatsapp_list_templates" => (
            Read,
            include_str!(concat!(
                env!("OUT_DIR"),
                "/schemas/whatsapp_list_templates.input.json"
            )),
            include_str!(concat!(
                env!("OUT_DIR"),
                "/schemas/whatsapp_list_templates.output.json"
            )),
            ann(true, false, true, true),
            MANAGEMENT,
        ),
        "whatsapp_get_business_profile" => (
            Read,
            include_str!(concat!(
                env!("OUT_DIR"),
                "/schemas/whatsapp_get_business_profile.input.json"
            )),
            include_str!(concat!(
                env!("OUT_DIR"),
                "/schemas/whatsapp_get_business_profile.output.json"
            )),
            ann(true, false, true, true),
            BOTH,
        ),
        "whatsapp_send_message" => (
            Write,
            include_str!(concat!(
                env!("OUT_DIR"),
                "/schemas/whatsapp_send_message.input.json"
            )),
            SEND_OUTPUT,
            ann(false, false, false, true),
            MESSAGING,
        ),
        "whatsapp_send_template" => (
            Write,
            include_str!(concat!(
                env!("OUT_DIR"),
                "/schemas/whatsapp_send_template.input.json"
            )),
            SEND_OUTPUT,
            ann(false, false, false, true),
            MESSAGING,
        ),
        "whatsapp_send_media" => (
            Write,
            include_str!(concat!(
                env!("OUT_DIR"),
                "/schemas/whatsapp_send_media.input.json"
            )),
            SEND_OUTPUT,
            ann(false, false, false, true),
            MESSAGING,
        ),
        "whatsapp_create_template" => (
            Write,
            include_str!(concat!(
                env!("OUT_DIR"),
                "/schemas/whatsapp_create_template.input.json"
            )),
            include_str!(concat!(
                env!("OUT_DIR"),
                "/schemas/whatsapp_create_template.output.json"
            )),
            ann(false, false, false, true),
            MANAGEMENT,
        ),
        "whatsapp_update_business_profile" => (
            Write,
            include_str!(concat!(
                env!("OUT_DIR"),
                "/schemas/whatsapp_update_business_profile.input.json"
            )),
            include_str!(concat!(
                env!("OUT_DIR"),
                "/schemas/whatsapp_update_business_profile.output.json"
            )),
            ann(false, true, true, true),
            BOTH,
        ),
        "whatsapp_delete_template" => (
            Delete,
            include_str!(concat!(
                env!("OUT_DIR"),
                "/schemas/whatsapp_delete_template.input.json"
            )),
            include_str!(concat!(
                env!("OUT_DIR"),
                "/schemas/whatsapp_delete_template.output.json"
            )),
            ann(false, true, true, true),
            MANAGEMENT,
        ),
        _ => return None,
    })
}

/// Every tool, in the WIT's (stable) order.
pub fn descriptors() -> Vec<Descriptor> {
    TOOL_DOCS
        .iter()
        .filter_map(|&(name, title, description)| {
            let (category, input_schema, output_schema, annotations, scopes) = meta(name)?;
            Some(Descriptor {
                name,
                title,
                description,
                category,
                input_schema,
                output_schema,
                annotations,
                scopes,
            })
        })
        .collect()
}
