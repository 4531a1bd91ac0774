//! The inbox: what customers write, read back through the tools and MCP
//! resources, kept only when enabled, encrypted at rest, expiring after its
//! retention, and visible to an app only for the recipients it may message.

mod demo;
mod flow;
mod on_redis;
mod sandbox_kinds;
mod serve_seed;
mod storage;
mod visibility;
pub(crate) mod wiring;
