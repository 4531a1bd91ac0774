//! The HTTP side: our own accept loop (so a fault can drop a connection), body capping,
//! recording, fault application, then the Graph router (`graph`) or the `/_sandbox/*` control
//! endpoints (`control`). Handlers turn requests into model calls and model results into
//! Graph JSON or errors; they import `model`, never the other way round.
//!
//! Files: `request` (parsing), `response` (Graph headers, errors), `paging`, `body` (capped
//! reading), `faults` and `fault_wire` (injected faults), `graph` (the router), and one file
//! per family of endpoints: `accounts`, `messages`, `templates`, `profile`, `login` (the
//! Facebook Login dialog), `tokens` (`oauth/access_token`, `debug_token`), `control`.

mod accounts;
mod body;
mod control;
mod fault_wire;
mod faults;
mod graph;
mod login;
mod media;
mod messages;
mod paging;
mod profile;
mod request;
mod response;
mod templates;
mod tokens;

#[cfg(test)]
mod oauth_tests;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::model::faults::FaultKind;
use crate::model::world::World;
use crate::records::RecordedRequest;
use crate::util;
use body::{BodyRead, read_body};
use request::GraphRequest;
use response::{error_response, json_response, plain};

/// How long in-flight requests get to finish once shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

async fn wait_for_shutdown(rx: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which also means: stop.
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Serves Graph and control requests on `listener` until `shutdown` turns true, then lets
/// in-flight requests finish for a short grace.
pub(crate) async fn serve(
    listener: TcpListener,
    world: Arc<World>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve_connection(stream, world.clone(), shutdown.clone()));
                }
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "sandbox: accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            _ = wait_for_shutdown(&mut shutdown) => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    conns.abort_all();
    while conns.join_next().await.is_some() {}
    tracing::debug!("sandbox: stopped");
}

async fn serve_connection(
    stream: TcpStream,
    world: Arc<World>,
    mut shutdown: watch::Receiver<bool>,
) {
    // A handler that must drop the connection (DropConnection fault) signals here; returning
    // from this function drops hyper's connection and so the socket, with nothing written.
    let drop_signal = Arc::new(Notify::new());
    let svc = {
        let world = world.clone();
        let drop_signal = drop_signal.clone();
        service_fn(move |req| {
            let world = world.clone();
            let drop_signal = drop_signal.clone();
            async move { Ok::<_, Infallible>(handle(world, drop_signal, req).await) }
        })
    };
    // No timer, hence no header-read timeout: hyper's would also close idle keep-alive
    // connections after 30 s, which a pooled client can race into during long test runs.
    let builder = http1::Builder::new();
    let conn = builder.serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(error = %e, "sandbox: connection ended with an error");
                }
                return;
            }
            _ = drop_signal.notified() => {
                tracing::debug!("sandbox: dropping a connection (injected fault)");
                return;
            }
            _ = wait_for_shutdown(&mut shutdown), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

async fn handle(
    world: Arc<World>,
    drop_signal: Arc<Notify>,
    req: Request<Incoming>,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().map(str::to_owned);
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // Media uploads may be up to 100 MB (Meta's document limit); other requests are small.
    let cap = if media::is_upload_path(&path) {
        world
            .cfg
            .max_body_bytes
            .max(crate::model::media::MAX_UPLOAD_BODY)
    } else {
        world.cfg.max_body_bytes
    };
    let read = read_body(body, cap, declared).await;
    let (bytes, too_large) = match read {
        BodyRead::Complete(b) => (b, false),
        BodyRead::TooLarge => (Bytes::new(), true),
        // The client went away mid-body: nobody will read an answer.
        BodyRead::Broken => return plain(StatusCode::BAD_REQUEST, "incomplete request body"),
    };

    if path == "/_sandbox" || path.starts_with("/_sandbox/") {
        return control::control(&world, &parts.method, &path, &bytes, too_large);
    }

    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    world.record(RecordedRequest {
        method: parts.method.as_str().to_owned(),
        path: path.clone(),
        query: raw_query.clone(),
        headers,
        body: bytes.to_vec(),
        at: SystemTime::now(),
    });
    tracing::debug!(method = %parts.method, path = %path, "sandbox: request");

    let mut slow = None;
    if let Some(kind) = world.take_fault(&path) {
        tracing::debug!(path = %path, fault = ?kind, "sandbox: applying injected fault");
        match kind {
            FaultKind::Status {
                status,
                body,
                content_type,
            } => return faults::status_response(status, &body, &content_type),
            FaultKind::GraphError {
                code,
                http_status,
                message,
                is_transient,
            } => {
                let e = faults::graph_error(code, http_status, &message, is_transient);
                return error_response(&e, version_of(&path).as_deref());
            }
            FaultKind::Latency(d) => tokio::time::sleep(d).await,
            FaultKind::MalformedJson => return faults::malformed_json_response(),
            FaultKind::DropConnection => {
                drop_signal.notify_one();
                // The connection task drops this future with the connection.
                return std::future::pending().await;
            }
            FaultKind::SlowBody { chunk_delay } => slow = Some(chunk_delay),
            FaultKind::OversizedBody { bytes } => return faults::oversized_response(bytes),
        }
    }

    // The login dialog answers a browser with a redirect or a page, not Graph JSON.
    if let Some(resp) = login::dialog(&world, &parts.method, &path, raw_query.as_deref()) {
        return resp;
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let auth = parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let greq = GraphRequest {
        method: parts.method.clone(),
        path: path.clone(),
        segments: util::path_segments(&path),
        query: util::query_pairs(raw_query.as_deref()),
        content_type,
        file_offset: parts
            .headers
            .get("file_offset")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: bytes,
    };
    let version = greq
        .segments
        .first()
        .filter(|v| util::is_graph_version(v))
        .cloned();
    let resp = match graph::dispatch(&world, &greq, auth.as_deref(), too_large) {
        Ok(value) => json_response(StatusCode::OK, &value, version.as_deref()),
        Err(e) => {
            tracing::debug!(code = e.code, status = %e.http, "sandbox: answering with a Graph error");
            error_response(&e, version.as_deref())
        }
    };
    match slow {
        Some(delay) => faults::slow_body(resp, delay).await,
        None => resp,
    }
}

fn version_of(path: &str) -> Option<String> {
    util::path_segments(path)
        .into_iter()
        .next()
        .filter(|v| util::is_graph_version(v))
}
