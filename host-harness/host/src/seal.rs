//! Sealing what the store keeps of customers' messages: the values of the
//! webhook queue (deliveries waiting for the component, and the dead
//! letters) and the component's inbox (kv keys under `inbox/`) are encrypted with XChaCha20-Poly1305 before they reach the
//! state file, so the file on its own (a backup, a copy, a disk image)
//! reveals no message text.
//!
//! Where the key comes from:
//! - With a vault key (`WHATSAPP_VAULT_KEY` or the vault's key file), a
//!   subkey derived from it under [`VAULT_SUBKEY_LABEL`]: nothing new to back
//!   up, the key lives where the operator already guards the vault's (never
//!   beside the state), and the vault key itself serves one purpose only.
//! - Without one (credentials from the environment), a random key in
//!   `<state file>.key`, mode 0600, created on first use. It protects a copy
//!   of the state file taken on its own, not an attacker who can read the
//!   directory as the same user; it keeps the queue readable after a restart,
//!   which a per-process key would not.
//! - For a Redis store, the vault-derived key only: every replica must open
//!   what another sealed, so a key file beside one replica will not do, and
//!   the store refuses to start without a vault key.
//! - For an in-memory store, a random key for the life of the process:
//!   nothing reaches a disk.
//!
//! A sealed value is `MAGIC || key id (8 bytes) || nonce (24) || ciphertext`.
//! The associated data is the magic, the key id and the entry's table and
//! key, so a value cannot be moved to another entry unnoticed. A value
//! without the magic was written in plaintext by an earlier version.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::files;

/// The label the state's key is derived from the vault key under.
pub(crate) const VAULT_SUBKEY_LABEL: &[u8] = b"whatsapp-connector state seal v1";
/// Starts every sealed value; no JSON text (what older versions stored) starts with it.
const MAGIC: &[u8; 4] = b"\0ws1";
const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = MAGIC.len() + KEY_ID_LEN + NONCE_LEN;

/// A 32-byte key, wiped on drop.
pub(crate) type KeyBytes = Zeroizing<[u8; 32]>;

struct SealKey {
    id: [u8; KEY_ID_LEN],
    cipher: XChaCha20Poly1305,
}

impl SealKey {
    fn new(key: &KeyBytes) -> SealKey {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref()).expect("any key length");
        mac.update(b"whatsapp-connector state seal key id v1");
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&mac.finalize().into_bytes()[..KEY_ID_LEN]);
        SealKey {
            id,
            cipher: XChaCha20Poly1305::new(key.as_ref().into()),
        }
    }
}

/// What a stored value turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Unsealed {
    /// Sealed by one of this run's keys: the plaintext.
    Opened(Vec<u8>),
    /// Stored in plaintext (by an earlier version).
    Plain(Vec<u8>),
    /// Sealed with a key this run does not have (its id, in hex).
    OtherKey(String),
    /// Sealed, but the bytes do not authenticate.
    Damaged,
}

/// The keys of one store: the first seals, any of them opens.
pub(crate) struct StateSeal {
    keys: Vec<SealKey>,
    /// Where the key came from, for messages.
    source: String,
}

impl StateSeal {
    /// A random key for a store that lives only as long as the process.
    pub(crate) fn ephemeral() -> StateSeal {
        let mut key = KeyBytes::default();
        rand::rng().fill_bytes(key.as_mut());
        StateSeal {
            keys: vec![SealKey::new(&key)],
            source: "a key of this process".into(),
        }
    }

    /// The keys for the store file at `state`: the vault-derived key when
    /// given (the key file beside the state, if an earlier run made one, still
    /// opens what it sealed), else the key file beside the state, created if
    /// missing.
    pub(crate) fn for_file(state: &Path, vault_subkey: Option<KeyBytes>) -> std::io::Result<Self> {
        let side = side_key_path(state);
        match vault_subkey {
            Some(primary) => {
                let mut keys = vec![SealKey::new(&primary)];
                keys.extend(read_side_key(&side)?.as_ref().map(SealKey::new));
                Ok(StateSeal {
                    keys,
                    source: "the vault key".into(),
                })
            }
            None => {
                let key = match read_side_key(&side)? {
                    Some(key) => key,
                    None => create_side_key(&side)?,
                };
                Ok(StateSeal {
                    keys: vec![SealKey::new(&key)],
                    source: format!("the key file {}", side.display()),
                })
            }
        }
    }

    /// The key shared by every replica of a deployment on a networked store:
    /// derived from the vault key, which they all hold.
    pub(crate) fn shared(vault_subkey: &KeyBytes) -> StateSeal {
        StateSeal {
            keys: vec![SealKey::new(vault_subkey)],
            source: "the vault key".into(),
        }
    }

    /// Whether `stored` is a sealed value (rather than plaintext of an earlier version).
    pub(crate) fn is_sealed(stored: &[u8]) -> bool {
        stored.starts_with(MAGIC)
    }

    /// Encrypts `plaintext` for the entry `name` with the current key.
    pub(crate) fn seal(&self, name: &str, plaintext: &[u8]) -> Vec<u8> {
        let key = &self.keys[0];
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + 16);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&key.id);
        out.extend_from_slice(&nonce);
        let ciphertext = key
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &associated_data(&key.id, name),
                },
            )
            .expect("encryption of an in-memory buffer cannot fail");
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Decrypts a value stored for the entry `name`.
    pub(crate) fn unseal(&self, name: &str, stored: &[u8]) -> Unsealed {
        if !Self::is_sealed(stored) {
            return Unsealed::Plain(stored.to_vec());
        }
        if stored.len() < HEADER_LEN {
            return Unsealed::Damaged;
        }
        let id = &stored[MAGIC.len()..MAGIC.len() + KEY_ID_LEN];
        let nonce = XNonce::from_slice(&stored[MAGIC.len() + KEY_ID_LEN..HEADER_LEN]);
        let Some(key) = self.keys.iter().find(|k| k.id == id) else {
            return Unsealed::OtherKey(hex::encode(id));
        };
        match key.cipher.decrypt(
            nonce,
            Payload {
                msg: &stored[HEADER_LEN..],
                aad: &associated_data(&key.id, name),
            },
        ) {
            Ok(plaintext) => Unsealed::Opened(plaintext),
            Err(_) => Unsealed::Damaged,
        }
    }

    /// Where the sealing key came from, for messages.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }
}

fn associated_data(key_id: &[u8], name: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(MAGIC.len() + key_id.len() + name.len());
    aad.extend_from_slice(MAGIC);
    aad.extend_from_slice(key_id);
    aad.extend_from_slice(name.as_bytes());
    aad
}

/// `<state file>.key`.
pub(crate) fn side_key_path(state: &Path) -> PathBuf {
    let mut name = state.file_name().unwrap_or_default().to_os_string();
    name.push(".key");
    state.with_file_name(name)
}

fn read_side_key(path: &Path) -> std::io::Result<Option<KeyBytes>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    files::restrict_file(path, "the state's key file")?;
    let mut text = Zeroizing::new(String::new());
    file.read_to_string(&mut text)?;
    let mut key = KeyBytes::default();
    hex::decode_to_slice(text.trim(), key.as_mut()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} must hold 64 hex digits; it is damaged. Restore it, or move it and the \
                 state file aside to start over",
                path.display()
            ),
        )
    })?;
    Ok(Some(key))
}

fn create_side_key(path: &Path) -> std::io::Result<KeyBytes> {
    let mut key = KeyBytes::default();
    rand::rng().fill_bytes(key.as_mut());
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let text = Zeroizing::new(hex::encode(key.as_ref()));
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    tracing::info!(
        path = %path.display(),
        "created the key that encrypts stored webhook bodies (mode 0600); keep it with the \
         state file, or configure a vault key to keep it elsewhere"
    );
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> KeyBytes {
        Zeroizing::new([byte; 32])
    }

    #[test]
    fn a_sealed_value_opens_only_for_its_entry_and_hides_its_text() {
        let seal = StateSeal::ephemeral();
        let sealed = seal.seal("webhook_queue/q/1", b"the customer's words");
        assert!(StateSeal::is_sealed(&sealed));
        assert!(
            !sealed.windows(b"customer".len()).any(|w| w == b"customer"),
            "no plaintext in the sealed bytes"
        );
        assert_eq!(
            seal.unseal("webhook_queue/q/1", &sealed),
            Unsealed::Opened(b"the customer's words".to_vec())
        );
        assert_eq!(
            seal.unseal("webhook_queue/q/2", &sealed),
            Unsealed::Damaged,
            "moved to another entry"
        );
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(
            seal.unseal("webhook_queue/q/1", &flipped),
            Unsealed::Damaged
        );
        assert_eq!(
            seal.unseal("webhook_queue/q/1", &sealed[..HEADER_LEN - 1]),
            Unsealed::Damaged
        );
    }

    #[test]
    fn plaintext_of_an_earlier_version_is_recognised_as_such() {
        let seal = StateSeal::ephemeral();
        assert_eq!(
            seal.unseal("n", b"{\"entry\":[]}"),
            Unsealed::Plain(b"{\"entry\":[]}".to_vec())
        );
        assert!(!StateSeal::is_sealed(b" {}"));
    }

    #[test]
    fn without_a_vault_key_a_private_key_file_beside_the_state_is_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.redb");
        let first = StateSeal::for_file(&state, None).unwrap();
        let sealed = first.seal("n", b"x");
        let side = side_key_path(&state);
        assert_eq!(side, dir.path().join("state.redb.key"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&side).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let again = StateSeal::for_file(&state, None).unwrap();
        assert_eq!(again.unseal("n", &sealed), Unsealed::Opened(b"x".to_vec()));
        assert!(first.source().contains("state.redb.key"));
    }

    #[test]
    fn a_vault_key_seals_without_a_key_file_and_still_opens_what_the_key_file_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.redb");
        let with_vault = StateSeal::for_file(&state, Some(key(7))).unwrap();
        assert!(!side_key_path(&state).exists(), "no key beside the state");
        let by_vault = with_vault.seal("n", b"v");

        let with_file = StateSeal::for_file(&state, None).unwrap();
        let by_file = with_file.seal("n", b"f");
        assert!(matches!(
            with_file.unseal("n", &by_vault),
            Unsealed::OtherKey(_)
        ));

        let later = StateSeal::for_file(&state, Some(key(7))).unwrap();
        assert_eq!(
            later.unseal("n", &by_vault),
            Unsealed::Opened(b"v".to_vec())
        );
        assert_eq!(later.unseal("n", &by_file), Unsealed::Opened(b"f".to_vec()));
        let other_vault = StateSeal::for_file(&state, Some(key(8))).unwrap();
        assert!(matches!(
            other_vault.unseal("n", &by_vault),
            Unsealed::OtherKey(_)
        ));
    }

    #[test]
    fn a_damaged_key_file_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.redb");
        std::fs::write(side_key_path(&state), "not hex").unwrap();
        let err = StateSeal::for_file(&state, None).err().unwrap().to_string();
        assert!(
            err.contains("state.redb.key") && err.contains("64 hex"),
            "{err}"
        );
    }
}
