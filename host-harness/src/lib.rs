//! The `host-harness` command line, as a library so that the end-to-end
//! tests can drive the commands (OAuth connect, doctor, the Graph admin
//! client) without a subprocess. `main.rs` holds only the argument parsing
//! and the dispatch to [`commands`].

#![deny(missing_docs)]

pub mod commands;
pub mod graph_admin;
pub mod logging;
