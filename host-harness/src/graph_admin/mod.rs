//! The Graph API calls the host makes itself, for credential management:
//! `debug_token`, the OAuth code and long-lived token exchanges, the WABA and
//! its phone numbers, and the app's webhook subscription (`subscribed_apps`).
//!
//! These run in the host, never in the component, with their own HTTP client
//! (no redirects followed). Secrets travel as Graph documents them (query
//! parameters such as `input_token` and `client_secret`, or a bearer header)
//! and never appear in logs or errors: requests are logged by call name only,
//! errors carry no URL, and any secret of the request that a Graph message
//! would echo is replaced by `<redacted>`.

mod client;
mod errors;
mod json;
mod phone_numbers;
mod subscriptions;
mod time;
mod token;

pub use client::GraphAdmin;
pub use errors::AdminError;
pub use phone_numbers::PhoneNumber;
pub(crate) use time::format_unix;
pub use time::now_unix;
pub use token::{Grant, IssuedToken, TokenInfo};
pub(crate) use token::{REQUIRED_SCOPES, SCOPE_MANAGEMENT, SCOPE_MESSAGING, app_token};
