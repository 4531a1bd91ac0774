//! The Graph API: the client that sends requests and repeats them when safe
//! (`client`, `retry`), and the mapping of what comes back to tool errors
//! (`errors`, with Meta's error codes in `codes`).

mod call_kind;
mod client;
mod codes;
mod errors;
mod retry;
mod usage;

pub(crate) use call_kind::{
    MANAGE, PROFILE, READ_MESSAGING, SCOPE_MANAGEMENT, SCOPE_MESSAGING, SEND,
};
pub(crate) use client::Graph;
pub(crate) use errors::webhook_error;
#[cfg(test)]
pub(crate) use errors::{describe_code, excerpt, map_graph_error};
#[cfg(test)]
pub(crate) use retry::MAX_ATTEMPTS;
