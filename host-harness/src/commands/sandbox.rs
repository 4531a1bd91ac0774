//! The in-process Cloud API sandbox behind `--sandbox`, `sandbox`, `demo`
//! and `bench`. Builds without the `sandbox` feature keep the flags and say
//! plainly that they have no sandbox, instead of failing to parse them.

use std::net::SocketAddr;

use whatsapp_host::caps::vault::Secret;
use whatsapp_host::config::{ApiEndpoint, EnvSecrets, Settings};

#[cfg(feature = "sandbox")]
pub use whatsapp_sandbox::{Sandbox, SandboxConfig};

/// What a build without the sandbox answers to a command that needs one.
pub const NOT_BUILT: &str = "this build of host-harness has no Cloud API sandbox (it was built \
without the `sandbox` feature); use a default build (`cargo build -p host-harness`) for \
`--sandbox`, `sandbox`, `demo` and `bench`";

/// The sandbox an [`ApiEndpoint`] describes: its URL, account and secrets.
#[cfg(feature = "sandbox")]
pub fn endpoint(sandbox: &Sandbox) -> ApiEndpoint {
    let cfg = sandbox.config();
    ApiEndpoint {
        base_url: sandbox.base_url(),
        phone_number_id: cfg.phone_number_id.clone(),
        waba_id: cfg.waba_id.clone(),
        access_token: Secret::new(cfg.access_token.clone()),
        app_secret: Secret::new(cfg.app_secret.clone()),
        verify_token: Secret::new(cfg.verify_token.clone()),
        delivers_webhooks: sandbox.webhook_callback().is_some(),
    }
}

/// A sandbox started for one command, or (without the feature) never one.
pub struct LocalSandbox {
    #[cfg(feature = "sandbox")]
    inner: Sandbox,
    #[cfg(not(feature = "sandbox"))]
    never: std::convert::Infallible,
}

impl LocalSandbox {
    /// Starts a sandbox that delivers webhooks to `webhook_callback` (if
    /// any), with `inbound_from` having written to the business just now,
    /// and points `settings` and `secrets` at it.
    pub async fn start(
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
                inner.simulate_inbound(from, "hello");
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

    pub fn base_url(&self) -> String {
        #[cfg(feature = "sandbox")]
        return self.inner.base_url();
        #[cfg(not(feature = "sandbox"))]
        match self.never {}
    }

    /// Asks the webhook endpoint to answer Meta's verification handshake.
    pub async fn verify_webhook(&self) -> anyhow::Result<()> {
        #[cfg(feature = "sandbox")]
        return self.inner.verify_webhook().await;
        #[cfg(not(feature = "sandbox"))]
        match self.never {}
    }

    /// A customer writes to the business now (a signed inbound webhook).
    pub fn simulate_inbound(&self, from: &str, text: &str) {
        #[cfg(feature = "sandbox")]
        self.inner.simulate_inbound(from, text);
        #[cfg(not(feature = "sandbox"))]
        match self.never {}
    }

    pub async fn shutdown(self) {
        #[cfg(feature = "sandbox")]
        self.inner.shutdown().await;
        #[cfg(not(feature = "sandbox"))]
        match self.never {}
    }
}

/// `host-harness sandbox`: the sandbox alone on `addr`, until Ctrl-C.
pub async fn run_standalone(addr: SocketAddr) -> anyhow::Result<()> {
    #[cfg(feature = "sandbox")]
    return whatsapp_sandbox::run_standalone(SandboxConfig::default(), addr).await;
    #[cfg(not(feature = "sandbox"))]
    {
        let _ = addr;
        anyhow::bail!(NOT_BUILT)
    }
}
