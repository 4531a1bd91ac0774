//! [`StateStore`]: the one handle over the backends, which seals and
//! unseals entries on the way in and out.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::file;
use super::location::StateLocation;
use super::model::{Record, StateError, Table, now_ms};
use super::redis_store::RedisHandle;
use crate::seal::{KeyBytes, StateSeal, Unsealed};

#[derive(Clone)]
pub(super) enum Backend {
    File(file::FileStore),
    Redis(RedisHandle),
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct StateStore {
    pub(super) backend: Backend,
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

    /// What could make the store lose acknowledged writes, with the fix
    /// (Redis without an fsynced append-only file); `None` for the file,
    /// which commits every write durably.
    pub async fn durability_problem(&self) -> Option<String> {
        match &self.backend {
            Backend::File(_) => None,
            Backend::Redis(redis) => redis.durability_problem().await,
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
