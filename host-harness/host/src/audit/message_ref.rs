//! Message ids as the audit log writes them when recipients are masked: a
//! keyed digest, `message_ref`.
//!
//! A `wamid.` id is base64 that spells the recipient's phone number, so
//! writing it beside a masked recipient would undo the mask. The digest is
//! HMAC-SHA256 of the id under a key derived from the vault key, cut to 128
//! bits and written in hex: the same id gives the same ref across restarts
//! (as long as the vault key stays), so an operator who has a message id can
//! find its lines (`host-harness audit ref WAMID`), and someone who has only
//! the log cannot turn a ref back into an id or a number without the key.

use std::fmt;

use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::vault_file::VaultKey;

/// What the vault key is asked for; changing it changes every ref.
const PURPOSE: &[u8] = b"whatsapp-connector audit message_ref v1";

/// The key message refs are computed with.
#[derive(Clone)]
pub struct MessageRefKey(Zeroizing<[u8; 32]>);

impl MessageRefKey {
    /// The key derived from the vault key: refs stay the same across restarts.
    pub fn from_vault_key(key: &VaultKey) -> MessageRefKey {
        MessageRefKey(key.derive(PURPOSE))
    }

    /// A fresh random key: refs are stable only within this process.
    pub fn random() -> MessageRefKey {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(key.as_mut());
        MessageRefKey(key)
    }

    /// The ref of `message_id`: 32 hex digits.
    pub fn reference(&self, message_id: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_ref()).expect("any key length");
        mac.update(message_id.trim().as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
}

impl fmt::Debug for MessageRefKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MessageRefKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ref_depends_on_the_id_and_the_vault_key_and_nothing_else() {
        let key = VaultKey::from_hex(&"11".repeat(32)).unwrap();
        let a = MessageRefKey::from_vault_key(&key);
        let again = MessageRefKey::from_vault_key(&VaultKey::from_hex(&"11".repeat(32)).unwrap());
        let other = MessageRefKey::from_vault_key(&VaultKey::from_hex(&"22".repeat(32)).unwrap());
        let id = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA";
        let r = a.reference(id);
        assert_eq!(r.len(), 32);
        assert!(r.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(r, again.reference(id), "stable for the same vault key");
        assert_eq!(r, a.reference(&format!(" {id}\n")), "pasted with spaces");
        assert_ne!(r, other.reference(id));
        assert_ne!(r, a.reference("wamid.other"));
        assert!(!format!("{a:?}").contains("11"));
    }
}
