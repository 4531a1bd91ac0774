//! The doctor's state-store check: where the state lives (password hidden)
//! and, for Redis, whether it answers and keeps what it acknowledges.

use whatsapp_host::config::Settings;
use whatsapp_host::open_state;
use whatsapp_host::store::file_path;

use super::report::Check;

const CHECK_STATE: &str = "state store";

/// Checks `[state] url`: a file is described (not opened: a running
/// gateway holds it), Redis is connected to and its persistence read.
pub(super) async fn check(settings: &Settings) -> Check {
    let described = settings.state.describe();
    let url = &settings.state.url;
    match file_path(url) {
        Err(e) => {
            return Check::fail(
                CHECK_STATE,
                e.to_string(),
                "set `[state] url` (or WHATSAPP_STATE_URL) to a file path, redis://HOST:PORT, \
                 rediss://HOST:PORT or :memory:",
            );
        }
        Ok(Some(path)) => {
            let note = if path.exists() {
                ""
            } else {
                " (created on first start)"
            };
            return Check::pass(CHECK_STATE, format!("{described}{note}"));
        }
        Ok(None) if url.trim() == ":memory:" => return Check::pass(CHECK_STATE, described),
        Ok(None) => {}
    }
    let store = match settings.load_vault() {
        Ok(vault) => open_state(settings, url, &vault).await,
        Err(e) => Err(e),
    };
    match store {
        Err(e) => Check::fail(
            CHECK_STATE,
            format!("{described}: {e:#}"),
            "start Redis (or fix the URL), and give every replica the same vault key \
             (WHATSAPP_VAULT_KEY or `[vault] key_file`)",
        ),
        Ok(store) => match store.durability_problem().await {
            Some(problem) => Check::warn(CHECK_STATE, format!("{described}: reachable"), problem),
            None => Check::pass(
                CHECK_STATE,
                format!("{described}: reachable, append-only file synced on every write"),
            ),
        },
    }
}
