//! 2025-11-25 sessions over streamable HTTP: bounded in number, ended when
//! idle, and each one usable only by the app that opened it.
//!
//! rmcp's [`LocalSessionManager`] keeps the sessions; [`OwnedSessions`]
//! wraps it to record who opened each one and to refuse new ones past the
//! cap. rmcp's `SessionManager` never sees the HTTP request, so the owner
//! reaches `create_session` through a task-local set by [`guard_sessions`],
//! the axum middleware in front of the service (rmcp awaits
//! `create_session` inline, in the request's own task). The same middleware
//! answers 404 to a request naming a session its app did not open, exactly
//! as for an unknown session, so a session id is worthless to another app,
//! and turns `initialize` past the cap into 503 with `Retry-After`.
//! 2026-07-28 requests are stateless: they open no session and never meet
//! the cap.
//!
//! With a replica id, every session id is `<replica id>.<random>`, so a load
//! balancer in front of several replicas can send a session's requests to
//! the replica that holds it by the id's prefix (rmcp's own ids are a bare
//! UUID). An id from another replica is unknown here: 404, and the client
//! initialises again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::response::IntoResponse as _;
use futures_core::Stream;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::WorkerTransport;
use rmcp::transport::common::server_side_http::session_id;
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError, LocalSessionWorker, create_local_session,
};
use rmcp::transport::streamable_http_server::session::{
    ServerSseMessage, SessionId, SessionManager,
};

use super::handler::AuthenticatedApp;
use crate::config::McpSettings;

/// The header naming a 2025-11-25 session.
const SESSION_HEADER: &str = "mcp-session-id";

/// How many sessions may live at once and how long an idle one is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLimits {
    /// Live sessions at most; past it, `initialize` gets 503.
    pub max_sessions: usize,
    /// A session with no request for this long is ended.
    pub idle: Duration,
}

impl From<&McpSettings> for SessionLimits {
    fn from(settings: &McpSettings) -> Self {
        SessionLimits {
            max_sessions: settings.max_sessions,
            idle: settings.session_idle(),
        }
    }
}

impl Default for SessionLimits {
    /// `[mcp]`'s defaults: 1000 sessions, 300 s idle.
    fn default() -> Self {
        SessionLimits::from(&McpSettings::default())
    }
}

/// The live sessions, each with the app that opened it.
pub(crate) struct SessionRegistry {
    limits: SessionLimits,
    state: Mutex<Registry>,
    /// Whether the cap's warning has been logged since the last time there
    /// was room: one line per episode, not one per refused `initialize`.
    warned_full: AtomicBool,
}

#[derive(Default)]
struct Registry {
    live: HashMap<SessionId, LiveSession>,
    /// Sessions being created: counted against the cap before they have an id.
    opening: usize,
}

struct LiveSession {
    /// The app whose key opened the session; `None` without app keys.
    owner: Option<String>,
    /// The owner's last request naming it (the idle clock's best estimate).
    last_seen: Instant,
}

/// What a request naming a session may do with it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// The caller's app opened it.
    Owner,
    /// Another app opened it: answered as if it did not exist.
    Stranger,
    /// No such session (never opened, closed or expired).
    Unknown,
}

impl SessionRegistry {
    pub(crate) fn new(limits: SessionLimits) -> SessionRegistry {
        SessionRegistry {
            limits,
            state: Mutex::default(),
            warned_full: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // The map stays consistent even if a holder panicked mid-update.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sessions alive now.
    #[cfg(test)]
    pub(crate) fn live(&self) -> usize {
        self.lock().live.len()
    }

    fn is_full(&self) -> bool {
        let state = self.lock();
        state.live.len() + state.opening >= self.limits.max_sessions
    }

    /// Counts a session about to be created, if there is room for it.
    fn reserve(self: &Arc<Self>) -> Option<Reservation> {
        let mut state = self.lock();
        if state.live.len() + state.opening >= self.limits.max_sessions {
            return None;
        }
        state.opening += 1;
        Some(Reservation {
            registry: self.clone(),
            done: false,
        })
    }

    fn forget(&self, id: &SessionId) {
        let mut state = self.lock();
        if state.live.remove(id).is_some() {
            crate::admin::metrics::global().session_change(-1);
            if state.live.len() + state.opening < self.limits.max_sessions {
                self.warned_full.store(false, Ordering::Relaxed);
            }
        }
    }

    /// Who may use session `id`; an owner's request also restarts its idle clock.
    pub(crate) fn access(&self, id: &str, caller: Option<&str>) -> Access {
        let mut state = self.lock();
        match state.live.get_mut(id) {
            None => Access::Unknown,
            Some(session) if session.owner.as_deref() == caller => {
                session.last_seen = Instant::now();
                Access::Owner
            }
            Some(_) => Access::Stranger,
        }
    }

    /// When the first idle session will have expired, by our clock: the
    /// earliest a new session can hope for room (at least one second).
    fn retry_after(&self) -> Duration {
        let now = Instant::now();
        self.lock()
            .live
            .values()
            .map(|s| (s.last_seen + self.limits.idle).saturating_duration_since(now))
            .min()
            .unwrap_or_default()
            .max(Duration::from_secs(1))
    }
}

/// A counted place for a session being created; given back unless the
/// session is recorded (also when the creating request is dropped midway).
struct Reservation {
    registry: Arc<SessionRegistry>,
    done: bool,
}

impl Reservation {
    fn record(mut self, id: SessionId, owner: Option<String>) {
        let mut state = self.registry.lock();
        state.opening -= 1;
        let last_seen = Instant::now();
        if state
            .live
            .insert(id, LiveSession { owner, last_seen })
            .is_none()
        {
            crate::admin::metrics::global().session_change(1);
        }
        self.done = true;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.done {
            self.registry.lock().opening -= 1;
        }
    }
}

/// Who is opening a session, for the request being served, and whether it
/// was refused for want of room (set by [`OwnedSessions::create_session`]).
struct Opening {
    owner: Option<String>,
    refused: Arc<AtomicBool>,
}

tokio::task_local! {
    static OPENING: Opening;
}

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OwnedSessionsError {
    /// The cap is reached (the middleware answers 503).
    #[error("{0} MCP sessions are live, the most allowed")]
    Full(usize),
    /// rmcp's own session error.
    #[error(transparent)]
    Local(#[from] LocalSessionManagerError),
}

/// rmcp's in-memory sessions, with an owner for each and a cap on how many.
pub(crate) struct OwnedSessions {
    local: LocalSessionManager,
    registry: Arc<SessionRegistry>,
    /// Prefixes every session id (`<replica>.<random>`); `None`: rmcp's ids.
    replica_id: Option<Arc<str>>,
}

impl OwnedSessions {
    /// `replica_id` must have passed [`crate::config::check_replica_id`].
    pub(crate) fn new(registry: Arc<SessionRegistry>, replica_id: Option<&str>) -> OwnedSessions {
        let mut local = LocalSessionManager::default();
        // rmcp's worker ends a session after this long without an event, and
        // then calls `close_session`, which forgets it here too.
        local.session_config.keep_alive = Some(registry.limits.idle);
        OwnedSessions {
            local,
            registry,
            replica_id: replica_id.map(Arc::from),
        }
    }

    /// rmcp's `create_session` with our id: the same worker and handle,
    /// registered in the same map, so every other call finds it as usual.
    async fn create_local(
        &self,
    ) -> Result<(SessionId, WorkerTransport<LocalSessionWorker>), LocalSessionManagerError> {
        let Some(replica) = &self.replica_id else {
            return self.local.create_session().await;
        };
        // The random part is rmcp's (a v4 UUID): as unguessable as before.
        let id: SessionId = format!("{replica}.{}", session_id()).into();
        let (handle, worker) = create_local_session(id.clone(), self.local.session_config.clone());
        self.local.sessions.write().await.insert(id.clone(), handle);
        Ok((id, WorkerTransport::spawn(worker)))
    }
}

impl SessionManager for OwnedSessions {
    type Error = OwnedSessionsError;
    type Transport = WorkerTransport<LocalSessionWorker>;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        let Some(reservation) = self.registry.reserve() else {
            // Only reached when concurrent `initialize`s race past the
            // middleware's check; it turns this error into 503.
            let _ = OPENING.try_with(|o| o.refused.store(true, Ordering::Relaxed));
            return Err(OwnedSessionsError::Full(self.registry.limits.max_sessions));
        };
        let (id, transport) = self.create_local().await?;
        // Outside the middleware (never on our router) the owner is `None`,
        // which no request with an app key matches: fails closed.
        let owner = OPENING.try_with(|o| o.owner.clone()).ok().flatten();
        reservation.record(id.clone(), owner);
        Ok((id, transport))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        Ok(self.local.initialize_session(id, message).await?)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        Ok(self.local.has_session(id).await?)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.registry.forget(id);
        Ok(self.local.close_session(id).await?)
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.local.create_stream(id, message).await?)
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        Ok(self.local.accept_message(id, message).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.local.create_standalone_stream(id).await?)
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.local.resume(id, last_event_id).await?)
    }
}

/// In front of the MCP service, behind the app-key check: a session is
/// usable only by its opener's app, and `initialize` past the cap gets 503.
pub(crate) async fn guard_sessions(
    registry: Arc<SessionRegistry>,
    max_body_bytes: usize,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let caller = request
        .extensions()
        .get::<AuthenticatedApp>()
        .map(|AuthenticatedApp(app)| app.clone());
    if let Some(id) = request.headers().get(SESSION_HEADER) {
        // A header that is not text names no session rmcp knows either.
        let id = id.to_str().unwrap_or_default();
        if registry.access(id, caller.as_deref()) == Access::Stranger {
            // The id is a credential of sorts: it stays out of the log.
            tracing::warn!(
                app = caller.as_deref().unwrap_or("-"),
                method = %request.method(),
                "request named an MCP session another app opened; answered as unknown (404)"
            );
            return unknown_session();
        }
        return next.run(request).await;
    }
    // Without a session id, only a POSTed `initialize` opens a session. The
    // body is read only when there is no room, the one case it decides.
    let request = if request.method() == http::Method::POST && registry.is_full() {
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, max_body_bytes).await else {
            return (
                http::StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is over {max_body_bytes} bytes"),
            )
                .into_response();
        };
        if is_initialize(&bytes) {
            return no_room(&registry);
        }
        axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))
    } else {
        request
    };
    let refused = Arc::new(AtomicBool::new(false));
    let opening = Opening {
        owner: caller,
        refused: refused.clone(),
    };
    let response = OPENING.scope(opening, next.run(request)).await;
    if refused.load(Ordering::Relaxed) {
        return no_room(&registry);
    }
    response
}

fn is_initialize(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|message| message.get("method").and_then(|m| m.as_str()) == Some("initialize"))
}

/// rmcp's answer for a session it does not know, word for word, so a
/// stranger cannot tell another app's session from a missing one.
fn unknown_session() -> axum::response::Response {
    (http::StatusCode::NOT_FOUND, "Not Found: Session not found").into_response()
}

/// 503 for an `initialize` past the cap: when to retry, and what else works.
fn no_room(registry: &SessionRegistry) -> axum::response::Response {
    let max = registry.limits.max_sessions;
    let retry = registry.retry_after().as_secs_f64().ceil() as u64;
    if !registry.warned_full.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            max_sessions = max,
            "MCP session cap reached: new sessions are refused (503) until one ends; \
             raise [mcp] max_sessions or lower [mcp] session_idle_secs if this is expected load"
        );
    }
    let description = format!(
        "this server already holds {max} MCP sessions, its limit ([mcp] max_sessions): retry in \
         {retry} s, end sessions you no longer use with DELETE, or send 2026-07-28 requests, \
         which need no session"
    );
    let body = serde_json::json!({"error": "too_many_sessions", "error_description": description});
    (
        http::StatusCode::SERVICE_UNAVAILABLE,
        [
            (http::header::RETRY_AFTER, retry.to_string()),
            (http::header::CONTENT_TYPE, "application/json".to_string()),
        ],
        body.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests;
