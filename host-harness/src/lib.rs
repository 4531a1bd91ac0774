//! The host harness for the WhatsApp connector component: a wasmtime
//! embedding that implements the component's imports (vault, http, config,
//! kv), runs each tool call in a fresh isolated instance, and serves the
//! tools to AI clients. It also carries a sandbox of the Cloud API.

pub mod audit;
pub mod bench;
pub mod caps;
pub mod connect;
pub mod demo;
pub mod doctor;
pub mod gateway;
pub mod graph_admin;
mod harness;
pub mod mcp;
pub mod policy;
pub mod runtime;
pub mod sandbox;
pub mod settings;
pub mod state;
pub mod tool;
pub mod vault_cli;
pub mod vault_file;
pub mod webhook;

pub use harness::{Harness, HarnessBuilder};

/// Installs the process-wide TLS crypto provider (ring) once.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Fails only if another provider was installed first, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
