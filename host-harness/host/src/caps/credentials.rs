//! The credentials the host holds for the component, and the host side of
//! the component's `credential` handle.
//!
//! Secrets live only here, zeroized on drop and redacted from `Debug`. The
//! component gets opaque handles; the host uses the secret on its behalf: as
//! a bearer token on bound origins, as an HMAC key, or for a constant-time
//! comparison. This module knows nothing of the generated bindings (they
//! name [`CredentialHandle`] as the resource's host type), so the dependency
//! runs one way: `vault`/`http` → bindings → here.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, RwLock};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::allowlist::{Binding, Origin};

/// Vault name of the Graph API access token the connector opens.
pub const ACCESS_TOKEN: &str = "whatsapp";
/// Vault name of the Meta app secret (webhook signatures).
pub const APP_SECRET: &str = "whatsapp-app-secret";
/// Vault name of the webhook verification token.
pub const VERIFY_TOKEN: &str = "whatsapp-verify-token";

/// What a credential is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A Graph API access token; the only kind attached to requests.
    AccessToken,
    /// The Meta app secret: an HMAC key for webhook signatures.
    AppSecret,
    /// The token Meta echoes in the webhook verification handshake.
    VerifyToken,
    /// A password the host itself uses (the Redis state store's, named by
    /// `?password_credential=`); never granted to the component.
    Password,
}

/// Secret bytes: zeroized when dropped, never printed.
#[derive(Clone)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Wraps `bytes`; they are zeroized when the last copy is dropped.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Secret {
        Secret(Zeroizing::new(bytes.into()))
    }

    /// The secret bytes, for the host's own use (never for the component).
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
    /// The vault name the component opens it by.
    pub name: String,
    /// What it is for.
    pub kind: Kind,
    /// The secret itself.
    pub secret: Secret,
    /// Where the host may attach it as a bearer token (access tokens only).
    pub bindings: Vec<Binding>,
    /// OAuth scopes granted to the token, when known (empty otherwise).
    pub scopes: Vec<String>,
    /// Expiry in Unix seconds; `None` (or 0) never expires.
    pub expires_at: Option<u64>,
}

impl Credential {
    /// HMAC-SHA256 of `data` keyed with the secret.
    pub(crate) fn hmac_sha256(&self, data: &[u8]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose())
            .expect("HMAC accepts keys of any length");
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// Constant-time equality that also hides the secret's length: both sides
    /// are hashed first and the digests compared.
    pub(crate) fn secret_equals(&self, candidate: &[u8]) -> bool {
        let a = Sha256::digest(self.secret.expose());
        let b = Sha256::digest(candidate);
        a.ct_eq(&b).into()
    }

    /// Whether the host may attach this credential to a request for `path` on `origin`.
    pub(crate) fn bound_to(&self, origin: &Origin, path: &str) -> bool {
        self.kind == Kind::AccessToken && self.bindings.iter().any(|b| b.covers(origin, path))
    }
}

/// Why the component cannot open a credential.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OpenError {
    /// Not granted to the component; carries the name asked for.
    #[error("credential `{0}` is not granted to this component")]
    NotGranted(String),
    /// Granted but unusable now (missing, expired, rejected): the fix.
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

    /// Adds or replaces a credential; a replaced one is no longer held back.
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
    pub(crate) fn open(&self, name: &str, now_unix: u64) -> Result<Arc<Credential>, OpenError> {
        if !self.grants.contains(name) {
            return Err(OpenError::NotGranted(name.to_string()));
        }
        let credential = self
            .get(name)
            .ok_or_else(|| OpenError::Unavailable(missing_hint(name)))?;
        if self.needs_reconnect.read().expect("lock").contains(name) {
            return Err(OpenError::Unavailable(rejected_hint(name)));
        }
        if let Some(why) = credential.expired(now_unix) {
            return Err(OpenError::Unavailable(why));
        }
        Ok(credential)
    }

    /// Records that the API rejected `name` as expired or invalid.
    pub(crate) fn mark_needs_reconnect(&self, name: &str) {
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

impl Credential {
    /// Why the credential may not be used at `now_unix` because it expired.
    fn expired(&self, now_unix: u64) -> Option<String> {
        let name = &self.name;
        self.expires_at
            .is_some_and(|t| t != 0 && t <= now_unix)
            .then(|| {
                format!(
                    "credential `{name}` expired; reconnect with `host-harness connect` or store \
                     a new token with `host-harness vault set {name}`"
                )
            })
    }
}

/// The host side of an open `credential` handle: the vault entry resolved
/// once, when the component opened it, so every later use (a send, a MAC, a
/// comparison) reads it from the handle instead of looking the name up.
pub struct CredentialHandle {
    credential: Arc<Credential>,
    /// The API rejected this token during the call: it is not sent again.
    rejected: bool,
}

impl CredentialHandle {
    pub(crate) fn new(credential: Arc<Credential>) -> CredentialHandle {
        CredentialHandle {
            credential,
            rejected: false,
        }
    }

    /// The credential, whatever its state (MACs and comparisons).
    pub(crate) fn credential(&self) -> &Arc<Credential> {
        &self.credential
    }

    /// The credential if it may still be sent at `now_unix`: not rejected by
    /// the API during this call and not expired since it was opened.
    pub(crate) fn usable(&self, now_unix: u64) -> Result<&Arc<Credential>, String> {
        if self.rejected {
            return Err(rejected_hint(&self.credential.name));
        }
        match self.credential.expired(now_unix) {
            Some(why) => Err(why),
            None => Ok(&self.credential),
        }
    }

    /// Holds the credential back for the rest of the call.
    pub(crate) fn mark_rejected(&mut self) {
        self.rejected = true;
    }
}

fn rejected_hint(name: &str) -> String {
    format!(
        "credential `{name}` was rejected by the Graph API (code 190: expired or revoked); \
         reconnect the account with `host-harness connect` or store a new token with \
         `host-harness vault set {name}`"
    )
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
    fn a_handle_holds_back_a_rejected_or_expired_token_for_the_rest_of_the_call() {
        let mut expiring = token("whatsapp", "t");
        expiring.expires_at = Some(100);
        let mut handle = CredentialHandle::new(Arc::new(expiring));
        assert!(handle.usable(99).is_ok());
        let err = handle.usable(100).unwrap_err();
        assert!(err.contains("expired"), "{err}");
        handle.mark_rejected();
        let err = handle.usable(0).unwrap_err();
        assert!(err.contains("190") && err.contains("reconnect"), "{err}");
        // MACs and comparisons still reach the credential it was opened with.
        assert!(handle.credential().secret_equals(b"t"));
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
