//! The queue as a Redis Stream, shared by every replica of one deployment.
//!
//! - `XADD <stream> * key <suffix> body <sealed body>` before the 200: with `appendfsync
//!   always` the entry is on the Redis host's disk when Meta hears back.
//! - One consumer group (`ingest`); every process is a consumer with a name of its own
//!   (host, pid, random). A replica reads new entries with `XREADGROUP`, applies each, then
//!   `XACK`s and `XDEL`s it in one transaction.
//! - An entry a replica took but never acknowledged (it was killed mid-ingest) stays in the
//!   group's pending list; once idle past the claim timeout any live replica takes it over
//!   with `XAUTOCLAIM`. Its delivery count is the attempt count: past `max_attempts` it goes
//!   to the dead letters, so an entry that kills whoever applies it cannot go round forever.
//! - Dead letters are a second stream, trimmed to 30 days by entry id (`MINID`).
//!
//! Bodies are sealed with the deployment's state key (the same on every replica), bound to
//! the entry's suffix, so Redis (or a dump of it) holds no message text, and an entry written
//! by someone without the key is refused rather than applied.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use redis::streams::{
    StreamAutoClaimReply, StreamClaimReply, StreamId, StreamRangeReply, StreamReadReply,
};
use redis::{FromRedisValue, RedisError};

use super::types::{DEAD_LETTER_TTL_SECONDS, DeadLetter, QueueDepth, entry_suffix};
use crate::seal::{StateSeal, Unsealed};
use crate::store::{RedisHandle, StateError, now_ms};

/// The consumer group every replica reads through.
const GROUP: &str = "ingest";
/// New entries a consumer takes at once: one, so the replicas share the work and a replica
/// that stops holds nothing it has not started (a held entry waits for the claim timeout).
const TAKE_NEW: usize = 1;
/// Stale entries taken over per round trip.
const TAKE_STALE: usize = 16;

/// Deletes the group's consumers idle past ARGV[2] ms with nothing pending, except ARGV[3].
const PRUNE_CONSUMERS: &str = r"
local removed = 0
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local f = {}
  for i = 1, #consumer, 2 do f[consumer[i]] = consumer[i + 1] end
  if f['pending'] == 0 and f['idle'] > tonumber(ARGV[2]) and f['name'] ~= ARGV[3] then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    removed = removed + 1
  end
end
return removed
";

/// One entry taken from the stream.
pub(super) struct Taken {
    /// The stream entry id.
    pub(super) id: String,
    /// The entry's suffix (its name in the seal and in logs), when present.
    pub(super) suffix: String,
    pub(super) content: Content,
}

/// What an entry holds, as far as this replica can tell.
pub(super) enum Content {
    /// The delivery, opened.
    Body(Vec<u8>),
    /// Not an entry this queue wrote (fields missing, unsealed, or not authentic): refused.
    Refused(String),
    /// Sealed with a key this replica lacks: left for a replica that has it.
    OtherKey(String),
}

/// The stream, its dead letters and this process's consumer.
pub(crate) struct StreamQueue {
    redis: RedisHandle,
    stream: String,
    dead: String,
    consumer: String,
    seal: Arc<StateSeal>,
    seq: AtomicU64,
    /// Where the last `XAUTOCLAIM` scan stopped (`0-0`: from the start).
    claim_cursor: std::sync::Mutex<String>,
}

impl StreamQueue {
    /// The queue in the deployment's streams (`<namespace>:webhooks` and
    /// `<namespace>:webhooks:dead`), sealed with the deployment's `seal`.
    pub(crate) fn new(redis: &RedisHandle, seal: Arc<StateSeal>) -> StreamQueue {
        StreamQueue {
            redis: redis.clone(),
            dead: redis.key("webhooks:dead"),
            stream: redis.key("webhooks"),
            consumer: consumer_name(),
            seal,
            seq: AtomicU64::new(0),
            claim_cursor: std::sync::Mutex::new("0-0".into()),
        }
    }

    /// This process's name in the consumer group.
    pub(crate) fn consumer(&self) -> &str {
        &self.consumer
    }

    async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, RedisError> {
        cmd.query_async(&mut self.redis.connection()).await
    }

    /// Stores a delivery; returns its stream id once Redis has it.
    pub(crate) async fn enqueue(&self, body: &[u8]) -> Result<String, StateError> {
        let suffix = entry_suffix(&self.seq);
        let sealed = self.seal.seal(&queued_name(&suffix), body);
        let mut cmd = redis::cmd("XADD");
        cmd.arg(&self.stream)
            .arg("*")
            .arg("key")
            .arg(&suffix)
            .arg("body")
            .arg(sealed);
        self.query(&cmd).await.map_err(|e| self.redis.error(e))
    }

    /// Creates the consumer group (reading from the stream's start) unless it exists.
    pub(crate) async fn ensure_group(&self) -> Result<(), StateError> {
        let mut cmd = redis::cmd("XGROUP");
        cmd.arg("CREATE")
            .arg(&self.stream)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM");
        match self.query::<()>(&cmd).await {
            Ok(()) => Ok(()),
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            Err(e) => Err(self.redis.error(e)),
        }
    }

    /// Removes the consumers of replicas gone for longer than `idle` that hold nothing (each
    /// process is a new consumer, so restarts would pile them up); returns how many. Atomic:
    /// a consumer that holds an entry is never removed, so no entry falls out of the
    /// group's pending list.
    pub(crate) async fn prune_consumers(&self, idle: Duration) -> Result<u64, StateError> {
        redis::Script::new(PRUNE_CONSUMERS)
            .key(&self.stream)
            .arg(GROUP)
            .arg(idle.as_millis() as u64)
            .arg(&self.consumer)
            .invoke_async(&mut self.redis.connection())
            .await
            .map_err(|e| self.redis.error(e))
    }

    /// Entries no consumer has been given yet, now given to this one.
    pub(super) async fn take_new(&self) -> Result<Vec<Taken>, StateError> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(GROUP)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(TAKE_NEW);
        cmd.arg("STREAMS").arg(&self.stream).arg(">");
        let reply = match self.query::<Option<StreamReadReply>>(&cmd).await {
            Err(e) if e.code() == Some("NOGROUP") => {
                // The stream was removed (e.g. Redis lost its data): start again.
                self.ensure_group().await?;
                self.query::<Option<StreamReadReply>>(&cmd).await
            }
            other => other,
        }
        .map_err(|e| self.redis.error(e))?;
        Ok(reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .map(|entry| self.open(entry))
            .collect())
    }

    /// Entries some consumer took and left unacknowledged for `idle`, now this one's, each
    /// with its delivery count (this delivery included).
    pub(super) async fn take_stale(&self, idle: Duration) -> Result<Vec<(Taken, u64)>, StateError> {
        let cursor = self
            .claim_cursor
            .lock()
            .map(|c| c.clone())
            .unwrap_or_else(|_| "0-0".into());
        let mut cmd = redis::cmd("XAUTOCLAIM");
        cmd.arg(&self.stream)
            .arg(GROUP)
            .arg(&self.consumer)
            .arg(idle.as_millis() as u64);
        cmd.arg(cursor).arg("COUNT").arg(TAKE_STALE);
        let reply = match self.query::<StreamAutoClaimReply>(&cmd).await {
            Err(e) if e.code() == Some("NOGROUP") => {
                self.ensure_group().await?;
                return Ok(Vec::new());
            }
            other => other.map_err(|e| self.redis.error(e))?,
        };
        if let Ok(mut c) = self.claim_cursor.lock() {
            *c = reply.next_stream_id;
        }
        let mut out = Vec::with_capacity(reply.claimed.len());
        for entry in reply.claimed {
            let deliveries = self.deliveries(&entry.id).await?;
            out.push((self.open(entry), deliveries));
        }
        Ok(out)
    }

    /// How many times the entry `id` was given to a consumer.
    async fn deliveries(&self, id: &str) -> Result<u64, StateError> {
        let mut cmd = redis::cmd("XPENDING");
        cmd.arg(&self.stream).arg(GROUP).arg(id).arg(id).arg(1);
        let rows: Vec<(String, String, u64, u64)> =
            self.query(&cmd).await.map_err(|e| self.redis.error(e))?;
        Ok(rows.first().map_or(1, |r| r.3))
    }

    /// Takes `id` back for another attempt unless another consumer took it within `idle`
    /// (then it is theirs now): true when it is this consumer's again.
    pub(super) async fn retake(&self, id: &str, idle: Duration) -> Result<bool, StateError> {
        let mut cmd = redis::cmd("XCLAIM");
        cmd.arg(&self.stream)
            .arg(GROUP)
            .arg(&self.consumer)
            .arg(idle.as_millis() as u64);
        cmd.arg(id);
        let reply: StreamClaimReply = self.query(&cmd).await.map_err(|e| self.redis.error(e))?;
        Ok(!reply.ids.is_empty())
    }

    /// Acknowledges and removes an applied entry.
    pub(super) async fn ack(&self, id: &str) -> Result<(), StateError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("XACK")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(id)
            .ignore();
        pipe.cmd("XDEL").arg(&self.stream).arg(id).ignore();
        pipe.query_async::<()>(&mut self.redis.connection())
            .await
            .map_err(|e| self.redis.error(e))
    }

    /// Moves an entry to the dead letters, in one transaction with its acknowledgement.
    /// `body` is the opened delivery, or the raw stored bytes when it could not be opened.
    pub(super) async fn dead_letter(
        &self,
        taken: &Taken,
        body: &[u8],
        reason: &str,
        attempts: u32,
    ) -> Result<(), StateError> {
        let now = now_ms();
        let min_id = now.saturating_sub(u64::from(DEAD_LETTER_TTL_SECONDS) * 1000);
        let sealed = self.seal.seal(&dead_name(&taken.suffix), body);
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("XADD")
            .arg(&self.dead)
            .arg("MINID")
            .arg(min_id)
            .arg("*")
            .arg("key")
            .arg(&taken.suffix)
            .arg("reason")
            .arg(reason)
            .arg("attempts")
            .arg(attempts)
            .arg("dead_at_ms")
            .arg(now)
            .arg("body")
            .arg(sealed)
            .ignore();
        pipe.cmd("XACK")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(&taken.id)
            .ignore();
        pipe.cmd("XDEL").arg(&self.stream).arg(&taken.id).ignore();
        pipe.query_async::<()>(&mut self.redis.connection())
            .await
            .map_err(|e| self.redis.error(e))
    }

    /// The stream's entries (waiting or being applied, by any replica), oldest first.
    pub(super) async fn pending(&self) -> Result<Vec<String>, StateError> {
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(&self.stream).arg("-").arg("+");
        let reply: StreamRangeReply = self.query(&cmd).await.map_err(|e| self.redis.error(e))?;
        Ok(reply.ids.into_iter().map(|e| e.id).collect())
    }

    pub(super) async fn depth(&self) -> Result<QueueDepth, StateError> {
        let mut pipe = redis::pipe();
        pipe.cmd("XLEN").arg(&self.stream);
        pipe.cmd("XRANGE")
            .arg(&self.stream)
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(1);
        let (entries, first): (u64, StreamRangeReply) = pipe
            .query_async(&mut self.redis.connection())
            .await
            .map_err(|e| self.redis.error(e))?;
        let oldest = first.ids.first().and_then(|e| id_time_ms(&e.id));
        Ok(QueueDepth {
            entries,
            oldest_age_seconds: oldest
                .map_or(0.0, |at| now_ms().saturating_sub(at) as f64 / 1000.0),
        })
    }

    /// The dead letters of the last 30 days, oldest first.
    pub(super) async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StateError> {
        let min_id = now_ms().saturating_sub(u64::from(DEAD_LETTER_TTL_SECONDS) * 1000);
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(&self.dead).arg(min_id).arg("+");
        let reply: StreamRangeReply = self.query(&cmd).await.map_err(|e| self.redis.error(e))?;
        Ok(reply
            .ids
            .into_iter()
            .map(|entry| {
                let suffix: String = entry.get("key").unwrap_or_default();
                let stored: Vec<u8> = entry.get("body").unwrap_or_default();
                let body = match self.seal.unseal(&dead_name(&suffix), &stored) {
                    Unsealed::Opened(body) => body,
                    _ => Vec::new(),
                };
                DeadLetter {
                    key: format!("dead/{suffix}"),
                    reason: entry.get("reason").unwrap_or_default(),
                    attempts: entry.get("attempts").unwrap_or_default(),
                    body,
                }
            })
            .collect())
    }

    /// Reads an entry's fields and opens its body.
    fn open(&self, entry: StreamId) -> Taken {
        let suffix: Option<String> = entry.get("key");
        let stored: Option<Vec<u8>> = entry.get("body");
        let (suffix, content) = match (suffix, stored) {
            (Some(suffix), Some(stored)) => {
                let content = match self.seal.unseal(&queued_name(&suffix), &stored) {
                    Unsealed::Opened(body) => Content::Body(body),
                    Unsealed::Plain(_) => Content::Refused(
                        "the queue entry is not encrypted, so this deployment did not write it; \
                         refused"
                            .into(),
                    ),
                    Unsealed::Damaged => Content::Refused(
                        "the queue entry does not authenticate: it was damaged or written by \
                         someone without the deployment's key; refused"
                            .into(),
                    ),
                    Unsealed::OtherKey(id) => Content::OtherKey(format!(
                        "the queue entry was encrypted with another key (id {id}) than {}: start \
                         every replica with the same vault key",
                        self.seal.source()
                    )),
                };
                (suffix, content)
            }
            (suffix, _) => (
                suffix.unwrap_or_else(|| entry.id.clone()),
                Content::Refused("the queue entry lacks its `key` or `body` field; refused".into()),
            ),
        };
        Taken {
            id: entry.id,
            suffix,
            content,
        }
    }
}

/// What a queued body is sealed for (the file queue's naming, so both read alike).
fn queued_name(suffix: &str) -> String {
    format!("webhook_queue/q/{suffix}")
}

fn dead_name(suffix: &str) -> String {
    format!("webhook_queue/dead/{suffix}")
}

/// The Unix ms of a stream id (`<ms>-<seq>`).
fn id_time_ms(id: &str) -> Option<u64> {
    id.split('-').next()?.parse().ok()
}

/// `<host>-<pid>-<random>`: unique per process, and says where it ran.
fn consumer_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let nonce: u32 = rand::random();
    format!("{host}-{}-{nonce:08x}", std::process::id())
}
