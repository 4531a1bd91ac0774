//! The OAuth flow itself, from the authorization URL to a checked
//! long-lived token, its WABA and phone number, and the webhook subscription.

use std::net::SocketAddr;
use std::time::Duration;

use url::Url;
use zeroize::Zeroizing;

use super::errors::{ConnectError, code_exchange_error};
use super::redirect;
use crate::graph_admin::{self, Grant, GraphAdmin, PhoneNumber, TokenInfo};
use whatsapp_host::caps::vault::Secret;

/// How to run the flow.
#[derive(Clone, Debug)]
pub struct FlowOptions {
    /// The Meta app's id.
    pub app_id: String,
    /// The Meta app's secret (for the code exchange and the app token).
    pub app_secret: Secret,
    /// Facebook Login for Business configuration (replaces `scope`).
    pub config_id: Option<String>,
    /// `https://www.facebook.com`, or a sandbox's base URL.
    pub dialog_base_url: String,
    /// Where the redirect listener binds (127.0.0.1; port 0 picks one).
    pub listen: SocketAddr,
    /// Choose this phone number without asking.
    pub phone_number_id: Option<String>,
    /// Subscribe the app to the WABA's webhooks if it is not.
    pub subscribe: bool,
    /// How long to wait for the browser.
    pub timeout: Duration,
}

/// What happened to the webhook subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subscription {
    /// The app was subscribed before `connect` ran.
    AlreadySubscribed,
    /// `connect` subscribed the app.
    Subscribed,
    /// Not checked (`--no-subscribe`).
    Skipped,
    /// The token is stored all the same; `doctor` will say so too.
    Failed(String),
}

/// A completed flow.
#[derive(Debug)]
pub struct Connected {
    /// The long-lived access token.
    pub token: Secret,
    /// What `debug_token` says about it.
    pub info: TokenInfo,
    /// The WhatsApp Business Account the token manages.
    pub waba_id: String,
    /// The phone number chosen.
    pub phone_number: PhoneNumber,
    /// Every phone number of the WABA.
    pub phone_numbers: Vec<PhoneNumber>,
    /// What happened to the webhook subscription.
    pub subscription: Subscription,
    /// The redirect URI the dialog and the code exchange used.
    pub redirect_uri: String,
}

/// Runs the flow. `on_url` gets the authorization URL to show (or open);
/// `choose` picks among several phone numbers and returns the chosen id.
pub async fn run_flow(
    graph: &GraphAdmin,
    options: &FlowOptions,
    on_url: impl FnOnce(&Url),
    choose: impl FnOnce(&str, &[PhoneNumber]) -> Result<String, ConnectError>,
) -> Result<Connected, ConnectError> {
    let (listener, redirect_uri) = redirect::bind(options.listen).await?;
    let state = Zeroizing::new(redirect::random_state());
    let url = redirect::authorization_url(
        &options.dialog_base_url,
        graph.version(),
        &options.app_id,
        &redirect_uri,
        &state,
        options.config_id.as_deref(),
    )
    .map_err(|e| ConnectError::AuthorizationFailed {
        error: "bad dialog URL".into(),
        description: format!("{e:#}"),
    })?;
    let code = redirect::receive_code(listener, &state, options.timeout, || {
        tracing::info!(redirect_uri = %redirect_uri, "connect: waiting for the dialog's redirect");
        on_url(&url);
    })
    .await?;

    let short = graph
        .exchange_token(
            &options.app_id,
            &options.app_secret,
            Grant::Code {
                code: &code,
                redirect_uri: &redirect_uri,
            },
        )
        .await
        .map_err(code_exchange_error)?;
    let long = graph
        .exchange_token(
            &options.app_id,
            &options.app_secret,
            Grant::LongLived {
                token: &short.access_token,
            },
        )
        .await
        .map_err(|e| match e.code() {
            Some(1 | 101) => ConnectError::AppCredentials(e.to_string()),
            _ => ConnectError::Graph {
                step: "the long-lived token exchange (fb_exchange_token)",
                source: e,
            },
        })?;
    drop(short);
    let token = long.access_token;

    let app_token = graph_admin::app_token(&options.app_id, &options.app_secret);
    let info = graph
        .debug_token(&token, &app_token)
        .await
        .map_err(|e| ConnectError::Graph {
            step: "debug_token",
            source: e,
        })?;
    drop(app_token);
    if !info.is_valid {
        return Err(ConnectError::TokenInvalid(info.problem()));
    }
    if let Some(found) = &info.app_id
        && found != &options.app_id
    {
        return Err(ConnectError::WrongApp {
            expected: options.app_id.clone(),
            found: found.clone(),
        });
    }
    if let Some(scope) = info.missing_scopes().first() {
        return Err(ConnectError::MissingScope {
            scope,
            granted: if info.scopes.is_empty() {
                "none".into()
            } else {
                info.scopes.join(", ")
            },
            config_hint: if options.config_id.is_some() {
                " (with --config-id, add it to the Facebook Login for Business configuration)"
            } else {
                ""
            },
        });
    }
    let waba_id = info
        .waba_ids()
        .into_iter()
        .next()
        .ok_or(ConnectError::NoWaba)?;

    let numbers = graph
        .phone_numbers(&token, &waba_id)
        .await
        .map_err(|e| ConnectError::Graph {
            step: "listing the WABA's phone numbers",
            source: e,
        })?;
    let available = || {
        numbers
            .iter()
            .map(PhoneNumber::describe)
            .collect::<Vec<_>>()
            .join("; ")
    };
    let chosen_id = match (&options.phone_number_id, numbers.as_slice()) {
        (_, []) => {
            return Err(ConnectError::NoPhoneNumbers {
                waba_id: waba_id.clone(),
            });
        }
        (Some(wanted), _) => wanted.clone(),
        (None, [only]) => only.id.clone(),
        (None, several) => choose(&waba_id, several)?,
    };
    let phone_number = numbers
        .iter()
        .find(|p| p.id == chosen_id)
        .cloned()
        .ok_or_else(|| ConnectError::PhoneNotFound {
            wanted: chosen_id.clone(),
            waba_id: waba_id.clone(),
            available: available(),
        })?;

    let subscription = if !options.subscribe {
        Subscription::Skipped
    } else {
        subscribe(graph, &token, &waba_id, info.app_id.as_deref()).await
    };

    Ok(Connected {
        token,
        info,
        waba_id,
        phone_number,
        phone_numbers: numbers,
        subscription,
        redirect_uri,
    })
}

async fn subscribe(
    graph: &GraphAdmin,
    token: &Secret,
    waba_id: &str,
    app_id: Option<&str>,
) -> Subscription {
    match graph.subscribed_apps(token, waba_id).await {
        Ok(apps) if app_id.is_some_and(|id| apps.iter().any(|a| a.id == id)) => {
            return Subscription::AlreadySubscribed;
        }
        Ok(_) => {}
        Err(e) => return Subscription::Failed(e.to_string()),
    }
    match graph.subscribe_app(token, waba_id).await {
        Ok(true) => Subscription::Subscribed,
        Ok(false) => Subscription::Failed("Graph did not answer success: true".into()),
        Err(e) => Subscription::Failed(e.to_string()),
    }
}
