//! The 24-hour customer-service window, from recorded inbound times.

use serde_json::{Map, Value};

use crate::host::Host;
use crate::store;
use crate::time::rfc3339;

pub(crate) const WINDOW_SECONDS: i64 = 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WindowState {
    Open,
    Closed,
    Unknown,
}

impl WindowState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            WindowState::Open => "open",
            WindowState::Closed => "closed",
            WindowState::Unknown => "unknown",
        }
    }
}

/// What is known about a user's window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) state: WindowState,
    pub(crate) last_inbound: Option<i64>,
    /// Why the state is unknown, when the store could not be read.
    pub(crate) store_error: Option<String>,
}

/// The window for `user` at `now` (Unix seconds). Open while
/// `now < last_inbound + 24 h`; exactly 24 h after is closed. With no record:
/// closed when webhooks feed the store, unknown otherwise.
///
/// When nothing is recorded under `user` (the number as sent), the window of
/// its other spelling is used (Brazil's extra 9, Mexico's 1, Argentina's 9:
/// [`crate::phone::aliases`]), and then that of the id an earlier send learnt
/// WhatsApp knows the number under (`wa_id`).
pub(crate) fn lookup(host: &dyn Host, user: &str, now: i64, webhooks_configured: bool) -> Window {
    let mut record = store::read_json(host, &store::window_key(user));
    for alias in crate::phone::aliases(user).iter().skip(1) {
        if let Ok(None) = record {
            record = store::read_json(host, &store::window_key(alias));
        }
    }
    if let Ok(None) = record
        && let Ok(Some(alias)) = store::read_json(host, &store::alias_key(user))
        && let Some(wa_id) = alias.get("wa_id").and_then(Value::as_str)
    {
        record = store::read_json(host, &store::window_key(wa_id));
    }
    match record {
        Ok(Some(v)) => match v.get("last_inbound").and_then(Value::as_i64) {
            Some(last) => Window {
                state: if now < last.saturating_add(WINDOW_SECONDS) {
                    WindowState::Open
                } else {
                    WindowState::Closed
                },
                last_inbound: Some(last),
                store_error: None,
            },
            None => Window {
                state: WindowState::Unknown,
                last_inbound: None,
                store_error: Some("corrupt window record".into()),
            },
        },
        Ok(None) => Window {
            state: if webhooks_configured {
                WindowState::Closed
            } else {
                WindowState::Unknown
            },
            last_inbound: None,
            store_error: None,
        },
        Err(e) => Window {
            state: WindowState::Unknown,
            last_inbound: None,
            store_error: Some(e),
        },
    }
}

impl Window {
    /// `{state, last_inbound_at?, closes_at?}` with RFC 3339 times.
    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("state".into(), Value::from(self.state.as_str()));
        if let Some(last) = self.last_inbound {
            m.insert("last_inbound_at".into(), Value::from(rfc3339(last)));
            m.insert(
                "closes_at".into(),
                Value::from(rfc3339(last.saturating_add(WINDOW_SECONDS))),
            );
        }
        Value::Object(m)
    }
}
