//! What the core needs from its host, as a trait over plain types.
//!
//! The wasm glue (`component`) implements it over the WIT imports; native
//! tests implement it with a fake that records requests.

/// Request methods the connector uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`: reads.
    Get,
    /// `POST`: sends, creations and updates.
    Post,
    /// `DELETE`: template deletion.
    Delete,
}

impl Method {
    /// The method as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// An outbound request (WIT `http.request`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The request method.
    pub method: Method,
    /// The absolute URL, query included.
    pub url: String,
    /// Header (name, value) pairs; never an `authorization` header.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
    /// How long the host may wait for the response.
    pub timeout_ms: Option<u32>,
}

/// A response, whatever its status (WIT `http.response`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The HTTP status code.
    pub status: u16,
    /// Header (name, value) pairs.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// Why a credential could not be used (WIT `vault.error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialError {
    /// No credential with this name is granted to the component.
    NotGranted(String),
    /// The credential exists but cannot be used now (with the fix).
    Unavailable(String),
}

/// An open credential (WIT `vault.credential`): an opaque handle the host
/// issued from [`Host::open_credential`], valid for the rest of the call. The
/// core never sees the secret; it passes the handle back to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CredentialHandle(u32);

impl CredentialHandle {
    /// The handle the host numbered `id`.
    pub fn new(id: u32) -> Self {
        CredentialHandle(id)
    }

    /// The host's number for this handle.
    pub fn id(self) -> u32 {
        self.0
    }
}

/// Why a request produced no response (WIT `http.error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The host's allowlist or the credential's binding refused; nothing was sent.
    Denied(String),
    /// Malformed request; nothing was sent.
    InvalidRequest(String),
    /// Timeout; `request_sent` tells whether it may have reached the server.
    Timeout {
        /// What the host observed.
        message: String,
        /// Whether the request may have reached the server.
        request_sent: bool,
    },
    /// The response body exceeded the host's cap (bytes).
    TooLarge(u64),
    /// Connection, TLS or protocol failure.
    Transport {
        /// What the host observed.
        message: String,
        /// Whether the request may have reached the server.
        request_sent: bool,
    },
}

/// The kinds of media the host can upload (WIT `media.media-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// JPEG or PNG.
    Image,
    /// MP4 or 3GPP.
    Video,
    /// AAC, AMR, MP3, M4A or OGG (Opus).
    Audio,
    /// Text, PDF and office documents.
    Document,
    /// WebP.
    Sticker,
}

/// A file for the host to fetch and upload to WhatsApp (WIT `media.upload-request`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRequest {
    /// Where the host downloads the file from.
    pub url: String,
    /// The kind of message it is for.
    pub kind: MediaKind,
    /// Its MIME type, when the caller knows it.
    pub mime: Option<String>,
}

/// Why the host uploaded nothing (WIT `media.error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadError {
    /// Fetching is off, the origin is not allowed, a redirect left the origin,
    /// or the credential cannot be used.
    Denied(String),
    /// Bad URL or MIME type.
    InvalidRequest(String),
    /// Larger than WhatsApp accepts for the kind (the limit, in bytes).
    TooLarge(u64),
    /// The file's server failed or answered with an error.
    FetchFailed(String),
    /// The upload to WhatsApp failed on the wire.
    UploadFailed {
        /// What the host observed.
        message: String,
        /// Whether the upload may have reached WhatsApp.
        request_sent: bool,
    },
}

/// The host capabilities the core uses.
pub trait Host {
    /// A non-secret setting, or `None` when unset.
    fn config(&self, key: &str) -> Option<String>;
    /// Opens the credential named `name` for the rest of the call.
    fn open_credential(&self, name: &str) -> Result<CredentialHandle, CredentialError>;
    /// Sends `req`; when `credential` is given the host authorises the
    /// request with that access-token credential (the core never sees it).
    fn send(
        &self,
        req: &HttpRequest,
        credential: Option<CredentialHandle>,
    ) -> Result<HttpResponse, HttpError>;
    /// Has the host download `req.url` and upload it to WhatsApp's media
    /// endpoint authorised with `credential`; returns WhatsApp's answer.
    fn upload_media(
        &self,
        req: &UploadRequest,
        credential: CredentialHandle,
    ) -> Result<HttpResponse, UploadError>;
    /// The value under `key`, or `None` when missing or expired.
    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, String>;
    /// Stores `value` under `key` for `ttl_seconds` when given.
    fn kv_set(&self, key: &str, value: &[u8], ttl_seconds: Option<u32>) -> Result<(), String>;
    /// Up to `limit` live entries whose key starts with `prefix`, in
    /// ascending key order, after the key `start_after` when given.
    fn kv_scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, Vec<u8>)>, String>;
    /// Wall-clock time, Unix milliseconds.
    fn now_unix_ms(&self) -> u64;
    /// Waits `ms` milliseconds (between retries).
    fn sleep_ms(&self, ms: u64);
    /// HMAC-SHA256 of `data` keyed with the secret of `credential`.
    fn hmac_sha256(
        &self,
        credential: CredentialHandle,
        data: &[u8],
    ) -> Result<[u8; 32], CredentialError>;
    /// Whether `candidate` equals the secret of `credential` (constant time, host side).
    fn secret_equals(&self, credential: CredentialHandle, candidate: &[u8]) -> bool;
}
