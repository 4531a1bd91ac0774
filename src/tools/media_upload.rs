//! `whatsapp_send_media` with `upload: true`: the gateway downloads the
//! `link` and uploads it to WhatsApp, and the message is sent by media id.
//!
//! Meta downloads a `link` itself, after the send, so a file on an internal
//! or signed-in server fails later with 131053. The host capability `media`
//! fetches it instead (only from origins the operator allowed) and streams it
//! to `POST /{phone-number-id}/media`; the access token stays in the host.

use serde_json::Value;

use crate::error::{ErrorKind, ToolError};
use crate::host::{CredentialError, Host, HttpResponse, MediaKind, UploadError, UploadRequest};
use crate::settings;

/// The media kind of a `media_type` argument (already validated).
pub(crate) fn kind_of(media_type: &str) -> MediaKind {
    match media_type {
        "video" => MediaKind::Video,
        "audio" => MediaKind::Audio,
        "document" => MediaKind::Document,
        "sticker" => MediaKind::Sticker,
        _ => MediaKind::Image,
    }
}

/// Checks a link the gateway will fetch: http or https (the host's allowlist
/// decides which origins), a host, no user info, no spaces.
pub(crate) fn check_fetch_link(link: &str) -> Result<(), ToolError> {
    let invalid = |details: String, hint: &str| {
        ToolError::invalid("link", "Invalid media link", details, hint.to_string())
    };
    if link.chars().count() > 2048 {
        return Err(invalid(
            "the URL is longer than 2048 characters".into(),
            "Use a shorter URL.",
        ));
    }
    if link.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "the URL contains spaces or control characters".into(),
            "Percent-encode spaces as %20.",
        ));
    }
    let lower = link.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    else {
        let scheme = lower.split(':').next().unwrap_or("");
        return Err(invalid(
            format!(
                "the URL scheme is `{scheme}`; the gateway fetches only http:// and https:// URLs"
            ),
            "Give the file's http(s) URL on a server the gateway's operator allowed ([media] fetch_allow).",
        ));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains('@') {
        return Err(invalid(
            "the URL has no host, or has user credentials in it".into(),
            "Give a URL like https://files.example.com/a.jpg, without user:password@.",
        ));
    }
    Ok(())
}

/// Has the host upload `link` as media of `kind`; returns WhatsApp's media id.
pub(crate) fn upload(
    host: &dyn Host,
    link: &str,
    kind: MediaKind,
    mime: Option<&str>,
) -> Result<String, ToolError> {
    let credential = host
        .open_credential(&settings::credential(host))
        .map_err(|e| credential_error(&e))?;
    let request = UploadRequest {
        url: link.to_string(),
        kind,
        mime: mime.map(str::to_string),
    };
    let response = host
        .upload_media(&request, credential)
        .map_err(upload_error)?;
    media_id(&response)
}

fn credential_error(e: &CredentialError) -> ToolError {
    let (details, hint) = match e {
        CredentialError::NotGranted(name) => (
            format!("no access-token credential named `{name}` is granted to the connector"),
            "Store the WhatsApp access token in the host's vault (host-harness vault set) or set WHATSAPP_ACCESS_TOKEN.",
        ),
        CredentialError::Unavailable(why) => {
            (why.clone(), "Reconnect the WhatsApp account, then retry.")
        }
    };
    ToolError::new(ErrorKind::Denied, "Access token unavailable", details, hint)
}

fn upload_error(e: UploadError) -> ToolError {
    const NOTHING_SENT: &str = "Nothing was sent.";
    match e {
        UploadError::Denied(why) => ToolError::new(
            ErrorKind::Denied,
            "Media fetch not allowed",
            format!("the gateway refused to fetch the link: {why}"),
            format!("{NOTHING_SENT} Use a link on an origin the gateway's operator listed in [media] fetch_allow, or send a public link without `upload`."),
        ),
        UploadError::InvalidRequest(why) => ToolError::invalid(
            "link",
            "Media not accepted",
            why,
            format!("{NOTHING_SENT} Check the file type against the media_type (see the tool description), or give the right `mime_type`."),
        ),
        UploadError::TooLarge(limit) => ToolError::invalid(
            "link",
            "Media too large",
            format!("the file is larger than WhatsApp accepts for this media type ({limit} bytes); the transfer was stopped"),
            format!("{NOTHING_SENT} Send a smaller file, or send it as a document (up to 100 MB)."),
        ),
        UploadError::FetchFailed(why) => ToolError::new(
            ErrorKind::Transport,
            "Media fetch failed",
            format!("the gateway could not download the link: {why}"),
            format!("{NOTHING_SENT} Check that the URL is right and its server is up, then retry."),
        )
        .retryable(true),
        UploadError::UploadFailed { message, .. } => ToolError::new(
            ErrorKind::Transport,
            "Media upload failed",
            format!("uploading the file to WhatsApp failed: {message}"),
            format!("{NOTHING_SENT} Retry; an upload that did reach WhatsApp only leaves an unused media id."),
        )
        .retryable(true),
    }
}

/// The `id` of a successful upload, or WhatsApp's error as a tool error.
fn media_id(response: &HttpResponse) -> Result<String, ToolError> {
    let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    if (200..300).contains(&response.status) {
        if let Some(id) = body
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
        {
            return Ok(id.to_string());
        }
        return Err(ToolError::new(
            ErrorKind::ApiError,
            "Media upload answered without an id",
            format!(
                "WhatsApp answered the upload with HTTP {} but no media id",
                response.status
            ),
            "Nothing was sent. Retry the call.",
        )
        .with_http_status(response.status)
        .retryable(true));
    }
    let error = body.get("error");
    let code = error.and_then(|e| e.get("code")).and_then(Value::as_i64);
    let message = error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("no error message");
    let details = error
        .and_then(|e| e.pointer("/error_data/details"))
        .and_then(Value::as_str)
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    let transient = error
        .and_then(|e| e.get("is_transient"))
        .and_then(Value::as_bool)
        .unwrap_or(response.status >= 500);
    let mut e = ToolError::new(
        ErrorKind::ApiError,
        "Media upload refused",
        format!(
            "WhatsApp refused the media upload with HTTP {}: {message}{details}",
            response.status
        ),
        "Nothing was sent. Check the file's type and size against the media_type, or the access token if the code is 190.",
    )
    .with_http_status(response.status)
    .retryable(transient);
    if let Some(code) = code {
        e = e.with_code(code);
    }
    e.fbtrace_id = error
        .and_then(|e| e.get("fbtrace_id"))
        .and_then(Value::as_str)
        .map(str::to_string);
    Err(e)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{FakeHost, PNID};

    fn send_ok() -> &'static str {
        r#"{"messaging_product":"whatsapp","contacts":[{"input":"16505551234","wa_id":"16505551234"}],"messages":[{"id":"wamid.X"}]}"#
    }

    fn uploaded(id: &str) -> Result<HttpResponse, UploadError> {
        Ok(HttpResponse {
            status: 200,
            headers: vec![],
            body: format!(r#"{{"id":"{id}"}}"#).into_bytes(),
        })
    }

    fn call(host: &FakeHost, args: Value) -> Result<Value, ToolError> {
        crate::tools::run(host, "whatsapp_send_media", &args.to_string())
    }

    #[test]
    fn upload_true_has_the_host_upload_the_link_then_sends_by_media_id() {
        let host = FakeHost::new();
        host.upload_results
            .borrow_mut()
            .push_back(uploaded("998877"));
        host.respond(200, send_ok());
        let out = call(
            &host,
            json!({"to": "+16505551234", "media_type": "document", "link": "http://files.internal.example/a.pdf",
                   "upload": true, "mime_type": "application/pdf", "filename": "a.pdf"}),
        )
        .unwrap();
        assert_eq!(out["uploaded_media_id"], "998877");
        let (req, credential) = host.uploads.borrow()[0].clone();
        assert_eq!(
            credential, "whatsapp",
            "the host authorises with the access token"
        );
        assert_eq!(req.kind, MediaKind::Document);
        assert_eq!(req.mime.as_deref(), Some("application/pdf"));
        assert_eq!(
            host.last_request().url,
            format!("https://graph.facebook.com/v23.0/{PNID}/messages")
        );
        assert_eq!(
            host.last_body()["document"],
            json!({"id": "998877", "filename": "a.pdf"}),
            "sent by id; the internal link never reaches Meta"
        );
    }

    #[test]
    fn a_refused_upload_sends_nothing_and_says_why() {
        let host = FakeHost::new();
        host.upload_results
            .borrow_mut()
            .push_back(Err(UploadError::Denied(
                "origin x is not in fetch_allow".into(),
            )));
        let e = call(
            &host,
            json!({"to": "+16505551234", "media_type": "image", "link": "https://x.example/a.jpg", "upload": true}),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Denied);
        assert!(e.details.contains("fetch_allow"), "{e:?}");
        assert_eq!(host.request_count(), 0);
    }

    #[test]
    fn under_enforce_a_closed_window_is_refused_before_the_gateway_fetches_anything() {
        let host = FakeHost::new();
        host.set("window-policy", "enforce");
        host.upload_results
            .borrow_mut()
            .push_back(uploaded("998877"));
        let e = call(
            &host,
            json!({"to": "+16505551234", "media_type": "image", "link": "https://files.internal.example/a.jpg", "upload": true}),
        )
        .unwrap_err();
        assert_eq!(e.code, Some(131047), "{e:?}");
        assert!(host.uploads.borrow().is_empty(), "nothing was uploaded");
        assert_eq!(host.request_count(), 0);
    }

    #[test]
    fn arguments_are_checked_before_the_gateway_fetches_anything() {
        let host = FakeHost::new();
        for (args, field) in [
            (
                json!({"to": "+16505551234", "media_type": "image", "media_id": "1", "upload": true}),
                "upload",
            ),
            (
                json!({"to": "+16505551234", "media_type": "image", "link": "https://x.example/a.jpg", "mime_type": "image/png"}),
                "mime_type",
            ),
            (
                json!({"to": "+16505551234", "media_type": "audio", "link": "https://x.example/a.mp3", "upload": true, "caption": "hi"}),
                "caption",
            ),
        ] {
            let e = call(&host, args).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{e:?}");
        }
        assert!(host.uploads.borrow().is_empty());
    }

    #[test]
    fn links_the_gateway_fetches_may_be_http_or_https_and_nothing_else() {
        for ok in [
            "https://files.internal.example/a.jpg",
            "http://127.0.0.1:8080/a.jpg",
        ] {
            assert!(check_fetch_link(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ftp://files.internal.example/a.jpg",
            "file:///etc/passwd",
            "https://user:pw@files.internal.example/a.jpg",
            "https:///a.jpg",
            "https://files.internal.example/a b.jpg",
        ] {
            let e = check_fetch_link(bad).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("link"), "{bad}");
        }
    }

    #[test]
    fn an_upload_error_from_whatsapp_keeps_its_code_and_trace_id() {
        let response = HttpResponse {
            status: 400,
            headers: vec![],
            body: br#"{"error":{"message":"(#131053) Media upload error","code":131053,"error_data":{"details":"Unsupported file type"},"fbtrace_id":"Atrace"}}"#.to_vec(),
        };
        let e = media_id(&response).unwrap_err();
        assert_eq!(e.code, Some(131053));
        assert_eq!(e.fbtrace_id.as_deref(), Some("Atrace"));
        assert!(e.details.contains("Unsupported file type"), "{e:?}");
        assert!(!e.retryable);
    }
}
