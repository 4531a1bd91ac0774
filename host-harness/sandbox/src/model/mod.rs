//! The API's state and rules, with no HTTP in it: what a WhatsApp Business Account holds and
//! what Meta accepts. Operations take request parameters as a JSON object and answer with
//! model values or a `GraphError`; `routes` does the rest. Nothing here imports `routes`.
//!
//! - `world`: the aggregate (`World`, its `Store` under one lock); imports only the leaves.
//! - leaves it stores: `template` (a template and its review), `profile`, `tokens` (the
//!   token registry and request authorisation), `faults`.
//! - operations on the world: `templates` (list, create, delete) with `template_rules`,
//!   `template_components` and `template_carousel`; `messages` (sending) with `send_rules`, `interactive_rules` and `template_params`;
//!   `inbound` (what users write, and read receipts).
//! - `params`: reading parameters the way Graph does.

pub(crate) mod faults;
pub(crate) mod inbound;
pub(crate) mod interactive_rules;
pub(crate) mod media;
pub(crate) mod messages;
pub(crate) mod params;
pub(crate) mod profile;
pub(crate) mod send_rules;
pub(crate) mod template;
pub(crate) mod template_admin;
pub(crate) mod template_carousel;
pub(crate) mod template_components;
pub(crate) mod template_params;
pub(crate) mod template_rules;
pub(crate) mod template_text;
pub(crate) mod templates;
pub(crate) mod tokens;
pub(crate) mod world;
