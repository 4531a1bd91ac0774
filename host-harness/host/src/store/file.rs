//! The embedded backend: one redb file (or an in-memory redb for tests and
//! try-outs).
//!
//! Writes go through one writer thread that commits whatever is queued in a
//! single durable transaction (group commit): every caller still waits for
//! its data to be on disk, but concurrent callers share one fsync.
//!
//! Values are stored as 8 bytes of expiry (Unix ms, big endian; 0 = never)
//! followed by the payload (sealed by the caller where the table says so).
//!
//! The file is owner-only (0600) in an owner-only directory (0700) when the
//! store creates it, and made so, with a warning, when found looser.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use redb::{Database, ReadableTable as _, TableDefinition, WriteTransaction};
use tokio::sync::oneshot;

use super::{Record, StateError, Table, now_ms, storage};
use crate::files;
use crate::seal::StateSeal;

fn definition(table: Table) -> TableDefinition<'static, &'static str, &'static [u8]> {
    TableDefinition::new(table.name())
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
    /// Several sets in one transaction (the rate-limit counters of one call).
    SetMany(Vec<(Table, String, Vec<u8>, u64)>),
}

type Reply = oneshot::Sender<Result<bool, StateError>>;

/// The redb database and its writer thread; cheap to clone.
#[derive(Clone)]
pub(super) struct FileStore {
    db: Arc<Database>,
    writer: std_mpsc::Sender<(Op, Reply)>,
    /// Serialises rate-limit check-and-count: only this process opens the
    /// file (redb locks it), so an in-process lock makes it atomic.
    pub(super) rate_lock: Arc<tokio::sync::Mutex<()>>,
    /// `file <path>` or `memory`, for messages.
    pub(super) name: Arc<str>,
}

impl FileStore {
    /// Opens (or creates) the file at `path`; `seal` for values an earlier
    /// version stored in plaintext, made by `make_seal` once the database is
    /// open (its lock keeps two processes from racing to create a key file).
    pub(super) fn open(
        path: &Path,
        make_seal: impl FnOnce() -> Result<StateSeal, StateError>,
    ) -> Result<(FileStore, StateSeal), StateError> {
        let open_error = |reason: String| StateError::Open {
            path: path.display().to_string(),
            reason,
        };
        make_private(path).map_err(|e| open_error(e.to_string()))?;
        let db = Database::create(path).map_err(|e| {
            open_error(match e {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    "another process has it open (use a different state path)".into()
                }
                other => other.to_string(),
            })
        })?;
        let seal = make_seal()?;
        let store = Self::start(db, &seal, format!("file {}", path.display()))?;
        Ok((store, seal))
    }

    pub(super) fn in_memory(seal: &StateSeal) -> FileStore {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .expect("an in-memory database always opens");
        Self::start(db, seal, "memory".into()).expect("an in-memory database always initialises")
    }

    fn start(db: Database, seal: &StateSeal, name: String) -> Result<FileStore, StateError> {
        let tx = db.begin_write().map_err(storage)?;
        for table in Table::ALL {
            tx.open_table(definition(table)).map_err(storage)?;
        }
        let resealed = seal_plaintext(&tx, seal)?;
        tx.commit().map_err(storage)?;
        if resealed > 0 {
            tracing::info!(
                entries = resealed,
                "encrypted the stored messages an earlier version kept in plaintext"
            );
        }
        let db = Arc::new(db);
        let (writer, queue) = std_mpsc::channel();
        let writer_db = db.clone();
        std::thread::Builder::new()
            .name("state-writer".into())
            .spawn(move || write_loop(&writer_db, queue))
            .map_err(storage)?;
        Ok(FileStore {
            db,
            writer,
            rate_lock: Arc::default(),
            name: name.into(),
        })
    }

    pub(super) fn check(&self) -> Result<(), StateError> {
        let tx = self.db.begin_read().map_err(storage)?;
        for table in Table::ALL {
            tx.open_table(definition(table)).map_err(storage)?;
        }
        Ok(())
    }

    /// The stored (possibly sealed) value under `key`, if live.
    pub(super) fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let t = tx.open_table(definition(table)).map_err(storage)?;
        let Some(entry) = t.get(key).map_err(storage)? else {
            return Ok(None);
        };
        Ok(decode_live(entry.value(), now_ms()).map(<[u8]>::to_vec))
    }

    /// Every live entry under `prefix` in key order, with its expiry (Unix
    /// ms, `None` = never), values as stored.
    pub(super) fn scan(&self, table: Table, prefix: &str) -> Result<Vec<Record>, StateError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let t = tx.open_table(definition(table)).map_err(storage)?;
        let now = now_ms();
        let mut out = Vec::new();
        for item in t.range(prefix..).map_err(storage)? {
            let (k, v) = item.map_err(storage)?;
            if !k.value().starts_with(prefix) {
                break;
            }
            let stored = v.value();
            if let Some(live) = decode_live(stored, now) {
                let expires_at = u64::from_be_bytes(stored[..8].try_into().expect("8 bytes"));
                out.push(Record {
                    table,
                    key: k.value().to_string(),
                    value: live.to_vec(),
                    expires_at_ms: (expires_at != 0).then_some(expires_at),
                });
            }
        }
        Ok(out)
    }

    pub(super) async fn set(
        &self,
        table: Table,
        key: &str,
        value: Vec<u8>,
        expires_at_ms: Option<u64>,
    ) -> Result<(), StateError> {
        self.submit(Op::Set {
            table,
            key: key.to_string(),
            value,
            expires_at_ms: expires_at_ms.unwrap_or(0),
        })
        .await
        .map(|_| ())
    }

    /// Stores every entry in one durable transaction.
    pub(super) async fn set_many(
        &self,
        entries: Vec<(Table, String, Vec<u8>, u64)>,
    ) -> Result<(), StateError> {
        self.submit(Op::SetMany(entries)).await.map(|_| ())
    }

    pub(super) async fn delete(&self, table: Table, key: &str) -> Result<bool, StateError> {
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

    /// The raw stored bytes (expiry header included), for tests.
    #[cfg(test)]
    pub(super) fn raw(&self, table: Table, key: &str) -> Vec<u8> {
        let tx = self.db.begin_read().unwrap();
        let t = tx.open_table(definition(table)).unwrap();
        t.get(key).unwrap().unwrap().value().to_vec()
    }
}

/// Creates the store's directory (0700) and file (0600), or makes them
/// owner-only when they are looser. A bare file name's directory is the
/// working directory, which is not the store's to change.
fn make_private(path: &Path) -> std::io::Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) if dir.exists() => files::restrict_dir(dir, "the state file's directory")?,
        Some(dir) => files::create_private_dir(dir)?,
        None => {}
    }
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    drop(options.open(path)?);
    files::restrict_file(path, "the state file")
}

/// Seals the values of sealed entries that an earlier version stored in
/// plaintext, keeping their expiry; returns how many there were.
fn seal_plaintext(tx: &WriteTransaction, seal: &StateSeal) -> Result<usize, StateError> {
    let mut count = 0;
    for table in Table::ALL {
        let mut t = tx.open_table(definition(table)).map_err(storage)?;
        let mut plain = Vec::new();
        for item in t.iter().map_err(storage)? {
            let (k, v) = item.map_err(storage)?;
            if table.sealed(k.value())
                && let Some((_, payload)) = v.value().split_at_checked(8)
                && !StateSeal::is_sealed(payload)
            {
                plain.push((k.value().to_string(), v.value().to_vec()));
            }
        }
        for (key, stored) in plain {
            let (expiry, payload) = stored.split_at(8);
            let mut value = expiry.to_vec();
            value.extend(seal.seal(&table.entry(&key), payload));
            t.insert(key.as_str(), value.as_slice()).map_err(storage)?;
            count += 1;
        }
    }
    Ok(count)
}

/// The stored form: the expiry, then the payload.
pub(super) fn encode(value: &[u8], expires_at_ms: u64) -> Vec<u8> {
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
    let insert = |table: Table, key: &str, value: &[u8], expires_at_ms: u64| {
        let mut t = tx.open_table(definition(table)).map_err(storage)?;
        t.insert(key, encode(value, expires_at_ms).as_slice())
            .map_err(storage)?;
        Ok::<_, StateError>(true)
    };
    for (op, _) in batch {
        let result = match op {
            Op::Set {
                table,
                key,
                value,
                expires_at_ms,
            } => insert(*table, key, value, *expires_at_ms)?,
            Op::SetMany(entries) => {
                for (table, key, value, expires_at_ms) in entries {
                    insert(*table, key, value, *expires_at_ms)?;
                }
                true
            }
            Op::Delete { table, key } => {
                let mut t = tx.open_table(definition(*table)).map_err(storage)?;
                let removed = t.remove(key.as_str()).map_err(storage)?;
                removed.is_some_and(|old| decode_live(old.value(), now).is_some())
            }
        };
        results.push(result);
    }
    if sweep {
        // Expired entries are invisible to readers already; this reclaims them.
        for table in Table::ALL {
            let mut t = tx.open_table(definition(table)).map_err(storage)?;
            t.retain(|_, v| decode_live(v, now).is_some())
                .map_err(storage)?;
        }
    }
    tx.commit().map_err(storage)?;
    Ok(results)
}

/// Writes `entries` (value unsealed) straight into a new file, as an
/// earlier version would have: for the re-sealing test.
#[cfg(test)]
pub(super) fn write_legacy(path: &Path, table: Table, entries: &[(&str, &[u8], u64)]) {
    let db = Database::create(path).unwrap();
    let tx = db.begin_write().unwrap();
    {
        let mut t = tx.open_table(definition(table)).unwrap();
        for (key, value, expiry) in entries {
            t.insert(*key, encode(value, *expiry).as_slice()).unwrap();
        }
    }
    tx.commit().unwrap();
}

/// Creates an empty redb file at `path` (no store on it), for tests.
#[cfg(test)]
pub(super) fn create_bare(path: &Path) {
    drop(Database::create(path).unwrap());
}
