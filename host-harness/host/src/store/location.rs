//! Where the store lives, from `[state] url`: `:memory:`, a file (a path or
//! a `file:` URL), or a Redis server (`redis://`, `rediss://` for TLS).
//!
//! A Redis URL takes, besides the `redis` crate's own parts (user,
//! password, database, `?protocol=resp3`, `#insecure`):
//! - `?namespace=NAME`: the prefix of every key (default `whatsapp`), so
//!   several deployments can share one server;
//! - `?password_credential=NAME`: the password is the secret of the vault
//!   credential `NAME`, so it need not be written in the URL at all.
//!
//! The URL is never printed as given: [`redact`] hides the password.

use std::path::PathBuf;

use redis::{ConnectionInfo, IntoConnectionInfo as _};
use zeroize::Zeroizing;

use super::StateError;

/// The `[state] url` that keeps the store in memory only.
pub(crate) const IN_MEMORY: &str = ":memory:";
/// The key prefix when the URL names none.
const DEFAULT_NAMESPACE: &str = "whatsapp";

/// A parsed `[state] url`.
pub(crate) enum StateLocation {
    Memory,
    File(PathBuf),
    Redis(RedisTarget),
}

/// A Redis server, its key prefix and its credentials.
pub(crate) struct RedisTarget {
    /// The URL as the `redis` crate reads it (our own options removed).
    url: Zeroizing<String>,
    pub(crate) namespace: String,
    /// The URL for messages, password hidden.
    pub(crate) redacted: String,
    /// The vault credential holding the password, if the URL names one.
    pub(crate) password_credential: Option<String>,
    /// The password from that credential, once looked up.
    pub(crate) password: Option<Zeroizing<String>>,
}

impl RedisTarget {
    pub(super) fn connection_info(&self) -> Result<ConnectionInfo, StateError> {
        let info = self
            .url
            .as_str()
            .into_connection_info()
            .map_err(|e| StateError::Open {
                path: self.redacted.clone(),
                reason: format!("not a usable Redis URL: {e}"),
            })?;
        Ok(match &self.password {
            Some(password) => {
                let redis = info
                    .redis_settings()
                    .clone()
                    .set_password(password.as_str());
                info.set_redis_settings(redis)
            }
            None => info,
        })
    }
}

impl StateLocation {
    /// Reads `text`: `:memory:`, `redis://…`/`rediss://…`, `file:…`, or a path.
    pub(crate) fn parse(text: &str) -> Result<StateLocation, StateError> {
        let text = text.trim();
        if text == IN_MEMORY {
            return Ok(StateLocation::Memory);
        }
        let scheme = text.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("redis" | "rediss" | "valkey" | "valkeys") => redis_target(text),
            Some("file") => Ok(StateLocation::File(file_url_path(text)?)),
            Some(other) => Err(StateError::Open {
                path: redact(text),
                reason: format!(
                    "`{other}://` is not a state store: use a file path, `file:PATH`, \
                     `redis://HOST:PORT` or `rediss://HOST:PORT` (TLS), or `:memory:`"
                ),
            }),
            None => match text.strip_prefix("file:") {
                Some(path) => Ok(StateLocation::File(PathBuf::from(path))),
                None => Ok(StateLocation::File(PathBuf::from(text))),
            },
        }
    }

    /// The location for messages (`doctor`, logs): the kind and where,
    /// without a password.
    pub(crate) fn describe(&self) -> String {
        match self {
            StateLocation::Memory => "in memory (nothing kept after exit)".into(),
            StateLocation::File(path) => format!("file {}", path.display()),
            StateLocation::Redis(target) => format!("redis {}", target.redacted),
        }
    }
}

fn file_url_path(text: &str) -> Result<PathBuf, StateError> {
    url::Url::parse(text)
        .ok()
        .and_then(|u| u.to_file_path().ok())
        .ok_or_else(|| StateError::Open {
            path: text.to_string(),
            reason: "a `file://` URL needs an absolute path, e.g. file:///var/lib/wa/state.redb"
                .into(),
        })
}

fn redis_target(text: &str) -> Result<StateLocation, StateError> {
    let bad = |reason: String| StateError::Open {
        path: redact(text),
        reason,
    };
    let mut url = url::Url::parse(text).map_err(|e| bad(format!("not a valid URL: {e}")))?;
    let mut namespace = DEFAULT_NAMESPACE.to_string();
    let mut password_credential = None;
    let mut kept = Vec::new();
    for (name, value) in url.query_pairs() {
        match name.as_ref() {
            "namespace" => namespace = value.into_owned(),
            "password_credential" => password_credential = Some(value.into_owned()),
            _ => kept.push((name.into_owned(), value.into_owned())),
        }
    }
    if namespace.is_empty() || !namespace.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad(
            "`namespace` must be printable ASCII without spaces, e.g. ?namespace=whatsapp-prod"
                .into(),
        ));
    }
    if password_credential.is_some() && url.password().is_some() {
        return Err(bad(
            "the URL has both a password and `password_credential`: keep only the credential"
                .into(),
        ));
    }
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    let redacted = redact(url.as_str());
    Ok(StateLocation::Redis(RedisTarget {
        url: Zeroizing::new(url.into()),
        namespace,
        redacted: match &password_credential {
            Some(name) => format!("{redacted} (password from the vault credential `{name}`)"),
            None => redacted,
        },
        password_credential,
        password: None,
    }))
}

/// The file `location` (a `[state] url`) names, if it names one; an error
/// when it is not a usable location.
pub fn file_path(location: &str) -> Result<Option<PathBuf>, StateError> {
    Ok(match StateLocation::parse(location)? {
        StateLocation::File(path) => Some(path),
        _ => None,
    })
}

/// `text` with any password in it replaced by `***`, safe to print.
pub fn redact(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.into()
        }
        Ok(url) => url.into(),
        // Not a URL: keep only what cannot hold a password (no `@`).
        Err(_) => match text.rsplit_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => text.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redis(text: &str) -> RedisTarget {
        match StateLocation::parse(text).unwrap() {
            StateLocation::Redis(target) => target,
            _ => panic!("{text} is a Redis URL"),
        }
    }

    #[test]
    fn paths_file_urls_memory_and_redis_urls_are_told_apart() {
        assert!(matches!(
            StateLocation::parse(":memory:").unwrap(),
            StateLocation::Memory
        ));
        for (text, path) in [
            ("state.redb", "state.redb"),
            ("/var/lib/wa/state.redb", "/var/lib/wa/state.redb"),
            ("file:rel/state.redb", "rel/state.redb"),
            ("file:///var/lib/wa/state.redb", "/var/lib/wa/state.redb"),
        ] {
            match StateLocation::parse(text).unwrap() {
                StateLocation::File(p) => assert_eq!(p, PathBuf::from(path), "{text}"),
                _ => panic!("{text} is a file"),
            }
        }
        assert_eq!(redis("redis://127.0.0.1:6380").namespace, "whatsapp");
        assert_eq!(
            redis("rediss://cache.example:6380/2?namespace=prod").namespace,
            "prod"
        );
        let err = StateLocation::parse("postgres://db/state").err().unwrap();
        assert!(err.to_string().contains("redis://"), "{err}");
    }

    #[test]
    fn a_password_in_the_url_never_appears_in_what_is_printed() {
        let target = redis("redis://app:s3cret-pw@127.0.0.1:6380/0?namespace=n");
        assert!(
            !target.redacted.contains("s3cret-pw"),
            "{}",
            target.redacted
        );
        assert!(target.redacted.contains("127.0.0.1:6380"));
        assert!(!redact("redis://:s3cret-pw@h:1").contains("s3cret-pw"));
        assert!(!redact("not a url :s3cret-pw@h").contains("s3cret-pw"));
        let err = StateLocation::parse("redis://:s3cret-pw@h:1?namespace=a%20b")
            .err()
            .unwrap();
        assert!(!err.to_string().contains("s3cret-pw"), "{err}");
    }

    #[test]
    fn the_password_may_come_from_a_vault_credential_instead_of_the_url() {
        let target = redis("redis://127.0.0.1:6380?password_credential=redis-pw");
        assert_eq!(target.password_credential.as_deref(), Some("redis-pw"));
        assert!(target.redacted.contains("`redis-pw`"));
        assert!(
            StateLocation::parse("redis://:pw@h:1?password_credential=redis-pw").is_err(),
            "one password source only"
        );
    }
}
