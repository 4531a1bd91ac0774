//! The dispatcher: one task per sandbox that POSTs each queued webhook at its time, retrying
//! with backoff.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::outbox::{Inbox, Job};
use super::payload::signature;
use super::record::{DeliveryLog, WebhookDelivery, WebhookKind};
use crate::config::SandboxConfig;
use crate::util;

/// How many deliveries `Sandbox::webhook_deliveries` remembers.
const MAX_LOGGED_DELIVERIES: usize = 10_000;
/// Per-attempt timeout of a delivery.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// Called when a template review falls due; it brings the templates up to date, which queues
/// the status-update webhook. A callback, so that delivery needs nothing of the model.
pub(crate) type OnReviewDue = Arc<dyn Fn() + Send + Sync>;

/// Runs until shutdown: waits for jobs and delivers each at its time, concurrently.
pub(crate) async fn dispatch(
    mut inbox: Inbox,
    cfg: SandboxConfig,
    log: DeliveryLog,
    on_review_due: OnReviewDue,
    mut shutdown: watch::Receiver<bool>,
) {
    util::install_crypto_provider();
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(ATTEMPT_TIMEOUT)
        .user_agent("facebookexternalua")
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "sandbox: cannot build the webhook client; no webhooks");
            return;
        }
    };
    let cfg = Arc::new(cfg);
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            job = inbox.rx.recv() => {
                let Some(job) = job else { break };
                match job {
                    Job::Deliver { at, kind, body } => {
                        let client = client.clone();
                        let cfg = cfg.clone();
                        let callback = inbox.callback.clone();
                        let log = log.clone();
                        tasks.spawn(async move {
                            tokio::time::sleep_until(at.into()).await;
                            let record = deliver(&client, &cfg, &callback, kind, body).await;
                            if let Some(record) = record {
                                let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                                if log.len() >= MAX_LOGGED_DELIVERIES {
                                    log.pop_front();
                                }
                                log.push_back(record);
                            }
                        });
                    }
                    Job::ReviewDue(at) => {
                        let on_review_due = on_review_due.clone();
                        tasks.spawn(async move {
                            tokio::time::sleep_until((at + Duration::from_millis(1)).into()).await;
                            on_review_due();
                        });
                    }
                }
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

/// POSTs one webhook, retrying with backoff; `None` when no callback is set any more.
async fn deliver(
    client: &reqwest::Client,
    cfg: &SandboxConfig,
    callback: &Mutex<Option<String>>,
    kind: WebhookKind,
    body: Vec<u8>,
) -> Option<WebhookDelivery> {
    let signature = signature(cfg.app_secret.as_bytes(), &body);
    let b = &cfg.webhooks;
    let attempts_allowed = b.max_attempts.max(1);
    let mut backoff = b.retry_backoff;
    let mut record = WebhookDelivery {
        kind,
        body,
        signature,
        attempts: 0,
        last_status: None,
        delivered: false,
    };
    while record.attempts < attempts_allowed {
        if record.attempts > 0 {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
        let url = callback.lock().unwrap_or_else(|e| e.into_inner()).clone()?;
        record.attempts += 1;
        let sent = client
            .post(&url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", &record.signature)
            .body(record.body.clone())
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let status = resp.status();
                // Drain the body so the connection can be reused.
                let _ = resp.bytes().await;
                record.last_status = Some(status.as_u16());
                if status.is_success() {
                    record.delivered = true;
                    tracing::debug!(kind = ?kind, attempts = record.attempts, "sandbox: webhook delivered");
                    return Some(record);
                }
                tracing::debug!(kind = ?kind, status = %status, "sandbox: webhook refused; will retry");
            }
            Err(e) => {
                tracing::debug!(kind = ?kind, error = %e, "sandbox: webhook delivery failed; will retry");
            }
        }
    }
    tracing::warn!(
        kind = ?kind,
        attempts = record.attempts,
        "sandbox: webhook dropped after its last attempt"
    );
    Some(record)
}
