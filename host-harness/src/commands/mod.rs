//! One module per subcommand.

pub mod audit;
#[cfg(feature = "sandbox")]
pub mod bench;
pub mod call;
pub mod connect;
#[cfg(feature = "sandbox")]
pub(crate) mod demo;
#[cfg(feature = "sandbox")]
mod demo_inbox;
#[cfg(feature = "sandbox")]
pub(crate) mod demo_media;
#[cfg(feature = "sandbox")]
mod demo_story;
pub mod doctor;
pub mod media;
pub mod policy;
pub mod sandbox;
pub mod serve;
pub mod state;
pub mod tools;
pub mod vault;
