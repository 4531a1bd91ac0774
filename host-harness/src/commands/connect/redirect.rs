//! The browser's side of Facebook Login: the authorization URL, and the
//! loopback listener the login dialog redirects to with `code` and `state`
//! (https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow/).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use rand::RngCore as _;
use subtle::ConstantTimeEq as _;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use url::Url;

use super::errors::ConnectError;
use crate::graph_admin::{SCOPE_MANAGEMENT, SCOPE_MESSAGING};
use whatsapp_host::caps::vault::Secret;

/// What the redirect brought.
#[derive(Debug, Default)]
pub(super) struct Callback {
    pub(super) params: HashMap<String, String>,
}

/// The authorization URL for `redirect_uri` and `state`.
pub(super) fn authorization_url(
    dialog_base_url: &str,
    version: &str,
    app_id: &str,
    redirect_uri: &str,
    state: &str,
    config_id: Option<&str>,
) -> anyhow::Result<Url> {
    let mut url = Url::parse(dialog_base_url)
        .with_context(|| format!("the dialog base URL `{dialog_base_url}` is not a URL"))?;
    url.path_segments_mut()
        .map_err(|()| anyhow::anyhow!("the dialog base URL cannot carry a path"))?
        .pop_if_empty()
        .extend([version, "dialog", "oauth"]);
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", app_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state);
        match config_id {
            Some(id) => q.append_pair("config_id", id),
            None => q.append_pair("scope", &format!("{SCOPE_MANAGEMENT},{SCOPE_MESSAGING}")),
        };
        q.append_pair("response_type", "code");
    }
    Ok(url)
}

pub(super) fn random_state() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Binds the redirect listener; returns it and the redirect URI it answers.
pub(super) async fn bind(addr: SocketAddr) -> Result<(TcpListener, String), ConnectError> {
    let listen_error = |e: std::io::Error| ConnectError::Listen {
        addr,
        reason: e.to_string(),
    };
    let listener = TcpListener::bind(addr).await.map_err(listen_error)?;
    let local = listener.local_addr().map_err(listen_error)?;
    Ok((listener, format!("http://{local}/callback")))
}

/// Serves `/callback` on `listener` until the redirect for this flow's
/// `state` arrives (or `timeout` passes), calling `announce` once the
/// listener is up, and returns the code if the redirect approves the flow.
/// Requests without our `state` (any local page can reach the listener)
/// get an error page and are ignored: the flow keeps waiting.
pub(super) async fn receive_code(
    listener: TcpListener,
    state: &str,
    timeout: Duration,
    announce: impl FnOnce(),
) -> Result<Secret, ConnectError> {
    let (tx, mut rx) = mpsc::channel::<Callback>(1);
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let app = axum::Router::new()
        .route("/callback", axum::routing::get(callback_page))
        .with_state(CallbackState {
            tx,
            state: state.to_string(),
        });
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await;
    });
    announce();
    let received = tokio::time::timeout(timeout, rx.recv()).await;
    let _ = stop_tx.send(());
    // Let the page reach the browser before the listener goes.
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    match received {
        Ok(Some(callback)) => check_callback(&callback, state),
        _ => Err(ConnectError::Timeout(timeout.as_secs())),
    }
}

/// The code, if the redirect is an approval for this flow's `state`.
pub(super) fn check_callback(
    callback: &Callback,
    expected_state: &str,
) -> Result<Secret, ConnectError> {
    let p = &callback.params;
    let state_ok = state_matches(callback, expected_state);
    // Printed in the terminal: whatever sent them chose these texts.
    let text = |name: &str, absent: &str| {
        p.get(name)
            .map_or_else(|| absent.to_string(), |v| printable(v))
    };
    if p.contains_key("error") {
        let error = text("error", "");
        // A denial with a state must carry ours; one without is harmless and still reported.
        if p.contains_key("state") && !state_ok {
            return Err(ConnectError::StateMismatch);
        }
        let description = text("error_description", "no description");
        if error == "access_denied" {
            return Err(ConnectError::ConsentDenied {
                error,
                reason: text("error_reason", "not given"),
                description,
            });
        }
        return Err(ConnectError::AuthorizationFailed { error, description });
    }
    if !state_ok {
        return Err(ConnectError::StateMismatch);
    }
    match p.get("code").filter(|c| !c.is_empty()) {
        Some(code) => Ok(Secret::new(code.as_bytes().to_vec())),
        None => Err(ConnectError::NoCode),
    }
}

/// Whether the callback carries `expected_state` (compared in constant time).
fn state_matches(callback: &Callback, expected_state: &str) -> bool {
    callback
        .params
        .get("state")
        .is_some_and(|s| bool::from(s.as_bytes().ct_eq(expected_state.as_bytes())))
}

/// The longest text from the callback printed.
const MAX_PRINTED_CHARS: usize = 300;

/// `text` safe to print in a terminal: no control characters (escape
/// sequences, carriage returns, bells), no invisible or direction-changing
/// format characters, at most [`MAX_PRINTED_CHARS`] characters.
pub(super) fn printable(text: &str) -> String {
    let invisible = |c: char| {
        matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
    };
    let mut out: String = text
        .chars()
        .filter(|c| !c.is_control() && !invisible(*c))
        .take(MAX_PRINTED_CHARS)
        .collect();
    if text
        .chars()
        .filter(|c| !c.is_control() && !invisible(*c))
        .count()
        > MAX_PRINTED_CHARS
    {
        out.push('…');
    }
    out
}

#[derive(Clone)]
struct CallbackState {
    tx: mpsc::Sender<Callback>,
    state: String,
}

async fn callback_page(
    State(st): State<CallbackState>,
    Query(params): Query<HashMap<String, String>>,
) -> (StatusCode, Html<&'static str>) {
    let cb = Callback { params };
    if !state_matches(&cb, &st.state) {
        tracing::warn!("connect: ignored a request to the callback without this flow's state");
        return (
            StatusCode::BAD_REQUEST,
            Html(
                "<!DOCTYPE html><html><body><h1>Not this sign-in</h1>\
                 <p>This request does not belong to the running <code>host-harness connect</code>; \
                 it was ignored. Finish the sign-in in the window that command opened.</p></body></html>",
            ),
        );
    }
    let page = match check_callback(&cb, &st.state) {
        Ok(_) => {
            "<!DOCTYPE html><html><body><h1>Authorization received</h1>\
             <p>Return to your terminal: <code>host-harness connect</code> finishes there.</p></body></html>"
        }
        Err(ConnectError::ConsentDenied { .. }) => {
            "<!DOCTYPE html><html><body><h1>Access was denied</h1>\
             <p>Nothing was stored. Run <code>host-harness connect</code> again to retry.</p></body></html>"
        }
        Err(_) => {
            "<!DOCTYPE html><html><body><h1>This authorization cannot be used</h1>\
             <p>See your terminal for the reason.</p></body></html>"
        }
    };
    // Only the first redirect with our state counts; later ones find the channel full or closed.
    let _ = st.tx.try_send(cb);
    (StatusCode::OK, Html(page))
}
