//! The host capabilities behind the component's imports, one module per
//! WIT interface, each with its shared context, the view one call gets of
//! it, the `Host` implementation of the generated bindings for that view and
//! an `add_to_linker` function (the shape of wasmtime's own `wasi-config`).
//! The runtime's per-call store data composes the views.

pub mod allowlist;
pub(crate) mod config;
pub(crate) mod credentials;
pub mod http;
pub(crate) mod kv;
pub mod media;
pub(crate) mod media_types;
pub mod vault;

use std::collections::BTreeMap;
use std::sync::Arc;

/// The contexts of every capability, built once and shared by all calls.
pub struct Capabilities {
    /// Outbound HTTP: client, allowlist, limits.
    pub http: http::OutboundHttp,
    /// Media the host fetches and uploads for the component.
    pub media: media::MediaUploads,
    /// The credentials and the component's grants.
    pub vault: Arc<vault::Vault>,
    /// Durable state; the component's `kv` is one table of it.
    pub state: crate::store::StateStore,
    /// Non-secret settings served by the `config` import.
    pub config: BTreeMap<String, String>,
}

impl Capabilities {
    /// The access-token credential the component is configured to use (its
    /// vault entry, with the OAuth scopes it was granted), if the vault holds
    /// it. What a gateway needs to refuse a tool whose scopes the token lacks.
    pub fn access_token(&self) -> Option<Arc<vault::Credential>> {
        let name = self
            .config
            .get(whatsapp_connector::config_keys::CREDENTIAL)?;
        self.vault.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vault::{Credential, Kind, Secret, Vault};

    #[test]
    fn the_access_token_is_the_credential_the_component_is_configured_with() {
        let vault = Arc::new(Vault::new([]));
        vault.insert(Credential {
            name: "token-b".into(),
            kind: Kind::AccessToken,
            secret: Secret::new("t"),
            bindings: vec![],
            scopes: vec!["whatsapp_business_messaging".into()],
            expires_at: None,
        });
        let mut caps = Capabilities {
            http: http::OutboundHttp::new(Default::default(), Default::default()).unwrap(),
            media: media::MediaUploads::off(),
            vault,
            state: crate::store::StateStore::in_memory(),
            config: BTreeMap::new(),
        };
        assert!(caps.access_token().is_none(), "no credential configured");
        let key = whatsapp_connector::config_keys::CREDENTIAL.to_string();
        caps.config.insert(key.clone(), "token-a".into());
        assert!(
            caps.access_token().is_none(),
            "configured but not in the vault"
        );
        caps.config.insert(key, "token-b".into());
        let token = caps.access_token().unwrap();
        assert_eq!(token.scopes, ["whatsapp_business_messaging"]);
    }
}
