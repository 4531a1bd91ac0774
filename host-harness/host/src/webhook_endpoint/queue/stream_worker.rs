//! A replica's worker on the Redis Stream: takes over stale entries first (a replica that
//! died holding them), then new ones; applies each; acknowledges only once applied.
//!
//! A failed ingest is retried by the same replica after the backoff, taking the entry back
//! with `XCLAIM` only if it idled all that time (else another replica took it over and it is
//! theirs). Entries written by another replica are picked up by polling (every
//! `POLL_INTERVAL`), local ones at once; a blocking read would stall the connection the
//! store shares with every other call.

use std::time::Duration;

use tokio::sync::watch;

use super::file::FileQueue;
use super::ingest::{Ingest, Ingested};
use super::stream::{Content, StreamQueue, Taken};
use super::types::wait_or_stop;
use crate::store::StateError;

/// How often an idle worker looks for entries other replicas wrote or left.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// The longest wait between attempts to read the stream while Redis fails: short, so a
/// replica resumes soon after Redis returns.
const UNREADABLE_RETRY_MAX: Duration = Duration::from_secs(5);

/// A consumer idle this long with nothing pending belongs to a replica that is gone.
const GONE_CONSUMER_IDLE: Duration = Duration::from_secs(3600);

/// What became of one entry.
enum Outcome {
    /// Applied and acknowledged, or moved to the dead letters.
    Done,
    /// Left in the group's pending list (for another replica, or after a store error).
    Left,
    /// The worker is stopping.
    Stopped,
}

pub(super) async fn run(
    queue: &StreamQueue,
    table: &FileQueue,
    ingest: &Ingest,
    mut stop: watch::Receiver<bool>,
) {
    let opts = &ingest.options;
    let mut backoff = opts.retry_initial;
    let mut group_ready = false;
    tracing::info!(
        consumer = queue.consumer(),
        "webhook worker reading the Redis stream"
    );
    loop {
        if *stop.borrow() {
            break;
        }
        let batch = match next_batch(queue, table, ingest, &mut group_ready).await {
            Ok(batch) => batch,
            Err(e) => {
                tracing::error!(error = %e, "webhook queue unreadable; retrying");
                if wait_or_stop(&mut stop, backoff).await {
                    break;
                }
                backoff = (backoff * 2).min(opts.retry_max).min(UNREADABLE_RETRY_MAX);
                continue;
            }
        };
        backoff = opts.retry_initial;
        if batch.is_empty() {
            tokio::select! {
                _ = ingest.woken_within(POLL_INTERVAL) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
            continue;
        }
        for (taken, deliveries) in batch {
            if *stop.borrow() {
                // What is left stays pending: taken over after the claim timeout.
                break;
            }
            if let Outcome::Stopped = process(queue, ingest, &mut stop, taken, deliveries).await {
                return;
            }
        }
    }
}

/// Stale entries if any, else new ones; each with its delivery count.
async fn next_batch(
    queue: &StreamQueue,
    table: &FileQueue,
    ingest: &Ingest,
    group_ready: &mut bool,
) -> Result<Vec<(Taken, u64)>, StateError> {
    if !*group_ready {
        queue.ensure_group().await?;
        adopt(queue, table).await?;
        *group_ready = true;
        match queue.prune_consumers(GONE_CONSUMER_IDLE).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                consumers = n,
                "removed the webhook consumers of replicas long gone"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "cannot remove the consumers of replicas long gone")
            }
        }
    }
    let stale = queue.take_stale(ingest.options.claim_timeout).await?;
    if !stale.is_empty() {
        tracing::info!(
            entries = stale.len(),
            "took over webhook deliveries another consumer left unapplied"
        );
        return Ok(stale);
    }
    Ok(queue
        .take_new()
        .await?
        .into_iter()
        .map(|t| (t, 1))
        .collect())
}

/// Moves the deliveries a file queue left waiting (copied to Redis by `state copy`) into the
/// stream, oldest first. Added before removed: two replicas starting at once may both add one
/// (applied twice, harmlessly), but a crash between the two loses none.
async fn adopt(queue: &StreamQueue, table: &FileQueue) -> Result<(), StateError> {
    let waiting = table.queued().await?;
    if waiting.is_empty() {
        return Ok(());
    }
    for (key, body) in &waiting {
        queue.enqueue(body).await?;
        table.remove(key).await?;
    }
    tracing::info!(
        deliveries = waiting.len(),
        "moved the webhook deliveries a file queue left into the Redis stream"
    );
    Ok(())
}

async fn process(
    queue: &StreamQueue,
    ingest: &Ingest,
    stop: &mut watch::Receiver<bool>,
    taken: Taken,
    mut deliveries: u64,
) -> Outcome {
    let opts = &ingest.options;
    let max = u64::from(opts.max_attempts.max(1));
    let label = format!("{} ({})", taken.id, taken.suffix);
    let body = match &taken.content {
        Content::Body(body) => body.clone(),
        Content::Refused(reason) => {
            return dead_letter(queue, ingest, &taken, &[], reason, deliveries).await;
        }
        Content::OtherKey(reason) => {
            if deliveries > max {
                return dead_letter(queue, ingest, &taken, &[], reason, deliveries).await;
            }
            tracing::error!(key = %label, "a webhook delivery cannot be read here; {reason}");
            return Outcome::Left;
        }
    };
    if deliveries > max {
        // Taken over more often than allowed: whoever applies it dies or stalls.
        let reason = format!(
            "given to a replica {deliveries} times without being applied (each replica stopped \
             or stalled while applying it)"
        );
        return dead_letter(queue, ingest, &taken, &body, &reason, deliveries).await;
    }
    let mut backoff = opts.retry_initial;
    loop {
        let reason = match ingest.apply(&label, &body).await {
            Ingested::Applied => {
                if let Err(e) = queue.ack(&taken.id).await {
                    // Taken over and applied again after the claim timeout: harmless.
                    tracing::error!(key = %label, error = %e, "cannot acknowledge an applied webhook");
                }
                return Outcome::Done;
            }
            Ingested::Malformed(reason) => {
                return dead_letter(queue, ingest, &taken, &body, &reason, deliveries).await;
            }
            Ingested::Failed(reason) => reason,
        };
        if deliveries >= max {
            return dead_letter(queue, ingest, &taken, &body, &reason, deliveries).await;
        }
        ingest.count_retry();
        tracing::warn!(
            key = %label,
            attempt = deliveries,
            retry_in_ms = backoff.as_millis() as u64,
            reason = %reason,
            "webhook ingest failed; will retry"
        );
        if wait_or_stop(stop, backoff).await {
            return Outcome::Stopped;
        }
        match queue.retake(&taken.id, backoff).await {
            Ok(true) => deliveries += 1,
            Ok(false) => {
                tracing::debug!(key = %label, "another replica took the webhook over");
                return Outcome::Left;
            }
            Err(e) => {
                tracing::error!(key = %label, error = %e, "cannot take a failed webhook back; it stays pending");
                return Outcome::Left;
            }
        }
        backoff = (backoff * 2).min(opts.retry_max);
    }
}

async fn dead_letter(
    queue: &StreamQueue,
    ingest: &Ingest,
    taken: &Taken,
    body: &[u8],
    reason: &str,
    deliveries: u64,
) -> Outcome {
    let attempts = u32::try_from(deliveries).unwrap_or(u32::MAX);
    match queue.dead_letter(taken, body, reason, attempts).await {
        Ok(()) => {
            ingest.count_dead_letter(&format!("dead/{}", taken.suffix), attempts, reason);
            Outcome::Done
        }
        Err(e) => {
            tracing::error!(key = %taken.id, error = %e, "cannot move a webhook to the dead letters; it stays pending");
            Outcome::Left
        }
    }
}
