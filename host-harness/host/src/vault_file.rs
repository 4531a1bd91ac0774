//! The encrypted vault at rest: one file holding every credential.
//!
//! The whole credential list (secrets and metadata) is one XChaCha20-Poly1305
//! ciphertext (RustCrypto `chacha20poly1305`), so any change to any byte,
//! truncation included, fails authentication. The header (format, version,
//! cipher, key id) is the associated data. The key id, an HMAC of a constant
//! under the key, tells a wrong key apart from a damaged file.
//!
//! The 32-byte key comes from `WHATSAPP_VAULT_KEY` (64 hex digits) or from a
//! key file created with mode 0600. Writes go through
//! [`write_atomic`](crate::files::write_atomic) (a synced temporary file
//! renamed over the vault, mode 0600) under an exclusive lock on
//! `<vault>.lock`, so a crash leaves the old or the new vault, never a mix,
//! and concurrent writers never lose each other's changes.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::caps::allowlist::Binding;
use crate::caps::vault::{Credential, Kind, Secret};
use crate::files::{self, Access, WriteStep};

const FORMAT: &str = "whatsapp-connector-vault";
const VERSION: u32 = 1;
const CIPHER: &str = "xchacha20poly1305";

/// Why the vault cannot be read or written; never contains secret bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    #[error(
        "the vault key does not open {path}: it was created with another key. Use the key it was \
         created with (WHATSAPP_VAULT_KEY or the key file), or move the vault aside to start over"
    )]
    /// The key opens another vault.
    WrongKey {
        /// The vault file.
        path: PathBuf,
    },
    #[error(
        "the vault {path} is damaged or was modified ({reason}); restore it from a backup or move \
         it aside and store the credentials again with `host-harness vault set`"
    )]
    /// The file does not authenticate or does not parse.
    Tampered {
        /// The vault file.
        path: PathBuf,
        /// What is wrong, without any secret.
        reason: String,
    },
    #[error("the vault {path} has format version {found}; this build reads version {VERSION}")]
    /// Written by a build with another format version.
    UnsupportedVersion {
        /// The vault file.
        path: PathBuf,
        /// The file's version.
        found: u32,
    },
    #[error(
        "WHATSAPP_VAULT_KEY must be 64 hex digits (32 bytes); generate one with `openssl rand -hex 32`"
    )]
    /// `WHATSAPP_VAULT_KEY` or the key file is not 64 hex digits.
    BadKey,
    #[error(
        "the key file {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`"
    )]
    /// The key file is readable by others.
    KeyFileExposed {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    #[error(
        "no vault key: set WHATSAPP_VAULT_KEY or create the key file {path} with `host-harness vault set`"
    )]
    /// Neither `WHATSAPP_VAULT_KEY` nor the key file exists.
    NoKey {
        /// The key file looked for.
        path: PathBuf,
    },
    #[error("{context} {path}: {source}")]
    /// A file operation failed.
    Io {
        /// What was being done, e.g. `cannot write the vault`.
        context: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

fn io<'a>(context: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> VaultError + 'a {
    move |source| VaultError::Io {
        context,
        path: path.to_path_buf(),
        source,
    }
}

/// The vault's 32-byte key, zeroized on drop.
pub struct VaultKey(Zeroizing<[u8; 32]>);

impl VaultKey {
    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Result<VaultKey, VaultError> {
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), key.as_mut()).map_err(|_| VaultError::BadKey)?;
        Ok(VaultKey(key))
    }

    /// `WHATSAPP_VAULT_KEY` if set, else the key file; with `create`, a missing
    /// key file is created with a fresh random key and mode 0600.
    pub(crate) fn load(
        env_key: Option<&str>,
        key_file: &Path,
        create: bool,
    ) -> Result<VaultKey, VaultError> {
        if let Some(hex) = env_key.filter(|k| !k.trim().is_empty()) {
            return VaultKey::from_hex(hex);
        }
        match File::open(key_file) {
            Ok(mut file) => {
                check_private(&file, key_file)?;
                let mut text = Zeroizing::new(String::new());
                file.read_to_string(&mut text)
                    .map_err(io("cannot read the key file", key_file))?;
                VaultKey::from_hex(&text)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let mut key = Zeroizing::new([0u8; 32]);
                rand::rng().fill_bytes(key.as_mut());
                if let Some(dir) = key_file.parent().filter(|d| !d.as_os_str().is_empty()) {
                    create_private_dir(dir)?;
                }
                let mut file = private_options()
                    .create_new(true)
                    .open(key_file)
                    .map_err(io("cannot create the key file", key_file))?;
                let text = Zeroizing::new(hex::encode(key.as_ref()));
                file.write_all(text.as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(io("cannot write the key file", key_file))?;
                tracing::info!(path = %key_file.display(), "created a new vault key file (mode 0600)");
                Ok(VaultKey(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(VaultError::NoKey {
                path: key_file.to_path_buf(),
            }),
            Err(e) => Err(io("cannot open the key file", key_file)(e)),
        }
    }

    /// A key for another purpose, derived under `label` so the vault key
    /// itself serves one purpose only: HKDF-SHA256's expand step for one block
    /// (RFC 5869), with no extract step since the vault key is already
    /// uniformly random.
    pub fn derive(&self, label: &[u8]) -> Zeroizing<[u8; 32]> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_ref()).expect("any key length");
        mac.update(label);
        mac.update(&[1]);
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&mac.finalize().into_bytes());
        out
    }

    fn key_id(&self) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_ref()).expect("any key length");
        mac.update(b"whatsapp-connector vault key id v1");
        hex::encode(&mac.finalize().into_bytes()[..8])
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.as_ref().into())
    }
}

#[cfg(unix)]
fn check_private(file: &File, path: &Path) -> Result<(), VaultError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file
        .metadata()
        .map_err(io("cannot stat the key file", path))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(VaultError::KeyFileExposed {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &File, _: &Path) -> Result<(), VaultError> {
    Ok(())
}

fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

fn create_private_dir(dir: &Path) -> Result<(), VaultError> {
    files::create_private_dir(dir).map_err(io("cannot create the directory", dir))
}

/// The file as stored: a header in the clear and one ciphertext.
#[derive(Serialize, Deserialize)]
struct Envelope {
    format: String,
    version: u32,
    cipher: String,
    key_id: String,
    nonce: String,
    ciphertext: String,
}

impl Envelope {
    fn associated_data(&self) -> Vec<u8> {
        format!(
            "{}|{}|{}|{}",
            self.format, self.version, self.cipher, self.key_id
        )
        .into_bytes()
    }
}

/// One credential inside the plaintext.
#[derive(Serialize, Deserialize)]
struct Record {
    name: String,
    kind: Kind,
    secret: String,
    bindings: Vec<String>,
    scopes: Vec<String>,
    expires_at: Option<u64>,
}

#[derive(Serialize, Deserialize, Default)]
struct Contents {
    credentials: Vec<Record>,
}

/// Non-secret metadata, for `vault list`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CredentialMeta {
    /// The credential's name (`whatsapp`, ...).
    pub name: String,
    /// What kind of secret it is.
    pub kind: Kind,
    /// The URL prefixes it may be sent to.
    pub bindings: Vec<String>,
    /// The permissions the token was granted.
    pub scopes: Vec<String>,
    /// Unix seconds after which it is refused, if it expires.
    pub expires_at: Option<u64>,
}

impl From<&Credential> for CredentialMeta {
    fn from(c: &Credential) -> Self {
        CredentialMeta {
            name: c.name.clone(),
            kind: c.kind,
            bindings: c.bindings.iter().map(ToString::to_string).collect(),
            scopes: c.scopes.clone(),
            expires_at: c.expires_at,
        }
    }
}

/// The vault file and its key.
pub struct VaultFile {
    path: PathBuf,
    key: VaultKey,
}

impl VaultFile {
    /// The vault at `path`, opened with `key`.
    pub fn new(path: impl Into<PathBuf>, key: VaultKey) -> VaultFile {
        VaultFile {
            path: path.into(),
            key,
        }
    }

    /// Where the vault file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every credential; an absent file is an empty vault.
    pub fn load(&self) -> Result<Vec<Credential>, VaultError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("cannot read the vault", &self.path)(e)),
        };
        self.decrypt(&bytes)
    }

    /// Applies `change` to the credentials and writes the result atomically,
    /// holding the vault's lock so concurrent writers serialise.
    pub fn update<T>(
        &self,
        change: impl FnOnce(&mut Vec<Credential>) -> T,
    ) -> Result<T, VaultError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir)?;
        }
        let lock_path = self.lock_path();
        let lock = private_options()
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io("cannot open the vault lock", &lock_path))?;
        lock.lock()
            .map_err(io("cannot lock the vault", &lock_path))?;
        let mut credentials = self.load()?;
        let result = change(&mut credentials);
        self.write(&credentials)?;
        Ok(result)
    }

    fn lock_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        self.path.with_file_name(name)
    }

    fn decrypt(&self, bytes: &[u8]) -> Result<Vec<Credential>, VaultError> {
        let tampered = |reason: &str| VaultError::Tampered {
            path: self.path.clone(),
            reason: reason.to_string(),
        };
        let envelope: Envelope = serde_json::from_slice(bytes)
            .map_err(|_| tampered("it is not a complete vault file"))?;
        if envelope.format != FORMAT {
            return Err(tampered("unknown format"));
        }
        if envelope.version != VERSION {
            return Err(VaultError::UnsupportedVersion {
                path: self.path.clone(),
                found: envelope.version,
            });
        }
        if envelope.cipher != CIPHER {
            return Err(tampered("unknown cipher"));
        }
        if envelope.key_id != self.key.key_id() {
            return Err(VaultError::WrongKey {
                path: self.path.clone(),
            });
        }
        let nonce = B64
            .decode(&envelope.nonce)
            .map_err(|_| tampered("bad nonce"))?;
        if nonce.len() != 24 {
            return Err(tampered("bad nonce"));
        }
        let ciphertext = B64
            .decode(&envelope.ciphertext)
            .map_err(|_| tampered("bad ciphertext encoding"))?;
        let plaintext = Zeroizing::new(
            self.key
                .cipher()
                .decrypt(
                    XNonce::from_slice(&nonce),
                    Payload {
                        msg: &ciphertext,
                        aad: &envelope.associated_data(),
                    },
                )
                .map_err(|_| tampered("authentication failed"))?,
        );
        let contents: Contents = serde_json::from_slice(&plaintext)
            .map_err(|_| tampered("the decrypted contents are not valid"))?;
        contents
            .credentials
            .into_iter()
            .map(|r| {
                let secret = Zeroizing::new(r.secret);
                let bytes = Zeroizing::new(
                    B64.decode(secret.as_bytes())
                        .map_err(|_| tampered("bad secret encoding"))?,
                );
                let bindings = r
                    .bindings
                    .iter()
                    .map(|b| Binding::parse(b))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| tampered("bad binding"))?;
                Ok(Credential {
                    name: r.name,
                    kind: r.kind,
                    secret: Secret::new(bytes.to_vec()),
                    bindings,
                    scopes: r.scopes,
                    expires_at: r.expires_at,
                })
            })
            .collect()
    }

    fn write(&self, credentials: &[Credential]) -> Result<(), VaultError> {
        let contents = Contents {
            credentials: credentials
                .iter()
                .map(|c| Record {
                    name: c.name.clone(),
                    kind: c.kind,
                    secret: B64.encode(c.secret.expose()),
                    bindings: c.bindings.iter().map(ToString::to_string).collect(),
                    scopes: c.scopes.clone(),
                    expires_at: c.expires_at,
                })
                .collect(),
        };
        let plaintext =
            Zeroizing::new(serde_json::to_vec(&contents).expect("plain data serialises"));
        for record in contents.credentials {
            drop(Zeroizing::new(record.secret));
        }
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut envelope = Envelope {
            format: FORMAT.into(),
            version: VERSION,
            cipher: CIPHER.into(),
            key_id: self.key.key_id(),
            nonce: B64.encode(nonce),
            ciphertext: String::new(),
        };
        let ciphertext = self
            .key
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: &plaintext,
                    aad: &envelope.associated_data(),
                },
            )
            .expect("encryption of an in-memory buffer cannot fail");
        envelope.ciphertext = B64.encode(ciphertext);
        let bytes = serde_json::to_vec_pretty(&envelope).expect("plain data serialises");

        files::write_atomic_steps(&self.path, &[&bytes], Access::Private).map_err(
            |(step, source)| match step {
                WriteStep::CreateTemporary => io(
                    "cannot create a temporary file in",
                    files::parent_dir(&self.path),
                )(source),
                WriteStep::Write => io("cannot write the vault", &self.path)(source),
                WriteStep::Replace => io("cannot replace the vault", &self.path)(source),
            },
        )
    }
}

#[cfg(test)]
mod tests;
