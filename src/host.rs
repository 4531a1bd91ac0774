//! What the core needs from its host, as a trait over plain types.
//!
//! The wasm glue (`component`) implements it over the WIT imports; native
//! tests implement it with a fake that records requests.

/// Request methods the connector uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
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
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub timeout_ms: Option<u32>,
}

/// A response, whatever its status (WIT `http.response`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
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

/// Why a request produced no response (WIT `http.error`, plus credential errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The host's allowlist or the credential's binding refused; nothing was sent.
    Denied(String),
    /// Malformed request; nothing was sent.
    InvalidRequest(String),
    /// Timeout; `request_sent` tells whether it may have reached the server.
    Timeout { message: String, request_sent: bool },
    /// The response body exceeded the host's cap (bytes).
    TooLarge(u64),
    /// Connection, TLS or protocol failure.
    Transport { message: String, request_sent: bool },
    /// The access-token credential could not be opened; nothing was sent.
    Credential(CredentialError),
}

/// The host capabilities the core uses.
pub trait Host {
    /// A non-secret setting, or `None` when unset.
    fn config(&self, key: &str) -> Option<String>;
    /// Sends `req`; when `credential` is given the host authorises the
    /// request with that access-token credential (the core never sees it).
    fn send(&self, req: &HttpRequest, credential: Option<&str>) -> Result<HttpResponse, HttpError>;
    /// The value under `key`, or `None` when missing or expired.
    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, String>;
    /// Stores `value` under `key` for `ttl_seconds` when given.
    fn kv_set(&self, key: &str, value: &[u8], ttl_seconds: Option<u32>) -> Result<(), String>;
    /// Wall-clock time, Unix milliseconds.
    fn now_unix_ms(&self) -> u64;
    /// Waits `ms` milliseconds (between retries).
    fn sleep_ms(&self, ms: u64);
    /// HMAC-SHA256 of `data` keyed with the secret of credential `credential`.
    fn hmac_sha256(&self, credential: &str, data: &[u8]) -> Result<[u8; 32], CredentialError>;
    /// Whether `candidate` equals the secret of `credential` (constant time, host side).
    fn secret_equals(&self, credential: &str, candidate: &[u8]) -> Result<bool, CredentialError>;
}
