//! Uploaded media and Resumable Upload sessions, with Meta's rules for both.
//!
//! - `POST /{phone-number-id}/media` (multipart: `messaging_product=whatsapp`, `type`, `file`)
//!   keeps the file's type, size and SHA-256 under a new numeric media id, which sends
//!   accept as `{"image": {"id": …}}`. The types and limits are Meta's "Supported media types"
//!   (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types),
//!   sizes read as MiB. A type outside the list is refused with Meta's code-100 message
//!   naming the accepted types; a file over its type's limit with 131053 (the sandbox's choice of
//!   code: Meta's media upload error).
//! - `POST /{app-id}/uploads?file_length&file_type[&file_name]` opens a session
//!   (`{"id": "upload:…"}`); `POST /upload:…` with header `file_offset: 0` and the raw bytes
//!   returns the handle `{"h": …}` for template header examples and `profile_picture_handle`;
//!   `GET /upload:…` reports `file_offset`
//!   (https://developers.facebook.com/docs/graph-api/guides/upload). The bytes must add up to
//!   `file_length`.

use std::collections::HashMap;

use base64::Engine as _;
use http::StatusCode;
use sha2::{Digest as _, Sha256};

use crate::graph_error::{GraphError, GraphResult};
use crate::util;

const MIB: u64 = 1024 * 1024;

/// Every MIME type the media endpoint takes, with the largest file of that type.
const MEDIA_TYPES: &[(&str, u64)] = &[
    ("audio/aac", 16 * MIB),
    ("audio/amr", 16 * MIB),
    ("audio/mpeg", 16 * MIB),
    ("audio/mp4", 16 * MIB),
    ("audio/ogg", 16 * MIB),
    ("text/plain", 100 * MIB),
    ("application/pdf", 100 * MIB),
    ("application/msword", 100 * MIB),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        100 * MIB,
    ),
    ("application/vnd.ms-excel", 100 * MIB),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        100 * MIB,
    ),
    ("application/vnd.ms-powerpoint", 100 * MIB),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        100 * MIB,
    ),
    ("image/jpeg", 5 * MIB),
    ("image/png", 5 * MIB),
    ("image/webp", 500 * 1024),
    ("video/mp4", 16 * MIB),
    ("video/3gpp", 16 * MIB),
];

/// File types a Resumable Upload session takes.
const SESSION_TYPES: &[&str] = &[
    "application/pdf",
    "image/jpeg",
    "image/jpg",
    "image/png",
    "video/mp4",
];

/// The largest body the media endpoints read (the largest file plus the multipart framing).
pub(crate) const MAX_UPLOAD_BODY: usize = 100 * 1024 * 1024 + 64 * 1024;

/// An uploaded file, as `GET /{media-id}` would describe it.
#[derive(Clone, Debug)]
pub(crate) struct StoredMedia {
    pub(crate) mime_type: String,
    pub(crate) file_size: u64,
    pub(crate) sha256: String,
}

/// A Resumable Upload session.
#[derive(Clone, Debug)]
struct Session {
    file_length: u64,
    file_type: String,
    received: u64,
    handle: Option<String>,
}

/// The uploaded media and open upload sessions of the account.
#[derive(Default)]
pub(crate) struct MediaStore {
    media: HashMap<String, StoredMedia>,
    sessions: HashMap<String, Session>,
}

/// The `type`, `messaging_product` and file of a media upload.
pub(crate) struct MediaUpload<'a> {
    pub(crate) messaging_product: Option<String>,
    pub(crate) mime_type: Option<String>,
    pub(crate) file: Option<&'a [u8]>,
}

impl MediaStore {
    /// `POST /{phone-number-id}/media`: Meta's checks, then a new media id.
    pub(crate) fn upload(&mut self, upload: MediaUpload<'_>) -> GraphResult<String> {
        match upload.messaging_product.as_deref() {
            Some(p) if p.eq_ignore_ascii_case("whatsapp") => {}
            Some(other) => {
                return Err(GraphError::enum_param(
                    "messaging_product",
                    &["WHATSAPP"],
                    other,
                ));
            }
            None => return Err(GraphError::required_param("messaging_product")),
        }
        let Some(file) = upload.file else {
            return Err(GraphError::required_param("file"));
        };
        let mime = upload
            .mime_type
            .as_deref()
            .map(|t| {
                t.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        let Some(&(_, max)) = MEDIA_TYPES.iter().find(|(t, _)| *t == mime) else {
            let accepted: Vec<&str> = MEDIA_TYPES.iter().map(|(t, _)| *t).collect();
            return Err(GraphError::invalid_param(format!(
                "Param file must be a file with one of the following types: {}. Received file of type '{mime}'.",
                accepted.join(", ")
            )));
        };
        let size = file.len() as u64;
        if size > max {
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                131053,
                "(#131053) Media upload error",
            )
            .details(format!(
                "The file is {size} bytes; files of type {mime} may be at most {max} bytes."
            )));
        }
        let id = util::numeric_id(16);
        self.media.insert(
            id.clone(),
            StoredMedia {
                mime_type: mime,
                file_size: size,
                sha256: hex::encode(Sha256::digest(file)),
            },
        );
        Ok(id)
    }

    /// Keeps a file a customer sent (an inbound image, …) under a new media id, the way
    /// Meta keeps inbound media for `GET /{media-id}`.
    pub(crate) fn receive(&mut self, mime_type: &str, file: &[u8]) -> (String, StoredMedia) {
        let id = util::numeric_id(16);
        let media = StoredMedia {
            mime_type: mime_type.to_owned(),
            file_size: file.len() as u64,
            sha256: hex::encode(Sha256::digest(file)),
        };
        self.media.insert(id.clone(), media.clone());
        (id, media)
    }

    /// The media uploaded under `id`.
    pub(crate) fn get(&self, id: &str) -> Option<&StoredMedia> {
        self.media.get(id)
    }

    /// `POST /{app-id}/uploads`: a new session for `file_length` bytes of `file_type`.
    pub(crate) fn open_session(
        &mut self,
        file_length: Option<&str>,
        file_type: Option<&str>,
    ) -> GraphResult<String> {
        let Some(length) = file_length else {
            return Err(GraphError::required_param("file_length"));
        };
        let length: u64 = length
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                GraphError::invalid_param(format!(
                    "Param file_length must be a positive integer - got \"{length}\"."
                ))
            })?;
        let Some(file_type) = file_type else {
            return Err(GraphError::required_param("file_type"));
        };
        let file_type = file_type.trim().to_ascii_lowercase();
        if !SESSION_TYPES.contains(&file_type.as_str()) {
            return Err(GraphError::enum_param(
                "file_type",
                SESSION_TYPES,
                &file_type,
            ));
        }
        if length > MAX_UPLOAD_BODY as u64 {
            return Err(GraphError::invalid_param(format!(
                "Param file_length must be at most {MAX_UPLOAD_BODY} bytes."
            )));
        }
        let id = format!("upload:{}", base64_id());
        self.sessions.insert(
            id.clone(),
            Session {
                file_length: length,
                file_type,
                received: 0,
                handle: None,
            },
        );
        Ok(id)
    }

    /// Whether `id` names an open session.
    pub(crate) fn has_session(&self, id: &str) -> bool {
        self.sessions.contains_key(id)
    }

    /// `GET /upload:…`: how many bytes the session holds.
    pub(crate) fn session_offset(&self, id: &str) -> Option<u64> {
        self.sessions.get(id).map(|s| s.received)
    }

    /// `POST /upload:…` with `file_offset` and the bytes: the handle once complete.
    pub(crate) fn upload_to_session(
        &mut self,
        id: &str,
        file_offset: Option<&str>,
        bytes: &[u8],
    ) -> GraphResult<String> {
        let Some(session) = self.sessions.get_mut(id) else {
            return Err(GraphError::unknown_object("POST", id));
        };
        let offset: Option<u64> = file_offset.and_then(|o| o.trim().parse().ok());
        if offset != Some(session.received) {
            return Err(GraphError::invalid_param(format!(
                "Header file_offset must be {} for this session (the bytes received so far) - got {:?}.",
                session.received,
                file_offset.unwrap_or("nothing")
            )));
        }
        let total = session.received + bytes.len() as u64;
        if total != session.file_length {
            return Err(GraphError::invalid_param(format!(
                "The session was opened for file_length {} bytes; {total} were sent.",
                session.file_length
            )));
        }
        session.received = total;
        let handle = session.handle.get_or_insert_with(|| {
            format!(
                "4::{}:{}",
                base64::engine::general_purpose::STANDARD.encode(session.file_type.as_bytes()),
                base64_id()
            )
        });
        Ok(handle.clone())
    }
}

fn base64_id() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(util::random_hex(12))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload<'a>(mime: &str, file: &'a [u8]) -> MediaUpload<'a> {
        MediaUpload {
            messaging_product: Some("whatsapp".into()),
            mime_type: Some(mime.into()),
            file: Some(file),
        }
    }

    #[test]
    fn uploads_are_checked_by_type_and_size_like_meta_does() {
        let mut store = MediaStore::default();
        let id = store.upload(upload("image/png", b"png")).unwrap();
        assert_eq!(store.get(&id).unwrap().file_size, 3);
        let e = store.upload(upload("application/zip", b"zip")).unwrap_err();
        assert_eq!(e.code, 100);
        let big = vec![0u8; 500 * 1024 + 1];
        assert_eq!(
            store.upload(upload("image/webp", &big)).unwrap_err().code,
            131053
        );
        let mut no_product = upload("image/png", b"x");
        no_product.messaging_product = None;
        assert_eq!(store.upload(no_product).unwrap_err().code, 100);
    }

    #[test]
    fn a_session_gives_a_handle_once_every_byte_arrived_from_offset_zero() {
        let mut store = MediaStore::default();
        let id = store.open_session(Some("4"), Some("image/png")).unwrap();
        assert!(id.starts_with("upload:"));
        assert!(store.upload_to_session(&id, Some("1"), b"abcd").is_err());
        assert!(store.upload_to_session(&id, Some("0"), b"abc").is_err());
        let h = store.upload_to_session(&id, Some("0"), b"abcd").unwrap();
        assert!(h.starts_with("4::"));
        assert_eq!(store.session_offset(&id), Some(4));
        assert!(store.open_session(Some("4"), Some("text/html")).is_err());
        assert!(store.open_session(None, Some("image/png")).is_err());
    }
}
