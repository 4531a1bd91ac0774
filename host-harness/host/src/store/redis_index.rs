//! The kv table's key index on Redis: a sorted set (`<namespace>:index:kv`,
//! every member scored 0, so ordered by bytes) listing the component's
//! keys. A prefix scan (the inbox lists its conversations this way) reads
//! the range it needs (`ZRANGEBYLEX`) instead of walking the whole keyspace
//! with `SCAN`, and gets the keys already in order.
//!
//! A key is added and removed with its value in one `MULTI`. Redis expires
//! values but not index members, so expired keys are pruned: those a scan
//! finds gone, and a few more on every 64th write (a rolling sweep through
//! the index), so the index stays about as large as the live keys. Pruning
//! runs as a script that re-checks each key on the server, so a key another
//! replica writes meanwhile is never dropped from the index.

use std::sync::LazyLock;
use std::sync::atomic::Ordering;

use super::model::{StateError, Table};
use super::redis_store::{BATCH, RedisHandle};

/// A sweep step runs on one write in this many.
const SWEEP_EVERY: u64 = 64;
/// Index members a sweep step checks.
const SWEEP_BATCH: usize = 128;

/// KEYS[1]: the index; ARGV[1]: the prefix of the table's keys, ARGV[2..]:
/// members. Removes the members whose key no longer exists.
static PRUNE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local removed = 0
for i = 2, #ARGV do
  if redis.call('EXISTS', ARGV[1] .. ARGV[i]) == 0 then
    removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return removed
",
    )
});

impl RedisHandle {
    /// The index of `table`'s keys, if it has one: only `kv`, the table
    /// listed by prefix in normal operation.
    pub(super) fn index(&self, table: Table) -> Option<String> {
        (table == Table::Kv).then(|| self.key("index:kv"))
    }

    /// The keys under `prefix` in `index`, in byte order.
    pub(super) async fn indexed_keys(
        &self,
        index: &str,
        prefix: &str,
    ) -> Result<Vec<String>, StateError> {
        // Keys are UTF-8, which never contains the byte 0xFF: `prefix` + 0xFF
        // is above every key that starts with `prefix`.
        let (min, max) = if prefix.is_empty() {
            (b"-".to_vec(), b"+".to_vec())
        } else {
            (
                [b"[", prefix.as_bytes()].concat(),
                [b"(", prefix.as_bytes(), &[0xFF]].concat(),
            )
        };
        let mut c = self.connection();
        let mut keys = Vec::new();
        loop {
            let batch: Vec<String> = redis::cmd("ZRANGEBYLEX")
                .arg(index)
                .arg(&min)
                .arg(&max)
                .arg("LIMIT")
                .arg(keys.len())
                .arg(BATCH)
                .query_async(&mut c)
                .await
                .map_err(|e| self.error(e))?;
            let full = batch.len() == BATCH;
            keys.extend(batch);
            if !full {
                return Ok(keys);
            }
        }
    }

    /// Drops from `index` those of `keys` that no longer exist (best
    /// effort: a failure leaves them for a later sweep).
    pub(super) async fn forget_expired(&self, index: &str, table: Table, keys: &[String]) {
        if keys.is_empty() {
            return;
        }
        let mut invocation = PRUNE.key(index);
        invocation.arg(self.table_key(table, ""));
        for key in keys {
            invocation.arg(key);
        }
        if let Err(e) = invocation.invoke_async::<u64>(&mut self.connection()).await {
            tracing::debug!(error = %e, "could not prune the kv index; a later sweep will");
        }
    }

    /// On one write in [`SWEEP_EVERY`], checks the next [`SWEEP_BATCH`]
    /// members of the kv index and drops the expired ones.
    pub(super) async fn sweep_now_and_then(&self) {
        if self.sweep.writes.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY != SWEEP_EVERY - 1 {
            return;
        }
        let Some(index) = self.index(Table::Kv) else {
            return;
        };
        let after = self
            .sweep
            .after
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default();
        let min = if after.is_empty() {
            b"-".to_vec()
        } else {
            [b"(", after.as_slice()].concat()
        };
        let members: Vec<String> = match redis::cmd("ZRANGEBYLEX")
            .arg(&index)
            .arg(&min)
            .arg("+")
            .arg("LIMIT")
            .arg(0)
            .arg(SWEEP_BATCH)
            .query_async(&mut self.connection())
            .await
        {
            Ok(members) => members,
            Err(_) => return,
        };
        // At the end of the index, the next sweep starts over.
        let next = if members.len() < SWEEP_BATCH {
            Vec::new()
        } else {
            members
                .last()
                .map(|m| m.as_bytes().to_vec())
                .unwrap_or_default()
        };
        if let Ok(mut after) = self.sweep.after.lock() {
            *after = next;
        }
        self.forget_expired(&index, Table::Kv, &members).await;
    }
}
