//! The host's own check of a webhook request, before any instance exists, so
//! that a flood of unsigned or forged requests costs a header look-up or one
//! HMAC each, never a component instance.
//!
//! A POST must carry `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the
//! raw body, keyed with the app secret>` (Meta's scheme:
//! <https://developers.facebook.com/docs/graph-api/webhooks/getting-started#validate-payloads>).
//! A GET handshake must carry `hub.mode=subscribe` and the verify token.
//! Secrets are compared in constant time and never leave the vault's
//! [`Credential`]. The answers are the component's own (401 without a
//! signature, 403 for a wrong one, 503 without the credential), because the
//! component still checks every request that passes here: this is a filter
//! that can only refuse, never accept on its own.

use std::sync::Arc;

use http::{HeaderMap, StatusCode};
use subtle::ConstantTimeEq as _;
use whatsapp_connector::config_keys;

use crate::caps::Capabilities;
use crate::caps::vault::{self, Credential};

/// A request the host refuses without asking the component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    pub(super) status: StatusCode,
    pub(super) body: String,
}

impl Refusal {
    fn new(status: StatusCode, body: impl Into<String>) -> Refusal {
        Refusal {
            status,
            body: body.into(),
        }
    }
}

/// The 32-byte MAC a POST claims, from its headers alone (the body is not
/// needed to refuse a missing or malformed signature).
pub(super) fn claimed_signature(headers: &HeaderMap) -> Result<[u8; 32], Refusal> {
    let Some(value) = headers.get("x-hub-signature-256") else {
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "Missing X-Hub-Signature-256",
        ));
    };
    let invalid = || Refusal::new(StatusCode::FORBIDDEN, "Invalid signature");
    let text = value.to_str().map_err(|_| invalid())?.trim();
    let hex = text
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("sha256="))
        .map(|_| text[7..].trim())
        .ok_or_else(invalid)?;
    let mut mac = [0u8; 32];
    hex::decode_to_slice(hex, &mut mac).map_err(|_| invalid())?;
    Ok(mac)
}

/// The credential the component is configured to open as `key` (by default
/// `default_name`), or the 503 it would answer without it.
fn credential(
    caps: &Capabilities,
    key: &str,
    default_name: &str,
    what: &str,
) -> Result<Arc<Credential>, Refusal> {
    let name = caps
        .config
        .get(key)
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .unwrap_or(default_name);
    caps.vault.get(name).ok_or_else(|| {
        Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Webhook not configured: the {what} credential `{name}` is not in the vault."),
        )
    })
}

/// The app secret the signatures are keyed with.
pub(super) fn app_secret(caps: &Capabilities) -> Result<Arc<Credential>, Refusal> {
    credential(
        caps,
        config_keys::APP_SECRET_CREDENTIAL,
        vault::APP_SECRET,
        "app-secret",
    )
}

/// Whether `claimed` is the HMAC of `body` under `secret` (constant time).
pub(super) fn signature_matches(secret: &Credential, body: &[u8], claimed: &[u8; 32]) -> bool {
    secret.hmac_sha256(body).ct_eq(claimed).into()
}

/// Checks a GET handshake's mode and verify token; the component then
/// answers it with the challenge.
pub(super) fn check_handshake(caps: &Capabilities, query: &str) -> Result<(), Refusal> {
    let forbidden = || Refusal::new(StatusCode::FORBIDDEN, "Forbidden");
    let first = |name: &str| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    };
    let (Some(mode), Some(token), Some(_challenge)) = (
        first("hub.mode"),
        first("hub.verify_token"),
        first("hub.challenge"),
    ) else {
        return Err(forbidden());
    };
    if mode != "subscribe" || token.is_empty() {
        return Err(forbidden());
    }
    let expected = credential(
        caps,
        config_keys::VERIFY_TOKEN_CREDENTIAL,
        vault::VERIFY_TOKEN,
        "verify-token",
    )?;
    if expected.secret_equals(token.as_bytes()) {
        Ok(())
    } else {
        Err(forbidden())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use http::HeaderValue;

    use super::*;
    use crate::caps::http::OutboundHttp;
    use crate::caps::vault::{Kind, Secret, Vault};

    fn caps(secrets: &[(&str, &str)]) -> Capabilities {
        let vault = Arc::new(Vault::new([]));
        for (name, secret) in secrets {
            vault.insert(Credential {
                name: name.to_string(),
                kind: Kind::AppSecret,
                secret: Secret::new(*secret),
                bindings: vec![],
                scopes: vec![],
                expires_at: None,
            });
        }
        Capabilities {
            http: OutboundHttp::new(Default::default(), Default::default()).unwrap(),
            media: crate::caps::media::MediaUploads::off(),
            vault,
            state: crate::store::StateStore::in_memory(),
            config: BTreeMap::new(),
        }
    }

    fn headers(signature: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(s) = signature {
            h.insert("x-hub-signature-256", HeaderValue::from_str(s).unwrap());
        }
        h
    }

    #[test]
    fn a_missing_signature_is_401_and_a_malformed_one_403_from_the_headers_alone() {
        assert_eq!(
            claimed_signature(&headers(None)).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        let good_hex = "ab".repeat(32);
        for bad in [
            "".to_string(),
            "sha256=".to_string(),
            format!("sha1={good_hex}"),
            format!("sha256={}", "ab".repeat(31)),
            format!("sha256={}", "zz".repeat(32)),
            format!("sha256={good_hex}00"),
        ] {
            assert_eq!(
                claimed_signature(&headers(Some(&bad))).unwrap_err().status,
                StatusCode::FORBIDDEN,
                "{bad}"
            );
        }
        let upper = format!("SHA256={}", good_hex.to_uppercase());
        assert_eq!(
            claimed_signature(&headers(Some(&upper))).unwrap(),
            [0xab; 32]
        );
    }

    #[test]
    fn a_signature_matches_only_the_hmac_of_the_exact_body_under_the_app_secret() {
        let caps = caps(&[(vault::APP_SECRET, "app-secret")]);
        let secret = app_secret(&caps).unwrap();
        let body = br#"{"object":"whatsapp_business_account"}"#;
        let mac = secret.hmac_sha256(body);
        assert!(signature_matches(&secret, body, &mac));
        assert!(!signature_matches(&secret, b"{ \"object\":1}", &mac));
        let mut flipped = mac;
        flipped[31] ^= 1;
        assert!(!signature_matches(&secret, body, &flipped));
    }

    #[test]
    fn the_configured_credential_names_are_used_and_a_missing_one_is_503_naming_it() {
        let mut caps = caps(&[("other-secret", "s")]);
        let missing = app_secret(&caps).unwrap_err();
        assert_eq!(missing.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(missing.body.contains(vault::APP_SECRET), "{}", missing.body);
        caps.config.insert(
            config_keys::APP_SECRET_CREDENTIAL.into(),
            "other-secret".into(),
        );
        assert!(app_secret(&caps).is_ok());
    }

    #[test]
    fn a_handshake_needs_subscribe_a_challenge_and_the_exact_verify_token() {
        let caps = caps(&[(vault::VERIFY_TOKEN, "tok en+1")]);
        let ok = "hub.mode=subscribe&hub.verify_token=tok%20en%2B1&hub.challenge=42";
        assert_eq!(check_handshake(&caps, ok), Ok(()));
        let plus_is_space = "hub.mode=subscribe&hub.verify_token=tok+en%2B1&hub.challenge=42";
        assert_eq!(check_handshake(&caps, plus_is_space), Ok(()));
        for bad in [
            "",
            "hub.mode=subscribe&hub.verify_token=tok%20en%2B1",
            "hub.mode=unsubscribe&hub.verify_token=tok%20en%2B1&hub.challenge=42",
            "hub.mode=subscribe&hub.verify_token=&hub.challenge=42",
            "hub.mode=subscribe&hub.verify_token=tok%20en%2B2&hub.challenge=42",
        ] {
            assert_eq!(
                check_handshake(&caps, bad).unwrap_err().status,
                StatusCode::FORBIDDEN,
                "{bad}"
            );
        }
        let unconfigured = super::tests::caps(&[]);
        assert_eq!(
            check_handshake(&unconfigured, ok).unwrap_err().status,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
