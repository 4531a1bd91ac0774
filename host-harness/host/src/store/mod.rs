//! The store: durable host state, configured by `[state] url`, in one of two
//! backends behind one handle ([`StateStore`]):
//! - the embedded redb file (default; or in memory for tests and try-outs),
//!   for one gateway process (`file` module);
//! - Redis (`redis://`, `rediss://`), shared by several replicas
//!   (`redis_store` module; `redis_index` keeps the kv keys in order for
//!   prefix scans).
//!
//! Tables: `kv` is the component's key-value store; `webhook_queue` holds
//! acknowledged webhook deliveries until the component has ingested them;
//! `host` is the host's own bookkeeping (rate limits, ...).
//!
//! Sealed at rest, in both backends (the `seal` module): the values of
//! `webhook_queue` (customers' messages) and of `kv` keys under `inbox/`
//! (the component's inbox). A value is bound to its table and key, so it
//! cannot be moved to another entry unnoticed.

mod copy;
mod file;
mod handle;
mod location;
mod model;
mod rate;
mod redis_index;
mod redis_store;
#[cfg(test)]
mod redis_tests;
#[cfg(test)]
pub(crate) mod test_redis;
#[cfg(test)]
mod tests;

pub use copy::{CopyReport, copy_all};
pub use handle::StateStore;
pub(crate) use location::{IN_MEMORY, StateLocation};
pub use location::{file_path, redact};
pub(crate) use model::{MAX_KEY_BYTES, MAX_VALUE_BYTES, now_ms};
pub use model::{Record, StateError, Table};
pub(crate) use rate::{RateCount, RateVerdict};
// The webhook queue's Redis Stream and ingest lock name this type.
pub(crate) use redis_store::RedisHandle;
