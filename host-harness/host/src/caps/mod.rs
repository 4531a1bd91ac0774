//! The host capabilities behind the component's imports, one module each,
//! and the per-call store state that carries them.

pub mod allowlist;
pub mod guest_log;
pub mod http;
pub mod vault;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Resource, ResourceTable};
use wasmtime::{ResourceLimiter, Result};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::runtime::bindings::{config, http as wit_http, kv, vault as wit_vault};
use crate::store::{MAX_KEY_BYTES, MAX_VALUE_BYTES, StateStore, Table};

/// Everything the component's imports reach, shared by all calls.
pub struct Capabilities {
    pub http: http::OutboundHttp,
    pub vault: Arc<vault::Vault>,
    pub state: StateStore,
    /// Non-secret settings served by the `config` import.
    pub config: BTreeMap<String, String>,
}

/// The host side of a `credential` handle: just the name. The secret stays in
/// the vault and is looked up at each use, so a handle never copies it.
pub struct CredentialHandle {
    name: String,
}

/// Per-call ceilings that keep a hostile component from wasting the host.
const MAX_OPEN_CREDENTIALS: usize = 16;
const MAX_REQUESTS_PER_CALL: u32 = 16;

/// A memory growth the store refused; surfaces as this call's error.
#[derive(Debug, thiserror::Error)]
#[error("the component exceeded its memory limit of {limit} bytes (asked for {desired})")]
pub struct MemoryLimitExceeded {
    pub limit: usize,
    pub desired: usize,
}

pub struct Limiter {
    memory_bytes: usize,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        if desired > self.memory_bytes {
            return Err(MemoryLimitExceeded {
                limit: self.memory_bytes,
                desired,
            }
            .into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The state of one store, i.e. of one tool call.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    caps: Arc<Capabilities>,
    deadline: Instant,
    open_credentials: usize,
    requests: u32,
    /// A non-GET request may have reached the API during this call.
    pub(crate) write_may_have_landed: bool,
}

impl HostState {
    pub fn new(caps: Arc<Capabilities>, memory_bytes: usize, deadline: Instant) -> HostState {
        // No preopens, no environment, no arguments, no sockets, no stdin;
        // stdout and stderr go to the log.
        let wasi = WasiCtx::builder()
            .stdout(guest_log::GuestLog)
            .stderr(guest_log::GuestLog)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter { memory_bytes },
            caps,
            deadline,
            open_credentials: 0,
            requests: 0,
            write_may_have_landed: false,
        }
    }

    fn now_unix() -> u64 {
        crate::store::now_ms() / 1000
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wasmtime_wasi_io::IoView for HostState {
    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl wit_vault::Host for HostState {}

impl wit_vault::HostCredential for HostState {
    async fn open(
        &mut self,
        name: String,
    ) -> Result<std::result::Result<Resource<CredentialHandle>, wit_vault::Error>> {
        if self.open_credentials >= MAX_OPEN_CREDENTIALS {
            return Ok(Err(wit_vault::Error::Unavailable(format!(
                "at most {MAX_OPEN_CREDENTIALS} credentials may be open in one call"
            ))));
        }
        match self.caps.vault.open(&name, Self::now_unix()) {
            Ok(_) => {
                self.open_credentials += 1;
                Ok(Ok(self.table.push(CredentialHandle { name })?))
            }
            Err(vault::OpenError::NotGranted(n)) => {
                tracing::warn!(credential = %n, "component asked for a credential it is not granted");
                Ok(Err(wit_vault::Error::NotGranted(n)))
            }
            Err(vault::OpenError::Unavailable(why)) => Ok(Err(wit_vault::Error::Unavailable(why))),
        }
    }

    async fn info(
        &mut self,
        handle: Resource<CredentialHandle>,
    ) -> Result<wit_vault::CredentialInfo> {
        let name = self.table.get(&handle)?.name.clone();
        Ok(match self.caps.vault.get(&name) {
            Some(c) => wit_vault::CredentialInfo {
                name,
                kind: match c.kind {
                    vault::Kind::AccessToken => wit_vault::Kind::AccessToken,
                    vault::Kind::AppSecret => wit_vault::Kind::AppSecret,
                    vault::Kind::VerifyToken => wit_vault::Kind::VerifyToken,
                },
                scopes: c.scopes.clone(),
                expires_at: c.expires_at,
            },
            // Removed while open: report it as an access token with nothing granted.
            None => wit_vault::CredentialInfo {
                name,
                kind: wit_vault::Kind::AccessToken,
                scopes: vec![],
                expires_at: None,
            },
        })
    }

    async fn hmac_sha256(
        &mut self,
        handle: Resource<CredentialHandle>,
        data: Vec<u8>,
    ) -> Result<Vec<u8>> {
        let name = &self.table.get(&handle)?.name;
        // A credential removed mid-call yields a MAC no signature can match.
        Ok(match self.caps.vault.get(name) {
            Some(c) => c.hmac_sha256(&data).to_vec(),
            None => vec![0; 32],
        })
    }

    async fn equals(
        &mut self,
        handle: Resource<CredentialHandle>,
        candidate: Vec<u8>,
    ) -> Result<bool> {
        let name = &self.table.get(&handle)?.name;
        Ok(self
            .caps
            .vault
            .get(name)
            .is_some_and(|c| c.secret_equals(&candidate)))
    }

    async fn drop(&mut self, handle: Resource<CredentialHandle>) -> Result<()> {
        self.table.delete(handle)?;
        self.open_credentials = self.open_credentials.saturating_sub(1);
        Ok(())
    }
}

impl wit_http::Host for HostState {
    async fn send(
        &mut self,
        req: wit_http::Request,
        auth: Option<Resource<CredentialHandle>>,
    ) -> Result<std::result::Result<wit_http::Response, wit_http::Error>> {
        // `auth` is a borrow: look it up, never delete it.
        let credential = match &auth {
            Some(handle) => {
                let name = &self.table.get(handle)?.name;
                match self.caps.vault.open(name, Self::now_unix()) {
                    Ok(c) => Some(c),
                    Err(e) => return Ok(Err(wit_http::Error::Denied(e.to_string()))),
                }
            }
            None => None,
        };
        if self.requests >= MAX_REQUESTS_PER_CALL {
            return Ok(Err(wit_http::Error::Denied(format!(
                "at most {MAX_REQUESTS_PER_CALL} requests may be made in one call"
            ))));
        }
        self.requests += 1;
        let method = match req.method {
            wit_http::Method::Get => http::Method::Get,
            wit_http::Method::Post => http::Method::Post,
            wit_http::Method::Delete => http::Method::Delete,
        };
        let outbound = http::OutboundRequest {
            method,
            url: req.url,
            headers: req.headers,
            body: req.body,
            timeout: req.timeout_ms.map(|ms| Duration::from_millis(ms.into())),
        };
        let (result, observation) = self
            .caps
            .http
            .send(outbound, credential.as_deref(), self.deadline)
            .await;
        if observation.token_rejected
            && let Some(c) = &credential
        {
            self.caps.vault.mark_needs_reconnect(&c.name);
        }
        let may_have_landed = match &result {
            Ok(_) => true,
            Err(
                http::HttpError::Timeout { request_sent, .. }
                | http::HttpError::Transport { request_sent, .. },
            ) => *request_sent,
            Err(_) => false,
        };
        if method != http::Method::Get && may_have_landed {
            self.write_may_have_landed = true;
        }
        Ok(result
            .map(|r| wit_http::Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
            })
            .map_err(|e| match e {
                http::HttpError::Denied(m) => wit_http::Error::Denied(m),
                http::HttpError::InvalidRequest(m) => wit_http::Error::InvalidRequest(m),
                http::HttpError::Timeout {
                    message,
                    request_sent,
                } => wit_http::Error::Timeout(wit_http::Failure {
                    message,
                    request_sent,
                }),
                http::HttpError::TooLarge(n) => wit_http::Error::TooLarge(n),
                http::HttpError::Transport {
                    message,
                    request_sent,
                } => wit_http::Error::Transport(wit_http::Failure {
                    message,
                    request_sent,
                }),
            }))
    }
}

impl config::Host for HostState {
    async fn get(&mut self, key: String) -> Result<Option<String>> {
        Ok(self.caps.config.get(&key).cloned())
    }
}

fn check_key(key: &str) -> std::result::Result<(), kv::Error> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(kv::Error::InvalidKey(format!(
            "keys are 1 to {MAX_KEY_BYTES} printable ASCII characters without spaces"
        )));
    }
    Ok(())
}

fn unavailable(e: crate::store::StateError) -> kv::Error {
    kv::Error::Unavailable(e.to_string())
}

impl kv::Host for HostState {
    async fn get(
        &mut self,
        key: String,
    ) -> Result<std::result::Result<Option<Vec<u8>>, kv::Error>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        Ok(self.caps.state.get(Table::Kv, &key).map_err(unavailable))
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_seconds: Option<u32>,
    ) -> Result<std::result::Result<(), kv::Error>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Ok(Err(kv::Error::TooLarge(MAX_VALUE_BYTES as u64)));
        }
        Ok(self
            .caps
            .state
            .set(Table::Kv, &key, value, ttl_seconds)
            .await
            .map_err(unavailable))
    }

    async fn delete(&mut self, key: String) -> Result<std::result::Result<bool, kv::Error>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        Ok(self
            .caps
            .state
            .delete(Table::Kv, &key)
            .await
            .map_err(unavailable))
    }
}
