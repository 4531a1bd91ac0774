//! The WhatsApp connector's host: a wasmtime embedding that implements the
//! component's imports (vault, http, config, kv), runs each tool call in a
//! fresh isolated instance, and serves the tools to AI clients through a
//! gateway (policy, audit) over MCP, with Meta's webhooks and a state store.

#![deny(missing_docs)]

pub mod admin;
mod assemble;
pub mod audit;
pub mod caps;
pub mod config;
pub mod files;
pub mod gateway;
pub mod mcp;
pub mod policy;
pub mod redact;
pub mod runtime;
mod seal;
pub mod store;
pub mod tool;
pub mod vault_file;
pub mod webhook_endpoint;

pub use assemble::{Connector, ConnectorBuilder, open_state};
pub use caps::http::install_crypto_provider;
