//! The store: durable host state in one embedded redb file (or in memory for
//! tests and try-outs), configured by the `[state]` section.
//!
//! Tables: `kv` is the component's key-value store; `webhook_queue` holds
//! acknowledged webhook deliveries until the component has ingested them;
//! `host` is the host's own bookkeeping (rate limits, ...).
//!
//! Writes go through one writer thread that commits whatever is queued in a
//! single durable transaction (group commit): every caller still waits for
//! its data to be on disk, but concurrent callers share one fsync.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{SystemTime, UNIX_EPOCH};

use redb::{Database, TableDefinition};
use tokio::sync::oneshot;

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

impl Table {
    fn definition(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        match self {
            Table::Kv => TableDefinition::new("kv"),
            Table::WebhookQueue => TableDefinition::new("webhook_queue"),
            Table::Host => TableDefinition::new("host"),
        }
    }

    const ALL: [Table; 3] = [Table::Kv, Table::WebhookQueue, Table::Host];
}

/// Largest key the component may store.
pub(crate) const MAX_KEY_BYTES: usize = 512;
/// Largest value the component may store.
pub(crate) const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Why the store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file could not be created or opened (e.g. another process holds it).
    #[error("the state store at {path} cannot be opened: {reason}")]
    Open {
        /// The store file.
        path: String,
        /// What went wrong, with the fix when there is one.
        reason: String,
    },
    /// A read or a write failed.
    #[error("the state store failed: {0}")]
    Storage(String),
    /// The writer thread is gone.
    #[error("the state store has shut down")]
    Closed,
}

fn storage<E: std::fmt::Display>(e: E) -> StateError {
    StateError::Storage(e.to_string())
}

enum Op {
    Set {
        table: Table,
        key: String,
        value: Vec<u8>,
        expires_at_ms: u64,
    },
    Delete {
        table: Table,
        key: String,
    },
}

type Reply = oneshot::Sender<Result<bool, StateError>>;

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct StateStore {
    db: Arc<Database>,
    writer: std_mpsc::Sender<(Op, Reply)>,
}

impl StateStore {
    /// Opens (or creates) the store file at `path`.
    pub fn open(path: &Path) -> Result<StateStore, StateError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| StateError::Open {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        }
        let db = Database::create(path).map_err(|e| StateError::Open {
            path: path.display().to_string(),
            reason: match e {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    "another process has it open (use a different state path)".into()
                }
                other => other.to_string(),
            },
        })?;
        Self::start(db)
    }

    /// A store that lives only as long as the process.
    pub(crate) fn in_memory() -> StateStore {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .expect("an in-memory database always opens");
        Self::start(db).expect("an in-memory database always initialises")
    }

    fn start(db: Database) -> Result<StateStore, StateError> {
        let tx = db.begin_write().map_err(storage)?;
        for table in Table::ALL {
            tx.open_table(table.definition()).map_err(storage)?;
        }
        tx.commit().map_err(storage)?;
        let db = Arc::new(db);
        let (writer, queue) = std_mpsc::channel();
        let writer_db = db.clone();
        std::thread::Builder::new()
            .name("state-writer".into())
            .spawn(move || write_loop(&writer_db, queue))
            .map_err(storage)?;
        Ok(StateStore { db, writer })
    }

    /// The live value under `key`, if any.
    pub fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let t = tx.open_table(table.definition()).map_err(storage)?;
        let Some(entry) = t.get(key).map_err(storage)? else {
            return Ok(None);
        };
        Ok(decode_live(entry.value(), now_ms()).map(<[u8]>::to_vec))
    }

    /// Every live entry whose key starts with `prefix`, in key order.
    pub fn scan(&self, table: Table, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StateError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let t = tx.open_table(table.definition()).map_err(storage)?;
        let now = now_ms();
        let mut out = Vec::new();
        for item in t.range(prefix..).map_err(storage)? {
            let (k, v) = item.map_err(storage)?;
            if !k.value().starts_with(prefix) {
                break;
            }
            if let Some(live) = decode_live(v.value(), now) {
                out.push((k.value().to_string(), live.to_vec()));
            }
        }
        Ok(out)
    }

    /// Stores `value` durably; it expires after `ttl_seconds` when given.
    pub async fn set(
        &self,
        table: Table,
        key: &str,
        value: Vec<u8>,
        ttl_seconds: Option<u32>,
    ) -> Result<(), StateError> {
        let expires_at_ms = ttl_seconds.map_or(0, |s| now_ms() + u64::from(s) * 1000);
        self.submit(Op::Set {
            table,
            key: key.to_string(),
            value,
            expires_at_ms,
        })
        .await
        .map(|_| ())
    }

    /// Removes `key`; returns whether a live entry existed.
    pub(crate) async fn delete(&self, table: Table, key: &str) -> Result<bool, StateError> {
        self.submit(Op::Delete {
            table,
            key: key.to_string(),
        })
        .await
    }

    async fn submit(&self, op: Op) -> Result<bool, StateError> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send((op, reply))
            .map_err(|_| StateError::Closed)?;
        answer.await.map_err(|_| StateError::Closed)?
    }
}

/// Values are stored as 8 bytes of expiry (Unix ms, big endian; 0 = never)
/// followed by the payload.
fn encode(value: &[u8], expires_at_ms: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + value.len());
    out.extend_from_slice(&expires_at_ms.to_be_bytes());
    out.extend_from_slice(value);
    out
}

fn decode_live(stored: &[u8], now_ms: u64) -> Option<&[u8]> {
    let (expiry, payload) = stored.split_at_checked(8)?;
    let expires_at = u64::from_be_bytes(expiry.try_into().ok()?);
    (expires_at == 0 || expires_at > now_ms).then_some(payload)
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn write_loop(db: &Database, queue: std_mpsc::Receiver<(Op, Reply)>) {
    let mut since_sweep = 0u32;
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while let Ok(more) = queue.try_recv() {
            batch.push(more);
        }
        since_sweep += batch.len() as u32;
        let sweep = since_sweep >= 1024;
        if sweep {
            since_sweep = 0;
        }
        match apply(db, &batch, sweep) {
            Ok(results) => {
                for ((_, reply), result) in batch.into_iter().zip(results) {
                    let _ = reply.send(Ok(result));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "state write failed");
                for (_, reply) in batch {
                    let _ = reply.send(Err(StateError::Storage(e.to_string())));
                }
            }
        }
    }
}

fn apply(db: &Database, batch: &[(Op, Reply)], sweep: bool) -> Result<Vec<bool>, StateError> {
    let tx = db.begin_write().map_err(storage)?;
    let now = now_ms();
    let mut results = Vec::with_capacity(batch.len());
    for (op, _) in batch {
        let result = match op {
            Op::Set {
                table,
                key,
                value,
                expires_at_ms,
            } => {
                let mut t = tx.open_table(table.definition()).map_err(storage)?;
                t.insert(key.as_str(), encode(value, *expires_at_ms).as_slice())
                    .map_err(storage)?;
                true
            }
            Op::Delete { table, key } => {
                let mut t = tx.open_table(table.definition()).map_err(storage)?;
                let removed = t.remove(key.as_str()).map_err(storage)?;
                removed.is_some_and(|old| decode_live(old.value(), now).is_some())
            }
        };
        results.push(result);
    }
    if sweep {
        // Expired entries are invisible to readers already; this reclaims them.
        for table in Table::ALL {
            let mut t = tx.open_table(table.definition()).map_err(storage)?;
            t.retain(|_, v| decode_live(v, now).is_some())
                .map_err(storage)?;
        }
    }
    tx.commit().map_err(storage)?;
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_key_is_none_and_a_set_key_reads_back() {
        let store = StateStore::in_memory();
        assert_eq!(store.get(Table::Kv, "absent").unwrap(), None);
        store
            .set(Table::Kv, "k", b"v".to_vec(), None)
            .await
            .unwrap();
        assert_eq!(store.get(Table::Kv, "k").unwrap(), Some(b"v".to_vec()));
        assert_eq!(
            store.get(Table::Host, "k").unwrap(),
            None,
            "tables are separate"
        );
    }

    #[tokio::test]
    async fn delete_reports_whether_the_key_existed() {
        let store = StateStore::in_memory();
        store
            .set(Table::Kv, "k", b"v".to_vec(), None)
            .await
            .unwrap();
        assert!(store.delete(Table::Kv, "k").await.unwrap());
        assert!(!store.delete(Table::Kv, "k").await.unwrap());
        assert_eq!(store.get(Table::Kv, "k").unwrap(), None);
    }

    #[tokio::test]
    async fn entries_expire_after_their_ttl() {
        let store = StateStore::in_memory();
        store
            .set(Table::Kv, "short", b"v".to_vec(), Some(1))
            .await
            .unwrap();
        store
            .set(Table::Kv, "long", b"v".to_vec(), Some(60))
            .await
            .unwrap();
        assert!(store.get(Table::Kv, "short").unwrap().is_some());
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        assert_eq!(store.get(Table::Kv, "short").unwrap(), None);
        assert!(store.get(Table::Kv, "long").unwrap().is_some());
        assert!(
            !store.delete(Table::Kv, "short").await.unwrap(),
            "expired counts as absent"
        );
    }

    #[tokio::test]
    async fn scan_returns_live_entries_with_the_prefix_in_order() {
        let store = StateStore::in_memory();
        for key in ["q/2", "q/1", "r/1", "p/9"] {
            store
                .set(Table::WebhookQueue, key, key.as_bytes().to_vec(), None)
                .await
                .unwrap();
        }
        let keys: Vec<String> = store
            .scan(Table::WebhookQueue, "q/")
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["q/1", "q/2"]);
    }

    #[tokio::test]
    async fn concurrent_writers_all_land() {
        let store = StateStore::in_memory();
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .set(Table::Kv, &format!("k{i:03}"), vec![i as u8], None)
                        .await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(store.scan(Table::Kv, "k").unwrap().len(), 200);
    }

    #[tokio::test]
    async fn data_survives_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        {
            let store = StateStore::open(&path).unwrap();
            store
                .set(Table::Kv, "k", b"durable".to_vec(), None)
                .await
                .unwrap();
        }
        // The writer thread holds the database until its channel closes.
        let reopened = (0..50).find_map(|_| {
            StateStore::open(&path).ok().or_else(|| {
                std::thread::sleep(std::time::Duration::from_millis(20));
                None
            })
        });
        let store = reopened.expect("reopens once the first handle is gone");
        assert_eq!(
            store.get(Table::Kv, "k").unwrap(),
            Some(b"durable".to_vec())
        );
    }
}
