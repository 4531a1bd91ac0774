//! WhatsApp Business (Cloud API) connector: a WASI 0.2 component exporting MCP tools.
//!
//! Pure core, thin glue: everything except `component` is plain Rust over
//! plain types and is unit-tested natively. The host's capabilities reach the
//! core through the [`host::Host`] trait; `component` (wasm only) implements
//! it over the WIT imports and adapts the WIT exports to [`tools::call_tool`],
//! [`descriptors::descriptors`], [`webhooks::verify`] and [`webhooks::ingest`].

pub mod args;
pub mod config_keys;
pub mod descriptors;
pub mod error;
pub mod graph;
pub mod host;
pub mod phone;
pub mod retry;
pub mod settings;
pub mod store;
pub mod text;
pub mod tools;
pub mod webhooks;
pub mod window;

#[cfg(target_arch = "wasm32")]
mod component;

#[cfg(feature = "fuzzing")]
pub mod fuzzing;

#[cfg(test)]
mod testing;

#[cfg(test)]
mod tests;
