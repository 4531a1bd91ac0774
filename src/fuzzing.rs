//! Support for the fuzz targets in `tests/fuzz` (feature `fuzzing` only): a
//! host that answers every request the same way, and the checks every
//! rejection must pass.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use crate::error::ToolError;
use crate::host::{CredentialError, CredentialHandle, Host, HttpError, HttpRequest, HttpResponse};

/// A host with in-memory kv whose HTTP answer is fixed.
pub struct FuzzHost {
    response: Result<HttpResponse, HttpError>,
    kv: RefCell<BTreeMap<String, Vec<u8>>>,
    now_ms: Cell<u64>,
}

impl FuzzHost {
    /// Answers every request with `status` and `body`.
    pub fn answering(status: u16, body: &[u8]) -> FuzzHost {
        FuzzHost {
            response: Ok(HttpResponse {
                status,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.to_vec(),
            }),
            kv: RefCell::new(BTreeMap::new()),
            now_ms: Cell::new(1_764_000_000_000),
        }
    }

    /// Accepts every request with a plausible success body.
    pub fn accepting() -> FuzzHost {
        FuzzHost::answering(
            200,
            br#"{"messaging_product":"whatsapp","contacts":[{"input":"1","wa_id":"1"}],"messages":[{"id":"wamid.X"}],"data":[],"success":true,"id":"1","status":"PENDING","category":"UTILITY"}"#,
        )
    }
}

impl Host for FuzzHost {
    fn config(&self, key: &str) -> Option<String> {
        match key {
            "phone-number-id" => Some("106540352242922".into()),
            "waba-id" => Some("102290129340398".into()),
            "window-policy" => Some("enforce".into()),
            // The inbox's parsers and readers are fuzzed too.
            "inbox-enabled" => Some("true".into()),
            _ => None,
        }
    }

    fn open_credential(&self, _: &str) -> Result<CredentialHandle, CredentialError> {
        Ok(CredentialHandle::new(0))
    }

    fn send(
        &self,
        _: &HttpRequest,
        _: Option<CredentialHandle>,
    ) -> Result<HttpResponse, HttpError> {
        self.response.clone()
    }

    fn upload_media(
        &self,
        _: &crate::host::UploadRequest,
        _: CredentialHandle,
    ) -> Result<HttpResponse, crate::host::UploadError> {
        self.response
            .clone()
            .map_err(|_| crate::host::UploadError::FetchFailed("fuzzing host".into()))
    }

    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(self.kv.borrow().get(key).cloned())
    }

    fn kv_set(&self, key: &str, value: &[u8], _: Option<u32>) -> Result<(), String> {
        self.kv.borrow_mut().insert(key.into(), value.to_vec());
        Ok(())
    }

    fn kv_scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, Vec<u8>)>, String> {
        Ok(self
            .kv
            .borrow()
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(k, _)| start_after.is_none_or(|after| k.as_str() > after))
            .take(limit as usize)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn now_unix_ms(&self) -> u64 {
        self.now_ms.get()
    }

    fn sleep_ms(&self, ms: u64) {
        self.now_ms.set(self.now_ms.get() + ms);
    }

    fn hmac_sha256(&self, _: CredentialHandle, data: &[u8]) -> Result<[u8; 32], CredentialError> {
        // Not a MAC; only needs to be deterministic for the parser under test.
        let mut out = [0u8; 32];
        for (i, b) in data.iter().enumerate() {
            out[i % 32] ^= b.rotate_left(i as u32 % 8);
        }
        Ok(out)
    }

    fn secret_equals(&self, _: CredentialHandle, candidate: &[u8]) -> bool {
        candidate == b"verify-token"
    }
}

/// A rejection must say what failed and what to do.
pub fn assert_clear(e: &ToolError) {
    assert!(
        !e.title.trim().is_empty(),
        "an error without a title: {e:?}"
    );
    assert!(
        !e.details.trim().is_empty(),
        "an error without details: {e:?}"
    );
    assert!(!e.hint.trim().is_empty(), "an error without a hint: {e:?}");
}
