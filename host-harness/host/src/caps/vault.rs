//! The credentials the host holds for the component.
//!
//! Secrets live only here, zeroized on drop and redacted from `Debug`. The
//! component gets opaque handles (names); the host uses the secret on its
//! behalf: as a bearer token on bound origins, as an HMAC key, or for a
//! constant-time comparison.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, RwLock};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::allowlist::{Binding, Origin};

/// Default credential names the connector opens.
pub const ACCESS_TOKEN: &str = "whatsapp";
pub const APP_SECRET: &str = "whatsapp-app-secret";
pub const VERIFY_TOKEN: &str = "whatsapp-verify-token";

/// What a credential is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    AccessToken,
    AppSecret,
    VerifyToken,
}

/// Secret bytes: zeroized when dropped, never printed.
#[derive(Clone)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Secret {
        Secret(Zeroizing::new(bytes.into()))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// One credential and its non-secret metadata.
#[derive(Clone, Debug)]
pub struct Credential {
    pub name: String,
    pub kind: Kind,
    pub secret: Secret,
    /// Where the host may attach it as a bearer token (access tokens only).
    pub bindings: Vec<Binding>,
    pub scopes: Vec<String>,
    /// Unix seconds.
    pub expires_at: Option<u64>,
}

impl Credential {
    pub fn hmac_sha256(&self, data: &[u8]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose())
            .expect("HMAC accepts keys of any length");
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// Constant-time equality that also hides the secret's length: both sides
    /// are hashed first and the digests compared.
    pub fn secret_equals(&self, candidate: &[u8]) -> bool {
        let a = Sha256::digest(self.secret.expose());
        let b = Sha256::digest(candidate);
        a.ct_eq(&b).into()
    }

    pub fn bound_to(&self, origin: &Origin, path: &str) -> bool {
        self.kind == Kind::AccessToken && self.bindings.iter().any(|b| b.covers(origin, path))
    }
}

/// Why the component cannot open a credential.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("credential `{0}` is not granted to this component")]
    NotGranted(String),
    #[error("{0}")]
    Unavailable(String),
}

/// The credentials and which of them the component may open.
#[derive(Default)]
pub struct Vault {
    credentials: RwLock<HashMap<String, Arc<Credential>>>,
    grants: BTreeSet<String>,
    /// Credentials the API rejected with code 190; refused until replaced.
    needs_reconnect: RwLock<BTreeSet<String>>,
}

impl Vault {
    /// A vault whose component may open only `grants`.
    pub fn new(grants: impl IntoIterator<Item = String>) -> Vault {
        Vault {
            grants: grants.into_iter().collect(),
            ..Vault::default()
        }
    }

    pub fn insert(&self, credential: Credential) {
        self.needs_reconnect
            .write()
            .expect("lock")
            .remove(&credential.name);
        self.credentials
            .write()
            .expect("lock")
            .insert(credential.name.clone(), Arc::new(credential));
    }

    /// Host-side lookup, without the component's grant check.
    pub fn get(&self, name: &str) -> Option<Arc<Credential>> {
        self.credentials.read().expect("lock").get(name).cloned()
    }

    /// What the component gets when it opens `name`.
    pub fn open(&self, name: &str, now_unix: u64) -> Result<Arc<Credential>, OpenError> {
        if !self.grants.contains(name) {
            return Err(OpenError::NotGranted(name.to_string()));
        }
        let credential = self
            .get(name)
            .ok_or_else(|| OpenError::Unavailable(missing_hint(name)))?;
        if self.needs_reconnect.read().expect("lock").contains(name) {
            return Err(OpenError::Unavailable(format!(
                "credential `{name}` was rejected by the Graph API (code 190: expired or \
                 revoked); reconnect the account with `host-harness connect` or store a new \
                 token with `host-harness vault set {name}`"
            )));
        }
        if credential
            .expires_at
            .is_some_and(|t| t != 0 && t <= now_unix)
        {
            return Err(OpenError::Unavailable(format!(
                "credential `{name}` expired; reconnect with `host-harness connect` or store a \
                 new token with `host-harness vault set {name}`"
            )));
        }
        Ok(credential)
    }

    /// Records that the API rejected `name` as expired or invalid.
    pub fn mark_needs_reconnect(&self, name: &str) {
        tracing::warn!(
            credential = name,
            "credential rejected by the API (code 190): needs reconnection"
        );
        self.needs_reconnect
            .write()
            .expect("lock")
            .insert(name.to_string());
    }
}

fn missing_hint(name: &str) -> String {
    match name {
        ACCESS_TOKEN => "no WhatsApp access token is configured: set WHATSAPP_ACCESS_TOKEN, \
                         run `host-harness connect`, or `host-harness vault set whatsapp`"
            .into(),
        APP_SECRET => "no app secret is configured: set WHATSAPP_APP_SECRET or \
                       `host-harness vault set whatsapp-app-secret`"
            .into(),
        VERIFY_TOKEN => "no webhook verify token is configured: set \
                         WHATSAPP_WEBHOOK_VERIFY_TOKEN or `host-harness vault set \
                         whatsapp-verify-token`"
            .into(),
        other => format!("credential `{other}` is granted but not configured"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(name: &str, secret: &str) -> Credential {
        Credential {
            name: name.into(),
            kind: Kind::AccessToken,
            secret: Secret::new(secret),
            bindings: vec![Binding::parse("https://graph.facebook.com/v23.0/").unwrap()],
            scopes: vec![],
            expires_at: None,
        }
    }

    #[test]
    fn only_granted_credentials_open() {
        let vault = Vault::new(["whatsapp".to_string()]);
        vault.insert(token("whatsapp", "t1"));
        vault.insert(token("other", "t2"));
        assert!(vault.open("whatsapp", 0).is_ok());
        assert_eq!(
            vault.open("other", 0).unwrap_err(),
            OpenError::NotGranted("other".into())
        );
    }

    #[test]
    fn expired_and_rejected_credentials_are_unavailable_with_a_fix() {
        let vault = Vault::new(["whatsapp".to_string()]);
        let mut expiring = token("whatsapp", "t");
        expiring.expires_at = Some(100);
        vault.insert(expiring);
        assert!(vault.open("whatsapp", 99).is_ok());
        let err = vault.open("whatsapp", 100).unwrap_err().to_string();
        assert!(err.contains("expired") && err.contains("connect"), "{err}");

        vault.insert(token("whatsapp", "t"));
        vault.mark_needs_reconnect("whatsapp");
        let err = vault.open("whatsapp", 0).unwrap_err().to_string();
        assert!(err.contains("190") && err.contains("reconnect"), "{err}");
        vault.insert(token("whatsapp", "new"));
        assert!(
            vault.open("whatsapp", 0).is_ok(),
            "a new token clears the mark"
        );
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let c = token("whatsapp", "EAAG-very-secret");
        assert!(!format!("{c:?}").contains("very-secret"));
    }

    #[test]
    fn hmac_matches_a_known_vector_and_equality_is_exact() {
        // RFC 4231 test case 2.
        let mut c = token("k", "Jefe");
        c.kind = Kind::AppSecret;
        assert_eq!(
            hex::encode(c.hmac_sha256(b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(c.secret_equals(b"Jefe"));
        assert!(!c.secret_equals(b"Jef"));
        assert!(!c.secret_equals(b"Jefe "));
    }

    #[test]
    fn only_access_tokens_are_bound_to_origins() {
        let graph = Origin::parse("https://graph.facebook.com").unwrap();
        let mut c = token("whatsapp", "t");
        assert!(c.bound_to(&graph, "/v23.0/1/messages"));
        c.kind = Kind::AppSecret;
        assert!(!c.bound_to(&graph, "/v23.0/1/messages"));
    }
}
