//! `POST /{v}/{phone-number-id}/media` (multipart upload), `GET /{v}/{media-id}`, and the
//! Resumable Upload API: `POST /{v}/{app-id}/uploads`, `POST|GET /{v}/upload:…`.
//! https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media
//! https://developers.facebook.com/docs/graph-api/guides/upload

use serde_json::{Value, json};

use super::request::GraphRequest;
use crate::graph_error::{GraphError, GraphResult};
use crate::model::media::MediaUpload;
use crate::model::world::World;

/// Whether `path` is one of the upload endpoints, whose bodies may be far larger than other
/// requests'.
pub(crate) fn is_upload_path(path: &str) -> bool {
    path.ends_with("/media") || path.contains("/upload:") || path.ends_with("/uploads")
}

/// `POST /{v}/{phone-number-id}/media`.
pub(crate) fn upload(world: &World, req: &GraphRequest) -> GraphResult<Value> {
    let content_type = req.content_type.as_deref().unwrap_or("");
    let Some(boundary) = boundary(content_type) else {
        return Err(GraphError::invalid_param(
            "Uploads must be multipart/form-data with fields messaging_product, type and file.",
        ));
    };
    let parts = parse_multipart(&req.body, &boundary).ok_or_else(|| {
        GraphError::invalid_param("The multipart/form-data body could not be parsed.")
    })?;
    let field = |name: &str| {
        parts
            .iter()
            .find(|p| p.name == name && p.filename.is_none())
            .map(|p| String::from_utf8_lossy(p.data).into_owned())
            .or_else(|| req.query(name).map(str::to_owned))
    };
    let file = parts.iter().find(|p| p.name == "file");
    let mime_type = field("type").or_else(|| file.and_then(|f| f.content_type.clone()));
    let id = world.lock().media.upload(MediaUpload {
        messaging_product: field("messaging_product"),
        mime_type,
        file: file.map(|f| f.data),
    })?;
    Ok(json!({ "id": id }))
}

/// `GET /{v}/{media-id}` of an uploaded file (without a download URL).
pub(crate) fn get(world: &World, id: &str) -> Option<Value> {
    let st = world.lock();
    let m = st.media.get(id)?;
    Some(json!({
        "messaging_product": "whatsapp",
        "id": id,
        "mime_type": m.mime_type,
        "sha256": m.sha256,
        "file_size": m.file_size,
    }))
}

/// `POST /{v}/{app-id}/uploads?file_length&file_type`.
pub(crate) fn open_session(world: &World, req: &GraphRequest) -> GraphResult<Value> {
    let id = world
        .lock()
        .media
        .open_session(req.query("file_length"), req.query("file_type"))?;
    Ok(json!({ "id": id }))
}

/// `POST /{v}/upload:…` (the bytes) or `GET /{v}/upload:…` (the offset).
pub(crate) fn session(
    world: &World,
    req: &GraphRequest,
    id: &str,
    file_offset: Option<&str>,
) -> GraphResult<Value> {
    let mut st = world.lock();
    if req.method == http::Method::GET {
        let offset = st
            .media
            .session_offset(id)
            .ok_or_else(|| GraphError::unknown_object("GET", id))?;
        return Ok(json!({ "id": id, "file_offset": offset }));
    }
    let h = st.media.upload_to_session(id, file_offset, &req.body)?;
    Ok(json!({ "h": h }))
}

fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty())
    })
}

struct Part<'a> {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: &'a [u8],
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// The parts of a multipart body (RFC 7578), or `None` when it is malformed.
fn parse_multipart<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<Part<'a>>> {
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");
    let mut pos = find(body, delimiter.as_bytes(), 0)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        let rest = body.get(pos..)?;
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        pos += 2; // CRLF after the delimiter
        let headers_end = find(body, b"\r\n\r\n", pos)?;
        let headers = String::from_utf8_lossy(&body[pos..headers_end]).into_owned();
        let data_start = headers_end + 4;
        let data_end = find(body, next_delimiter.as_bytes(), data_start)?;
        let mut part = Part {
            name: String::new(),
            filename: None,
            content_type: None,
            data: &body[data_start..data_end],
        };
        for line in headers.split("\r\n") {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("content-type") {
                part.content_type = Some(value.trim().to_owned());
            } else if name.trim().eq_ignore_ascii_case("content-disposition") {
                for param in value.split(';').skip(1) {
                    if let Some((k, v)) = param.split_once('=') {
                        let v = v.trim().trim_matches('"').to_owned();
                        match k.trim() {
                            "name" => part.name = v,
                            "filename" => part.filename = Some(v),
                            _ => {}
                        }
                    }
                }
            }
        }
        parts.push(part);
        pos = data_end + next_delimiter.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multipart_body_is_split_into_its_fields_and_file() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--XyZ--\r\n";
        let b = boundary("multipart/form-data; boundary=\"XyZ\"").unwrap();
        let parts = parse_multipart(body, &b).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].data, b"whatsapp");
        assert_eq!(parts[1].filename.as_deref(), Some("a.png"));
        assert_eq!(parts[1].content_type.as_deref(), Some("image/png"));
        assert_eq!(parts[1].data, b"\x89PNG");
        assert!(parse_multipart(b"--XyZ\r\nbroken", "XyZ").is_none());
        assert!(boundary("application/json").is_none());
    }
}
