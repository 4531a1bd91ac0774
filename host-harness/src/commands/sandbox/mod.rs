//! The in-process Cloud API sandbox behind `--sandbox`, `sandbox`, `demo`
//! and `bench`: the one module that knows whether this build has one.
//! Builds without the `sandbox` feature keep the commands and flags and say
//! plainly that they have no sandbox, instead of failing to parse them.

#[cfg(feature = "sandbox")]
pub(crate) mod endpoint;
#[cfg(all(test, not(feature = "sandbox")))]
mod tests;

use std::net::SocketAddr;
use std::process::ExitCode;

use whatsapp_host::config::{EnvSecrets, Settings};
use whatsapp_host::runtime::ComponentSource;

#[cfg(feature = "sandbox")]
pub use endpoint::endpoint;
#[cfg(feature = "sandbox")]
use whatsapp_sandbox::{Sandbox, SandboxConfig};

/// What a build without the sandbox answers to a command that needs one.
pub const NOT_BUILT: &str = "this build of host-harness has no Cloud API sandbox (it was built \
without the `sandbox` feature); use a default build (`cargo build -p host-harness`) for \
`--sandbox`, `sandbox`, `demo` and `bench`";

/// What a customer named with `--inbound-from` wrote just before the server
/// started: a question an agent can read with `whatsapp_get_messages` and answer.
pub(crate) const SEEDED_INBOUND_TEXT: &str = "Hi! Is my order ready for pickup?";

/// A sandbox started for one command, or (without the feature) never one.
pub(crate) struct LocalSandbox {
    #[cfg(feature = "sandbox")]
    inner: Sandbox,
    #[cfg(not(feature = "sandbox"))]
    never: std::convert::Infallible,
}

impl LocalSandbox {
    /// Starts a sandbox that delivers webhooks to `webhook_callback` (if
    /// any), with `inbound_from` having written to the business just now,
    /// and points `settings` and `secrets` at it.
    pub(crate) async fn start(
        webhook_callback: Option<String>,
        inbound_from: &[String],
        settings: &mut Settings,
        secrets: &mut EnvSecrets,
    ) -> anyhow::Result<LocalSandbox> {
        #[cfg(feature = "sandbox")]
        {
            let inner = Sandbox::start(SandboxConfig {
                webhook_callback,
                ..SandboxConfig::default()
            })
            .await?;
            for from in inbound_from {
                inner.simulate_inbound(from, SEEDED_INBOUND_TEXT);
            }
            settings.point_at(endpoint(&inner), secrets);
            Ok(LocalSandbox { inner })
        }
        #[cfg(not(feature = "sandbox"))]
        {
            let _ = (webhook_callback, inbound_from, settings, secrets);
            anyhow::bail!(NOT_BUILT)
        }
    }

    /// The sandbox's `http://127.0.0.1:PORT`.
    pub(crate) fn base_url(&self) -> String {
        #[cfg(feature = "sandbox")]
        return self.inner.base_url();
        #[cfg(not(feature = "sandbox"))]
        match self.never {}
    }

    /// The id of the Meta app the sandbox plays (for upload sessions).
    pub(crate) fn app_id(&self) -> String {
        #[cfg(feature = "sandbox")]
        return self.inner.config().oauth.app_id.clone();
        #[cfg(not(feature = "sandbox"))]
        match self.never {}
    }

    /// Asks the webhook endpoint to answer Meta's verification handshake.
    pub(crate) async fn verify_webhook(&self) -> anyhow::Result<()> {
        #[cfg(feature = "sandbox")]
        return self.inner.verify_webhook().await;
        #[cfg(not(feature = "sandbox"))]
        match self.never {}
    }

    /// A customer writes to the business now (a signed inbound webhook).
    pub(crate) fn simulate_inbound(&self, from: &str, text: &str) {
        #[cfg(feature = "sandbox")]
        self.inner.simulate_inbound(from, text);
        #[cfg(not(feature = "sandbox"))]
        {
            let _ = (from, text);
            match self.never {}
        }
    }

    /// How many inbound-message webhooks the sandbox has finished trying to
    /// deliver (delivered or given up).
    pub(crate) fn inbound_deliveries_finished(&self) -> usize {
        #[cfg(feature = "sandbox")]
        return self
            .inner
            .webhook_deliveries()
            .iter()
            .filter(|d| d.kind == whatsapp_sandbox::WebhookKind::Inbound)
            .count();
        #[cfg(not(feature = "sandbox"))]
        match self.never {}
    }

    /// Stops the sandbox.
    pub(crate) async fn shutdown(self) {
        #[cfg(feature = "sandbox")]
        self.inner.shutdown().await;
        #[cfg(not(feature = "sandbox"))]
        match self.never {}
    }
}

/// The environment variable `host-harness sandbox` reads the Meta app secret
/// from unless `--app-secret-env` names another.
pub const APP_SECRET_ENV: &str = "WHATSAPP_SANDBOX_APP_SECRET";
/// Likewise for the access token the sandbox accepts.
pub const ACCESS_TOKEN_ENV: &str = "WHATSAPP_SANDBOX_ACCESS_TOKEN";

/// How `host-harness sandbox` runs: where it listens, where it delivers its
/// signed webhooks, and the shared secrets taken from the environment.
#[derive(Debug, Default)]
pub struct StandaloneOptions {
    /// Loopback address to listen on.
    pub addr: Option<SocketAddr>,
    /// Where to POST the signed webhooks (statuses, inbound messages): one
    /// replica's `/webhook`, or a load balancer in front of several.
    pub webhook_url: Option<String>,
    /// The app secret webhooks are signed with, when given (else random).
    pub app_secret: Option<String>,
    /// The only access token accepted, when given (else random).
    pub access_token: Option<String>,
}

impl StandaloneOptions {
    /// Reads the secrets from the environment variables named (or the
    /// defaults, [`APP_SECRET_ENV`] and [`ACCESS_TOKEN_ENV`]) and checks the
    /// webhook URL. A variable named explicitly must be set and non-empty; a
    /// default one may be absent.
    pub fn from_env(
        addr: SocketAddr,
        webhook_url: Option<String>,
        app_secret_env: Option<&str>,
        access_token_env: Option<&str>,
    ) -> anyhow::Result<StandaloneOptions> {
        if let Some(url) = &webhook_url {
            check_webhook_url(url)?;
        }
        Ok(StandaloneOptions {
            addr: Some(addr),
            webhook_url,
            app_secret: secret_from_env(app_secret_env, APP_SECRET_ENV, "--app-secret-env")?,
            access_token: secret_from_env(
                access_token_env,
                ACCESS_TOKEN_ENV,
                "--access-token-env",
            )?,
        })
    }
}

/// A webhook URL must be an absolute `http` or `https` URL: the sandbox
/// POSTs to it as Meta would.
fn check_webhook_url(url: &str) -> anyhow::Result<()> {
    let parsed = url::Url::parse(url).map_err(|e| {
        anyhow::anyhow!(
            "--webhook-url {url:?} is not a URL ({e}); give the receiving endpoint in full, \
             e.g. http://127.0.0.1:8766/webhook"
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        anyhow::bail!(
            "--webhook-url {url:?} must be an http:// or https:// URL with a host, \
             e.g. http://127.0.0.1:8766/webhook"
        );
    }
    Ok(())
}

/// The value of the variable `named` (must be set) or of `default` (may be
/// absent); an empty value is refused either way.
fn secret_from_env(
    named: Option<&str>,
    default: &str,
    flag: &str,
) -> anyhow::Result<Option<String>> {
    let var = named.unwrap_or(default);
    match std::env::var(var) {
        Ok(value) if value.trim().is_empty() => {
            anyhow::bail!(
                "the environment variable {var} is empty; set it to the shared secret or unset it"
            )
        }
        Ok(value) => Ok(Some(value.trim().to_string())),
        Err(std::env::VarError::NotPresent) if named.is_none() => Ok(None),
        Err(std::env::VarError::NotPresent) => anyhow::bail!(
            "{flag} {var}: the environment variable {var} is not set; export it with the \
             shared secret (it is read from the environment so it stays out of `ps`)"
        ),
        Err(std::env::VarError::NotUnicode(_)) => {
            anyhow::bail!("the environment variable {var} is not valid UTF-8")
        }
    }
}

/// `host-harness sandbox`: the sandbox alone, until Ctrl-C.
pub async fn run_standalone(options: StandaloneOptions) -> anyhow::Result<ExitCode> {
    #[cfg(feature = "sandbox")]
    {
        let mut config = SandboxConfig {
            webhook_callback: options.webhook_url,
            ..SandboxConfig::default()
        };
        let given = whatsapp_sandbox::GivenCredentials {
            access_token: options.access_token.is_some(),
            app_secret: options.app_secret.is_some(),
        };
        if let Some(secret) = options.app_secret {
            config.app_secret = secret;
        }
        if let Some(token) = options.access_token {
            config.access_token = token;
        }
        let addr = options
            .addr
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8089)));
        whatsapp_sandbox::run_standalone(config, addr, given).await?;
        Ok(ExitCode::SUCCESS)
    }
    #[cfg(not(feature = "sandbox"))]
    {
        let _ = options;
        anyhow::bail!(NOT_BUILT)
    }
}

/// `host-harness demo`: exits 1 when a step of the story fails.
pub async fn run_demo(component: ComponentSource) -> anyhow::Result<ExitCode> {
    #[cfg(feature = "sandbox")]
    {
        let ok = super::demo::run(component).await?;
        Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
    #[cfg(not(feature = "sandbox"))]
    {
        let _ = component;
        anyhow::bail!(NOT_BUILT)
    }
}

/// `host-harness bench`: every measurement, or a short smoke run with `quick`.
pub async fn run_bench(component: ComponentSource, quick: bool) -> anyhow::Result<ExitCode> {
    #[cfg(feature = "sandbox")]
    {
        let options = if quick {
            super::bench::BenchOptions::quick()
        } else {
            super::bench::BenchOptions::full()
        };
        super::bench::run(component, options).await?;
        Ok(ExitCode::SUCCESS)
    }
    #[cfg(not(feature = "sandbox"))]
    {
        let _ = (component, quick);
        anyhow::bail!(NOT_BUILT)
    }
}
