//! The store's vocabulary: its tables, what sealed entries are, records,
//! errors, and the clock expiries are measured on.

use std::time::{SystemTime, UNIX_EPOCH};

/// The tables a caller can address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// The component's key-value store (the `kv` import).
    Kv,
    /// Acknowledged webhook deliveries waiting for the component, and the dead letters.
    WebhookQueue,
    /// The host's own bookkeeping (rate-limit counters, ...).
    Host,
}

/// The prefix of the component's inbox keys in `kv`: sealed at rest.
pub(crate) const INBOX_PREFIX: &str = "inbox/";

impl Table {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Kv => "kv",
            Table::WebhookQueue => "webhook_queue",
            Table::Host => "host",
        }
    }

    /// Whether the value under `key` is sealed at rest: webhook bodies and
    /// the inbox hold message text.
    pub(crate) fn sealed(self, key: &str) -> bool {
        match self {
            Table::WebhookQueue => true,
            Table::Kv => key.starts_with(INBOX_PREFIX),
            Table::Host => false,
        }
    }

    /// What a sealed value is bound to: its table and key.
    pub(crate) fn entry(self, key: &str) -> String {
        format!("{}/{key}", self.name())
    }

    /// Every table, for copies and checks.
    pub const ALL: [Table; 3] = [Table::Kv, Table::WebhookQueue, Table::Host];
}

/// Largest key the component may store.
pub(crate) const MAX_KEY_BYTES: usize = 512;
/// Largest value the component may store.
pub(crate) const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Why the store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The store could not be created, opened or configured.
    #[error("the state store at {path} cannot be opened: {reason}")]
    Open {
        /// The store file or URL (without its password).
        path: String,
        /// What went wrong, with the fix when there is one.
        reason: String,
    },
    /// A networked store did not answer (down, unreachable, too slow):
    /// worth retrying, the store recovers by itself when the server returns.
    #[error(
        "the state store {store} is unreachable: {reason}; retry in a moment (the gateway \
         reconnects by itself when it is back)"
    )]
    Unreachable {
        /// The store's URL, without its password.
        store: String,
        /// What the connection reported.
        reason: String,
    },
    /// A read or a write failed.
    #[error("the state store failed: {0}")]
    Storage(String),
    /// The writer thread is gone.
    #[error("the state store has shut down")]
    Closed,
}

impl StateError {
    /// Whether the same call may succeed later (the store was unreachable).
    pub fn retryable(&self) -> bool {
        matches!(self, StateError::Unreachable { .. })
    }
}

pub(crate) fn storage<E: std::fmt::Display>(e: E) -> StateError {
    crate::admin::metrics::global().store_error();
    StateError::Storage(e.to_string())
}

/// One stored entry as callers see it: its value unsealed, its expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The table it is in.
    pub table: Table,
    /// Its key.
    pub key: String,
    /// Its value (unsealed when read through [`StateStore::records`]).
    pub value: Vec<u8>,
    /// When it expires (Unix ms); `None` = never.
    pub expires_at_ms: Option<u64>,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
