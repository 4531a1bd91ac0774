//! `[state]`: where the store (kv, webhook queue, host bookkeeping) lives,
//! `url` (env `WHATSAPP_STATE_URL`, `serve --state-url`):
//! - a path or a `file:` URL: the embedded file, for one gateway process.
//!   By default in the user's data directory,
//!   `$XDG_DATA_HOME/whatsapp-connector/state.redb` (else
//!   `~/.local/share/whatsapp-connector/state.redb`), not wherever the
//!   binary happens to run;
//! - `redis://HOST:PORT[/DB]` or `rediss://…` (TLS): Redis, shared by
//!   several replicas; `?namespace=NAME` prefixes every key (default
//!   `whatsapp`), `?password_credential=NAME` takes the password from that
//!   vault credential;
//! - `:memory:`: nothing kept after exit.
//!
//! `path` (env `WHATSAPP_STATE_PATH`) is the older name of `url` and still
//! works; `WHATSAPP_STATE_URL` wins over it.
//!
//! The file is kept owner-only (0600, its directory 0700 when the store
//! creates it or names it). Stored messages (webhook bodies, the inbox) are
//! encrypted: with a key derived from the vault key when one exists
//! (`WHATSAPP_VAULT_KEY` or `[vault] key_file`), else, for a file only,
//! with a key in `<path>.key` beside it (0600). Redis requires the vault
//! key, the same on every replica.

use std::ffi::OsString;
use std::path::PathBuf;

use serde::Deserialize;

use crate::store::{IN_MEMORY, StateError, StateLocation};

/// The `[state]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StateSettings {
    /// Where the store lives: a file path or `file:` URL, a `redis://` or
    /// `rediss://` URL, or `:memory:` (env `WHATSAPP_STATE_URL`; `path` and
    /// `WHATSAPP_STATE_PATH` are older names for it).
    #[serde(alias = "path")]
    pub url: String,
}

impl Default for StateSettings {
    fn default() -> Self {
        StateSettings {
            url: default_path(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
                .to_string_lossy()
                .into_owned(),
        }
    }
}

/// `$XDG_DATA_HOME/whatsapp-connector/state.redb`, else under
/// `$HOME/.local/share`; a relative `XDG_DATA_HOME` is ignored, as the XDG
/// spec says. Without either, the working directory (the old default).
fn default_path(xdg_data_home: Option<OsString>, home: Option<OsString>) -> PathBuf {
    let data = xdg_data_home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            home.filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local").join("share"))
        });
    match data {
        Some(dir) => dir.join("whatsapp-connector").join("state.redb"),
        None => PathBuf::from("whatsapp-state.redb"),
    }
}

impl StateSettings {
    pub(super) fn apply_env(&mut self, get: &impl Fn(&str) -> Option<String>) {
        if let Some(v) = get("WHATSAPP_STATE_URL").or_else(|| get("WHATSAPP_STATE_PATH")) {
            self.url = v;
        }
    }

    /// Where the store lives, read from `url`; an error names what to write.
    pub(crate) fn location(&self) -> Result<StateLocation, StateError> {
        StateLocation::parse(&self.url)
    }

    /// Keep the store in memory only, so nothing lingers on disk.
    pub(crate) fn keep_in_memory(&mut self) {
        self.url = IN_MEMORY.into();
    }

    /// Where the store lives, for `doctor` and logs: its kind and place,
    /// without a password; or why the setting is unusable.
    pub fn describe(&self) -> String {
        match self.location() {
            Ok(location) => location.describe(),
            Err(e) => e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_state_file_is_in_the_xdg_data_directory() {
        assert_eq!(
            default_path(Some("/data".into()), Some("/home/ana".into())),
            PathBuf::from("/data/whatsapp-connector/state.redb")
        );
    }

    #[test]
    fn without_xdg_data_home_the_state_file_is_under_local_share() {
        for xdg in [None, Some("".into()), Some("relative/dir".into())] {
            assert_eq!(
                default_path(xdg, Some("/home/ana".into())),
                PathBuf::from("/home/ana/.local/share/whatsapp-connector/state.redb")
            );
        }
    }

    #[test]
    fn without_a_home_the_state_file_falls_back_to_the_working_directory() {
        assert_eq!(
            default_path(None, None),
            PathBuf::from("whatsapp-state.redb")
        );
    }

    #[test]
    fn an_explicit_state_path_wins_over_the_default() {
        let mut state = StateSettings::default();
        state.apply_env(&|name: &str| {
            (name == "WHATSAPP_STATE_PATH").then(|| ":memory:".to_string())
        });
        assert!(matches!(state.location(), Ok(StateLocation::Memory)));
    }

    #[test]
    fn the_state_url_wins_over_the_older_state_path_variable() {
        let mut state = StateSettings::default();
        state.apply_env(&|name: &str| match name {
            "WHATSAPP_STATE_URL" => Some("redis://127.0.0.1:6380".to_string()),
            "WHATSAPP_STATE_PATH" => Some("/tmp/old.redb".to_string()),
            _ => None,
        });
        assert_eq!(state.url, "redis://127.0.0.1:6380");
        assert!(matches!(state.location(), Ok(StateLocation::Redis(_))));
    }

    #[test]
    fn the_older_path_key_still_sets_the_store() {
        let state: StateSettings = toml::from_str("path = \"/srv/wa/state.redb\"").unwrap();
        assert_eq!(state.url, "/srv/wa/state.redb");
        let state: StateSettings = toml::from_str("url = \"rediss://cache:6380\"").unwrap();
        assert_eq!(state.url, "rediss://cache:6380");
    }
}
