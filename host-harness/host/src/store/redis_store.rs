//! The Redis backend: the tables as Redis strings under a namespace
//! (`<namespace>:kv:<key>`, `<namespace>:host:<key>`,
//! `<namespace>:webhook_queue:<key>`), expiry as native key expiry.
//!
//! One [`ConnectionManager`] per process: it multiplexes every call over one
//! connection and reconnects by itself. Short connection and response
//! timeouts make a call fail fast (with [`StateError::Unreachable`]) while
//! Redis is down instead of hanging a tool call; the next call after Redis
//! returns reconnects.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands as _, RedisError, Value};

use super::location::RedisTarget;
use super::model::{Record, StateError, Table, now_ms};

/// How long a connection attempt, or one command, may take before the
/// call fails as "unreachable".
const TIMEOUT: Duration = Duration::from_secs(1);
/// Keys fetched per `MGET`/`SCAN`/`ZRANGEBYLEX` round trip.
pub(super) const BATCH: usize = 512;

/// This process's place in the rolling sweep of the kv index (the
/// `redis_index` module).
#[derive(Default)]
pub(super) struct Sweep {
    pub(super) writes: AtomicU64,
    /// The last member checked; empty: start from the beginning.
    pub(super) after: Mutex<Vec<u8>>,
}

/// The shared Redis connection of one deployment; cheap to clone.
#[derive(Clone)]
pub(crate) struct RedisHandle {
    connection: ConnectionManager,
    /// For the dedicated connections a multiplexed one cannot serve (pub/sub).
    client: Arc<redis::Client>,
    namespace: Arc<str>,
    /// The URL without credentials, for messages.
    name: Arc<str>,
    /// Where this process is in pruning the kv index.
    pub(super) sweep: Arc<Sweep>,
}

impl RedisHandle {
    /// Connects to the server `target` names; fails (naming the store, never
    /// its password) when it cannot be reached within a second or refuses
    /// the credentials.
    pub(super) async fn connect(target: &RedisTarget) -> Result<RedisHandle, StateError> {
        let name: Arc<str> = target.redacted.as_str().into();
        if target.cleartext_remote {
            tracing::warn!(store = %name, "the state store is reached without TLS over the \
                network: its password, the key names (phone numbers, message ids) and the \
                bookkeeping travel in cleartext (stored messages are encrypted either way); \
                use rediss://");
        }
        let unreachable = |e: RedisError| StateError::Unreachable {
            store: name.to_string(),
            reason: describe(&e),
        };
        // rediss:// needs a process-wide rustls provider; the host uses ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let info = target.connection_info()?;
        let client = match &target.ca_file {
            None => redis::Client::open(info),
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| StateError::Open {
                    path: name.to_string(),
                    reason: format!("cannot read the CA file {} ({e})", path.display()),
                })?;
                let certificates = redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                };
                redis::Client::build_with_tls(info, certificates)
            }
        }
        .map_err(unreachable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(|e| {
                if e.kind() == redis::ErrorKind::AuthenticationFailed || e.code().is_some() {
                    StateError::Open {
                        path: name.to_string(),
                        reason: format!(
                            "Redis refused the connection ({}): check the user and password \
                             (`?password_credential=` names the vault credential holding it)",
                            describe(&e)
                        ),
                    }
                } else {
                    unreachable(e)
                }
            })?;
        Ok(RedisHandle {
            connection,
            client: Arc::new(client),
            namespace: target.namespace.as_str().into(),
            name,
            sweep: Arc::default(),
        })
    }

    /// A clone of the process's connection (multiplexed, reconnecting).
    pub(crate) fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    /// The client the process's connection came from, for a dedicated
    /// connection (a pub/sub subscription).
    pub(crate) fn client(&self) -> &redis::Client {
        &self.client
    }

    /// The namespaced name of a key: `<namespace>:<suffix>`.
    pub(crate) fn key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.namespace)
    }

    /// The store's URL without credentials, for messages.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// A Redis error as the store's error: "unreachable" (retryable) for a
    /// connection or timeout failure, a storage failure otherwise.
    pub(crate) fn error(&self, e: RedisError) -> StateError {
        crate::admin::metrics::global().store_error();
        if e.code().is_some() && !e.is_io_error() {
            StateError::Storage(format!("{}: {}", self.name, describe(&e)))
        } else {
            StateError::Unreachable {
                store: self.name.to_string(),
                reason: describe(&e),
            }
        }
    }

    pub(super) fn table_key(&self, table: Table, key: &str) -> String {
        self.key(&format!("{}:{key}", table.name()))
    }

    pub(super) async fn check(&self) -> Result<(), StateError> {
        let mut c = self.connection();
        redis::cmd("PING")
            .query_async::<String>(&mut c)
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }

    pub(super) async fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        let mut c = self.connection();
        c.get(self.table_key(table, key))
            .await
            .map_err(|e| self.error(e))
    }

    pub(super) async fn set(
        &self,
        table: Table,
        key: &str,
        value: Vec<u8>,
        expires_at_ms: Option<u64>,
    ) -> Result<(), StateError> {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(self.table_key(table, key))
            .arg(value);
        if let Some(at) = expires_at_ms {
            // Relative, so the servers' and replicas' clocks need not agree.
            pipe.arg("PX").arg(at.saturating_sub(now_ms()).max(1));
        }
        if let Some(index) = self.index(table) {
            pipe.cmd("ZADD").arg(index).arg(0).arg(key).ignore();
        }
        pipe.query_async::<()>(&mut self.connection())
            .await
            .map_err(|e| self.error(e))?;
        if table == Table::Kv {
            self.sweep_now_and_then().await;
        }
        Ok(())
    }

    pub(super) async fn delete(&self, table: Table, key: &str) -> Result<bool, StateError> {
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("DEL").arg(self.table_key(table, key));
        if let Some(index) = self.index(table) {
            pipe.cmd("ZREM").arg(index).arg(key).ignore();
        }
        let (removed,): (u64,) = pipe
            .query_async(&mut self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(removed > 0)
    }

    /// Every live entry under `prefix`, in key order; with each one's expiry
    /// when `with_expiry` (one more round trip per batch).
    pub(super) async fn scan(
        &self,
        table: Table,
        prefix: &str,
        with_expiry: bool,
    ) -> Result<Vec<Record>, StateError> {
        let keys = match self.index(table) {
            Some(index) => self.indexed_keys(&index, prefix).await?,
            None => self.scanned_keys(table, prefix).await?,
        };
        let mut c = self.connection();
        let mut out = Vec::with_capacity(keys.len());
        let mut gone = Vec::new();
        for chunk in keys.chunks(BATCH) {
            let names: Vec<String> = chunk.iter().map(|k| self.table_key(table, k)).collect();
            let mut pipe = redis::pipe();
            pipe.cmd("MGET").arg(&names);
            if with_expiry {
                for name in &names {
                    pipe.cmd("PTTL").arg(name);
                }
            }
            let now = now_ms();
            let mut answers: Vec<Value> =
                pipe.query_async(&mut c).await.map_err(|e| self.error(e))?;
            let expiries: Vec<i64> = answers
                .split_off(1)
                .into_iter()
                .map(|v| redis::from_redis_value(v).unwrap_or(-2))
                .collect();
            let values: Vec<Option<Vec<u8>>> = answers
                .pop()
                .map(redis::from_redis_value)
                .transpose()
                .map_err(|e| self.error(e.into()))?
                .unwrap_or_default();
            for (i, (key, value)) in chunk.iter().zip(values).enumerate() {
                // Expired or deleted since it was listed: skipped.
                let Some(value) = value else {
                    gone.push(key.clone());
                    continue;
                };
                let expires_at_ms = match expiries.get(i) {
                    Some(-2) => continue,
                    Some(ms) if *ms >= 0 => Some(now + *ms as u64),
                    _ => None,
                };
                out.push(Record {
                    table,
                    key: key.clone(),
                    value,
                    expires_at_ms,
                });
            }
        }
        if let Some(index) = self.index(table) {
            self.forget_expired(&index, table, &gone).await;
        }
        Ok(out)
    }

    /// The keys under `prefix` by walking the keyspace (`SCAN MATCH`), for
    /// the tables without an index (read whole only by `state copy`).
    async fn scanned_keys(&self, table: Table, prefix: &str) -> Result<Vec<String>, StateError> {
        let mut c = self.connection();
        let base = self.table_key(table, "");
        let pattern = format!("{}{}*", escape_glob(&base), escape_glob(prefix));
        let mut names = std::collections::BTreeSet::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(BATCH)
                .query_async(&mut c)
                .await
                .map_err(|e| self.error(e))?;
            // SCAN may return a key twice; the set keeps one, in order.
            names.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        Ok(names
            .into_iter()
            .map(|name| name[base.len()..].to_string())
            .collect())
    }

    /// Reads the keys' values at once (missing ones absent from the map).
    pub(super) async fn get_many(
        &self,
        table: Table,
        keys: &[String],
    ) -> Result<BTreeMap<String, Vec<u8>>, StateError> {
        if keys.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut c = self.connection();
        let names: Vec<String> = keys.iter().map(|k| self.table_key(table, k)).collect();
        let values: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
            .arg(&names)
            .query_async(&mut c)
            .await
            .map_err(|e| self.error(e))?;
        Ok(keys
            .iter()
            .zip(values)
            .filter_map(|(k, v)| Some((k.clone(), v?)))
            .collect())
    }

    /// The namespaced name of a host-table key (for scripts).
    pub(super) fn host_key(&self, key: &str) -> String {
        self.table_key(Table::Host, key)
    }

    /// What could make Redis lose writes it acknowledged (webhooks the
    /// gateway answered 200 to), with the fix: no AOF, an AOF not synced on
    /// every write, or settings it would not show (`CONFIG GET` disabled, as
    /// managed services often do). `None` when every write is on disk.
    pub(super) async fn durability_problem(&self) -> Option<String> {
        let setting = |name: &'static str| {
            let mut c = self.connection();
            async move {
                redis::cmd("CONFIG")
                    .arg("GET")
                    .arg(name)
                    .query_async::<Vec<String>>(&mut c)
                    .await
                    .ok()
                    .and_then(|pair| pair.into_iter().nth(1))
            }
        };
        match (setting("appendonly").await, setting("appendfsync").await) {
            (Some(appendonly), Some(appendfsync)) => durability_problem(&appendonly, &appendfsync),
            _ => Some(
                "could not read the Redis persistence settings (CONFIG GET is disabled): make \
                 sure the server runs with `appendonly yes` and `appendfsync always`, or \
                 acknowledged webhooks can be lost if Redis crashes"
                    .into(),
            ),
        }
    }

    /// Logs [`Self::durability_problem`], if any, at start.
    pub(super) async fn warn_about_durability(&self) {
        if let Some(problem) = self.durability_problem().await {
            tracing::warn!(store = %self.name, "{problem}");
        }
    }
}

/// What is wrong with Redis's persistence for a queue of acknowledged
/// webhooks, with the fix; `None` when every acknowledged write is on disk.
pub(super) fn durability_problem(appendonly: &str, appendfsync: &str) -> Option<String> {
    if !appendonly.eq_ignore_ascii_case("yes") {
        return Some(
            "Redis runs without the append-only file: webhooks acknowledged since the last \
             snapshot are lost if Redis crashes; set `appendonly yes` and `appendfsync always` \
             (CONFIG SET appendonly yes; CONFIG SET appendfsync always; CONFIG REWRITE)"
                .into(),
        );
    }
    if !appendfsync.eq_ignore_ascii_case("always") {
        return Some(format!(
            "Redis syncs its append-only file `{appendfsync}`, not on every write: up to a \
             second of acknowledged webhooks can be lost if the machine crashes; set \
             `appendfsync always` (CONFIG SET appendfsync always; CONFIG REWRITE)"
        ));
    }
    None
}

/// A Redis error in words, without anything the URL carried.
fn describe(e: &RedisError) -> String {
    if e.is_timeout() {
        format!("no answer within {} s ({e})", TIMEOUT.as_secs())
    } else {
        e.to_string()
    }
}

/// `text` with the glob characters `SCAN MATCH` interprets escaped.
pub(super) fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^' | '-') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persistence_without_an_fsynced_aof_is_a_warning_with_the_fix() {
        assert_eq!(durability_problem("yes", "always"), None);
        let no_aof = durability_problem("no", "everysec").unwrap();
        assert!(no_aof.contains("appendonly yes"), "{no_aof}");
        let lazy = durability_problem("yes", "everysec").unwrap();
        assert!(lazy.contains("appendfsync always"), "{lazy}");
    }

    #[test]
    fn glob_characters_in_a_prefix_are_escaped() {
        assert_eq!(escape_glob("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
        assert_eq!(escape_glob("inbox/+15551234"), "inbox/+15551234");
    }
}
