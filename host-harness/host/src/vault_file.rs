//! The encrypted vault at rest: one file holding every credential.
//!
//! The whole credential list (secrets and metadata) is one XChaCha20-Poly1305
//! ciphertext (RustCrypto `chacha20poly1305`), so any change to any byte,
//! truncation included, fails authentication. The header (format, version,
//! cipher, key id) is the associated data. The key id, an HMAC of a constant
//! under the key, tells a wrong key apart from a damaged file.
//!
//! The 32-byte key comes from `WHATSAPP_VAULT_KEY` (64 hex digits) or from a
//! key file created with mode 0600. Writes go to a temporary file that is
//! synced and renamed over the vault, under an exclusive lock on
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
    WrongKey { path: PathBuf },
    #[error(
        "the vault {path} is damaged or was modified ({reason}); restore it from a backup or move \
         it aside and store the credentials again with `host-harness vault set`"
    )]
    Tampered { path: PathBuf, reason: String },
    #[error("the vault {path} has format version {found}; this build reads version {VERSION}")]
    UnsupportedVersion { path: PathBuf, found: u32 },
    #[error(
        "WHATSAPP_VAULT_KEY must be 64 hex digits (32 bytes); generate one with `openssl rand -hex 32`"
    )]
    BadKey,
    #[error(
        "the key file {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`"
    )]
    KeyFileExposed { path: PathBuf, mode: u32 },
    #[error(
        "no vault key: set WHATSAPP_VAULT_KEY or create the key file {path} with `host-harness vault set`"
    )]
    NoKey { path: PathBuf },
    #[error("{context} {path}: {source}")]
    Io {
        context: &'static str,
        path: PathBuf,
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
    pub fn load(
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
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(io("cannot create the directory", dir))
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
    pub name: String,
    pub kind: Kind,
    pub bindings: Vec<String>,
    pub scopes: Vec<String>,
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
    pub fn new(path: impl Into<PathBuf>, key: VaultKey) -> VaultFile {
        VaultFile {
            path: path.into(),
            key,
        }
    }

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

        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut tmp = tempfile::Builder::new()
            .prefix(".vault-")
            .permissions(private_permissions())
            .tempfile_in(dir)
            .map_err(io("cannot create a temporary file in", dir))?;
        tmp.write_all(&bytes)
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(io("cannot write the vault", &self.path))?;
        tmp.persist(&self.path)
            .map_err(|e| io("cannot replace the vault", &self.path)(e.error))?;
        // The rename is durable only once the directory entry is on disk.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

fn private_permissions() -> std::fs::Permissions {
    #[cfg(unix)]
    {
        std::os::unix::fs::PermissionsExt::from_mode(0o600)
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(".")
            .map(|m| m.permissions())
            .expect("cwd exists")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const TOKEN: &str = "EAAGtokenSECRETvalue123";

    fn token(name: &str) -> Credential {
        Credential {
            name: name.into(),
            kind: Kind::AccessToken,
            secret: Secret::new(TOKEN),
            bindings: vec![Binding::parse("https://graph.facebook.com/v23.0/").unwrap()],
            scopes: vec!["whatsapp_business_messaging".into()],
            expires_at: Some(2_000_000_000),
        }
    }

    fn vault(dir: &Path) -> VaultFile {
        VaultFile::new(dir.join("vault.json"), VaultKey::from_hex(KEY).unwrap())
    }

    #[test]
    fn credentials_round_trip_and_the_file_holds_no_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let v = vault(dir.path());
        v.update(|c| c.push(token("whatsapp"))).unwrap();
        let loaded = v.load().unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].secret.expose(), TOKEN.as_bytes());
        assert_eq!(
            CredentialMeta::from(&loaded[0]),
            CredentialMeta::from(&token("whatsapp"))
        );
        let raw = std::fs::read(dir.path().join("vault.json")).unwrap();
        let text = String::from_utf8_lossy(&raw);
        for needle in [
            TOKEN,
            "whatsapp_business_messaging",
            "graph.facebook.com",
            &B64.encode(TOKEN),
        ] {
            assert!(!text.contains(needle), "`{needle}` is readable in the file");
        }
    }

    #[test]
    fn a_missing_vault_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(vault(dir.path()).load().unwrap().is_empty());
    }

    #[test]
    fn a_wrong_key_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        vault(dir.path())
            .update(|c| c.push(token("whatsapp")))
            .unwrap();
        let other = VaultFile::new(
            dir.path().join("vault.json"),
            VaultKey::from_hex(&"ab".repeat(32)).unwrap(),
        );
        let err = other.load().unwrap_err();
        assert!(matches!(err, VaultError::WrongKey { .. }), "{err}");
        assert!(err.to_string().contains("another key"));
    }

    #[test]
    fn truncated_and_bit_flipped_files_are_refused_never_misread() {
        let dir = tempfile::tempdir().unwrap();
        let v = vault(dir.path());
        v.update(|c| c.push(token("whatsapp"))).unwrap();
        let path = dir.path().join("vault.json");
        let good = std::fs::read(&path).unwrap();
        for cut in [0, 1, good.len() / 2, good.len() - 2] {
            std::fs::write(&path, &good[..cut]).unwrap();
            let err = v.load().unwrap_err();
            assert!(
                matches!(err, VaultError::Tampered { .. }),
                "cut at {cut}: {err}"
            );
        }
        // Flip one bit in every byte of the ciphertext in turn (sampled).
        let envelope: serde_json::Value = serde_json::from_slice(&good).unwrap();
        let ct = B64
            .decode(envelope["ciphertext"].as_str().unwrap())
            .unwrap();
        for i in (0..ct.len()).step_by(7) {
            let mut flipped = ct.clone();
            flipped[i] ^= 0x01;
            let mut e = envelope.clone();
            e["ciphertext"] = B64.encode(&flipped).into();
            std::fs::write(&path, serde_json::to_vec(&e).unwrap()).unwrap();
            assert!(
                matches!(v.load().unwrap_err(), VaultError::Tampered { .. }),
                "byte {i}"
            );
        }
        // The header is authenticated too.
        let mut e = envelope.clone();
        e["nonce"] = B64.encode([0u8; 24]).into();
        std::fs::write(&path, serde_json::to_vec(&e).unwrap()).unwrap();
        assert!(matches!(v.load().unwrap_err(), VaultError::Tampered { .. }));
        let mut e = envelope;
        e["version"] = 2.into();
        std::fs::write(&path, serde_json::to_vec(&e).unwrap()).unwrap();
        assert!(matches!(
            v.load().unwrap_err(),
            VaultError::UnsupportedVersion { .. }
        ));
    }

    #[test]
    fn concurrent_writers_never_lose_a_credential() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.json");
        let threads: Vec<_> = (0..12)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let v = VaultFile::new(path, VaultKey::from_hex(KEY).unwrap());
                    v.update(|c| c.push(token(&format!("cred-{i}")))).unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut names: Vec<String> = vault(dir.path())
            .load()
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        names.sort();
        assert_eq!(names.len(), 12, "{names:?}");
    }

    #[cfg(unix)]
    #[test]
    fn the_vault_and_a_created_key_file_are_private_and_an_exposed_key_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("keys/vault.key");
        let key = VaultKey::load(None, &key_file, true).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&key_file), 0o600);
        let v = VaultFile::new(dir.path().join("vault.json"), key);
        v.update(|c| c.push(token("whatsapp"))).unwrap();
        assert_eq!(mode(&dir.path().join("vault.json")), 0o600);
        // Reloading the same key file opens the vault.
        let again = VaultFile::new(
            dir.path().join("vault.json"),
            VaultKey::load(None, &key_file, false).unwrap(),
        );
        assert_eq!(again.load().unwrap().len(), 1);
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = VaultKey::load(None, &key_file, false).err().unwrap();
        assert!(matches!(err, VaultError::KeyFileExposed { .. }), "{err}");
    }

    #[test]
    fn the_environment_key_wins_and_must_be_well_formed() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.key");
        assert!(VaultKey::load(Some(KEY), &missing, false).is_ok());
        assert!(matches!(
            VaultKey::load(Some("short"), &missing, false)
                .err()
                .unwrap(),
            VaultError::BadKey
        ));
        assert!(matches!(
            VaultKey::load(None, &missing, false).err().unwrap(),
            VaultError::NoKey { .. }
        ));
    }

    #[test]
    fn errors_never_contain_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let v = vault(dir.path());
        v.update(|c| c.push(token("whatsapp"))).unwrap();
        let path = dir.path().join("vault.json");
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n / 2] ^= 0x20;
        std::fs::write(&path, bytes).unwrap();
        let err = v.load().unwrap_err();
        assert!(!format!("{err} {err:?}").contains(TOKEN));
    }
}
