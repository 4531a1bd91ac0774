//! The template tools: listing (`list`), creating (`create`, with the checks
//! of the components in `components` and of their examples in `examples`)
//! and deleting (`delete`). Sending a template is a send tool (`send`).

mod components;
mod create;
mod delete;
mod examples;
mod list;

use serde_json::Value;

use crate::error::ToolError;

pub(crate) use create::create_template;
pub(crate) use delete::delete_template;
pub(crate) use list::list_templates;

/// Template categories (https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates#categories).
const CATEGORIES: &[&str] = &["MARKETING", "UTILITY", "AUTHENTICATION"];

fn enum_error(field: &str, value: &str, allowed: &[&str]) -> ToolError {
    ToolError::invalid(
        field,
        "Invalid value",
        format!(
            "`{field}` is `{value}`; expected one of {}",
            allowed.join(", ")
        ),
        format!("Use one of {} (upper case).", allowed.join(", ")),
    )
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}
