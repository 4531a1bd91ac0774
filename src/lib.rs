//! WhatsApp Business (Cloud API) connector: a WASI 0.2 component exporting MCP tools.
//!
//! Pure core, thin glue: everything except `component` is plain Rust over
//! plain types and is unit-tested natively. The host's capabilities reach the
//! core through the [`host::Host`] trait; `component` (wasm only) implements
//! it over the WIT imports and adapts the WIT exports to [`tools::call_tool`],
//! [`descriptors::descriptors`], [`webhooks::verify`] and [`webhooks::ingest`].
//!
//! Natively, the host links this crate for [`phone`] and [`config_keys`],
//! and the fuzz targets drive the same entry points with the fixed-answer
//! host of the `fuzzing` feature.

#![deny(missing_docs)]

pub mod config_keys;
pub mod descriptors;
pub mod error;
pub mod host;
pub mod phone;
pub mod tools;
pub mod webhooks;

mod args;
mod checks;
mod encoding;
mod graph;
mod inbox;
mod json;
mod placeholders;
mod settings;
mod store;
mod time;
mod window;

#[cfg(target_arch = "wasm32")]
mod component;

#[cfg(feature = "fuzzing")]
pub mod fuzzing;

#[cfg(test)]
mod testing;

#[cfg(test)]
mod tests;
