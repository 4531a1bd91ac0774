//! The `connect` command: flags, the terminal's side of the flow, storing
//! the token and reporting what was set up.

use std::io::{IsTerminal as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use url::Url;
use zeroize::Zeroizing;

use super::config_file::write_ids;
use super::errors::ConnectError;
use super::flow::{FlowOptions, Subscription, run_flow};
use crate::graph_admin::{self, GraphAdmin, PhoneNumber};
use whatsapp_host::caps::vault::{self, Credential, Kind, Secret};
use whatsapp_host::config::{EnvSecrets, Settings};

/// The dialog's default host.
pub(crate) const DEFAULT_DIALOG_BASE_URL: &str = "https://www.facebook.com";
/// The default redirect port: a fixed one, because the redirect URI must be
/// registered in the app's Valid OAuth Redirect URIs.
pub(crate) const DEFAULT_REDIRECT_PORT: u16 = 8976;

/// `host-harness connect`'s flags.
#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// The Meta app's id (App Dashboard → App settings → Basic).
    #[arg(long, env = "WHATSAPP_APP_ID")]
    pub(crate) app_id: String,
    /// A Facebook Login for Business configuration id, used instead of scopes.
    #[arg(long)]
    pub(crate) config_id: Option<String>,
    /// Read the app secret from stdin; by default it comes from the vault
    /// (`whatsapp-app-secret`) or WHATSAPP_APP_SECRET.
    #[arg(long)]
    pub(crate) app_secret_stdin: bool,
    /// Port of the redirect listener on 127.0.0.1 (0 picks a free one). The redirect URI
    /// `http://127.0.0.1:PORT/callback` must be in the app's Valid OAuth Redirect URIs.
    #[arg(long, default_value_t = DEFAULT_REDIRECT_PORT)]
    pub(crate) redirect_port: u16,
    /// Use this phone number; without it, a WABA with several numbers asks which.
    #[arg(long)]
    pub(crate) phone_number_id: Option<String>,
    /// The vault name to store the token under.
    #[arg(long, default_value = vault::ACCESS_TOKEN)]
    pub(crate) name: String,
    /// Where the login dialog lives (a sandbox's URL for try-outs).
    #[arg(long, default_value = DEFAULT_DIALOG_BASE_URL)]
    pub(crate) dialog_base_url: String,
    /// Do not try to open a browser (the URL is printed either way).
    #[arg(long)]
    pub(crate) no_browser: bool,
    /// Do not subscribe the app to the WABA's webhooks.
    #[arg(long)]
    pub(crate) no_subscribe: bool,
    /// How long to wait for the browser's redirect.
    #[arg(long, default_value_t = 300)]
    pub(crate) timeout_secs: u64,
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
