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

/// `host-harness sandbox`: the sandbox alone on `addr`, until Ctrl-C.
pub async fn run_standalone(addr: SocketAddr) -> anyhow::Result<ExitCode> {
    #[cfg(feature = "sandbox")]
    {
        whatsapp_sandbox::run_standalone(SandboxConfig::default(), addr).await?;
        Ok(ExitCode::SUCCESS)
    }
    #[cfg(not(feature = "sandbox"))]
    {
        let _ = addr;
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
