//! `host-harness connect`: Facebook Login for WhatsApp (reference §6).
//!
//! 1. A loopback listener on 127.0.0.1 and a random `state`; the user opens the
//!    authorization URL (`/{v}/dialog/oauth` with both WhatsApp scopes, or a
//!    Facebook Login for Business `config_id`).
//! 2. The dialog redirects to `http://127.0.0.1:PORT/callback` with `code` and
//!    the same `state` (or `error=access_denied`).
//! 3. The code is exchanged (`/oauth/access_token`), then exchanged again for a
//!    long-lived token (`grant_type=fb_exchange_token`).
//! 4. `debug_token` (authorised by the app token) confirms validity, app,
//!    expiry and both scopes; the WABA id is the first `whatsapp_business_management`
//!    target in `granular_scopes`; the phone-number ids come from
//!    `/{waba-id}/phone_numbers` (the user picks one when there are several).
//! 5. The app is subscribed to the WABA's webhooks unless it already is.
//!
//! The caller stores the token in the vault and writes the ids. Nothing here
//! logs or prints a secret; errors name what failed and how to fix it.

use std::collections::HashMap;
use std::io::{IsTerminal as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use axum::extract::{Query, State};
use axum::response::Html;
use clap::Args;
use rand::RngCore as _;
use subtle::ConstantTimeEq as _;
use tokio::sync::{mpsc, oneshot};
use url::Url;
use zeroize::Zeroizing;

use crate::graph_admin::{
    self, AdminError, GraphAdmin, PhoneNumber, SCOPE_MANAGEMENT, SCOPE_MESSAGING, TokenInfo,
};
use whatsapp_host::caps::vault::{self, Credential, Kind, Secret};
use whatsapp_host::config::{EnvSecrets, Settings};

/// The dialog's default host.
pub const DEFAULT_DIALOG_BASE_URL: &str = "https://www.facebook.com";
/// The default redirect port: a fixed one, because the redirect URI must be
/// registered in the app's Valid OAuth Redirect URIs.
pub const DEFAULT_REDIRECT_PORT: u16 = 8976;

/// Why `connect` failed. Never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "consent denied: the Facebook dialog answered error={error} (reason: {reason}; {description}). \
         Nothing was stored. Run `host-harness connect` again and approve access, keeping both \
         whatsapp_business_management and whatsapp_business_messaging checked"
    )]
    ConsentDenied {
        error: String,
        reason: String,
        description: String,
    },
    #[error(
        "the Facebook dialog answered with an error: {error} ({description}). Nothing was stored"
    )]
    AuthorizationFailed { error: String, description: String },
    #[error(
        "state mismatch: the redirect's `state` is not the one this `connect` sent, so the answer \
         belongs to another login attempt or was forged; nothing was exchanged. Run \
         `host-harness connect` again and use the URL it prints"
    )]
    StateMismatch,
    #[error("the redirect carried neither a code nor an error; run `host-harness connect` again")]
    NoCode,
    #[error(
        "the authorization code expired before it could be exchanged (codes are short-lived): \
         run `host-harness connect` again and finish the dialog promptly ({0})"
    )]
    CodeExpired(String),
    #[error(
        "the authorization code was already used (codes are single-use): run `host-harness \
         connect` again for a fresh one ({0})"
    )]
    CodeReused(String),
    #[error(
        "Graph refused the redirect URI for this code ({0}); the redirect URI must be identical \
         in the dialog and the exchange"
    )]
    RedirectMismatch(String),
    #[error(
        "Graph refused the app credentials ({0}): check --app-id and the app secret (App \
         Dashboard → App settings → Basic)"
    )]
    AppCredentials(String),
    #[error("{step} failed: {source}")]
    Graph {
        step: &'static str,
        #[source]
        source: AdminError,
    },
    #[error("the new token is not valid: {0}; run `host-harness connect` again")]
    TokenInvalid(String),
    #[error("the token belongs to app {found}, not {expected}: check --app-id and the app secret")]
    WrongApp { expected: String, found: String },
    #[error(
        "a scope is missing: the token was not granted `{scope}` (granted: {granted}). Run \
         `host-harness connect` again and keep `{scope}` checked in the dialog{config_hint}"
    )]
    MissingScope {
        scope: &'static str,
        granted: String,
        config_hint: &'static str,
    },
    #[error(
        "no WhatsApp Business Account found: the token grants whatsapp_business_management on \
         no WABA (debug_token's granular_scopes list none). In the dialog, select (or create) \
         the WhatsApp Business Account to share, then run `host-harness connect` again"
    )]
    NoWaba,
    #[error(
        "the WhatsApp Business Account {waba_id} has no phone numbers: add one in WhatsApp \
         Manager, then run `host-harness connect` again"
    )]
    NoPhoneNumbers { waba_id: String },
    #[error(
        "the phone number {wanted} is not in the WhatsApp Business Account {waba_id}; it has: {available}"
    )]
    PhoneNotFound {
        wanted: String,
        waba_id: String,
        available: String,
    },
    #[error(
        "the WhatsApp Business Account {waba_id} has several phone numbers ({available}): pass \
         --phone-number-id to choose one"
    )]
    ChoosePhone { waba_id: String, available: String },
    #[error(
        "no answer from the browser within {0} s: open the printed URL, approve, and let it \
         redirect to this machine; or raise --timeout-secs"
    )]
    Timeout(u64),
    #[error("cannot listen for the redirect on {addr}: {reason} (choose another --redirect-port)")]
    Listen { addr: SocketAddr, reason: String },
}

/// How to run the flow.
#[derive(Clone, Debug)]
pub struct FlowOptions {
    pub app_id: String,
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
    AlreadySubscribed,
    Subscribed,
    Skipped,
    /// The token is stored all the same; `doctor` will say so too.
    Failed(String),
}

/// A completed flow.
#[derive(Debug)]
pub struct Connected {
    pub token: Secret,
    pub info: TokenInfo,
    pub waba_id: String,
    pub phone_number: PhoneNumber,
    pub phone_numbers: Vec<PhoneNumber>,
    pub subscription: Subscription,
    pub redirect_uri: String,
}

/// What the redirect brought.
#[derive(Debug, Default)]
struct Callback {
    params: HashMap<String, String>,
}

/// The authorization URL for `redirect_uri` and `state`.
pub fn authorization_url(
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

fn random_state() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Runs the flow. `on_url` gets the authorization URL to show (or open);
/// `choose` picks among several phone numbers and returns the chosen id.
pub async fn run_flow(
    graph: &GraphAdmin,
    options: &FlowOptions,
    on_url: impl FnOnce(&Url),
    choose: impl FnOnce(&str, &[PhoneNumber]) -> Result<String, ConnectError>,
) -> Result<Connected, ConnectError> {
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| ConnectError::Listen {
            addr: options.listen,
            reason: e.to_string(),
        })?;
    let local = listener.local_addr().map_err(|e| ConnectError::Listen {
        addr: options.listen,
        reason: e.to_string(),
    })?;
    let redirect_uri = format!("http://{local}/callback");
    let state = Zeroizing::new(random_state());
    let url = authorization_url(
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

    let callback = {
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
        tracing::info!(redirect_uri = %redirect_uri, "connect: waiting for the dialog's redirect");
        on_url(&url);
        let received = tokio::time::timeout(options.timeout, rx.recv()).await;
        let _ = stop_tx.send(());
        // Let the page reach the browser before the listener goes.
        let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
        match received {
            Ok(Some(cb)) => cb,
            _ => return Err(ConnectError::Timeout(options.timeout.as_secs())),
        }
    };
    let code = check_callback(&callback, &state)?;

    let short = graph
        .exchange_code(&options.app_id, &options.app_secret, &redirect_uri, &code)
        .await
        .map_err(code_exchange_error)?;
    let long = graph
        .exchange_long_lived(&options.app_id, &options.app_secret, &short.access_token)
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

/// The code, if the redirect is an approval for this flow's `state`.
fn check_callback(callback: &Callback, expected_state: &str) -> Result<Secret, ConnectError> {
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

fn code_exchange_error(e: AdminError) -> ConnectError {
    let message = e.graph_message().unwrap_or_default().to_ascii_lowercase();
    match (e.code(), e.subcode()) {
        (Some(100), Some(36007)) => ConnectError::CodeExpired(e.to_string()),
        (Some(100), Some(36009)) => ConnectError::CodeReused(e.to_string()),
        (Some(100), Some(36008)) => ConnectError::RedirectMismatch(e.to_string()),
        (Some(100), _) if message.contains("expired") => ConnectError::CodeExpired(e.to_string()),
        (Some(100), _) if message.contains("been used") => ConnectError::CodeReused(e.to_string()),
        (Some(1 | 101), _) => ConnectError::AppCredentials(e.to_string()),
        _ => ConnectError::Graph {
            step: "the code exchange (oauth/access_token)",
            source: e,
        },
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

// ---------------------------------------------------------------- the command

#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// The Meta app's id (App Dashboard → App settings → Basic).
    #[arg(long, env = "WHATSAPP_APP_ID")]
    pub app_id: String,
    /// A Facebook Login for Business configuration id, used instead of scopes.
    #[arg(long)]
    pub config_id: Option<String>,
    /// Read the app secret from stdin; by default it comes from the vault
    /// (`whatsapp-app-secret`) or WHATSAPP_APP_SECRET.
    #[arg(long)]
    pub app_secret_stdin: bool,
    /// Port of the redirect listener on 127.0.0.1 (0 picks a free one). The redirect URI
    /// `http://127.0.0.1:PORT/callback` must be in the app's Valid OAuth Redirect URIs.
    #[arg(long, default_value_t = DEFAULT_REDIRECT_PORT)]
    pub redirect_port: u16,
    /// Use this phone number; without it, a WABA with several numbers asks which.
    #[arg(long)]
    pub phone_number_id: Option<String>,
    /// The vault name to store the token under.
    #[arg(long, default_value = vault::ACCESS_TOKEN)]
    pub name: String,
    /// Where the login dialog lives (a sandbox's URL for try-outs).
    #[arg(long, default_value = DEFAULT_DIALOG_BASE_URL)]
    pub dialog_base_url: String,
    /// Do not try to open a browser (the URL is printed either way).
    #[arg(long)]
    pub no_browser: bool,
    /// Do not subscribe the app to the WABA's webhooks.
    #[arg(long)]
    pub no_subscribe: bool,
    /// How long to wait for the browser's redirect.
    #[arg(long, default_value_t = 300)]
    pub timeout_secs: u64,
}

/// `host-harness connect`; `config` is the global `--config` file, updated with the ids.
pub async fn run(config: Option<&Path>, args: ConnectArgs) -> anyhow::Result<ExitCode> {
    crate::commands::vault::check_name(&args.name)?;
    let config_exists = config.is_some_and(Path::exists);
    let settings = Settings::load(config.filter(|_| config_exists))?;
    settings.validate()?;
    if let Some(id) = &args.phone_number_id
        && (id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()))
    {
        bail!("--phone-number-id `{id}` must be the numeric id from the WhatsApp Manager");
    }
    let app_secret = app_secret(&settings, args.app_secret_stdin)?;
    let graph = GraphAdmin::from_settings(&settings)?;
    let options = FlowOptions {
        app_id: args.app_id.clone(),
        app_secret,
        config_id: args.config_id.clone(),
        dialog_base_url: args.dialog_base_url.clone(),
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, args.redirect_port)),
        phone_number_id: args.phone_number_id.clone(),
        subscribe: !args.no_subscribe,
        timeout: Duration::from_secs(args.timeout_secs.max(1)),
    };
    let no_browser = args.no_browser;
    let connected = run_flow(
        &graph,
        &options,
        |url| {
            eprintln!("Open this URL in a browser and approve access for the app:\n\n  {url}\n");
            if !no_browser {
                open_browser(url);
            }
            eprintln!("Waiting for the redirect (Ctrl-C to give up)…");
        },
        ask_which_phone,
    )
    .await?;

    // Store the token.
    let credential = Credential {
        name: args.name.clone(),
        kind: Kind::AccessToken,
        secret: connected.token.clone(),
        bindings: vec![settings.token_binding()?],
        scopes: connected.info.scopes.clone(),
        expires_at: connected.info.expires_at,
    };
    let file = settings.vault_file(true)?;
    file.update(move |all| {
        all.retain(|c| c.name != credential.name);
        all.push(credential);
    })?;

    let now = graph_admin::now_unix();
    let mut out = String::new();
    out.push_str(&format!(
        "Connected: {} token of app {}\n",
        connected.info.token_type.as_deref().unwrap_or("user"),
        connected.info.app_id.as_deref().unwrap_or(&options.app_id)
    ));
    out.push_str(&format!(
        "  token:           stored as `{}` in the vault {}\n",
        args.name,
        file.path().display()
    ));
    out.push_str(&format!(
        "  scopes:          {}\n",
        connected.info.scopes.join(", ")
    ));
    out.push_str(&format!(
        "  expires:         {}\n",
        crate::commands::vault::describe_expiry(connected.info.expires_at, now)
    ));
    out.push_str(&format!("  waba_id:         {}\n", connected.waba_id));
    out.push_str(&format!(
        "  phone_number_id: {} ({})\n",
        connected.phone_number.id,
        connected
            .phone_number
            .display_phone_number
            .as_deref()
            .unwrap_or("no display number")
    ));
    if connected.phone_numbers.len() > 1 {
        out.push_str(&format!(
            "  other numbers:   {}\n",
            connected
                .phone_numbers
                .iter()
                .filter(|p| p.id != connected.phone_number.id)
                .map(PhoneNumber::describe)
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    out.push_str(&format!(
        "  webhooks:        {}\n",
        match &connected.subscription {
            Subscription::AlreadySubscribed => "the app was already subscribed to the WABA".into(),
            Subscription::Subscribed => "subscribed the app to the WABA's webhooks".into(),
            Subscription::Skipped => "not checked (--no-subscribe)".to_string(),
            Subscription::Failed(e) => format!(
                "could not subscribe the app ({e}); `host-harness doctor` explains the fix"
            ),
        }
    ));
    match config {
        Some(path) => {
            write_ids(path, &connected.waba_id, &connected.phone_number.id)?;
            out.push_str(&format!(
                "  config:          wrote waba_id and phone_number_id to [whatsapp] in {}\n",
                path.display()
            ));
        }
        None => out.push_str(&format!(
            "  config:          no --config given; set WHATSAPP_WABA_ID={} and \
             WHATSAPP_PHONE_NUMBER_ID={} (or put them in the [whatsapp] table of a config file)\n",
            connected.waba_id, connected.phone_number.id
        )),
    }
    out.push_str("Check the setup any time with `host-harness doctor`.\n");
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// The app secret: stdin with `--app-secret-stdin`, else the vault, else the environment.
fn app_secret(settings: &Settings, from_stdin: bool) -> anyhow::Result<Secret> {
    if from_stdin {
        let mut raw = Zeroizing::new(Vec::new());
        std::io::Read::read_to_end(
            &mut std::io::Read::take(std::io::stdin().lock(), 64 * 1024),
            &mut raw,
        )
        .context("cannot read the app secret from stdin")?;
        return crate::commands::vault::parse_secret(&raw, Kind::AppSecret);
    }
    let vault = settings.load_vault()?;
    if let Some(c) = vault.get(vault::APP_SECRET) {
        return Ok(c.secret.clone());
    }
    if let Some(s) = EnvSecrets::from_env().app_secret {
        return Ok(s);
    }
    bail!(
        "no app secret: store it with `host-harness vault set whatsapp-app-secret` (App \
         Dashboard → App settings → Basic → App secret), set WHATSAPP_APP_SECRET, or pipe it \
         with --app-secret-stdin"
    )
}

/// Asks on the terminal which phone number to use.
fn ask_which_phone(waba_id: &str, numbers: &[PhoneNumber]) -> Result<String, ConnectError> {
    let available = numbers
        .iter()
        .map(PhoneNumber::describe)
        .collect::<Vec<_>>()
        .join("; ");
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(ConnectError::ChoosePhone {
            waba_id: waba_id.into(),
            available,
        });
    }
    eprintln!("The WhatsApp Business Account {waba_id} has several phone numbers:");
    for (i, p) in numbers.iter().enumerate() {
        eprintln!("  {}. {}", i + 1, p.describe());
    }
    loop {
        eprint!("Which one should the connector use? [1-{}] ", numbers.len());
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        if stdin.read_line(&mut line).unwrap_or(0) == 0 {
            return Err(ConnectError::ChoosePhone {
                waba_id: waba_id.into(),
                available,
            });
        }
        let answer = line.trim();
        if let Ok(n) = answer.parse::<usize>()
            && (1..=numbers.len()).contains(&n)
        {
            return Ok(numbers[n - 1].id.clone());
        }
        if let Some(p) = numbers.iter().find(|p| p.id == answer) {
            return Ok(p.id.clone());
        }
        eprintln!("Type a number from 1 to {}.", numbers.len());
    }
}

/// Best effort: `xdg-open` (Linux) or `open` (macOS), detached and silent.
fn open_browser(url: &Url) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let spawned = std::process::Command::new(opener)
        .arg(url.as_str())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if spawned.is_err() {
        tracing::debug!(opener, "connect: could not start a browser");
    }
}

/// Sets `waba_id` and `phone_number_id` in the `[whatsapp]` table of the TOML
/// file at `path` (created if absent), keeping everything else as it was, and
/// writes it atomically.
pub fn write_ids(path: &Path, waba_id: &str, phone_number_id: &str) -> anyhow::Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let updated = set_whatsapp_ids(&text, waba_id, phone_number_id);
    let parsed: Settings = toml::from_str(&updated).with_context(|| {
        format!(
            "cannot update {} automatically; add `waba_id = \"{waba_id}\"` and \
             `phone_number_id = \"{phone_number_id}\"` to its [whatsapp] table",
            path.display()
        )
    })?;
    if parsed.whatsapp.waba_id.as_deref() != Some(waba_id)
        || parsed.whatsapp.phone_number_id.as_deref() != Some(phone_number_id)
    {
        bail!(
            "cannot update {} automatically; add `waba_id = \"{waba_id}\"` and \
             `phone_number_id = \"{phone_number_id}\"` to its [whatsapp] table",
            path.display()
        );
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("cannot write next to {}", path.display()))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(tmp.path(), meta.permissions());
    }
    tmp.write_all(updated.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// The line-level edit behind `write_ids` (values are numeric ids).
fn set_whatsapp_ids(text: &str, waba_id: &str, phone_number_id: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let is_header = |l: &str| l.trim_start().starts_with('[');
    let header = lines.iter().position(|l| {
        let t = l.trim();
        let t = t.split('#').next().unwrap_or("").trim();
        t.starts_with('[')
            && !t.starts_with("[[")
            && t.trim_start_matches('[').trim_end_matches(']').trim() == "whatsapp"
    });
    let values = [("waba_id", waba_id), ("phone_number_id", phone_number_id)];
    match header {
        None => {
            if lines.last().is_some_and(|l| !l.trim().is_empty()) {
                lines.push(String::new());
            }
            lines.push("[whatsapp]".into());
            for (k, v) in values {
                lines.push(format!("{k} = \"{v}\""));
            }
        }
        Some(h) => {
            let end = lines[h + 1..]
                .iter()
                .position(|l| is_header(l))
                .map_or(lines.len(), |i| h + 1 + i);
            let mut insert_at = lines[h + 1..end]
                .iter()
                .rposition(|l| !l.trim().is_empty())
                .map_or(h + 1, |i| h + 2 + i);
            for (k, v) in values {
                let existing = lines[h + 1..insert_at].iter().position(|l| {
                    l.trim_start()
                        .strip_prefix(k)
                        .is_some_and(|rest| rest.trim_start().starts_with('='))
                });
                match existing {
                    Some(i) => lines[h + 1 + i] = format!("{k} = \"{v}\""),
                    None => {
                        lines.insert(insert_at, format!("{k} = \"{v}\""));
                        insert_at += 1;
                    }
                }
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cb(pairs: &[(&str, &str)]) -> Callback {
        Callback {
            params: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn the_authorization_url_asks_for_both_scopes_or_a_configuration() {
        let url = authorization_url(
            "https://www.facebook.com",
            "v23.0",
            "123",
            "http://127.0.0.1:8976/callback",
            "s1",
            None,
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://www.facebook.com/v23.0/dialog/oauth?client_id=123&redirect_uri=http%3A%2F%2F127.0.0.1%3A8976%2Fcallback&state=s1&scope=whatsapp_business_management%2Cwhatsapp_business_messaging&response_type=code"
        );
        let url =
            authorization_url("http://127.0.0.1:9/", "v23.0", "1", "r", "s", Some("77")).unwrap();
        assert!(url.as_str().contains("config_id=77"));
        assert!(!url.as_str().contains("scope="));
    }

    #[test]
    fn states_are_random_and_long() {
        let (a, b) = (random_state(), random_state());
        assert_ne!(a, b);
        assert_eq!(a.len(), 48);
    }

    #[test]
    fn the_callback_needs_our_state_and_names_a_denial() {
        assert!(check_callback(&cb(&[("code", "c"), ("state", "s")]), "s").is_ok());
        assert!(matches!(
            check_callback(&cb(&[("code", "c"), ("state", "x")]), "s"),
            Err(ConnectError::StateMismatch)
        ));
        assert!(matches!(
            check_callback(&cb(&[("code", "c")]), "s"),
            Err(ConnectError::StateMismatch)
        ));
        let denied = check_callback(
            &cb(&[
                ("error", "access_denied"),
                ("error_reason", "user_denied"),
                ("error_description", "Permissions error"),
                ("state", "s"),
            ]),
            "s",
        )
        .unwrap_err();
        assert!(matches!(denied, ConnectError::ConsentDenied { .. }));
        assert!(denied.to_string().contains("user_denied"), "{denied}");
        assert!(matches!(
            check_callback(&cb(&[("state", "s")]), "s"),
            Err(ConnectError::NoCode)
        ));
    }

    #[test]
    fn code_exchange_errors_are_told_apart() {
        let graph = |sub: Option<i64>, msg: &str| AdminError::Graph {
            call: "x",
            status: 400,
            code: 100,
            subcode: sub,
            message: msg.into(),
        };
        assert!(matches!(
            code_exchange_error(graph(Some(36007), "x")),
            ConnectError::CodeExpired(_)
        ));
        assert!(matches!(
            code_exchange_error(graph(None, "This authorization code has been used.")),
            ConnectError::CodeReused(_)
        ));
        assert!(matches!(
            code_exchange_error(graph(Some(36008), "x")),
            ConnectError::RedirectMismatch(_)
        ));
    }

    #[test]
    fn the_ids_land_in_the_whatsapp_table_and_the_rest_is_kept() {
        let text = "# my config\n[whatsapp]\napi_version = \"v23.0\" # pinned\nwaba_id = \"1\"\n\n[state]\npath = \":memory:\"\n";
        let out = set_whatsapp_ids(text, "22", "33");
        assert_eq!(
            out,
            "# my config\n[whatsapp]\napi_version = \"v23.0\" # pinned\nwaba_id = \"22\"\nphone_number_id = \"33\"\n\n[state]\npath = \":memory:\"\n"
        );
        let s: Settings = toml::from_str(&out).unwrap();
        assert_eq!(s.state.path, ":memory:");
        let out = set_whatsapp_ids("[state]\npath = \"x\"\n", "22", "33");
        let s: Settings = toml::from_str(&out).unwrap();
        assert_eq!(s.whatsapp.waba_id.as_deref(), Some("22"));
        assert_eq!(s.whatsapp.phone_number_id.as_deref(), Some("33"));
        assert_eq!(s.state.path, "x");
        let s: Settings = toml::from_str(&set_whatsapp_ids("", "1", "2")).unwrap();
        assert_eq!(s.whatsapp.phone_number_id.as_deref(), Some("2"));
    }

    #[test]
    fn writing_ids_creates_or_updates_the_file_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        write_ids(&path, "5", "6").unwrap();
        write_ids(&path, "7", "6").unwrap();
        let s: Settings = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(s.whatsapp.waba_id.as_deref(), Some("7"));
        assert_eq!(s.whatsapp.phone_number_id.as_deref(), Some("6"));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }
}
