//! `[whatsapp]`: which account and API version the connector talks to, and
//! how it treats the 24-hour customer service window.

use anyhow::{Context as _, bail};
use serde::Deserialize;

use crate::caps::allowlist::{Binding, Origin};

use super::endpoint::ApiEndpoint;

/// The Graph API version used unless `api_version` says otherwise.
pub(crate) const DEFAULT_API_VERSION: &str = "v23.0";
/// Meta's Graph API.
pub(crate) const DEFAULT_API_BASE_URL: &str = "https://graph.facebook.com";

/// The `[whatsapp]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WhatsApp {
    /// The business phone number's id (env `WHATSAPP_PHONE_NUMBER_ID`).
    pub phone_number_id: Option<String>,
    /// The WhatsApp Business Account's id (env `WHATSAPP_WABA_ID`).
    pub waba_id: Option<String>,
    /// Graph API version like `v23.0` (env `WHATSAPP_API_VERSION`).
    pub api_version: String,
    /// Where the Graph API is (env `WHATSAPP_API_BASE_URL`).
    pub api_base_url: String,
    /// Free-form sends outside the 24-hour window (env `WHATSAPP_WINDOW_POLICY`).
    pub window_policy: WindowPolicy,
    /// Ask `message_history` when no webhook has reported a message's status.
    pub message_history_fallback: bool,
    /// Set when Meta's webhooks reach this host (`serve --webhook`).
    pub webhooks_configured: bool,
    /// Accept an `http://` `api_base_url` on a host that is not loopback
    /// (env `WHATSAPP_ALLOW_INSECURE_HTTP`): the token would cross the
    /// network in cleartext.
    pub allow_insecure_http: bool,
}

impl Default for WhatsApp {
    fn default() -> Self {
        WhatsApp {
            phone_number_id: None,
            waba_id: None,
            api_version: DEFAULT_API_VERSION.into(),
            api_base_url: DEFAULT_API_BASE_URL.into(),
            window_policy: WindowPolicy::default(),
            message_history_fallback: false,
            webhooks_configured: false,
            allow_insecure_http: false,
        }
    }
}

/// What to do with free-form sends outside the 24-hour window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowPolicy {
    /// Send without looking at the window.
    Off,
    /// Send, and say in the result that the window is closed or unknown. The
    /// default: without webhooks the host sees no inbound messages, and
    /// `enforce` would refuse every free-form send.
    #[default]
    Warn,
    /// Refuse free-form sends outside the window before they leave.
    Enforce,
}

impl WindowPolicy {
    /// The name in the settings file and in the component's config.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            WindowPolicy::Off => "off",
            WindowPolicy::Warn => "warn",
            WindowPolicy::Enforce => "enforce",
        }
    }

    fn parse(text: &str) -> anyhow::Result<WindowPolicy> {
        match text.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(WindowPolicy::Off),
            "warn" => Ok(WindowPolicy::Warn),
            "enforce" => Ok(WindowPolicy::Enforce),
            other => bail!("window policy `{other}` is not one of off, warn, enforce"),
        }
    }
}

impl WhatsApp {
    pub(super) fn apply_env(
        &mut self,
        get: &impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<()> {
        if let Some(v) = get("WHATSAPP_PHONE_NUMBER_ID") {
            self.phone_number_id = Some(v);
        }
        if let Some(v) = get("WHATSAPP_WABA_ID") {
            self.waba_id = Some(v);
        }
        if let Some(v) = get("WHATSAPP_API_VERSION") {
            self.api_version = v;
        }
        if let Some(v) = get("WHATSAPP_API_BASE_URL") {
            self.api_base_url = v;
        }
        if let Some(v) = get("WHATSAPP_WINDOW_POLICY") {
            self.window_policy = WindowPolicy::parse(&v)?;
        }
        if let Some(v) = get("WHATSAPP_ALLOW_INSECURE_HTTP") {
            self.allow_insecure_http = match v.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" => false,
                other => bail!("WHATSAPP_ALLOW_INSECURE_HTTP `{other}` must be true or false"),
            };
        }
        Ok(())
    }

    pub(super) fn validate(&self) -> anyhow::Result<()> {
        let v = &self.api_version;
        let ok = v
            .strip_prefix('v')
            .and_then(|r| r.split_once('.'))
            .is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
            });
        if !ok {
            bail!("api_version `{v}` must look like v23.0 (WHATSAPP_API_VERSION)");
        }
        let base = url::Url::parse(&self.api_base_url).with_context(|| {
            format!(
                "api_base_url `{}` is not a URL (WHATSAPP_API_BASE_URL)",
                self.api_base_url
            )
        })?;
        Origin::of(&base).map_err(|e| anyhow::anyhow!("api_base_url: {e}"))?;
        self.check_api_transport()?;
        for (name, value) in [
            ("phone_number_id", &self.phone_number_id),
            ("waba_id", &self.waba_id),
        ] {
            if let Some(id) = value
                && (id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()))
            {
                bail!("{name} `{id}` must be the numeric id from the WhatsApp Manager");
            }
        }
        Ok(())
    }

    /// Refuses an `http://` API base URL whose host is not loopback, unless
    /// `allow_insecure_http`: the access token goes in every request's
    /// `Authorization` header, readable by anyone on the path.
    pub fn check_api_transport(&self) -> anyhow::Result<()> {
        let Ok(base) = url::Url::parse(&self.api_base_url) else {
            return Ok(()); // `validate` names the bad URL.
        };
        if base.scheme() != "http" || self.allow_insecure_http || is_loopback_host(&base) {
            return Ok(());
        }
        bail!(
            "api_base_url `{}` is plain http on a host that is not loopback: the access token \
             would cross the network in cleartext. Use https://, or set \
             `[whatsapp] allow_insecure_http = true` (WHATSAPP_ALLOW_INSECURE_HTTP=true) if the \
             network path is trusted",
            self.api_base_url
        )
    }

    /// Takes the endpoint's URL and account.
    pub(super) fn point_at(&mut self, endpoint: &ApiEndpoint) {
        self.api_base_url = endpoint.base_url.clone();
        self.phone_number_id = Some(endpoint.phone_number_id.clone());
        self.waba_id = Some(endpoint.waba_id.clone());
        if endpoint.delivers_webhooks {
            self.webhooks_configured = true;
            // Wired to the endpoint, the host sees every inbound message, so
            // the window is known: free-form sends outside it are refused
            // before they leave, as they should be once webhooks flow.
            self.window_policy = WindowPolicy::Enforce;
        }
    }

    /// What the token is bound to: the API origin and the versioned path.
    pub(super) fn token_binding(&self) -> anyhow::Result<Binding> {
        let base = self.api_base_url.trim_end_matches('/');
        Binding::parse(&format!("{base}/{}/", self.api_version)).map_err(|e| anyhow::anyhow!(e))
    }
}

/// `localhost`, `127.0.0.0/8` or `::1`.
fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
