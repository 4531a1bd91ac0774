//! The WhatsApp connector's host: a wasmtime embedding that implements the
//! component's imports (vault, http, config, kv), runs each tool call in a
//! fresh isolated instance, and serves the tools to AI clients through a
//! gateway (policy, audit) over MCP, with Meta's webhooks and a state store.

mod assemble;
pub mod audit;
pub mod caps;
pub mod config;
pub mod files;
pub mod gateway;
pub mod mcp;
pub mod policy;
pub mod runtime;
pub mod store;
pub mod tool;
pub mod vault_file;
pub mod webhook_endpoint;

pub use assemble::{Connector, ConnectorBuilder};

/// Installs the process-wide TLS crypto provider (ring) once.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Fails only if another provider was installed first, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
