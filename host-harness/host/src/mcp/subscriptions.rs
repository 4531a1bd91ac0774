//! Telling a connected client that a conversation changed, without polling.
//!
//! - 2025-11-25 sessions: `resources/subscribe` records a URI for the
//!   session; the session's first subscription starts one listener on the
//!   inbox broadcast ([`crate::inbox_events`]), which sends
//!   `notifications/resources/updated` for each subscribed URI a new message
//!   changes. It ends with the session (or its transport).
//! - 2026-07-28: `subscriptions/listen` with `resourceSubscriptions` naming
//!   our URIs; the same notifications go on that stream until the client
//!   closes it. Its listener subscribes when the filter is accepted, before
//!   the acknowledgement, so no message after the acknowledgement is missed.
//!
//! Either way a notification goes out only if the app may see the customer
//! now (the policy may have been reloaded since it subscribed), so an app
//! restricted to some recipients never hears of another customer. The
//! notification names the URI only: the client reads it to learn more.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};

use rmcp::RoleServer;
use rmcp::model::{ResourceUpdatedNotificationParam, SubscriptionFilter};
use rmcp::service::{Peer, SubscriptionContext};
use tokio::sync::broadcast::{self, error::RecvError};

use super::resources::Target;
use crate::gateway::ToolService;

/// One 2025-11-25 session's subscribed URIs (a stdio process is one session).
#[derive(Debug, Default)]
pub(crate) struct SessionSubscriptions {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Each URI as the client wrote it (notifications repeat it exactly).
    uris: BTreeMap<String, Target>,
    /// Whether the listener runs.
    listening: bool,
    /// A 2026-07-28 stream's listener, subscribed when its filter was
    /// accepted (before the acknowledgement), for its `listen` to take.
    pending_listen: Option<broadcast::Receiver<String>>,
}

impl SessionSubscriptions {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records `uri`; `true` when the session has no listener yet (the
    /// caller starts one).
    pub(crate) fn add(&self, uri: &str, target: Target) -> bool {
        let mut state = self.state();
        state.uris.insert(uri.to_string(), target);
        !std::mem::replace(&mut state.listening, true)
    }

    /// Forgets `uri` (unknown URIs are ignored, as the protocol allows).
    pub(crate) fn remove(&self, uri: &str) {
        self.state().uris.remove(uri);
    }

    /// Keeps `events` for the `subscriptions/listen` being acknowledged.
    pub(crate) fn hold_for_listen(&self, events: broadcast::Receiver<String>) {
        self.state().pending_listen = Some(events);
    }

    /// The listener held for a `subscriptions/listen`, if any.
    pub(crate) fn take_for_listen(&self) -> Option<broadcast::Receiver<String>> {
        self.state().pending_listen.take()
    }

    fn changed<S: ToolService>(&self, service: &S, app: &str, news: Option<&str>) -> Vec<String> {
        changed(self.state().uris.iter(), service, app, news)
    }
}

/// The URIs among `uris` that `news` changes for `app`: those about a
/// customer (E.164 with `+`) it may see, or, when the news was lost (the
/// listener fell behind), every one it may still read.
fn changed<'a, S: ToolService>(
    uris: impl Iterator<Item = (&'a String, &'a Target)>,
    service: &S,
    app: &str,
    news: Option<&str>,
) -> Vec<String> {
    uris.filter(|(_, target)| match news {
        Some(customer) => target.changed_by(service, app, customer),
        None => match target {
            Target::Conversations => true,
            Target::Conversation(digits) => service.may_see_customer(app, &format!("+{digits}")),
        },
    })
    .map(|(uri, _)| uri.clone())
    .collect()
}

/// The next customer with news; `None` if some were missed; `Err` once
/// the broadcast is gone.
async fn next_news(events: &mut broadcast::Receiver<String>) -> Result<Option<String>, ()> {
    match events.recv().await {
        Ok(customer) => Ok(Some(customer)),
        Err(RecvError::Lagged(missed)) => {
            tracing::debug!(
                missed,
                "inbox listener fell behind; notifying every subscription"
            );
            Ok(None)
        }
        Err(RecvError::Closed) => Err(()),
    }
}

/// A 2025-11-25 session's listener: runs until the session is dropped, its
/// transport closes or the broadcast ends. `events` was subscribed before
/// the `resources/subscribe` answer, so no message after it is missed.
pub(crate) async fn notify_session<S: ToolService>(
    service: Arc<S>,
    session: Weak<SessionSubscriptions>,
    peer: Peer<RoleServer>,
    app: String,
    mut events: broadcast::Receiver<String>,
) {
    while let Ok(news) = next_news(&mut events).await {
        let Some(subscriptions) = session.upgrade() else {
            return;
        };
        if peer.is_transport_closed() {
            return;
        }
        let uris = subscriptions.changed(service.as_ref(), &app, news.as_deref());
        drop(subscriptions);
        for uri in uris {
            let sent = peer
                .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                .await;
            if let Err(e) = sent {
                tracing::debug!(error = %e, "resource subscriptions of a closed session ended");
                return;
            }
        }
    }
}

/// The part of a `subscriptions/listen` filter we serve: the resource URIs
/// that are ours, possibly none (the stream is then acknowledged with an
/// empty filter and stays quiet: the tool list never changes).
pub(crate) fn accepted_filter(requested: &SubscriptionFilter) -> SubscriptionFilter {
    let ours = requested
        .resource_subscriptions
        .iter()
        .flatten()
        .filter(|uri| Target::parse(uri).is_some())
        .cloned();
    SubscriptionFilter::builder()
        .resource_subscriptions(ours)
        .build()
}

/// A 2026-07-28 `subscriptions/listen` stream for `app`: the accepted URIs
/// it may read get `notifications/resources/updated` until the client
/// closes the stream.
pub(crate) async fn listen<S: ToolService>(
    service: Arc<S>,
    app: String,
    context: SubscriptionContext,
    mut events: broadcast::Receiver<String>,
) {
    let uris: BTreeMap<String, Target> = context
        .accepted()
        .resource_subscriptions
        .iter()
        .flatten()
        .filter_map(|uri| Some((uri.clone(), Target::parse(uri)?)))
        .filter(|(_, target)| target.readable_by(service.as_ref(), &app))
        .collect();
    loop {
        let news = tokio::select! {
            _ = context.cancelled() => return,
            news = next_news(&mut events) => match news {
                Ok(news) => news,
                Err(()) => return,
            },
        };
        for uri in changed(uris.iter(), service.as_ref(), &app, news.as_deref()) {
            if let Err(e) = context.sink().notify_resource_updated(uri).await {
                tracing::debug!(error = %e, "resource subscription stream ended");
                return;
            }
        }
    }
}
