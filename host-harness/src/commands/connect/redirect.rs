//! The browser's side of Facebook Login: the authorization URL, and the
//! loopback listener the login dialog redirects to with `code` and `state`
//! (https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow/).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use axum::extract::{Query, State};
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

/// Serves `/callback` on `listener` until the first redirect arrives (or
/// `timeout` passes), calling `announce` once the listener is up, and
/// returns the code if the redirect approves the flow of `state`.
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
    let state_ok = p
        .get("state")
        .is_some_and(|s| bool::from(s.as_bytes().ct_eq(expected_state.as_bytes())));
    if let Some(error) = p.get("error") {
        // A denial with a state must carry ours; one without is harmless and still reported.
        if p.contains_key("state") && !state_ok {
            return Err(ConnectError::StateMismatch);
        }
        let description = p
            .get("error_description")
            .cloned()
            .unwrap_or_else(|| "no description".into());
        if error == "access_denied" {
            return Err(ConnectError::ConsentDenied {
                error: error.clone(),
                reason: p
                    .get("error_reason")
                    .cloned()
                    .unwrap_or_else(|| "not given".into()),
                description,
            });
        }
        return Err(ConnectError::AuthorizationFailed {
            error: error.clone(),
            description,
        });
    }
    if !state_ok {
        return Err(ConnectError::StateMismatch);
    }
    match p.get("code").filter(|c| !c.is_empty()) {
        Some(code) => Ok(Secret::new(code.as_bytes().to_vec())),
        None => Err(ConnectError::NoCode),
    }
}

#[derive(Clone)]
struct CallbackState {
    tx: mpsc::Sender<Callback>,
    state: String,
}

async fn callback_page(
    State(st): State<CallbackState>,
    Query(params): Query<HashMap<String, String>>,
) -> Html<&'static str> {
    let cb = Callback { params };
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
    // Only the first redirect counts; later ones find the channel full or closed.
    let _ = st.tx.try_send(cb);
    Html(page)
}
