//! The `config` capability: the operator's non-secret settings, read-only.
//!
//! Context: the settings map, shared by all calls. A call may read any key
//! and has nothing of its own to count.

use std::collections::BTreeMap;

use wasmtime::Result;
use wasmtime::component::{HasData, Linker};

use crate::runtime::bindings::config as wit;

/// What one call's `config` import may use.
pub(crate) struct ConfigView<'a> {
    pub(crate) settings: &'a BTreeMap<String, String>,
}

impl wit::Host for ConfigView<'_> {
    async fn get(&mut self, key: String) -> Result<Option<String>> {
        Ok(self.settings.get(&key).cloned())
    }
}

struct HasConfig;

impl HasData for HasConfig {
    type Data<'a> = ConfigView<'a>;
}

/// Links the `config` interface; `view` gives a call's view from its store data.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> ConfigView<'_>,
) -> Result<()> {
    wit::add_to_linker::<T, HasConfig>(linker, view)
}
