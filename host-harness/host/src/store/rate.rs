//! Rate-limit counters, exact however many replicas share the store.
//!
//! A counter is the list of call times (Unix ms, 8 bytes big-endian each)
//! under the rule's key in the host table, expiring shortly after its
//! window. Checking and counting happen in one atomic step over every
//! rate limit a call is subject to: either the call fits all of them and
//! every counter records it, or one is full and none does.
//! - Redis: one Lua script (scripts run atomically on the server).
//! - File: under an in-process lock (only one process can open the file).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use super::{Backend, StateError, StateStore, Table};

/// One rate limit a call is subject to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RateCount {
    /// The counter's key in the host table.
    pub(crate) key: String,
    pub(crate) max_calls: u32,
    pub(crate) window_ms: i64,
}

/// The outcome of a check-and-count.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RateVerdict {
    /// Every counter recorded the call.
    Counted,
    /// The limit at this index was full (another call got there first):
    /// nothing was recorded.
    Full(usize),
}

/// KEYS: the counters; ARGV: now (ms), then max calls and window (ms) per
/// key. Returns 0 when counted, else the 1-based index of the full limit.
static CHECK_AND_COUNT: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local now = tonumber(ARGV[1])
local function decode(s)
  local out = {}
  if not s then return out end
  for i = 1, #s - 7, 8 do
    local v = 0
    for j = 0, 7 do v = v * 256 + string.byte(s, i + j) end
    out[#out + 1] = v
  end
  return out
end
local function encode(times)
  local parts = {}
  for _, v in ipairs(times) do
    local b = {}
    for j = 8, 1, -1 do b[j] = v % 256; v = math.floor(v / 256) end
    parts[#parts + 1] = string.char(unpack(b))
  end
  return table.concat(parts)
end
local lists = {}
for i, key in ipairs(KEYS) do
  local max = tonumber(ARGV[2 * i])
  local since = now - tonumber(ARGV[2 * i + 1])
  local recent = {}
  for _, t in ipairs(decode(redis.call('GET', key))) do
    if t > since then recent[#recent + 1] = t end
  end
  if #recent >= max then return i end
  lists[i] = recent
end
for i, key in ipairs(KEYS) do
  local recent = lists[i]
  recent[#recent + 1] = now
  redis.call('SET', key, encode(recent), 'PX', tonumber(ARGV[2 * i + 1]) + 2000)
end
return 0
",
    )
});

/// The times recorded in a counter's value.
pub(crate) fn decode_times(bytes: &[u8]) -> Vec<i64> {
    bytes
        .chunks_exact(8)
        .map(|c| i64::from_be_bytes(c.try_into().expect("8 bytes")))
        .collect()
}

fn encode_times(times: &[i64]) -> Vec<u8> {
    times.iter().flat_map(|t| t.to_be_bytes()).collect()
}

/// A counter lives a little longer than its window.
fn counter_ttl_ms(window_ms: i64) -> u64 {
    u64::try_from(window_ms).unwrap_or(0) + 2000
}

impl StateStore {
    /// The recorded call times under each of `keys` (absent: none yet).
    pub(crate) async fn rate_counters(
        &self,
        keys: &[String],
    ) -> Result<BTreeMap<String, Vec<i64>>, StateError> {
        let values = match &self.backend {
            Backend::Redis(redis) => redis.get_many(Table::Host, keys).await?,
            Backend::File(file) => {
                let mut out = BTreeMap::new();
                for key in keys {
                    if let Some(v) = file.get(Table::Host, key)? {
                        out.insert(key.clone(), v);
                    }
                }
                out
            }
        };
        Ok(values
            .into_iter()
            .map(|(k, v)| (k, decode_times(&v)))
            .collect())
    }

    /// Records a call at `now_ms` against every limit in `limits` if it
    /// fits all of them, atomically across every process sharing the store.
    pub(crate) async fn count_call(
        &self,
        limits: &[RateCount],
        now_ms: i64,
    ) -> Result<RateVerdict, StateError> {
        if limits.is_empty() {
            return Ok(RateVerdict::Counted);
        }
        match &self.backend {
            Backend::Redis(redis) => {
                let script = &*CHECK_AND_COUNT;
                let mut invocation = script.prepare_invoke();
                invocation.arg(now_ms);
                for limit in limits {
                    invocation
                        .key(redis.host_key(&limit.key))
                        .arg(limit.max_calls)
                        .arg(limit.window_ms);
                }
                let mut c = redis.connection();
                let full: usize = invocation
                    .invoke_async(&mut c)
                    .await
                    .map_err(|e| redis.error(e))?;
                Ok(match full {
                    0 => RateVerdict::Counted,
                    i => RateVerdict::Full(i - 1),
                })
            }
            Backend::File(file) => {
                let _guard = file.rate_lock.lock().await;
                let mut writes = Vec::with_capacity(limits.len());
                for (i, limit) in limits.iter().enumerate() {
                    let since = now_ms - limit.window_ms;
                    let mut recent: Vec<i64> = file
                        .get(Table::Host, &limit.key)?
                        .map(|v| decode_times(&v))
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|t| *t > since)
                        .collect();
                    if recent.len() >= limit.max_calls as usize {
                        return Ok(RateVerdict::Full(i));
                    }
                    recent.push(now_ms);
                    let expires = super::now_ms() + counter_ttl_ms(limit.window_ms);
                    writes.push((
                        Table::Host,
                        limit.key.clone(),
                        encode_times(&recent),
                        expires,
                    ));
                }
                file.set_many(writes).await?;
                Ok(RateVerdict::Counted)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_redis::TestRedis;
    use super::*;

    fn limit(key: &str, max_calls: u32) -> RateCount {
        RateCount {
            key: key.into(),
            max_calls,
            window_ms: 60_000,
        }
    }

    /// Twelve calls at once, alternating between `a` and `b`: how many were counted.
    async fn twelve_calls(a: &StateStore, b: &StateStore) -> usize {
        let now = super::super::now_ms() as i64;
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                tokio::spawn(async move { store.count_call(&[limit("rl", 5)], now + i).await })
            })
            .collect();
        let mut counted = 0;
        for task in tasks {
            if task.await.unwrap().unwrap() == RateVerdict::Counted {
                counted += 1;
            }
        }
        counted
    }

    #[tokio::test]
    async fn five_per_minute_allows_exactly_five_of_twelve_concurrent_calls_across_two_replicas() {
        let server = TestRedis::start();
        let (a, b) = (server.store(7).await, server.store(7).await);
        assert_eq!(twelve_calls(&a, &b).await, 5);
        let recorded = a.rate_counters(&["rl".to_string()]).await.unwrap();
        assert_eq!(
            recorded["rl"].len(),
            5,
            "only the counted calls are recorded"
        );
    }

    #[tokio::test]
    async fn five_per_minute_allows_exactly_five_of_twelve_concurrent_calls_on_the_file() {
        let store = StateStore::in_memory();
        assert_eq!(twelve_calls(&store, &store.clone()).await, 5);
    }

    async fn a_call_over_one_limit_counts_against_none(store: &StateStore) {
        let now = super::super::now_ms() as i64;
        let limits = [limit("wide", 10), limit("narrow", 1)];
        assert_eq!(
            store.count_call(&limits, now).await.unwrap(),
            RateVerdict::Counted
        );
        assert_eq!(
            store.count_call(&limits, now + 1).await.unwrap(),
            RateVerdict::Full(1),
            "the narrow limit (index 1) is the full one"
        );
        let keys = ["wide".to_string(), "narrow".to_string()];
        let recorded = store.rate_counters(&keys).await.unwrap();
        assert_eq!(recorded["wide"], [now], "the refused call left no trace");
        assert_eq!(recorded["narrow"], [now]);
    }

    #[tokio::test]
    async fn a_call_over_one_of_its_limits_is_counted_against_none_in_redis() {
        let server = TestRedis::start();
        a_call_over_one_limit_counts_against_none(&server.store(7).await).await;
    }

    #[tokio::test]
    async fn a_call_over_one_of_its_limits_is_counted_against_none_in_the_file() {
        a_call_over_one_limit_counts_against_none(&StateStore::in_memory()).await;
    }

    async fn calls_older_than_the_window_free_their_slot(store: &StateStore) {
        let now = super::super::now_ms() as i64;
        let one = [limit("rl", 1)];
        assert_eq!(
            store.count_call(&one, now - 61_000).await.unwrap(),
            RateVerdict::Counted
        );
        assert_eq!(
            store.count_call(&one, now).await.unwrap(),
            RateVerdict::Counted
        );
        assert_eq!(
            store.count_call(&one, now + 1).await.unwrap(),
            RateVerdict::Full(0)
        );
        let recorded = store.rate_counters(&["rl".to_string()]).await.unwrap();
        assert_eq!(
            recorded["rl"],
            [now],
            "the old call was dropped from the counter"
        );
    }

    #[tokio::test]
    async fn calls_older_than_the_window_free_their_slot_in_both_backends() {
        let server = TestRedis::start();
        calls_older_than_the_window_free_their_slot(&server.store(7).await).await;
        calls_older_than_the_window_free_their_slot(&StateStore::in_memory()).await;
    }

    #[tokio::test]
    async fn while_redis_is_down_counting_fails_as_unreachable() {
        let mut server = TestRedis::start();
        let store = server.store(7).await;
        server.stop();
        let err = store
            .count_call(&[limit("rl", 5)], 1)
            .await
            .err()
            .expect("Redis is down");
        assert!(err.retryable(), "{err}");
        assert!(store.rate_counters(&["rl".into()]).await.is_err());
    }
}
