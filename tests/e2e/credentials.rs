//! Credentials from the user's side: `connect` (Facebook Login against the
//! sandbox, with an HTTP client playing the browser), `vault set|list|rm` and
//! `doctor`, through the library and through the real binary, and proof that
//! none of their output carries the token.

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use host_harness::commands::connect::{self, ConnectError, FlowOptions, Subscription};
use host_harness::graph_admin::{Grant, GraphAdmin, PhoneNumber};
use rand::RngCore as _;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
use url::Url;
use whatsapp_host::caps::vault::Secret;
use whatsapp_host::vault_file::{VaultFile, VaultKey};
use whatsapp_sandbox::{Consent, OAuthConfig, Sandbox, SandboxConfig, SandboxPhoneNumber};

const V: &str = "v23.0";
const MANAGEMENT: &str = "whatsapp_business_management";
const MESSAGING: &str = "whatsapp_business_messaging";
const SECOND_PHONE: &str = "109876543210987";

async fn sandbox(oauth: OAuthConfig) -> Sandbox {
    Sandbox::start(SandboxConfig {
        oauth,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts")
}

fn graph(sandbox: &Sandbox) -> GraphAdmin {
    GraphAdmin::new(&sandbox.base_url(), V).unwrap()
}

fn options(sandbox: &Sandbox) -> FlowOptions {
    FlowOptions {
        app_id: sandbox.config().oauth.app_id.clone(),
        app_secret: Secret::new(sandbox.config().app_secret.clone()),
        config_id: None,
        dialog_base_url: sandbox.base_url(),
        listen: "127.0.0.1:0".parse().unwrap(),
        phone_number_id: None,
        subscribe: true,
        timeout: Duration::from_secs(20),
    }
}

fn browser() -> reqwest::Client {
    whatsapp_host::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// The browser: opens the authorization URL and follows the dialog's redirect
/// to the loopback listener. Returns the final page's status.
async fn approve_in_browser(url: Url) -> u16 {
    let resp = browser()
        .get(url)
        .send()
        .await
        .expect("the browser gets an answer");
    resp.status().as_u16()
}

/// The dialog's redirect (Location), without following it.
async fn dialog_redirect(url: Url) -> Url {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client.get(url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 302, "the dialog redirects");
    Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap()
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn no_chooser(_: &str, _: &[PhoneNumber]) -> Result<String, ConnectError> {
    panic!("the flow must not ask which phone number")
}

/// Runs the flow with a browser that approves.
async fn connect_approving(
    sandbox: &Sandbox,
    options: FlowOptions,
) -> Result<connect::Connected, ConnectError> {
    connect::run_flow(
        &graph(sandbox),
        &options,
        |url| {
            tokio::spawn(approve_in_browser(url.clone()));
        },
        no_chooser,
    )
    .await
}

fn paths(sandbox: &Sandbox) -> Vec<String> {
    sandbox.requests().iter().map(|r| r.path.clone()).collect()
}

fn exchanged_a_code(sandbox: &Sandbox) -> bool {
    sandbox
        .requests()
        .iter()
        .any(|r| r.path.ends_with("/oauth/access_token"))
}

// ------------------------------------------------------------------ OAuth

#[tokio::test]
async fn connect_runs_the_whole_facebook_login_flow_and_discovers_the_waba_and_number() {
    let sb = sandbox(OAuthConfig {
        app_subscribed: false,
        ..OAuthConfig::default()
    })
    .await;
    let connected = connect_approving(&sb, options(&sb)).await.unwrap();
    let cfg = sb.config();
    assert_eq!(connected.waba_id, cfg.waba_id);
    assert_eq!(connected.phone_number.id, cfg.phone_number_id);
    assert!(connected.info.is_valid);
    assert_eq!(
        connected.info.app_id.as_deref(),
        Some(cfg.oauth.app_id.as_str())
    );
    for scope in [MANAGEMENT, MESSAGING] {
        assert!(connected.info.scopes.iter().any(|s| s == scope), "{scope}");
    }
    // The stored token is the long-lived one (~60 days), not the 2-hour one.
    let left = connected.info.expires_at.unwrap() - host_harness::graph_admin::now_unix();
    assert!(left > 59 * 86_400 && left <= 60 * 86_400, "{left}");
    assert_eq!(connected.subscription, Subscription::Subscribed);
    assert!(connected.redirect_uri.starts_with("http://127.0.0.1:"));

    // Every documented step happened, in order.
    let seen = paths(&sb);
    let steps = [
        "/v23.0/dialog/oauth",
        "/v23.0/oauth/access_token",
        "/v23.0/oauth/access_token",
        "/v23.0/debug_token",
        &format!("/v23.0/{}/phone_numbers", cfg.waba_id),
        &format!("/v23.0/{}/subscribed_apps", cfg.waba_id),
        &format!("/v23.0/{}/subscribed_apps", cfg.waba_id),
    ];
    let mut it = seen.iter();
    for step in steps {
        assert!(it.any(|p| p == step), "missing step {step} in {seen:?}");
    }
    let exchanges: Vec<_> = sb
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/oauth/access_token"))
        .collect();
    assert!(exchanges[0].query_pairs().iter().any(|(k, _)| k == "code"));
    assert!(
        exchanges[1]
            .query_pairs()
            .contains(&("grant_type".into(), "fb_exchange_token".into()))
    );

    // The sandbox accepts the token it issued on its other endpoints.
    let resp = browser()
        .get(format!(
            "{}/{V}/{}/whatsapp_business_profile",
            sb.base_url(),
            cfg.phone_number_id
        ))
        .bearer_auth(std::str::from_utf8(connected.token.expose()).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

#[tokio::test]
async fn connect_with_a_login_configuration_sends_config_id_instead_of_scopes() {
    let sb = sandbox(OAuthConfig::default()).await;
    let mut opts = options(&sb);
    opts.config_id = Some(sb.config().oauth.login_config_id.clone());
    let connected = connect_approving(&sb, opts).await.unwrap();
    assert!(connected.info.missing_scopes().is_empty());
    let dialog = sb
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/dialog/oauth"))
        .unwrap();
    let q = dialog.query_pairs();
    assert!(q.iter().any(|(k, _)| k == "config_id"));
    assert!(!q.iter().any(|(k, _)| k == "scope"));
}

#[tokio::test]
async fn a_denied_consent_is_reported_as_such_and_nothing_is_exchanged() {
    let sb = sandbox(OAuthConfig {
        consent: Consent::Deny,
        ..OAuthConfig::default()
    })
    .await;
    let e = connect_approving(&sb, options(&sb)).await.unwrap_err();
    assert!(matches!(e, ConnectError::ConsentDenied { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.starts_with("consent denied"), "{text}");
    assert!(
        text.contains("access_denied") && text.contains("user_denied"),
        "{text}"
    );
    assert!(!exchanged_a_code(&sb));
}

#[tokio::test]
async fn a_redirect_with_another_state_is_ignored_and_the_flow_waits_for_its_own() {
    let sb = sandbox(OAuthConfig::default()).await;
    let forged_page = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = forged_page.clone();
    let connected = connect::run_flow(
        &graph(&sb),
        &options(&sb),
        |url| {
            let url = url.clone();
            tokio::spawn(async move {
                // A forged redirect first: the real code with someone else's state.
                let redirect = dialog_redirect(url).await;
                let code = param(&redirect, "code").unwrap();
                let mut forged = redirect.clone();
                forged
                    .query_pairs_mut()
                    .clear()
                    .append_pair("code", &code)
                    .append_pair("state", "forged-state");
                let page = browser().get(forged).send().await.unwrap();
                *seen.lock().unwrap() = Some(page.status().as_u16());
                // Then the dialog's own redirect.
                browser().get(redirect).send().await.unwrap();
            });
        },
        no_chooser,
    )
    .await
    .expect("the flow ignored the forged redirect and took its own");
    assert_eq!(*forged_page.lock().unwrap(), Some(400));
    assert!(!connected.waba_id.is_empty());
}

#[tokio::test]
async fn an_expired_code_is_reported_as_expired() {
    let sb = sandbox(OAuthConfig {
        code_lifetime: Duration::ZERO,
        ..OAuthConfig::default()
    })
    .await;
    let e = connect_approving(&sb, options(&sb)).await.unwrap_err();
    assert!(matches!(e, ConnectError::CodeExpired(_)), "{e:?}");
    assert!(e.to_string().contains("expired"), "{e}");
}

#[tokio::test]
async fn a_code_used_once_already_is_reported_as_reused() {
    let sb = sandbox(OAuthConfig::default()).await;
    let admin = graph(&sb);
    let thief = admin.clone();
    let app_secret = Secret::new(sb.config().app_secret.clone());
    let app_id = sb.config().oauth.app_id.clone();
    let e = connect::run_flow(
        &admin,
        &options(&sb),
        move |url| {
            let url = url.clone();
            tokio::spawn(async move {
                // Someone exchanges the code first, then the browser delivers it.
                let redirect = dialog_redirect(url).await;
                let code = Secret::new(param(&redirect, "code").unwrap());
                let mut redirect_uri = redirect.clone();
                redirect_uri.set_query(None);
                thief
                    .exchange_token(
                        &app_id,
                        &app_secret,
                        Grant::Code {
                            code: &code,
                            redirect_uri: redirect_uri.as_str(),
                        },
                    )
                    .await
                    .expect("the first exchange works");
                browser().get(redirect).send().await.unwrap();
            });
        },
        no_chooser,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ConnectError::CodeReused(_)), "{e:?}");
    assert!(e.to_string().contains("already used"), "{e}");
}

#[tokio::test]
async fn a_scope_unticked_in_the_dialog_is_named() {
    let sb = sandbox(OAuthConfig {
        declined_scopes: vec![MESSAGING.into()],
        ..OAuthConfig::default()
    })
    .await;
    let e = connect_approving(&sb, options(&sb)).await.unwrap_err();
    assert!(
        matches!(e, ConnectError::MissingScope { scope, .. } if scope == MESSAGING),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(text.contains("`whatsapp_business_messaging`"), "{text}");
    assert!(
        text.contains("granted: whatsapp_business_management"),
        "{text}"
    );
}

#[tokio::test]
async fn a_token_granting_no_waba_is_reported_as_no_waba_found() {
    let sb = sandbox(OAuthConfig {
        no_waba: true,
        ..OAuthConfig::default()
    })
    .await;
    let e = connect_approving(&sb, options(&sb)).await.unwrap_err();
    assert!(matches!(e, ConnectError::NoWaba), "{e:?}");
    assert!(
        e.to_string().contains("no WhatsApp Business Account found"),
        "{e}"
    );
}

fn with_second_phone() -> OAuthConfig {
    OAuthConfig {
        second_phone_number: Some(SandboxPhoneNumber {
            id: SECOND_PHONE.into(),
            display_phone_number: "+1 555-010-2000".into(),
            verified_name: "Lucky Shrub Support".into(),
        }),
        ..OAuthConfig::default()
    }
}

#[tokio::test]
async fn several_phone_numbers_make_connect_ask_which_and_use_the_answer() {
    let sb = sandbox(with_second_phone()).await;
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = asked.clone();
    let connected = connect::run_flow(
        &graph(&sb),
        &options(&sb),
        |url| {
            tokio::spawn(approve_in_browser(url.clone()));
        },
        move |waba, numbers| {
            log.lock()
                .unwrap()
                .extend(numbers.iter().map(|p| p.id.clone()));
            assert!(!waba.is_empty());
            Ok(numbers[1].id.clone())
        },
    )
    .await
    .unwrap();
    assert_eq!(
        *asked.lock().unwrap(),
        [
            sb.config().phone_number_id.clone(),
            SECOND_PHONE.to_string()
        ]
    );
    assert_eq!(connected.phone_number.id, SECOND_PHONE);
    assert_eq!(connected.phone_numbers.len(), 2);

    // --phone-number-id answers without asking; an id not in the WABA is refused.
    let mut opts = options(&sb);
    opts.phone_number_id = Some(SECOND_PHONE.into());
    let connected = connect_approving(&sb, opts).await.unwrap();
    assert_eq!(connected.phone_number.id, SECOND_PHONE);
    let mut opts = options(&sb);
    opts.phone_number_id = Some("123".into());
    let e = connect_approving(&sb, opts).await.unwrap_err();
    assert!(matches!(e, ConnectError::PhoneNotFound { .. }), "{e:?}");
    assert!(e.to_string().contains(SECOND_PHONE), "{e}");
}

// ------------------------------------------------------------ the binary

/// The real binary with a temporary vault (key in WHATSAPP_VAULT_KEY) and
/// config directory, pointed at a sandbox; nothing from the user's environment.
struct Cli {
    dir: tempfile::TempDir,
    key: String,
    sandbox: Sandbox,
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            ok: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl Cli {
    async fn new(oauth: OAuthConfig) -> Cli {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Cli {
            dir: tempfile::tempdir().unwrap(),
            key: hex::encode(key),
            sandbox: sandbox(oauth).await,
        }
    }

    fn vault_path(&self) -> PathBuf {
        self.dir.path().join("vault.json")
    }

    fn token(&self) -> String {
        self.sandbox.config().access_token.clone()
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let cfg = self.sandbox.config();
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_host-harness"));
        cmd.args(["--log", "trace"])
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            .env("WHATSAPP_VAULT_PATH", self.vault_path())
            .env("WHATSAPP_VAULT_KEY", &self.key)
            .env("WHATSAPP_API_BASE_URL", self.sandbox.base_url())
            .env("WHATSAPP_API_VERSION", V)
            .env("WHATSAPP_WABA_ID", &cfg.waba_id)
            .env("WHATSAPP_PHONE_NUMBER_ID", &cfg.phone_number_id)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    async fn run(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = self.command(args).spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).await.unwrap();
        drop(input);
        let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("the binary finishes")
            .unwrap();
        Run::from(output)
    }

    async fn vault_set_token(&self, token: &str, extra: &[&str]) -> Run {
        let mut args = vec!["vault", "set", "whatsapp"];
        args.extend_from_slice(extra);
        self.run(&args, &format!("{token}\n")).await
    }

    async fn vault_list(&self) -> Value {
        let run = self.run(&["vault", "list", "--json"], "").await;
        assert!(run.ok, "{}", run.all());
        serde_json::from_str(&run.stdout).unwrap()
    }

    fn stored_secret(&self, name: &str) -> Option<Vec<u8>> {
        let file = VaultFile::new(self.vault_path(), VaultKey::from_hex(&self.key).unwrap());
        file.load()
            .unwrap()
            .into_iter()
            .find(|c| c.name == name)
            .map(|c| c.secret.expose().to_vec())
    }

    async fn doctor(&self) -> Run {
        self.run(&["doctor"], "").await
    }
}

fn line<'a>(text: &'a str, check: &str) -> &'a str {
    text.lines()
        .find(|l| l.get(6..).is_some_and(|rest| rest.starts_with(check)))
        .unwrap_or_else(|| panic!("no `{check}` line in:\n{text}"))
}

#[tokio::test]
async fn vault_set_stores_a_valid_system_user_token_with_the_scopes_and_expiry_debug_token_reports()
{
    let cli = Cli::new(OAuthConfig {
        access_token_expires_in: Some(Duration::from_secs(30 * 86_400)),
        ..OAuthConfig::default()
    })
    .await;
    let token = cli.token();
    let run = cli.vault_set_token(&token, &[]).await;
    assert!(run.ok, "{}", run.all());
    assert!(run.stdout.contains("stored `whatsapp`"), "{}", run.stdout);
    assert!(!run.all().contains(&token), "the token is in the output");
    assert_eq!(cli.stored_secret("whatsapp").unwrap(), token.as_bytes());
    let raw = std::fs::read(cli.vault_path()).unwrap();
    assert!(!raw.windows(token.len()).any(|w| w == token.as_bytes()));

    let list = cli.vault_list().await;
    let c = &list["credentials"][0];
    assert_eq!(c["name"], "whatsapp");
    assert_eq!(c["kind"], "access_token");
    assert_eq!(c["scopes"], serde_json::json!([MANAGEMENT, MESSAGING]));
    let expires = c["expires_at"].as_u64().unwrap();
    let expected = host_harness::graph_admin::now_unix() + 30 * 86_400;
    assert!(expires.abs_diff(expected) < 120, "{expires} vs {expected}");
    assert_eq!(c["bindings"][0], format!("{}/{V}/", cli.sandbox.base_url()));
    // The one request was debug_token about this token.
    let debug: Vec<_> = cli
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v23.0/debug_token")
        .collect();
    assert_eq!(debug.len(), 1);
}

#[tokio::test]
async fn vault_set_refuses_an_invalid_token_and_stores_nothing() {
    let cli = Cli::new(OAuthConfig::default()).await;
    let bogus = "EAAGbogus-token-that-graph-never-issued";
    let run = cli.vault_set_token(bogus, &[]).await;
    assert!(!run.ok);
    assert!(
        run.stderr.contains("the token is not valid"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was stored"), "{}", run.stderr);
    assert!(!run.all().contains(bogus));
    assert!(!cli.vault_path().exists());
}

#[tokio::test]
async fn vault_set_names_the_missing_whatsapp_scope() {
    let cli = Cli::new(OAuthConfig {
        access_token_scopes: vec![MANAGEMENT.into()],
        ..OAuthConfig::default()
    })
    .await;
    let run = cli.vault_set_token(&cli.token(), &[]).await;
    assert!(!run.ok);
    assert!(
        run.stderr
            .contains("lacks the permission `whatsapp_business_messaging`"),
        "{}",
        run.stderr
    );
    assert!(!run.all().contains(&cli.token()));
    assert!(!cli.vault_path().exists());
    // --no-validate stores it anyway, with the scopes given.
    let run = cli
        .vault_set_token(&cli.token(), &["--no-validate", "--scope", MANAGEMENT])
        .await;
    assert!(run.ok, "{}", run.all());
    assert_eq!(
        cli.vault_list().await["credentials"][0]["scopes"],
        serde_json::json!([MANAGEMENT])
    );
}

#[tokio::test]
async fn vault_list_shows_metadata_but_never_a_secret_and_rm_removes() {
    let cli = Cli::new(OAuthConfig::default()).await;
    let token = cli.token();
    assert!(cli.vault_set_token(&token, &[]).await.ok);
    let app_secret = "app-secret-9f8e7d6c5b4a";
    let run = cli
        .run(&["vault", "set", "whatsapp-app-secret"], app_secret)
        .await;
    assert!(run.ok, "{}", run.all());
    let custom = "custom-verify-token-1234";
    let run = cli
        .run(&["vault", "set", "hooks", "--kind", "verify-token"], custom)
        .await;
    assert!(run.ok, "{}", run.all());

    for args in [&["vault", "list"][..], &["vault", "list", "--json"][..]] {
        let run = cli.run(args, "").await;
        assert!(run.ok, "{}", run.all());
        let all = run.all();
        for secret in [token.as_str(), app_secret, custom] {
            assert!(!all.contains(secret), "{args:?} shows a secret:\n{all}");
        }
        for name in ["whatsapp", "whatsapp-app-secret", "hooks"] {
            assert!(run.stdout.contains(name), "{args:?}:\n{}", run.stdout);
        }
    }
    let table = cli.run(&["vault", "list"], "").await.stdout;
    let row = table.lines().find(|l| l.starts_with("whatsapp ")).unwrap();
    assert!(
        row.contains("access token") && row.contains("never"),
        "{row}"
    );
    assert!(row.contains(MESSAGING), "{row}");

    let run = cli.run(&["vault", "rm", "hooks"], "").await;
    assert!(run.ok, "{}", run.all());
    assert!(cli.stored_secret("hooks").is_none());
    assert!(cli.stored_secret("whatsapp").is_some());
    let run = cli.run(&["vault", "rm", "hooks"], "").await;
    assert!(
        !run.ok && run.stderr.contains("no credential `hooks`"),
        "{}",
        run.all()
    );
}

#[tokio::test]
async fn vault_set_takes_the_secret_from_stdin_only() {
    let cli = Cli::new(OAuthConfig::default()).await;
    // A secret on the command line is not an option; clap refuses the extra argument.
    let run = cli
        .run(&["vault", "set", "whatsapp", &cli.token()], "")
        .await;
    assert!(!run.ok);
    assert!(!cli.vault_path().exists());
    let run = cli.run(&["vault", "set", "whatsapp"], "").await;
    assert!(
        !run.ok && run.stderr.contains("no secret on stdin"),
        "{}",
        run.all()
    );
}

#[tokio::test]
async fn doctor_passes_a_healthy_setup_and_never_prints_the_token() {
    let cli = Cli::new(OAuthConfig::default()).await;
    assert!(cli.vault_set_token(&cli.token(), &[]).await.ok);
    let run = cli.doctor().await;
    assert!(run.ok, "{}", run.all());
    for check in [
        "access token",
        "token valid",
        "token expiry",
        "scopes",
        "WhatsApp Business Account",
        "phone number",
        "webhook subscription",
        "state store",
    ] {
        assert!(
            line(&run.stdout, check).starts_with("PASS"),
            "{}",
            run.stdout
        );
    }
    assert!(
        run.stdout.contains("8 passed, 0 warning(s), 0 failed"),
        "{}",
        run.stdout
    );
    assert!(
        !run.all().contains(&cli.token()),
        "the token is in doctor's output"
    );
}

#[tokio::test]
async fn doctor_warns_about_a_token_expiring_within_seven_days() {
    let cli = Cli::new(OAuthConfig {
        access_token_expires_in: Some(Duration::from_secs(3 * 86_400)),
        ..OAuthConfig::default()
    })
    .await;
    assert!(cli.vault_set_token(&cli.token(), &[]).await.ok);
    let run = cli.doctor().await;
    assert!(run.ok, "a warning is not a failure:\n{}", run.all());
    let expiry = line(&run.stdout, "token expiry");
    assert!(
        expiry.starts_with("WARN")
            && (expiry.contains("in 2 days") || expiry.contains("in 3 days")),
        "{expiry}"
    );
    assert!(run.stdout.contains("fix: before then"), "{}", run.stdout);
    assert!(!run.all().contains(&cli.token()));
}

#[tokio::test]
async fn doctor_fails_a_token_missing_a_scope_and_says_how_to_grant_it() {
    let cli = Cli::new(OAuthConfig {
        access_token_scopes: vec![MESSAGING.into()],
        ..OAuthConfig::default()
    })
    .await;
    let run = cli.vault_set_token(&cli.token(), &["--no-validate"]).await;
    assert!(run.ok, "{}", run.all());
    let run = cli.doctor().await;
    assert!(!run.ok, "a missing scope fails:\n{}", run.all());
    let scopes = line(&run.stdout, "scopes");
    assert!(
        scopes.starts_with("FAIL") && scopes.contains("`whatsapp_business_management`"),
        "{scopes}"
    );
    assert!(
        run.stdout
            .contains("fix: grant `whatsapp_business_management`"),
        "{}",
        run.stdout
    );
    // Without management the WABA cannot be read either: Graph's 200, with its fix.
    assert!(line(&run.stdout, "WhatsApp Business Account").starts_with("FAIL"));
    assert!(!run.all().contains(&cli.token()));
}

#[tokio::test]
async fn doctor_fails_when_the_app_is_not_subscribed_to_the_wabas_webhooks() {
    let cli = Cli::new(OAuthConfig {
        app_subscribed: false,
        ..OAuthConfig::default()
    })
    .await;
    assert!(cli.vault_set_token(&cli.token(), &[]).await.ok);
    let run = cli.doctor().await;
    assert!(!run.ok, "{}", run.all());
    let hooks = line(&run.stdout, "webhook subscription");
    assert!(
        hooks.starts_with("FAIL") && hooks.contains("no app is subscribed"),
        "{hooks}"
    );
    assert!(
        run.stdout.contains("/subscribed_apps`"),
        "the fix names the call:\n{}",
        run.stdout
    );
    assert!(line(&run.stdout, "token valid").starts_with("PASS"));
    assert!(!run.all().contains(&cli.token()));
}

#[tokio::test]
async fn doctor_fails_without_a_token_and_with_a_rejected_one() {
    let cli = Cli::new(OAuthConfig::default()).await;
    let run = cli.doctor().await;
    assert!(!run.ok);
    assert!(
        line(&run.stdout, "access token").starts_with("FAIL"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("host-harness connect"),
        "{}",
        run.stdout
    );

    assert!(cli.vault_set_token(&cli.token(), &[]).await.ok);
    cli.sandbox.set_token_expired(true);
    let run = cli.doctor().await;
    assert!(!run.ok);
    assert!(
        line(&run.stdout, "token valid").starts_with("FAIL"),
        "{}",
        run.stdout
    );
    assert!(line(&run.stdout, "webhook subscription").starts_with("SKIP"));
}

#[tokio::test]
async fn doctor_against_its_own_sandbox_passes() {
    let cli = Cli::new(OAuthConfig::default()).await;
    let run = cli.run(&["doctor", "--sandbox", "--json"], "").await;
    assert!(run.ok, "{}", run.all());
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["ok"], true);
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 8);
    assert!(checks.iter().all(|c| c["status"] == "PASS"), "{v}");
}

/// `connect` running as a child process, its authorization URL printed.
struct Connecting {
    child: tokio::process::Child,
    url: Url,
    /// stderr up to the URL; the rest is collected in the background.
    printed: String,
    rest: tokio::task::JoinHandle<String>,
}

impl Connecting {
    async fn finish(self) -> Run {
        let output = tokio::time::timeout(Duration::from_secs(60), self.child.wait_with_output())
            .await
            .expect("connect finishes")
            .unwrap();
        let mut run = Run::from(output);
        run.stderr = format!("{}{}", self.printed, self.rest.await.unwrap());
        run
    }
}

/// Starts `connect` with the app secret on stdin and waits for the printed
/// authorization URL.
async fn start_connect(cli: &Cli, global: &[&str]) -> Connecting {
    let cfg = cli.sandbox.config();
    let base = cli.sandbox.base_url();
    let mut args: Vec<&str> = global.to_vec();
    args.extend([
        "connect",
        "--app-id",
        &cfg.oauth.app_id,
        "--app-secret-stdin",
        "--redirect-port",
        "0",
        "--no-browser",
        "--dialog-base-url",
        &base,
    ]);
    let mut child = cli.command(&args).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(cfg.app_secret.as_bytes()).await.unwrap();
    drop(stdin);
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap());
    let mut printed = String::new();
    let prefix = format!("{base}/{V}/dialog/oauth?");
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let mut l = String::new();
            if stderr.read_line(&mut l).await.unwrap() == 0 {
                panic!("connect ended before printing the URL:\n{printed}");
            }
            printed.push_str(&l);
            if l.trim().starts_with(&prefix) {
                break Url::parse(l.trim()).unwrap();
            }
        }
    })
    .await
    .expect("connect prints the authorization URL");
    let rest = tokio::spawn(async move {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest).await;
        rest
    });
    Connecting {
        child,
        url,
        printed,
        rest,
    }
}

#[tokio::test]
async fn the_connect_command_stores_the_token_writes_the_ids_and_prints_no_secret() {
    let cli = Cli::new(OAuthConfig {
        app_subscribed: false,
        ..OAuthConfig::default()
    })
    .await;
    let config = cli.dir.path().join("connector.toml");
    std::fs::write(&config, "# mine\n[whatsapp]\napi_version = \"v23.0\"\n").unwrap();
    let config_arg = config.display().to_string();
    let connecting = start_connect(&cli, &["--config", &config_arg]).await;
    assert!(
        connecting.url.as_str().contains("state="),
        "{}",
        connecting.url
    );
    assert_eq!(approve_in_browser(connecting.url.clone()).await, 200);
    let run = connecting.finish().await;
    assert!(run.ok, "{}", run.all());
    let cfg = cli.sandbox.config();
    assert!(
        run.stdout
            .contains(&format!("waba_id:         {}", cfg.waba_id)),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("stored as `whatsapp` in the vault"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("subscribed the app"), "{}", run.stdout);

    // The token is in the vault, and nowhere in what the command printed.
    let token = cli.stored_secret("whatsapp").expect("the token is stored");
    let token = String::from_utf8(token).unwrap();
    let code = cli
        .sandbox
        .requests()
        .iter()
        .flat_map(|r| r.query_pairs())
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v)
        .expect("a code was exchanged");
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains(&token), "the token was printed");
        assert!(
            !text.contains(&cfg.app_secret),
            "the app secret was printed"
        );
        assert!(!text.contains(&code), "the authorization code was printed");
    }
    // The ids are in the config file, the rest of it untouched.
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(
        written.starts_with("# mine\n[whatsapp]\napi_version = \"v23.0\"\n"),
        "{written}"
    );
    assert!(
        written.contains(&format!("waba_id = \"{}\"", cfg.waba_id)),
        "{written}"
    );
    assert!(written.contains(&format!("phone_number_id = \"{}\"", cfg.phone_number_id)));
    // And the result is a setup doctor passes (connect subscribed the app).
    let list = cli.vault_list().await;
    assert_eq!(list["credentials"][0]["scopes"][1], MESSAGING);
    let run = cli.run(&["--config", &config_arg, "doctor"], "").await;
    assert!(run.ok, "{}", run.all());
    assert!(!run.all().contains(&token));
}

#[tokio::test]
async fn the_connect_command_without_a_terminal_asks_for_phone_number_id_when_there_are_several() {
    let cli = Cli::new(with_second_phone()).await;
    let connecting = start_connect(&cli, &[]).await;
    approve_in_browser(connecting.url.clone()).await;
    let run = connecting.finish().await;
    assert!(!run.ok);
    assert!(
        run.stderr.contains("several phone numbers"),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains(SECOND_PHONE) && run.stderr.contains("--phone-number-id"));
    assert!(cli.stored_secret("whatsapp").is_none(), "nothing is stored");
}
