//! `[state]`: where the store (kv, webhook queue, host bookkeeping) lives.
//!
//! By default in the user's data directory,
//! `$XDG_DATA_HOME/whatsapp-connector/state.redb` (else
//! `~/.local/share/whatsapp-connector/state.redb`), not wherever the binary
//! happens to run; an explicit path or `:memory:` wins.
//!
//! The file is kept owner-only (0600, its directory 0700 when the store
//! creates it or names it) and webhook bodies in it are encrypted: with a key
//! derived from the vault key when one exists (`WHATSAPP_VAULT_KEY` or
//! `[vault] key_file`), else with a key in `<path>.key` beside it (0600).

use std::ffi::OsString;
use std::path::PathBuf;

use serde::Deserialize;

/// The `path` that keeps the store in memory only.
pub(crate) const IN_MEMORY: &str = ":memory:";

/// The `[state]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StateSettings {
    /// The store file, or `:memory:` (env `WHATSAPP_STATE_PATH`).
    pub path: String,
}

impl Default for StateSettings {
    fn default() -> Self {
        StateSettings {
            path: default_path(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
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
        if let Some(v) = get("WHATSAPP_STATE_PATH") {
            self.path = v;
        }
    }

    /// Keep the store in memory only, so nothing lingers on disk.
    pub(crate) fn keep_in_memory(&mut self) {
        self.path = IN_MEMORY.into();
    }

    /// Whether the store is kept in memory only.
    pub(crate) fn in_memory(&self) -> bool {
        self.path == IN_MEMORY
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
        assert!(state.in_memory());
    }
}
