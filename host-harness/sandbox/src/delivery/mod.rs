//! Webhooks the sandbox delivers, the way Meta does (https://developers.facebook.com/docs/whatsapp/cloud-api/guides/set-up-webhooks): signed POSTs of the
//! documented envelope to the configured callback, at least once, in no guaranteed order.
//!
//! What is delivered (only while a callback is configured):
//! - after each accepted send: `statuses` webhooks `sent` → `delivered` → `read` (at
//!   `WebhookBehaviour::{sent,delivered,read}_after`), or a single `failed` one carrying the
//!   error, for these documented rules:
//!   - **131047** a free-form (non-template) message to a user who has not written in the last
//!     24 hours. Meta accepts such a send and fails it later; so does the sandbox when a
//!     callback is set (without one it still answers 131047 synchronously);
//!   - **131026** a recipient whose number ends in `0000` (undeliverable);
//!   - **131053** a media `link` whose host is `unreachable.example` (or a subdomain of it) or
//!     whose path contains `/missing` (Meta cannot fetch it);
//! - `message_template_status_update` when a template's review ends (`APPROVED`, or `REJECTED`
//!   with reason `INVALID_FORMAT` for names starting with `reject_`), at the moment it ends;
//! - a `messages` webhook (contacts + messages) for every simulated inbound message.
//!
//! Each POST carries `X-Hub-Signature-256: sha256=<lower-case hex HMAC-SHA256 of the exact
//! body, keyed with the app secret>`. Bodies are JSON with non-ASCII characters escaped as
//! `\uXXXX` (lower-case hex), as Meta sends them: a receiver that re-serialises before checking
//! the signature fails on them. A delivery that gets no 2xx (or no answer) is retried with
//! exponential backoff, `max_attempts` times in all, then dropped.
//!
//! With `duplicate_and_reorder`, the status webhooks of each message go out in reverse order
//! (`read` first) and then each once more in natural order: a receiver must deduplicate and
//! never let a late `sent` overwrite `read`.
//!
//! Layout: `record` (what a delivery was, public), `failures` (the documented failure rules and
//! their error objects), `payload` (envelopes, escaping, signing, status ordering), `outbox`
//! (the queue the model writes to) and `dispatch` (the task that POSTs, with retries).

pub(crate) mod dispatch;
pub(crate) mod failures;
pub(crate) mod outbox;
pub(crate) mod payload;
pub(crate) mod record;

#[cfg(test)]
mod tests;
