//! One module per subcommand.

#[cfg(feature = "sandbox")]
pub mod bench;
#[cfg(feature = "sandbox")]
pub mod bench_mcp;
pub mod connect;
#[cfg(feature = "sandbox")]
pub mod demo;
pub mod doctor;
pub mod policy;
pub mod sandbox;
pub mod vault;
