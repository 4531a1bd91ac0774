//! Each app's concurrency cap (`max_concurrent` in the policy): an app whose
//! calls are slow (or that floods) fills its own slots and then waits, at
//! most the runtime's queue timeout, instead of taking every instance the
//! runtime has from the other apps.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::tool::{ErrorKind, ToolError};

/// The running calls of each app, counted against its cap.
#[derive(Default)]
pub(super) struct AppSlots {
    /// Per app: the cap its semaphore was made for, and the semaphore.
    apps: Mutex<HashMap<String, (u32, Arc<Semaphore>)>>,
}

impl AppSlots {
    /// A slot for one call of `app`, capped at `max` (`None`: no cap, no slot
    /// needed). Waits until `give_up` at most; `waited` is what that allows,
    /// for the message.
    pub(super) async fn acquire(
        &self,
        app: &str,
        max: Option<u32>,
        give_up: Instant,
        waited: Duration,
    ) -> Result<Option<OwnedSemaphorePermit>, ToolError> {
        let Some(max) = max else {
            return Ok(None);
        };
        let semaphore = self.semaphore(app, max);
        let deadline = tokio::time::Instant::from_std(give_up);
        match tokio::time::timeout_at(deadline, semaphore.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Some(permit)),
            // Never closed; treated like a full app.
            Ok(Err(_)) | Err(_) => {
                tracing::warn!(
                    app,
                    max_concurrent = max,
                    "app at its concurrency cap; call refused as busy"
                );
                Err(app_busy(app, max, waited))
            }
        }
    }

    /// The app's semaphore; a new one when a reload changed its cap (calls
    /// running under the old one finish under it).
    fn semaphore(&self, app: &str, max: u32) -> Arc<Semaphore> {
        let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        match apps.get(app) {
            Some((cap, semaphore)) if *cap == max => semaphore.clone(),
            _ => {
                let semaphore = Arc::new(Semaphore::new(max as usize));
                apps.insert(app.to_string(), (max, semaphore.clone()));
                semaphore
            }
        }
    }
}

/// The app already runs `max` calls and none finished in time; nothing ran.
fn app_busy(app: &str, max: u32, waited: Duration) -> ToolError {
    ToolError::new(
        ErrorKind::Timeout,
        "Too many calls at once",
        format!(
            "the app `{app}` already has {max} calls running (its max_concurrent) and none \
             finished within {} ms, so this call did not start; nothing was sent",
            waited.as_millis()
        ),
        "retry when fewer of your calls are running (wait for their results first); the \
         operator can raise max_concurrent for this app in the policy",
    )
    .retryable(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_app_is_refused_as_retryable_while_another_app_gets_a_slot() {
        let slots = AppSlots::default();
        let now = Instant::now;
        let wait = Duration::from_millis(20);
        let held = slots.acquire("b", Some(1), now(), wait).await.unwrap();
        assert!(held.is_some());
        let refused = slots
            .acquire("b", Some(1), now() + wait, wait)
            .await
            .unwrap_err();
        assert!(refused.retryable, "{refused:?}");
        assert_eq!(refused.kind, ErrorKind::Timeout);
        assert!(refused.details.contains("`b`") && refused.details.contains("1 calls"));
        assert!(refused.hint.contains("max_concurrent"), "{}", refused.hint);
        assert!(slots.acquire("a", Some(1), now(), wait).await.is_ok());
        drop(held);
        assert!(slots.acquire("b", Some(1), now(), wait).await.is_ok());
    }

    #[tokio::test]
    async fn an_app_without_a_cap_takes_no_slot_and_a_changed_cap_applies_at_once() {
        let slots = AppSlots::default();
        let wait = Duration::from_millis(20);
        assert!(
            slots
                .acquire("default", None, Instant::now(), wait)
                .await
                .unwrap()
                .is_none()
        );
        let first = slots.acquire("b", Some(1), Instant::now(), wait).await;
        let raised = slots.acquire("b", Some(2), Instant::now(), wait).await;
        assert!(first.unwrap().is_some() && raised.unwrap().is_some());
    }
}
