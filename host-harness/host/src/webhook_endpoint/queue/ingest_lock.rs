//! The lock that serialises webhook ingest across the replicas of one deployment.
//!
//! The component applies a delivery with kv read-modify-writes (a message's status
//! timeline, a customer's service window, an inbox summary). Within a replica the worker
//! ingests one delivery at a time; with several replicas on one Redis, two deliveries about
//! the same message could be applied at once and one status lost. So with Redis every
//! ingest runs under `<namespace>:lock:ingest`:
//!
//! - taken with `SET key <token> NX PX <ttl>`, the token random per ingest; a replica that
//!   finds it held retries with a short, jittered backoff, for at most the ttl (a holder
//!   cannot keep it longer), then reports a retryable failure (the entry stays pending);
//! - freed with a compare-and-delete script, so a replica whose lock expired never frees
//!   the lock another replica took since;
//! - the ttl is twice the longest a live replica can spend in one ingest (the runtime's
//!   slot wait plus its call deadline plus the one-second guard), so a live holder always
//!   finishes first; a replica that crashed holding it blocks the others for one ttl at
//!   most. The bound does not hold for a process frozen (SIGSTOP, a suspended VM) longer
//!   than the ttl: when it resumes, its ingest can overlap another's, and it logs so.
//! - Redis failing while the lock is taken or held: the ingest fails as retryable and the
//!   entry stays in the stream's pending list, to be applied later. A lock this replica may
//!   have left behind (the release failed, or the reply to `SET` was lost) is freed in the
//!   background once Redis answers again, so the others need not wait out the ttl (Redis
//!   keeps the key's expiry across a restart with AOF); it expires by itself at worst.
//!
//! The embedded file needs none of this (one process, one worker): the lock is a no-op.

use std::time::{Duration, Instant};

use crate::runtime::Runtime;
use crate::store::RedisHandle;

/// Frees the lock only when it still holds the caller's token: 1 when freed, else 0.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// First wait after finding the lock held; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(2);
/// Longest wait between two attempts to take a held lock.
const MAX_BACKOFF: Duration = Duration::from_millis(50);
/// How often a lock left behind during a Redis outage is tried again.
const FREE_RETRY: Duration = Duration::from_millis(250);
/// Shortest ttl, whatever the runtime's limits.
const MIN_TTL: Duration = Duration::from_secs(10);

/// The deployment's ingest lock (with Redis), or nothing to lock (the embedded file).
pub(super) struct IngestLock {
    target: Option<Target>,
}

#[derive(Clone)]
struct Target {
    redis: RedisHandle,
    key: String,
    ttl: Duration,
    release: redis::Script,
}

/// A lock this replica holds, until given to [`IngestLock::release`].
pub(super) struct Held {
    /// The value it holds in Redis; none for the embedded file.
    pub(super) token: Option<String>,
    /// When it expires at the latest.
    expires: Instant,
}

impl IngestLock {
    /// The lock for ingests into `runtime`'s store, its ttl from the runtime's limits.
    pub(super) fn for_runtime(runtime: &Runtime) -> IngestLock {
        let limits = runtime.limits();
        // The longest a live replica spends in one ingest: the wait for a webhook slot, the
        // call deadline, and the guard the runtime adds past it.
        let longest_ingest = limits.queue_timeout + limits.call_timeout + Duration::from_secs(1);
        IngestLock::new(
            runtime.capabilities().state.redis(),
            (longest_ingest * 2).max(MIN_TTL),
        )
    }

    /// The lock in `redis` (none without) with `ttl`.
    pub(super) fn new(redis: Option<&RedisHandle>, ttl: Duration) -> IngestLock {
        IngestLock {
            target: redis.map(|redis| Target {
                key: redis.key("lock:ingest"),
                redis: redis.clone(),
                ttl,
                release: redis::Script::new(RELEASE),
            }),
        }
    }

    /// Takes the lock, waiting while another replica holds it (at most the ttl). The error
    /// says why it could not be taken; the ingest is then retried later.
    pub(super) async fn acquire(&self) -> Result<Held, String> {
        let Some(t) = &self.target else {
            return Ok(Held {
                token: None,
                expires: Instant::now(),
            });
        };
        let token = format!("{}-{:032x}", std::process::id(), rand::random::<u128>());
        let started = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        loop {
            let mut cmd = redis::cmd("SET");
            cmd.arg(&t.key)
                .arg(&token)
                .arg("NX")
                .arg("PX")
                .arg(t.ttl.as_millis() as u64);
            let set: Option<String> = match cmd.query_async(&mut t.redis.connection()).await {
                Ok(set) => set,
                Err(e) => {
                    // The SET may have landed with its reply lost: free it once Redis answers.
                    t.free_later(token, Instant::now() + t.ttl);
                    return Err(format!(
                        "cannot take the webhook ingest lock: {}",
                        t.redis.error(e)
                    ));
                }
            };
            if set.is_some() {
                crate::admin::metrics::global().ingest_lock_wait(started.elapsed());
                return Ok(Held {
                    token: Some(token),
                    expires: Instant::now() + t.ttl,
                });
            }
            if started.elapsed() >= t.ttl {
                return Err(format!(
                    "the webhook ingest lock `{}` stayed held by other replicas for {} ms (its \
                     ttl); the delivery stays queued and is retried",
                    t.key,
                    t.ttl.as_millis()
                ));
            }
            // Jitter, so replicas waiting together do not retry in step.
            let jitter = Duration::from_micros(rand::random::<u64>() % 1000);
            tokio::time::sleep(backoff + jitter).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Frees the lock if it is still `held`'s; when Redis fails, retries in the background.
    pub(super) async fn release(&self, held: Held) {
        let (Some(t), Some(token)) = (&self.target, held.token) else {
            return;
        };
        match t.free(&token).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                ttl_ms = t.ttl.as_millis() as u64,
                "this webhook ingest outlived the ingest lock's ttl (the process was paused?); \
                 another replica may have ingested at the same time"
            ),
            Err(e) => {
                tracing::warn!(
                    error = %t.redis.error(e),
                    "cannot free the webhook ingest lock now; retrying in the background (it \
                     expires by itself within its ttl)"
                );
                t.free_later(token, held.expires);
            }
        }
    }
}

impl Target {
    /// Deletes the lock if it holds `token`: whether it did.
    async fn free(&self, token: &str) -> Result<bool, redis::RedisError> {
        let freed: i64 = self
            .release
            .key(&self.key)
            .arg(token)
            .invoke_async(&mut self.redis.connection())
            .await?;
        Ok(freed == 1)
    }

    /// Frees the lock if it holds `token`, retrying in the background until Redis answers
    /// or the lock has expired anyway (`until`).
    fn free_later(&self, token: String, until: Instant) {
        let target = self.clone();
        tokio::spawn(async move {
            while Instant::now() < until {
                tokio::time::sleep(FREE_RETRY).await;
                if target.free(&token).await.is_ok() {
                    return;
                }
            }
        });
    }
}
