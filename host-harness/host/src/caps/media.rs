//! The `media` capability: the host downloads a file for the component and
//! streams it to WhatsApp's media upload endpoint.
//!
//! Meta downloads a message's `link` itself, so a file on an internal or
//! signed-in server cannot be sent by link. Here the host fetches it, under
//! rules of its own:
//!
//! - only from the origins in `[media] fetch_allow` (empty: the capability
//!   is off), compared after URL parsing like the API allowlist;
//! - a redirect is followed only within the same origin (at most
//!   [`MAX_REDIRECTS`]); one to another origin is refused and not contacted;
//! - a host name is resolved once, every address is checked (link-local,
//!   unspecified, multicast and broadcast addresses are never file servers:
//!   169.254.169.254 is a cloud metadata service) and the connection goes to
//!   the checked addresses only, so a second DNS answer cannot redirect it;
//! - the body is streamed straight into the multipart upload through a
//!   one-slot channel, so at most one network read (a bounded chunk) is in
//!   memory at a time, and the transfer stops as soon as it passes the kind's
//!   size limit (see `media_types`);
//! - the upload goes to `{api}/{version}/{phone-number-id}/media` from the
//!   host's settings, not to a URL the component chooses, with the access
//!   token attached by the host if it is bound there.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, header};
use rand::RngCore as _;
use tokio::sync::mpsc;
use url::{Host, Url};
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

use super::allowlist::{Allowlist, Origin};
use super::credentials::{Credential, CredentialHandle};
use super::http::{
    HttpCall, HttpLimits, bearer, describe_failure, header_pairs, install_crypto_provider,
};
use super::media_types::{self, KindRules};
use crate::runtime::bindings::media as wit;

/// The largest file WhatsApp takes of MIME type `mime` (an essence, like
/// `image/png`), or `None` when it takes no file of that type.
pub fn accepted_mime_limit(mime: &str) -> Option<u64> {
    [
        wit::MediaKind::Image,
        wit::MediaKind::Video,
        wit::MediaKind::Audio,
        wit::MediaKind::Document,
        wit::MediaKind::Sticker,
    ]
    .into_iter()
    .map(media_types::rules)
    .filter(|r| r.check_mime(mime).is_ok())
    .map(|r| r.max_bytes)
    .max()
}

/// Same-origin redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 5;
/// WhatsApp's answer to an upload is a small JSON object; more is cut off.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Fetches files from allowed origins and uploads them to WhatsApp.
pub struct MediaUploads {
    fetch_allow: Allowlist,
    enabled: bool,
    /// `{api}/{version}/{phone-number-id}/media`; none without a phone-number id.
    upload_url: Option<Url>,
    api: reqwest::Client,
    connect_timeout: Duration,
}

impl MediaUploads {
    /// Uploads from `fetch_allow` (empty: off) to `upload_url`, within the
    /// connect timeout of `limits`.
    pub fn new(
        fetch_allow: Vec<Origin>,
        upload_url: Option<Url>,
        limits: &HttpLimits,
    ) -> anyhow::Result<MediaUploads> {
        install_crypto_provider();
        let api = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(limits.connect_timeout)
            .build()?;
        Ok(MediaUploads {
            enabled: !fetch_allow.is_empty(),
            fetch_allow: Allowlist::new(fetch_allow),
            upload_url,
            api,
            connect_timeout: limits.connect_timeout,
        })
    }

    /// The capability switched off (no origin allowed).
    pub fn off() -> MediaUploads {
        MediaUploads::new(Vec::new(), None, &HttpLimits::default())
            .expect("a client with no TLS roots to load builds")
    }

    /// Fetches `req.url` and uploads it with `credential`, all before `deadline`.
    pub(crate) async fn upload(
        &self,
        req: wit::UploadRequest,
        credential: &Credential,
        deadline: Instant,
    ) -> Result<wit::Response, wit::Error> {
        let rules = media_types::rules(req.kind);
        let url = self.check(&req, credential)?;
        let upload_url = self.upload_url.clone().ok_or_else(|| {
            wit::Error::Denied(
                "no phone-number id is configured, so there is nowhere to upload".into(),
            )
        })?;
        let left = || deadline.saturating_duration_since(Instant::now());
        let file = tokio::time::timeout(left(), self.open_file(url))
            .await
            .map_err(|_| {
                wit::Error::FetchFailed("the file's server did not answer in time".into())
            })??;
        let mime = match req.mime.as_deref() {
            Some(m) => media_types::essence(m),
            None => file
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(media_types::essence)
                .unwrap_or_default(),
        };
        if mime.is_empty() {
            return Err(wit::Error::InvalidRequest(
                "the file's server sent no content-type and no MIME type was given".into(),
            ));
        }
        rules
            .check_mime(&mime)
            .map_err(wit::Error::InvalidRequest)?;
        if file.content_length().is_some_and(|n| n > rules.max_bytes) {
            return Err(wit::Error::TooLarge(rules.max_bytes));
        }
        let budget = left();
        tokio::time::timeout(
            budget,
            self.stream_upload(file, &mime, &rules, upload_url, credential),
        )
        .await
        .map_err(|_| {
            wit::Error::UploadFailed(wit::Failure {
                message: format!("no complete upload within {} ms", budget.as_millis()),
                request_sent: true,
            })
        })?
    }

    /// The request's URL if fetching is on, its origin allowed, its MIME type
    /// (when given) right for the kind and the credential bound to the upload
    /// endpoint. Nothing is contacted.
    fn check(&self, req: &wit::UploadRequest, credential: &Credential) -> Result<Url, wit::Error> {
        if !self.enabled {
            return Err(wit::Error::Denied(
                "media fetching is off: the gateway's operator has not set [media] fetch_allow"
                    .into(),
            ));
        }
        let url = Url::parse(&req.url).map_err(|e| {
            wit::Error::InvalidRequest(format!("`{}` is not a valid URL: {e}", req.url))
        })?;
        let origin = Origin::of(&url).map_err(wit::Error::InvalidRequest)?;
        if !self.fetch_allow.allows(&origin) {
            return Err(wit::Error::Denied(format!(
                "origin {origin} is not in the gateway's [media] fetch_allow"
            )));
        }
        if let Some(mime) = &req.mime {
            media_types::rules(req.kind)
                .check_mime(&media_types::essence(mime))
                .map_err(wit::Error::InvalidRequest)?;
        }
        if let Some(upload) = &self.upload_url {
            let upload_origin = Origin::of(upload).map_err(wit::Error::Denied)?;
            if !credential.bound_to(&upload_origin, upload.path()) {
                return Err(wit::Error::Denied(format!(
                    "credential `{}` is not bound to the media upload endpoint {upload_origin}{}",
                    credential.name,
                    upload.path()
                )));
            }
        }
        Ok(url)
    }

    /// GETs `url`, following redirects within its origin only.
    async fn open_file(&self, mut url: Url) -> Result<reqwest::Response, wit::Error> {
        let origin = Origin::of(&url).map_err(wit::Error::InvalidRequest)?;
        for _ in 0..=MAX_REDIRECTS {
            let client = self.pinned_client(&url).await?;
            let response = client
                .get(url.clone())
                .send()
                .await
                .map_err(|e| wit::Error::FetchFailed(describe_failure(&e)))?;
            let status = response.status();
            if status.is_redirection() {
                let next = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| url.join(l).ok())
                    .ok_or_else(|| {
                        wit::Error::FetchFailed(format!(
                            "the file's server answered HTTP {status} without a usable Location"
                        ))
                    })?;
                let next_origin = Origin::of(&next).map_err(wit::Error::Denied)?;
                if next_origin != origin {
                    return Err(wit::Error::Denied(format!(
                        "the file's server redirected to {next_origin}, another origin; the \
                         gateway follows redirects only within {origin}"
                    )));
                }
                url = next;
                continue;
            }
            if !status.is_success() {
                return Err(wit::Error::FetchFailed(format!(
                    "the file's server answered HTTP {status}"
                )));
            }
            return Ok(response);
        }
        Err(wit::Error::FetchFailed(format!(
            "more than {MAX_REDIRECTS} redirects"
        )))
    }

    /// A client that connects to `url`'s host only at addresses checked now.
    async fn pinned_client(&self, url: &Url) -> Result<reqwest::Client, wit::Error> {
        let port = url.port_or_known_default().unwrap_or(443);
        let builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.connect_timeout);
        let builder = match url.host() {
            Some(Host::Domain(domain)) => {
                let addrs: Vec<SocketAddr> = tokio::net::lookup_host((domain, port))
                    .await
                    .map_err(|e| wit::Error::FetchFailed(format!("cannot resolve {domain}: {e}")))?
                    .collect();
                for addr in &addrs {
                    check_address(addr.ip())?;
                }
                builder.resolve_to_addrs(domain, &addrs)
            }
            Some(Host::Ipv4(ip)) => {
                check_address(IpAddr::V4(ip))?;
                builder
            }
            Some(Host::Ipv6(ip)) => {
                check_address(IpAddr::V6(ip))?;
                builder
            }
            None => return Err(wit::Error::InvalidRequest("the URL has no host".into())),
        };
        builder
            .build()
            .map_err(|e| wit::Error::FetchFailed(describe_failure(&e)))
    }

    /// Streams `file` into a multipart `POST` to `upload_url`, stopping past the size limit.
    async fn stream_upload(
        &self,
        mut file: reqwest::Response,
        mime: &str,
        rules: &KindRules,
        upload_url: Url,
        credential: &Credential,
    ) -> Result<wit::Response, wit::Error> {
        let filename = file_name(file.url());
        let mut random = [0u8; 12];
        rand::rng().fill_bytes(&mut random);
        let boundary = format!("whatsapp-media-{}", hex::encode(random));
        let head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\n{mime}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
             Content-Type: {mime}\r\n\r\n"
        );
        let tail = format!("\r\n--{boundary}--\r\n");
        // One slot: the fetch waits until the upload has taken the previous chunk.
        let (tx, rx) = mpsc::channel(1);
        let mut request = reqwest::Request::new(reqwest::Method::POST, upload_url);
        let headers = request.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(&format!("multipart/form-data; boundary={boundary}"))
                .map_err(|e| wit::Error::InvalidRequest(e.to_string()))?,
        );
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(
            header::AUTHORIZATION,
            bearer(credential).map_err(wit::Error::Denied)?,
        );
        if let Some(len) = file.content_length() {
            let total = head.len() as u64 + len + tail.len() as u64;
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(total));
        }
        *request.body_mut() = Some(reqwest::Body::wrap(ChannelBody(rx)));
        let limit = rules.max_bytes;
        let pump = async move {
            if tx.send(Ok(Bytes::from(head))).await.is_err() {
                return Pumped::Abandoned;
            }
            let mut total: u64 = 0;
            loop {
                match file.chunk().await {
                    Ok(Some(chunk)) => {
                        total += chunk.len() as u64;
                        if total > limit {
                            let _ = tx.send(Err(io::Error::other("file too large"))).await;
                            return Pumped::TooLarge;
                        }
                        if tx.send(Ok(chunk)).await.is_err() {
                            return Pumped::Abandoned;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let _ = tx.send(Err(io::Error::other("download failed"))).await;
                        return Pumped::FetchFailed(describe_failure(&e));
                    }
                }
            }
            let _ = tx.send(Ok(Bytes::from(tail))).await;
            Pumped::Complete
        };
        let (pumped, sent) = tokio::join!(pump, self.api.execute(request));
        match pumped {
            Pumped::TooLarge => return Err(wit::Error::TooLarge(limit)),
            Pumped::FetchFailed(why) => return Err(wit::Error::FetchFailed(why)),
            Pumped::Complete | Pumped::Abandoned => {}
        }
        let mut answer = sent.map_err(|e| {
            wit::Error::UploadFailed(wit::Failure {
                message: describe_failure(&e),
                request_sent: !e.is_connect(),
            })
        })?;
        let status = answer.status().as_u16();
        crate::admin::metrics::global().graph_response(status);
        let headers = header_pairs(answer.headers());
        let mut body = Vec::new();
        while let Some(chunk) = answer.chunk().await.map_err(|e| {
            wit::Error::UploadFailed(wit::Failure {
                message: describe_failure(&e),
                request_sent: true,
            })
        })? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(wit::Response {
            status,
            headers,
            body,
        })
    }
}

/// How the download into the upload ended.
enum Pumped {
    Complete,
    /// The upload stopped taking the body (it failed or was answered early).
    Abandoned,
    TooLarge,
    FetchFailed(String),
}

/// An upload body fed chunk by chunk from the download.
struct ChannelBody(mpsc::Receiver<Result<Bytes, io::Error>>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|next| next.map(|r| r.map(http_body::Frame::data)))
    }
}

/// Refuses addresses that are never a file server.
fn check_address(ip: IpAddr) -> Result<(), wit::Error> {
    let never = match ip {
        IpAddr::V4(v4) => {
            v4.is_link_local() || v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast()
        }
        IpAddr::V6(v6) => {
            v6.is_unicast_link_local()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_link_local())
        }
    };
    if never {
        return Err(wit::Error::Denied(format!(
            "the file's host resolves to {ip}, a link-local, unspecified or multicast address \
             (such as a cloud metadata service), which the gateway never fetches from"
        )));
    }
    Ok(())
}

/// The last path segment of `url`, reduced to safe characters, for the multipart part.
fn file_name(url: &Url) -> String {
    let last = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("");
    let safe: String = last
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(100)
        .collect();
    if safe.is_empty() { "file".into() } else { safe }
}

/// What one call's `media` import may use.
pub(crate) struct MediaView<'a> {
    pub(crate) media: &'a MediaUploads,
    /// The call's resources: its open credential handles.
    pub(crate) table: &'a mut ResourceTable,
    /// Uploads count against the call's requests and end by its deadline.
    pub(crate) call: &'a mut HttpCall,
}

impl wit::Host for MediaView<'_> {
    async fn upload(
        &mut self,
        req: wit::UploadRequest,
        auth: Resource<CredentialHandle>,
    ) -> wasmtime::Result<Result<wit::Response, wit::Error>> {
        // `auth` is a borrow: read the handle, never delete it.
        let credential = match self.table.get(&auth)?.usable(crate::store::now_ms() / 1000) {
            Ok(credential) => credential.clone(),
            Err(why) => return Ok(Err(wit::Error::Denied(why))),
        };
        let deadline = match self.call.count_request() {
            Ok(deadline) => deadline,
            Err(why) => return Ok(Err(wit::Error::Denied(why))),
        };
        let result = self.media.upload(req, &credential, deadline).await;
        if let Err(e) = &result {
            tracing::debug!(error = ?e, "media upload refused or failed");
        }
        Ok(result)
    }
}

struct HasMedia;

impl HasData for HasMedia {
    type Data<'a> = MediaView<'a>;
}

/// Links the `media` interface; `view` gives a call's view from its store data.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> MediaView<'_>,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasMedia>(linker, view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_unspecified_addresses_are_never_fetched_from() {
        for bad in ["169.254.169.254", "0.0.0.0", "fe80::1", "::", "224.0.0.1"] {
            assert!(check_address(bad.parse().unwrap()).is_err(), "{bad}");
        }
        for ok in ["127.0.0.1", "10.1.2.3", "192.168.0.10", "::1"] {
            assert!(check_address(ok.parse().unwrap()).is_ok(), "{ok}");
        }
    }

    #[test]
    fn the_file_name_keeps_only_safe_characters() {
        let url = Url::parse("https://f.example/a/b/in%22voice.pdf").unwrap();
        assert_eq!(file_name(&url), "in22voice.pdf");
        assert_eq!(
            file_name(&Url::parse("https://f.example/").unwrap()),
            "file"
        );
    }
}
