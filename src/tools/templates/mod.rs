//! The template tools: listing (`list`), creating (`create`, with the checks
//! of the components in `components` and of their examples in `examples`,
//! carousels and limited-time offers in `special`)
//! and deleting (`delete`). Sending a template is a send tool (`send`).

mod components;
mod create;
mod delete;
mod examples;
mod list;
mod special;

pub(crate) use create::create_template;
pub(crate) use delete::delete_template;
pub(crate) use list::list_templates;
