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
