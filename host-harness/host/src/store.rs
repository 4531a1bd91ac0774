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
//!
//! The file is owner-only (0600) in an owner-only directory (0700) when the
//! store creates them, and made so, with a warning, when found looser. The
//! values of `webhook_queue` (customers' messages) are sealed (the `seal`
//! module) on the way in and opened on the way out; values an earlier
//! version stored in plaintext are sealed when the file is opened.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use redb::{Database, ReadableTable as _, TableDefinition, WriteTransaction};
use tokio::sync::oneshot;

use crate::files;
use crate::seal::{KeyBytes, StateSeal, Unsealed};

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
    fn name(self) -> &'static str {
        match self {
            Table::Kv => "kv",
            Table::WebhookQueue => "webhook_queue",
            Table::Host => "host",
        }
    }

    fn definition(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        TableDefinition::new(self.name())
    }

    /// Whether values are sealed at rest: the webhook bodies hold message text.
    fn sealed(self) -> bool {
        self == Table::WebhookQueue
    }

    /// What a sealed value is bound to: its table and key.
    fn entry(self, key: &str) -> String {
        format!("{}/{key}", self.name())
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
    crate::admin::metrics::global().store_error();
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
    seal: Arc<StateSeal>,
    /// Sealed entries this run cannot open, reported once each.
    unreadable: Arc<Mutex<HashSet<String>>>,
}

impl StateStore {
    /// Opens (or creates) the store file at `path`, sealing webhook bodies
    /// with the key file beside it (`<path>.key`, created if missing).
    pub fn open(path: &Path) -> Result<StateStore, StateError> {
        Self::open_sealed(path, None)
    }

    /// Opens (or creates) the store file at `path`, sealing webhook bodies
    /// with `vault_subkey` (derived from the vault key) when given, else with
    /// the key file beside it.
    pub(crate) fn open_sealed(
        path: &Path,
        vault_subkey: Option<KeyBytes>,
    ) -> Result<StateStore, StateError> {
        let open_error = |reason: String| StateError::Open {
            path: path.display().to_string(),
            reason,
        };
        make_private(path).map_err(|e| open_error(e.to_string()))?;
        let db = Database::create(path).map_err(|e| StateError::Open {
            path: path.display().to_string(),
            reason: match e {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    "another process has it open (use a different state path)".into()
                }
                other => other.to_string(),
            },
        })?;
        // After the database: its lock keeps two processes from racing to create the key.
        let seal = StateSeal::for_file(path, vault_subkey).map_err(|e| {
            open_error(format!(
                "cannot read or create the key that encrypts stored webhooks: {e}"
            ))
        })?;
        Self::start(db, seal)
    }

    /// A store that lives only as long as the process.
    pub(crate) fn in_memory() -> StateStore {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .expect("an in-memory database always opens");
        Self::start(db, StateSeal::ephemeral()).expect("an in-memory database always initialises")
    }

    fn start(db: Database, seal: StateSeal) -> Result<StateStore, StateError> {
        let tx = db.begin_write().map_err(storage)?;
        for table in Table::ALL {
            tx.open_table(table.definition()).map_err(storage)?;
        }
        let resealed = seal_plaintext(&tx, &seal)?;
        tx.commit().map_err(storage)?;
        if resealed > 0 {
            tracing::info!(
                entries = resealed,
                "encrypted the webhook deliveries an earlier version stored in plaintext"
            );
        }
        let db = Arc::new(db);
        let (writer, queue) = std_mpsc::channel();
        let writer_db = db.clone();
        std::thread::Builder::new()
            .name("state-writer".into())
            .spawn(move || write_loop(&writer_db, queue))
            .map_err(storage)?;
        Ok(StateStore {
            db,
            writer,
            seal: Arc::new(seal),
            unreadable: Arc::default(),
        })
    }

    /// Whether the store answers: a read of every table, and the writer is
    /// still running (readiness asks this; a networked store would ping).
    pub fn check(&self) -> Result<(), StateError> {
        let tx = self.db.begin_read().map_err(storage)?;
        for table in Table::ALL {
            tx.open_table(table.definition()).map_err(storage)?;
        }
        Ok(())
    }

    /// The live value under `key`, if any.
    pub fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let t = tx.open_table(table.definition()).map_err(storage)?;
        let Some(entry) = t.get(key).map_err(storage)? else {
            return Ok(None);
        };
        Ok(decode_live(entry.value(), now_ms()).and_then(|live| self.reveal(table, key, live)))
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
            if let Some(live) = decode_live(v.value(), now)
                && let Some(value) = self.reveal(table, k.value(), live)
            {
                out.push((k.value().to_string(), value));
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
        let value = if table.sealed() {
            self.seal.seal(&table.entry(key), &value)
        } else {
            value
        };
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

    /// A stored value as callers see it: opened when its table is sealed.
    /// A sealed value this run cannot open reads as absent (the entry stays,
    /// for a run with the right key) and is reported once.
    fn reveal(&self, table: Table, key: &str, stored: &[u8]) -> Option<Vec<u8>> {
        if !table.sealed() {
            return Some(stored.to_vec());
        }
        let why = match self.seal.unseal(&table.entry(key), stored) {
            Unsealed::Opened(value) | Unsealed::Plain(value) => return Some(value),
            Unsealed::OtherKey(id) => format!(
                "it was encrypted with another key (id {id}) than {}: start with the key it was \
                 written under (WHATSAPP_VAULT_KEY, the vault key file, or the `.key` file beside \
                 the state) to apply it",
                self.seal.source()
            ),
            Unsealed::Damaged => {
                "it does not authenticate: the state file was damaged or modified".to_string()
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

    async fn submit(&self, op: Op) -> Result<bool, StateError> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send((op, reply))
            .map_err(|_| StateError::Closed)?;
        answer.await.map_err(|_| StateError::Closed)?
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

/// Seals the values of sealed tables that an earlier version stored in
/// plaintext, keeping their expiry; returns how many there were.
fn seal_plaintext(tx: &WriteTransaction, seal: &StateSeal) -> Result<usize, StateError> {
    let mut count = 0;
    for table in Table::ALL.into_iter().filter(|t| t.sealed()) {
        let mut t = tx.open_table(table.definition()).map_err(storage)?;
        let mut plain = Vec::new();
        for item in t.iter().map_err(storage)? {
            let (k, v) = item.map_err(storage)?;
            if let Some((_, payload)) = v.value().split_at_checked(8)
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

    /// Opens `path` once the previous handle's writer thread has let go of it.
    fn reopen(path: &Path, vault_subkey: Option<u8>) -> StateStore {
        (0..50)
            .find_map(|_| {
                let key = vault_subkey.map(|b| zeroize::Zeroizing::new([b; 32]));
                StateStore::open_sealed(path, key).ok().or_else(|| {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    None
                })
            })
            .expect("reopens once the first handle is gone")
    }

    fn raw(store: &StateStore, table: Table, key: &str) -> Vec<u8> {
        let tx = store.db.begin_read().unwrap();
        let t = tx.open_table(table.definition()).unwrap();
        t.get(key).unwrap().unwrap().value().to_vec()
    }

    #[tokio::test]
    async fn webhook_bodies_are_stored_sealed_and_read_back_whole() {
        let store = StateStore::in_memory();
        let body = b"{\"text\":{\"body\":\"my card is 4111\"}}".to_vec();
        store
            .set(Table::WebhookQueue, "q/1", body.clone(), None)
            .await
            .unwrap();
        store
            .set(Table::Kv, "k", b"plain".to_vec(), None)
            .await
            .unwrap();
        let stored = raw(&store, Table::WebhookQueue, "q/1");
        assert!(StateSeal::is_sealed(&stored[8..]));
        assert!(!stored.windows(4).any(|w| w == b"card"));
        assert_eq!(
            store.get(Table::WebhookQueue, "q/1").unwrap(),
            Some(body.clone())
        );
        assert_eq!(
            store.scan(Table::WebhookQueue, "q/").unwrap(),
            [("q/1".to_string(), body)]
        );
        assert_eq!(
            &raw(&store, Table::Kv, "k")[8..],
            b"plain",
            "other tables as they are"
        );
    }

    #[test]
    fn plaintext_an_earlier_version_stored_is_sealed_on_open_keeping_its_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        let dead_expiry = now_ms() + 60_000;
        {
            let db = Database::create(&path).unwrap();
            let tx = db.begin_write().unwrap();
            {
                let mut t = tx.open_table(Table::WebhookQueue.definition()).unwrap();
                t.insert("q/1", encode(b"{\"old\":\"words\"}", 0).as_slice())
                    .unwrap();
                t.insert(
                    "dead/2",
                    encode(b"{\"reason\":\"x\"}", dead_expiry).as_slice(),
                )
                .unwrap();
            }
            tx.commit().unwrap();
        }
        let store = StateStore::open(&path).unwrap();
        for (key, expiry) in [("q/1", 0), ("dead/2", dead_expiry)] {
            let stored = raw(&store, Table::WebhookQueue, key);
            assert_eq!(stored[..8], expiry.to_be_bytes(), "{key} keeps its expiry");
            assert!(StateSeal::is_sealed(&stored[8..]), "{key} is sealed");
        }
        assert_eq!(
            store.scan(Table::WebhookQueue, "").unwrap(),
            [
                ("dead/2".to_string(), b"{\"reason\":\"x\"}".to_vec()),
                ("q/1".to_string(), b"{\"old\":\"words\"}".to_vec()),
            ]
        );
    }

    #[tokio::test]
    async fn an_entry_sealed_with_another_key_reads_as_absent_and_is_kept_for_the_right_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        {
            let store = reopen(&path, Some(1));
            store
                .set(Table::WebhookQueue, "q/1", b"body".to_vec(), None)
                .await
                .unwrap();
        }
        {
            // The vault key is missing this time: the key file beside the state is used.
            let store = reopen(&path, None);
            assert_eq!(store.get(Table::WebhookQueue, "q/1").unwrap(), None);
            assert!(store.scan(Table::WebhookQueue, "q/").unwrap().is_empty());
        }
        let store = reopen(&path, Some(1));
        assert_eq!(
            store.get(Table::WebhookQueue, "q/1").unwrap(),
            Some(b"body".to_vec())
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_state_file_and_its_directory_are_owner_only_when_created_and_made_so_when_looser() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let parent = tempfile::tempdir().unwrap();
        let path = parent.path().join("a/b/state.redb");
        drop(StateStore::open(&path).unwrap());
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&parent.path().join("a/b")), 0o700);
        assert_eq!(mode(&parent.path().join("a")), 0o700);
        assert_eq!(mode(&parent.path().join("a/b/state.redb.key")), 0o600);

        let dir = parent.path().join("loose");
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("state.redb");
        drop(Database::create(&path).unwrap());
        let loosen = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        loosen(&path, 0o644);
        loosen(&dir, 0o755);
        let _store = reopen(&path, None);
        assert_eq!((mode(&path), mode(&dir)), (0o600, 0o700));
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
