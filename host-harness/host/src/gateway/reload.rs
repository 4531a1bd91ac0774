//! Reading the policy file for a (re)load, and how often to look at it.

use std::path::Path;
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use crate::config::Settings;
use crate::policy::PolicyError;

/// How often the policy file is checked for changes by default.
const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// How often the settings say to check the policy file.
pub fn reload_interval(settings: &Settings) -> Duration {
    match settings.policy.reload_interval_ms {
        0 => DEFAULT_RELOAD_INTERVAL,
        ms => Duration::from_millis(ms),
    }
}

/// What a reload did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reload {
    /// A new policy is in force.
    Applied,
    /// The file has not changed since it was last read.
    Unchanged,
    /// No policy file: nothing to reload.
    NoFile,
}

/// The policy file's text.
pub(super) fn read(path: &Path) -> Result<String, PolicyError> {
    std::fs::read_to_string(path).map_err(|e| {
        PolicyError::single(
            path.display().to_string(),
            format!("cannot read it: {e}"),
            "check the path given with --policy or [policy] path",
        )
    })
}

/// What tells one version of the file from another.
pub(super) fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}
