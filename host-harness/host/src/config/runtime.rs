//! `[runtime]`: the limits of each tool call, how long a call may wait for an
//! instance slot, and the compiled-component cache.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;

use crate::runtime::Limits;

/// The `[runtime]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeSettings {
    /// Deadline of one tool call, also handed to the component.
    pub call_timeout_ms: u64,
    /// Linear memory one instance may grow to.
    pub memory_limit_mib: usize,
    /// Largest JSON arguments a call may carry.
    pub max_argument_bytes: usize,
    /// Tool-call instances alive at once (webhooks have a budget of their own).
    pub max_instances: u32,
    /// Longest wait, in ms, for a free instance slot or an app's concurrency
    /// slot; past it the call fails at once with a retryable "busy" error.
    pub queue_timeout_ms: u64,
    /// Compiled-component cache; `None` uses the platform cache directory.
    pub cache_dir: Option<PathBuf>,
    /// Whether compiled components are cached at all.
    pub cache: bool,
    /// Tests only: see `Limits::inspect_memory`.
    #[cfg(feature = "testing")]
    #[serde(skip)]
    pub inspect_memory: bool,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        let limits = Limits::default();
        RuntimeSettings {
            call_timeout_ms: limits.call_timeout.as_millis() as u64,
            memory_limit_mib: limits.memory_bytes >> 20,
            max_argument_bytes: limits.max_argument_bytes,
            max_instances: limits.max_instances,
            queue_timeout_ms: limits.queue_timeout.as_millis() as u64,
            cache_dir: None,
            cache: true,
            #[cfg(feature = "testing")]
            inspect_memory: false,
        }
    }
}

impl RuntimeSettings {
    pub(super) fn validate(&self) -> anyhow::Result<()> {
        if self.memory_limit_mib < 2 {
            bail!("runtime.memory_limit_mib must be at least 2");
        }
        Ok(())
    }

    /// The runtime's limits (zero call timeouts and instance counts become 1;
    /// a zero queue timeout means a call never waits for a slot).
    pub(crate) fn limits(&self) -> Limits {
        Limits {
            call_timeout: Duration::from_millis(self.call_timeout_ms.max(1)),
            memory_bytes: self.memory_limit_mib << 20,
            max_argument_bytes: self.max_argument_bytes,
            max_instances: self.max_instances.max(1),
            webhook_instances: Limits::default().webhook_instances,
            queue_timeout: Duration::from_millis(self.queue_timeout_ms),
            #[cfg(feature = "testing")]
            inspect_memory: self.inspect_memory,
        }
    }

    /// Where compiled components are cached: `cache_dir`, else
    /// `$XDG_CACHE_HOME/whatsapp-connector` (or `~/.cache/...`); `None`
    /// when caching is off or no cache directory is known.
    pub(crate) fn cache_dir(&self) -> Option<PathBuf> {
        if !self.cache {
            return None;
        }
        self.cache_dir.clone().or_else(|| {
            let base = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
            Some(base.join("whatsapp-connector"))
        })
    }
}
