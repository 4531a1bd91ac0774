//! The store: durable host state, configured by `[state] url`, in one of two
//! backends behind one handle ([`StateStore`]):
//! - the embedded redb file (default; or in memory for tests and try-outs),
//!   for one gateway process (`file` module);
//! - Redis (`redis://`, `rediss://`), shared by several replicas
//!   (`redis_store` module).
//!
//! Tables: `kv` is the component's key-value store; `webhook_queue` holds
//! acknowledged webhook deliveries until the component has ingested them;
//! `host` is the host's own bookkeeping (rate limits, ...).
//!
//! Sealed at rest, in both backends (the `seal` module): the values of
//! `webhook_queue` (customers' messages) and of `kv` keys under `inbox/`
//! (the component's inbox). A value is bound to its table and key, so it
//! cannot be moved to another entry unnoticed.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::seal::{KeyBytes, StateSeal, Unsealed};

mod copy;
mod file;
mod location;
mod rate;
mod redis_store;
#[cfg(test)]
mod redis_tests;
#[cfg(test)]
mod test_redis;
#[cfg(test)]
mod tests;

pub use copy::{CopyReport, copy_all};
pub(crate) use location::{IN_MEMORY, StateLocation};
pub use location::{file_path, redact};
pub(crate) use rate::{RateCount, RateVerdict};
pub(crate) use redis_store::RedisHandle;

/// The tables a caller can address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// The component's key-value store (the `kv` import).
    Kv,
    /// Acknowledged webhook deliveries waiting for the component, and the dead letters.
    WebhookQueue,
    /// The host's own bookkeeping (rate-limit counters, ...).
    Host,
}

/// The prefix of the component's inbox keys in `kv`: sealed at rest.
const INBOX_PREFIX: &str = "inbox/";

impl Table {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Kv => "kv",
            Table::WebhookQueue => "webhook_queue",
            Table::Host => "host",
        }
    }

    /// Whether the value under `key` is sealed at rest: webhook bodies and
    /// the inbox hold message text.
    fn sealed(self, key: &str) -> bool {
        match self {
            Table::WebhookQueue => true,
            Table::Kv => key.starts_with(INBOX_PREFIX),
            Table::Host => false,
        }
    }

    /// What a sealed value is bound to: its table and key.
    fn entry(self, key: &str) -> String {
        format!("{}/{key}", self.name())
    }

    /// Every table, for copies and checks.
    pub const ALL: [Table; 3] = [Table::Kv, Table::WebhookQueue, Table::Host];
}

/// Largest key the component may store.
pub(crate) const MAX_KEY_BYTES: usize = 512;
/// Largest value the component may store.
pub(crate) const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Why the store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The store could not be created, opened or configured.
    #[error("the state store at {path} cannot be opened: {reason}")]
    Open {
        /// The store file or URL (without its password).
        path: String,
        /// What went wrong, with the fix when there is one.
        reason: String,
    },
    /// A networked store did not answer (down, unreachable, too slow):
    /// worth retrying, the store recovers by itself when the server returns.
    #[error(
        "the state store {store} is unreachable: {reason}; retry in a moment (the gateway \
         reconnects by itself when it is back)"
    )]
    Unreachable {
        /// The store's URL, without its password.
        store: String,
        /// What the connection reported.
        reason: String,
    },
    /// A read or a write failed.
    #[error("the state store failed: {0}")]
    Storage(String),
    /// The writer thread is gone.
    #[error("the state store has shut down")]
    Closed,
}

impl StateError {
    /// Whether the same call may succeed later (the store was unreachable).
    pub fn retryable(&self) -> bool {
        matches!(self, StateError::Unreachable { .. })
    }
}

pub(crate) fn storage<E: std::fmt::Display>(e: E) -> StateError {
    crate::admin::metrics::global().store_error();
    StateError::Storage(e.to_string())
}

/// One stored entry as callers see it: its value unsealed, its expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The table it is in.
    pub table: Table,
    /// Its key.
    pub key: String,
    /// Its value (unsealed when read through [`StateStore::records`]).
    pub value: Vec<u8>,
    /// When it expires (Unix ms); `None` = never.
    pub expires_at_ms: Option<u64>,
}

#[derive(Clone)]
enum Backend {
    File(file::FileStore),
    Redis(RedisHandle),
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct StateStore {
    backend: Backend,
    seal: Arc<StateSeal>,
    /// Sealed entries this run cannot open, reported once each.
    unreadable: Arc<Mutex<HashSet<String>>>,
}

impl StateStore {
    /// Opens (or creates) the store file at `path`, sealing with the key
    /// file beside it (`<path>.key`, created if missing).
    pub fn open(path: &Path) -> Result<StateStore, StateError> {
        Self::open_sealed(path, None)
    }

    /// Opens (or creates) the store file at `path`, sealing with
    /// `vault_subkey` (derived from the vault key) when given, else with the
    /// key file beside it.
    pub(crate) fn open_sealed(
        path: &Path,
        vault_subkey: Option<KeyBytes>,
    ) -> Result<StateStore, StateError> {
        let (file, seal) = file::FileStore::open(path, || {
            StateSeal::for_file(path, vault_subkey).map_err(|e| StateError::Open {
                path: path.display().to_string(),
                reason: format!("cannot read or create the key that encrypts stored messages: {e}"),
            })
        })?;
        Ok(Self::with(Backend::File(file), seal))
    }

    /// A store that lives only as long as the process.
    pub(crate) fn in_memory() -> StateStore {
        let seal = StateSeal::ephemeral();
        Self::with(Backend::File(file::FileStore::in_memory(&seal)), seal)
    }

    /// Opens the store `location` names. A Redis store needs `vault_subkey`
    /// (every replica seals with the same key) and is checked for
    /// durability (a warning when acknowledged webhooks could be lost).
    pub(crate) async fn connect(
        location: &StateLocation,
        vault_subkey: Option<KeyBytes>,
    ) -> Result<StateStore, StateError> {
        match location {
            StateLocation::Memory => Ok(Self::in_memory()),
            StateLocation::File(path) => Self::open_sealed(path, vault_subkey),
            StateLocation::Redis(target) => {
                let Some(key) = vault_subkey else {
                    return Err(StateError::Open {
                        path: target.redacted.clone(),
                        reason: "a Redis state store encrypts the stored messages with a key \
                                 derived from the vault key, which every replica must share: \
                                 set WHATSAPP_VAULT_KEY (or `[vault] key_file` with `[vault] \
                                 path`) to the same key on every replica"
                            .into(),
                    });
                };
                let handle = RedisHandle::connect(target).await?;
                handle.check().await?;
                handle.warn_about_durability().await;
                Ok(Self::with(Backend::Redis(handle), StateSeal::shared(&key)))
            }
        }
    }

    fn with(backend: Backend, seal: StateSeal) -> StateStore {
        StateStore {
            backend,
            seal: Arc::new(seal),
            unreadable: Arc::default(),
        }
    }

    /// The shared Redis connection, when the store is on Redis.
    pub(crate) fn redis(&self) -> Option<&RedisHandle> {
        match &self.backend {
            Backend::Redis(handle) => Some(handle),
            Backend::File(_) => None,
        }
    }

    /// The key that seals entries at rest (the same on every replica of a
    /// deployment on Redis).
    pub(crate) fn seal(&self) -> &Arc<StateSeal> {
        &self.seal
    }

    /// What the store is, for messages: `file <path>`, `memory` or
    /// `redis <url>` (password hidden).
    pub fn kind(&self) -> String {
        match (self.redis(), &self.backend) {
            (Some(handle), _) => format!("redis {}", handle.name()),
            (None, Backend::File(file)) => file.name.to_string(),
            (None, Backend::Redis(handle)) => handle.name().to_string(),
        }
    }

    /// Whether the store answers (readiness): a read of every table of the
    /// file, a `PING` to Redis.
    pub async fn check(&self) -> Result<(), StateError> {
        match &self.backend {
            Backend::File(file) => file.check(),
            Backend::Redis(redis) => redis.check().await,
        }
    }

    /// The live value under `key`, if any.
    pub async fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        let stored = match &self.backend {
            Backend::File(file) => file.get(table, key)?,
            Backend::Redis(redis) => redis.get(table, key).await?,
        };
        Ok(stored.and_then(|stored| self.reveal(table, key, &stored)))
    }

    /// Every live entry whose key starts with `prefix`, in ascending key order.
    pub async fn scan(
        &self,
        table: Table,
        prefix: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, StateError> {
        Ok(self
            .scan_records(table, prefix, false)
            .await?
            .into_iter()
            .map(|r| (r.key, r.value))
            .collect())
    }

    /// Every live entry of `table`, unsealed, with its expiry (for copies).
    pub async fn records(&self, table: Table) -> Result<Vec<Record>, StateError> {
        self.scan_records(table, "", true).await
    }

    async fn scan_records(
        &self,
        table: Table,
        prefix: &str,
        with_expiry: bool,
    ) -> Result<Vec<Record>, StateError> {
        let stored = match &self.backend {
            Backend::File(file) => file.scan(table, prefix)?,
            Backend::Redis(redis) => redis.scan(table, prefix, with_expiry).await?,
        };
        Ok(stored
            .into_iter()
            .filter_map(|mut r| {
                r.value = self.reveal(table, &r.key, &r.value)?;
                Some(r)
            })
            .collect())
    }

    /// Stores `value` durably; it expires after `ttl_seconds` when given.
    pub async fn set(
        &self,
        table: Table,
        key: &str,
        value: Vec<u8>,
        ttl_seconds: Option<u32>,
    ) -> Result<(), StateError> {
        let expires_at_ms = ttl_seconds.map(|s| now_ms() + u64::from(s) * 1000);
        self.put(Record {
            table,
            key: key.to_string(),
            value,
            expires_at_ms,
        })
        .await
    }

    /// Stores `record` (value unsealed; sealed here where its table says),
    /// expiring at its expiry.
    pub async fn put(&self, record: Record) -> Result<(), StateError> {
        let Record {
            table,
            key,
            value,
            expires_at_ms,
        } = record;
        let value = self.sealed_form(table, &key, value);
        match &self.backend {
            Backend::File(file) => file.set(table, &key, value, expires_at_ms).await,
            Backend::Redis(redis) => redis.set(table, &key, value, expires_at_ms).await,
        }
    }

    /// Removes `key`; returns whether a live entry existed.
    pub async fn delete(&self, table: Table, key: &str) -> Result<bool, StateError> {
        match &self.backend {
            Backend::File(file) => file.delete(table, key).await,
            Backend::Redis(redis) => redis.delete(table, key).await,
        }
    }

    fn sealed_form(&self, table: Table, key: &str, value: Vec<u8>) -> Vec<u8> {
        if table.sealed(key) {
            self.seal().seal(&table.entry(key), &value)
        } else {
            value
        }
    }

    /// A stored value as callers see it: opened when its entry is sealed.
    /// A sealed value this run cannot open reads as absent (the entry stays,
    /// for a run with the right key) and is reported once.
    fn reveal(&self, table: Table, key: &str, stored: &[u8]) -> Option<Vec<u8>> {
        if !table.sealed(key) {
            return Some(stored.to_vec());
        }
        let why = match self.seal().unseal(&table.entry(key), stored) {
            Unsealed::Opened(value) | Unsealed::Plain(value) => return Some(value),
            Unsealed::OtherKey(id) => format!(
                "it was encrypted with another key (id {id}) than {}: start with the key it was \
                 written under (WHATSAPP_VAULT_KEY, the vault key file, or the `.key` file beside \
                 the state) to apply it",
                self.seal.source()
            ),
            Unsealed::Damaged => {
                "it does not authenticate: the stored state was damaged or modified".to_string()
            }
        };
        let first = self
            .unreadable
            .lock()
            .map_or(true, |mut seen| seen.insert(table.entry(key)));
        if first {
            tracing::error!(table = table.name(), key = %key, "a stored entry cannot be read; {why}");
        }
        None
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
