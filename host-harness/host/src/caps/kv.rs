//! The `kv` capability: small durable state, in the component's own table
//! of the host's state store.
//!
//! Context: the [`StateStore`], shared by all calls (and by the host's
//! webhook queue and policy counters, in other tables). Keys and values are
//! bounded here, before the store sees them; a `scan` page holds at most
//! [`MAX_SCAN_ENTRIES`] entries.

use wasmtime::Result;
use wasmtime::component::{HasData, Linker};

use crate::runtime::bindings::kv as wit;
use crate::store::{MAX_KEY_BYTES, MAX_VALUE_BYTES, StateError, StateStore, Table};

/// What one call's `kv` imports may use.
pub(crate) struct KvView<'a> {
    pub(crate) store: &'a StateStore,
}

/// Most entries one `scan` returns, whatever the guest asks for: a page is
/// bounded like a value is.
const MAX_SCAN_ENTRIES: u32 = 1000;

fn check_key(key: &str) -> std::result::Result<(), wit::Error> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(wit::Error::InvalidKey(format!(
            "keys are 1 to {MAX_KEY_BYTES} printable ASCII characters without spaces"
        )));
    }
    Ok(())
}

fn unavailable(e: StateError) -> wit::Error {
    wit::Error::Unavailable(e.to_string())
}

impl wit::Host for KvView<'_> {
    async fn get(
        &mut self,
        key: String,
    ) -> Result<std::result::Result<Option<Vec<u8>>, wit::Error>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        Ok(self.store.get(Table::Kv, &key).await.map_err(unavailable))
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_seconds: Option<u32>,
    ) -> Result<std::result::Result<(), wit::Error>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Ok(Err(wit::Error::TooLarge(MAX_VALUE_BYTES as u64)));
        }
        Ok(self
            .store
            .set(Table::Kv, &key, value, ttl_seconds)
            .await
            .map_err(unavailable))
    }

    async fn scan(
        &mut self,
        prefix: String,
        start_after: Option<String>,
        limit: u32,
    ) -> Result<std::result::Result<Vec<(String, Vec<u8>)>, wit::Error>> {
        if prefix.len() > MAX_KEY_BYTES || !prefix.bytes().all(|b| b.is_ascii_graphic()) {
            return Ok(Err(wit::Error::InvalidKey(format!(
                "a prefix is at most {MAX_KEY_BYTES} printable ASCII characters without spaces"
            ))));
        }
        let limit = limit.min(MAX_SCAN_ENTRIES) as usize;
        let entries = match self.store.scan(Table::Kv, &prefix).await {
            Ok(entries) => entries,
            Err(e) => return Ok(Err(unavailable(e))),
        };
        Ok(Ok(entries
            .into_iter()
            .filter(|(key, _)| {
                start_after
                    .as_deref()
                    .is_none_or(|after| key.as_str() > after)
            })
            .take(limit)
            .collect()))
    }
}

struct HasKv;

impl HasData for HasKv {
    type Data<'a> = KvView<'a>;
}

/// Links the `kv` interface; `view` gives a call's view from its store data.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> KvView<'_>,
) -> Result<()> {
    wit::add_to_linker::<T, HasKv>(linker, view)
}

#[cfg(test)]
mod tests {
    use super::wit::Host as _;
    use super::*;

    #[tokio::test]
    async fn scan_pages_one_prefix_in_key_order_after_the_given_key() {
        let store = StateStore::in_memory();
        for key in [
            "inbox/m/1/b",
            "inbox/m/1/a",
            "inbox/m/1/c",
            "inbox/m/2/a",
            "win/1",
        ] {
            store
                .set(Table::Kv, key, key.as_bytes().to_vec(), None)
                .await
                .unwrap();
        }
        let mut view = KvView { store: &store };
        let keys = |page: Vec<(String, Vec<u8>)>| -> Vec<String> {
            page.into_iter().map(|(k, _)| k).collect()
        };
        let first = view
            .scan("inbox/m/1/".into(), None, 2)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first[0].1, b"inbox/m/1/a");
        assert_eq!(keys(first), ["inbox/m/1/a", "inbox/m/1/b"]);
        let rest = view
            .scan("inbox/m/1/".into(), Some("inbox/m/1/b".into()), 2)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(keys(rest), ["inbox/m/1/c"], "nothing of another prefix");
        let e = view
            .scan("inbox/ m".into(), None, 10)
            .await
            .unwrap()
            .unwrap_err();
        assert!(matches!(e, wit::Error::InvalidKey(_)), "{e:?}");
    }
}
