//! The wit-bindgen glue (wasm only): the `Host` over the WIT imports, and the
//! WIT exports over the pure core.

wit_bindgen::generate!({ world: "connector", path: "wit" });

use std::cell::RefCell;

use exports::whatsapp::connector::tools::{
    Annotations, Category, ErrorKind, Guest as ToolsGuest, ToolDescriptor, ToolError,
};
use exports::whatsapp::connector::webhooks::{
    Guest as WebhooksGuest, IngestReport, WebhookRequest, WebhookVerdict,
};
use whatsapp::connector::{config, http, kv, media, vault};

use crate::host::{
    CredentialError, CredentialHandle, Host, HttpError, HttpRequest, HttpResponse, MediaKind,
    Method, UploadError, UploadRequest,
};

struct Component;

/// The host capabilities over the WIT imports, for one export call: the
/// credentials the call opened live here (a handle is an index) and are
/// dropped, so closed, with it.
#[derive(Default)]
struct WitHost {
    credentials: RefCell<Vec<vault::Credential>>,
}

impl WitHost {
    fn with_credential<T>(
        &self,
        handle: CredentialHandle,
        f: impl FnOnce(&vault::Credential) -> T,
    ) -> T {
        let credentials = self.credentials.borrow();
        // Handles come only from `open_credential` of this same host.
        f(&credentials[handle.id() as usize])
    }
}

fn credential_error(e: vault::Error) -> CredentialError {
    match e {
        vault::Error::NotGranted(name) => CredentialError::NotGranted(name),
        vault::Error::Unavailable(why) => CredentialError::Unavailable(why),
    }
}

fn kv_error(e: kv::Error) -> String {
    match e {
        kv::Error::InvalidKey(m) => format!("invalid key: {m}"),
        kv::Error::TooLarge(n) => format!("value too large for the store ({n} bytes)"),
        kv::Error::Unavailable(m) => format!("store unavailable: {m}"),
    }
}

impl Host for WitHost {
    fn config(&self, key: &str) -> Option<String> {
        config::get(key)
    }

    fn open_credential(&self, name: &str) -> Result<CredentialHandle, CredentialError> {
        let credential = vault::Credential::open(name).map_err(credential_error)?;
        let mut credentials = self.credentials.borrow_mut();
        credentials.push(credential);
        Ok(CredentialHandle::new(
            u32::try_from(credentials.len() - 1).unwrap_or(u32::MAX),
        ))
    }

    fn send(
        &self,
        req: &HttpRequest,
        credential: Option<CredentialHandle>,
    ) -> Result<HttpResponse, HttpError> {
        let wit_req = http::Request {
            method: match req.method {
                Method::Get => http::Method::Get,
                Method::Post => http::Method::Post,
                Method::Delete => http::Method::Delete,
            },
            url: req.url.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
            timeout_ms: req.timeout_ms,
        };
        let result = match credential {
            Some(handle) => self.with_credential(handle, |c| http::send(&wit_req, Some(c))),
            None => http::send(&wit_req, None),
        };
        match result {
            Ok(r) => Ok(HttpResponse {
                status: r.status,
                headers: r.headers,
                body: r.body,
            }),
            Err(http::Error::Denied(m)) => Err(HttpError::Denied(m)),
            Err(http::Error::InvalidRequest(m)) => Err(HttpError::InvalidRequest(m)),
            Err(http::Error::Timeout(f)) => Err(HttpError::Timeout {
                message: f.message,
                request_sent: f.request_sent,
            }),
            Err(http::Error::TooLarge(n)) => Err(HttpError::TooLarge(n)),
            Err(http::Error::Transport(f)) => Err(HttpError::Transport {
                message: f.message,
                request_sent: f.request_sent,
            }),
        }
    }

    fn upload_media(
        &self,
        req: &UploadRequest,
        credential: CredentialHandle,
    ) -> Result<HttpResponse, UploadError> {
        let wit_req = media::UploadRequest {
            url: req.url.clone(),
            kind: match req.kind {
                MediaKind::Image => media::MediaKind::Image,
                MediaKind::Video => media::MediaKind::Video,
                MediaKind::Audio => media::MediaKind::Audio,
                MediaKind::Document => media::MediaKind::Document,
                MediaKind::Sticker => media::MediaKind::Sticker,
            },
            mime: req.mime.clone(),
        };
        match self.with_credential(credential, |c| media::upload(&wit_req, c)) {
            Ok(r) => Ok(HttpResponse {
                status: r.status,
                headers: r.headers,
                body: r.body,
            }),
            Err(media::Error::Denied(m)) => Err(UploadError::Denied(m)),
            Err(media::Error::InvalidRequest(m)) => Err(UploadError::InvalidRequest(m)),
            Err(media::Error::TooLarge(n)) => Err(UploadError::TooLarge(n)),
            Err(media::Error::FetchFailed(m)) => Err(UploadError::FetchFailed(m)),
            Err(media::Error::UploadFailed(f)) => Err(UploadError::UploadFailed {
                message: f.message,
                request_sent: f.request_sent,
            }),
        }
    }

    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        kv::get(key).map_err(kv_error)
    }

    fn kv_set(&self, key: &str, value: &[u8], ttl_seconds: Option<u32>) -> Result<(), String> {
        kv::set(key, value, ttl_seconds).map_err(kv_error)
    }

    fn kv_scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, Vec<u8>)>, String> {
        kv::scan(prefix, start_after, limit).map_err(kv_error)
    }

    fn now_unix_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }

    fn sleep_ms(&self, ms: u64) {
        // WASI monotonic-clock wait: the host parks the call, no CPU spent.
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }

    fn hmac_sha256(
        &self,
        credential: CredentialHandle,
        data: &[u8],
    ) -> Result<[u8; 32], CredentialError> {
        let mac = self.with_credential(credential, |c| c.hmac_sha256(data));
        <[u8; 32]>::try_from(mac.as_slice()).map_err(|_| {
            CredentialError::Unavailable(format!(
                "the host returned a {}-byte HMAC instead of 32",
                mac.len()
            ))
        })
    }

    fn secret_equals(&self, credential: CredentialHandle, candidate: &[u8]) -> bool {
        self.with_credential(credential, |c| c.equals(candidate))
    }
}

fn wit_error(e: crate::error::ToolError) -> ToolError {
    use crate::error::ErrorKind as K;
    let e = *e.0;
    ToolError {
        kind: match e.kind {
            K::InvalidArguments => ErrorKind::InvalidArguments,
            K::UnknownTool => ErrorKind::UnknownTool,
            K::ApiError => ErrorKind::ApiError,
            K::Transport => ErrorKind::Transport,
            K::OutcomeUnknown => ErrorKind::OutcomeUnknown,
            K::Denied => ErrorKind::Denied,
            K::NotFound => ErrorKind::NotFound,
            K::Internal => ErrorKind::Internal,
        },
        code: e.code,
        title: e.title,
        details: e.details,
        hint: e.hint,
        retryable: e.retryable,
        field: e.field,
        fbtrace_id: e.fbtrace_id,
        http_status: e.http_status,
        error_subcode: e.error_subcode,
        error_user_title: e.error_user_title,
        error_user_msg: e.error_user_msg,
        retry_after_seconds: e.retry_after_seconds,
    }
}

impl ToolsGuest for Component {
    fn list_tools() -> Vec<ToolDescriptor> {
        crate::descriptors::descriptors()
            .into_iter()
            .map(|d| ToolDescriptor {
                name: d.name.to_string(),
                title: d.title.to_string(),
                description: d.description.to_string(),
                category: match d.category {
                    crate::descriptors::Category::Read => Category::Read,
                    crate::descriptors::Category::Write => Category::Write,
                    crate::descriptors::Category::Delete => Category::Delete,
                },
                input_schema: d.input_schema.to_string(),
                output_schema: d.output_schema.to_string(),
                annotations: Annotations {
                    read_only: d.annotations.read_only,
                    destructive: d.annotations.destructive,
                    idempotent: d.annotations.idempotent,
                    open_world: d.annotations.open_world,
                },
                scopes: d.scopes.iter().map(|s| s.to_string()).collect(),
            })
            .collect()
    }

    fn call_tool(name: String, arguments: String) -> Result<String, ToolError> {
        crate::tools::call_tool(&WitHost::default(), &name, &arguments).map_err(wit_error)
    }
}

impl WebhooksGuest for Component {
    fn verify(req: WebhookRequest) -> WebhookVerdict {
        let v = crate::webhooks::verify(
            &WitHost::default(),
            &crate::webhooks::WebhookRequest {
                method: req.method,
                query: req.query,
                headers: req.headers,
                body: req.body,
            },
        );
        WebhookVerdict {
            status: v.status,
            body: v.body,
            accept: v.accept,
        }
    }

    fn ingest(body: Vec<u8>) -> Result<IngestReport, String> {
        crate::webhooks::ingest(&WitHost::default(), &body).map(|r| IngestReport {
            statuses: r.statuses,
            messages: r.messages,
            template_updates: r.template_updates,
            ignored: r.ignored,
            foreign: r.foreign,
            conversations: r.conversations,
        })
    }
}

export!(Component);
