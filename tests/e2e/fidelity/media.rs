//! Fidelity cases: media the gateway uploads (`whatsapp_send_media` with
//! `upload: true`). A real file server on 127.0.0.1 serves the files; the
//! host fetches them under `[media] fetch_allow` and streams them to the
//! sandbox's `POST /{phone-number-id}/media`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use whatsapp_host::tool::ErrorKind;

use crate::common::{Env, Recorder, assert_matches_output_schema};

const CUSTOMER: &str = "+16505551234";

/// A file server on 127.0.0.1 written on the bare socket, so a test knows
/// how many body bytes each path actually put on the wire.
struct FileServer {
    base_url: String,
    written: Arc<Mutex<HashMap<String, u64>>>,
    hits: Arc<AtomicU64>,
}

/// What the server answers on a path.
#[derive(Clone)]
enum Reply {
    /// 200 with this content type and body, with a Content-Length.
    File(&'static str, Vec<u8>),
    /// 200 with this content type, chunked, `total` bytes in 64 KiB chunks.
    Endless(&'static str, u64),
    /// 302 to this location.
    Redirect(String),
}

impl FileServer {
    async fn start(routes: Vec<(&'static str, Reply)>) -> FileServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let routes: Arc<HashMap<&'static str, Reply>> = Arc::new(routes.into_iter().collect());
        let written: Arc<Mutex<HashMap<String, u64>>> = Default::default();
        let hits = Arc::new(AtomicU64::new(0));
        let (w, h) = (written.clone(), hits.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (routes, written) = (routes.clone(), w.clone());
                h.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.ends_with(b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let path = head.split(' ').nth(1).unwrap_or("/").to_string();
                    let mut sent = 0u64;
                    match routes.get(path.as_str()) {
                        Some(Reply::File(mime, body)) => {
                            let head = format!(
                                "HTTP/1.1 200 OK\r\ncontent-type: {mime}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                                body.len()
                            );
                            let _ = socket.write_all(head.as_bytes()).await;
                            for chunk in body.chunks(16 * 1024) {
                                if socket.write_all(chunk).await.is_err() {
                                    break;
                                }
                                sent += chunk.len() as u64;
                            }
                        }
                        Some(Reply::Endless(mime, total)) => {
                            let head = format!(
                                "HTTP/1.1 200 OK\r\ncontent-type: {mime}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
                            );
                            let _ = socket.write_all(head.as_bytes()).await;
                            let chunk = vec![0xAB; 64 * 1024];
                            while sent < *total {
                                let framed =
                                    [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"]
                                        .concat();
                                if socket.write_all(&framed).await.is_err() {
                                    break;
                                }
                                sent += chunk.len() as u64;
                            }
                            let _ = socket.write_all(b"0\r\n\r\n").await;
                        }
                        Some(Reply::Redirect(to)) => {
                            let head = format!(
                                "HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            );
                            let _ = socket.write_all(head.as_bytes()).await;
                        }
                        None => {
                            let _ = socket
                                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                                .await;
                        }
                    }
                    written.lock().unwrap().insert(path, sent);
                });
            }
        });
        FileServer {
            base_url,
            written,
            hits,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    fn body_bytes_written(&self, path: &str) -> Option<u64> {
        self.written.lock().unwrap().get(path).copied()
    }
}

/// A JPEG-looking file of `len` bytes (the sandbox checks type and size, not pixels).
fn jpeg(len: usize) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0];
    bytes.extend((0..len.saturating_sub(4)).map(|i| (i % 251) as u8));
    bytes
}

async fn env_fetching_from(origins: Vec<String>) -> Env {
    let env = Env::builder()
        .settings(move |s| s.media.fetch_allow = origins)
        .start()
        .await;
    env.sandbox.simulate_inbound(CUSTOMER, "send me the photo");
    env
}

fn upload_args(link: &str, media_type: &str) -> Value {
    json!({"to": CUSTOMER, "media_type": media_type, "link": link, "upload": true})
}

fn media_uploads(env: &Env) -> usize {
    env.requests()
        .iter()
        .filter(|r| r.path.ends_with("/media"))
        .count()
}

#[tokio::test]
async fn a_file_on_an_allowed_origin_is_uploaded_by_the_gateway_and_sent_by_media_id() {
    let photo = jpeg(700 * 1024);
    let files = FileServer::start(vec![(
        "/photos/p1.jpg",
        Reply::File("image/jpeg", photo.clone()),
    )])
    .await;
    let env = env_fetching_from(vec![files.base_url.clone()]).await;
    let mut args = upload_args(&files.url("/photos/p1.jpg"), "image");
    args["caption"] = json!("Your photo");
    let result = env.call("whatsapp_send_media", args).await.unwrap();
    assert_matches_output_schema(&env, "whatsapp_send_media", &result);
    let media_id = result["uploaded_media_id"]
        .as_str()
        .expect("the result says it uploaded");

    let upload = env
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/media"))
        .expect("the gateway uploaded");
    assert_eq!(
        upload.path,
        format!("/v23.0/{}/media", env.phone_number_id())
    );
    let auth = upload
        .headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.clone());
    assert_eq!(
        auth,
        Some(format!("Bearer {}", env.token())),
        "the host attached the token"
    );

    // The bytes arrived intact: the sandbox's record of the media has the file's SHA-256.
    let described: Value = reqwest::Client::new()
        .get(format!("{}/v23.0/{media_id}", env.sandbox.base_url()))
        .bearer_auth(env.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        described["sha256"],
        json!(hex::encode(Sha256::digest(&photo)))
    );
    assert_eq!(described["mime_type"], "image/jpeg");

    let sent = env.sandbox.sent_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].request["image"],
        json!({"id": media_id, "caption": "Your photo"}),
        "sent by id, not by the internal link"
    );
}

#[tokio::test]
async fn a_link_on_an_origin_not_in_fetch_allow_is_refused_and_never_contacted() {
    let files = FileServer::start(vec![]).await;
    let elsewhere = Recorder::start(None).await;
    let env = env_fetching_from(vec![files.base_url.clone()]).await;
    let e = env
        .call(
            "whatsapp_send_media",
            upload_args(&format!("{}/p.jpg", elsewhere.base_url), "image"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Denied, "{e:?}");
    assert!(e.details.contains("fetch_allow"), "{e:?}");
    assert!(elsewhere.seen().is_empty(), "{:?}", elsewhere.seen());
    assert_eq!(media_uploads(&env), 0);
    assert!(env.sandbox.sent_messages().is_empty());
}

#[tokio::test]
async fn gateway_uploads_are_off_until_the_operator_allows_an_origin() {
    let files = FileServer::start(vec![("/p.jpg", Reply::File("image/jpeg", jpeg(1024)))]).await;
    let env = env_fetching_from(vec![]).await;
    let e = env
        .call(
            "whatsapp_send_media",
            upload_args(&files.url("/p.jpg"), "image"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Denied, "{e:?}");
    assert!(e.details.contains("fetch_allow"), "{e:?}");
    assert_eq!(files.hits.load(Ordering::SeqCst), 0, "nothing was fetched");
    assert!(env.sandbox.sent_messages().is_empty());
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_refused_and_the_other_origin_is_not_contacted() {
    let elsewhere = Recorder::start(None).await;
    let files = FileServer::start(vec![(
        "/moved.jpg",
        Reply::Redirect(format!("{}/stolen.jpg", elsewhere.base_url)),
    )])
    .await;
    let env = env_fetching_from(vec![files.base_url.clone()]).await;
    let e = env
        .call(
            "whatsapp_send_media",
            upload_args(&files.url("/moved.jpg"), "image"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Denied, "{e:?}");
    assert!(e.details.contains("another origin"), "{e:?}");
    assert!(elsewhere.seen().is_empty(), "{:?}", elsewhere.seen());
    assert_eq!(media_uploads(&env), 0);
}

#[tokio::test]
async fn a_redirect_within_the_same_origin_is_followed() {
    let files = FileServer::start(vec![
        ("/old.jpg", Reply::Redirect("/new.jpg".into())),
        ("/new.jpg", Reply::File("image/jpeg", jpeg(2048))),
    ])
    .await;
    let env = env_fetching_from(vec![files.base_url.clone()]).await;
    let result = env
        .call(
            "whatsapp_send_media",
            upload_args(&files.url("/old.jpg"), "image"),
        )
        .await
        .unwrap();
    assert!(result["uploaded_media_id"].is_string(), "{result}");
}

#[tokio::test]
async fn an_image_over_whatsapp_s_limit_is_stopped_while_streaming_and_nothing_is_sent() {
    const OFFERED: u64 = 64 * 1024 * 1024;
    let files = FileServer::start(vec![("/huge.jpg", Reply::Endless("image/jpeg", OFFERED))]).await;
    let env = env_fetching_from(vec![files.base_url.clone()]).await;
    let e = env
        .call(
            "whatsapp_send_media",
            upload_args(&files.url("/huge.jpg"), "image"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArguments, "{e:?}");
    assert!(e.title.contains("too large"), "{e:?}");
    assert!(e.details.contains(&(5 * 1024 * 1024).to_string()), "{e:?}");
    // The server saw its connection closed long before it had offered everything: the host
    // stopped reading past the limit (what it wrote beyond is only socket buffers).
    let written = loop {
        if let Some(n) = files.body_bytes_written("/huge.jpg") {
            break n;
        }
        tokio::task::yield_now().await;
    };
    assert!(
        written < OFFERED / 2,
        "the whole file was read: {written} bytes"
    );
    assert!(env.sandbox.sent_messages().is_empty());
    let described = env
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/media"));
    assert!(
        described.is_none(),
        "an aborted upload reaches no handler: {described:?}"
    );
}

#[tokio::test]
async fn a_file_of_a_type_whatsapp_does_not_take_for_the_kind_is_refused_before_any_upload() {
    let files = FileServer::start(vec![(
        "/page.jpg",
        Reply::File("text/html", b"<html>login</html>".to_vec()),
    )])
    .await;
    let env = env_fetching_from(vec![files.base_url.clone()]).await;
    let e = env
        .call(
            "whatsapp_send_media",
            upload_args(&files.url("/page.jpg"), "image"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArguments, "{e:?}");
    assert!(e.details.contains("text/html"), "{e:?}");
    assert_eq!(media_uploads(&env), 0);
}

#[tokio::test]
async fn upload_without_a_link_is_refused_with_the_fix() {
    let env = env_fetching_from(vec![]).await;
    let e = env
        .call(
            "whatsapp_send_media",
            json!({"to": CUSTOMER, "media_type": "image", "media_id": "1013859600285441", "upload": true}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("upload"), "{e:?}");
    assert!(env.requests().is_empty());
}

#[tokio::test]
async fn neither_the_token_nor_the_file_enters_the_component_during_a_gateway_upload() {
    // A marker no JPEG header or argument contains: found only if the file's bytes were copied in.
    let mut photo = jpeg(64 * 1024);
    photo.extend_from_slice(b"file-body-canary-5b1e");
    let files = FileServer::start(vec![("/p.jpg", Reply::File("image/jpeg", photo))]).await;
    let origin = files.base_url.clone();
    let env = Env::builder()
        .settings(move |s| {
            s.media.fetch_allow = vec![origin];
            s.runtime.inspect_memory = true;
        })
        .start()
        .await;
    env.sandbox.simulate_inbound(CUSTOMER, "photo please");
    let mut args = upload_args(&files.url("/p.jpg"), "image");
    args["caption"] = json!("caption-canary-77c2");
    let (result, memories) = env
        .harness
        .runtime()
        .call_tool_capturing_memory("whatsapp_send_media", &args.to_string())
        .await;
    assert!(result.unwrap()["uploaded_media_id"].is_string());
    assert!(!memories.is_empty(), "the instance's memory was captured");
    let contains = |m: &[u8], needle: &[u8]| m.windows(needle.len()).any(|w| w == needle);
    for memory in &memories {
        assert!(
            !contains(memory, env.token().as_bytes()),
            "the token is in the component"
        );
        assert!(
            !contains(memory, b"file-body-canary-5b1e"),
            "the file went through the component"
        );
    }
    // The scan works: the caption the component did see is found.
    assert!(
        memories.iter().any(|m| contains(m, b"caption-canary-77c2")),
        "the scan must find the caption argument"
    );
}
