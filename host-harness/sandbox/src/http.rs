//! The HTTP side: our own accept loop (so a fault can drop a connection), body capping,
//! recording, fault application, Graph routing and the `/_sandbox/*` control endpoints.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use super::error::{GraphError, GraphResult};
use super::faults::{self, FaultKind, FaultWire};
use super::state::Shared;
use super::{Fault, RecordedRequest, messages, oauth, profile, templates, util};

/// How long in-flight requests get to finish once shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Past this many body bytes we stop reading and close; below it an oversized body is drained
/// so the client can read our 413 instead of a reset.
const DRAIN_CAP: usize = 64 * 1024 * 1024;

async fn wait_for_shutdown(rx: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which also means: stop.
    let _ = rx.wait_for(|stop| *stop).await;
}

pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve_connection(stream, shared.clone(), shutdown.clone()));
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
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    // A handler that must drop the connection (DropConnection fault) signals here; returning
    // from this function drops hyper's connection and so the socket, with nothing written.
    let drop_signal = Arc::new(Notify::new());
    let svc = {
        let shared = shared.clone();
        let drop_signal = drop_signal.clone();
        service_fn(move |req| {
            let shared = shared.clone();
            let drop_signal = drop_signal.clone();
            async move { Ok::<_, Infallible>(handle(shared, drop_signal, req).await) }
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

enum BodyRead {
    Complete(Bytes),
    TooLarge,
    Broken,
}

async fn read_body(mut body: Incoming, max: usize, declared: Option<u64>) -> BodyRead {
    if declared.is_some_and(|n| n > DRAIN_CAP as u64) {
        return BodyRead::TooLarge;
    }
    let mut buf = BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return BodyRead::Broken;
        };
        if let Ok(data) = frame.into_data() {
            total = total.saturating_add(data.len());
            if total <= max {
                buf.extend_from_slice(&data);
            } else if total > DRAIN_CAP {
                return BodyRead::TooLarge;
            }
        }
    }
    if total > max {
        BodyRead::TooLarge
    } else {
        BodyRead::Complete(buf.freeze())
    }
}

async fn handle(
    shared: Arc<Shared>,
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
    let read = read_body(body, shared.cfg.max_body_bytes, declared).await;
    let (bytes, too_large) = match read {
        BodyRead::Complete(b) => (b, false),
        BodyRead::TooLarge => (Bytes::new(), true),
        // The client went away mid-body: nobody will read an answer.
        BodyRead::Broken => return plain(StatusCode::BAD_REQUEST, "incomplete request body"),
    };

    if path == "/_sandbox" || path.starts_with("/_sandbox/") {
        return control(&shared, &parts.method, &path, &bytes, too_large);
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
    shared.record(RecordedRequest {
        method: parts.method.as_str().to_owned(),
        path: path.clone(),
        query: raw_query.clone(),
        headers,
        body: bytes.to_vec(),
        at: SystemTime::now(),
    });
    tracing::debug!(method = %parts.method, path = %path, "sandbox: request");

    let mut slow = None;
    if let Some(kind) = shared.take_fault(&path) {
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
    if let Some(resp) = oauth::dialog(&shared, &parts.method, &path, raw_query.as_deref()) {
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
        body: bytes,
    };
    let version = greq
        .segments
        .first()
        .filter(|v| util::is_graph_version(v))
        .cloned();
    let resp = match dispatch(&shared, &greq, auth.as_deref(), too_large) {
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

/// One parsed Graph request.
pub(crate) struct GraphRequest {
    pub method: Method,
    /// Raw path, as received.
    pub path: String,
    /// Percent-decoded path segments; `segments[0]` is the version.
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub body: Bytes,
}

impl GraphRequest {
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON: a JSON document, or a form whose JSON-looking values are parsed (Graph
    /// accepts both). An empty body is an empty object.
    pub fn body_json(&self) -> GraphResult<Value> {
        let is_form = self.content_type.as_deref().is_some_and(|c| {
            c.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
        if self.body.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(Value::Object(Map::new()));
        }
        if is_form {
            let mut map = Map::new();
            for (k, v) in url::form_urlencoded::parse(&self.body) {
                let trimmed = v.trim_start();
                let value = if trimmed.starts_with('[') || trimmed.starts_with('{') {
                    serde_json::from_str(&v).unwrap_or(Value::String(v.into_owned()))
                } else {
                    Value::String(v.into_owned())
                };
                map.insert(k.into_owned(), value);
            }
            return Ok(Value::Object(map));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            GraphError::invalid_param(format!("The request body is not valid JSON: {e}"))
        })
    }

    /// Query parameters overlaid with the body's fields (Graph merges both); the token is
    /// never a parameter.
    pub fn params(&self) -> GraphResult<Map<String, Value>> {
        let body = self.body_json()?;
        let Value::Object(body) = body else {
            return Err(GraphError::invalid_param(
                "The request body must be a JSON object.",
            ));
        };
        let mut map = Map::new();
        for (k, v) in &self.query {
            if k != "access_token" {
                map.insert(k.clone(), Value::String(v.clone()));
            }
        }
        map.extend(body);
        Ok(map)
    }

    /// `fields=a,b{c,d},e` split at top-level commas; `None` when absent or empty.
    pub fn fields(&self) -> Option<Vec<String>> {
        let raw = self.query("fields")?;
        let mut out = Vec::new();
        let mut depth = 0i32;
        let mut cur = String::new();
        for c in raw.chars() {
            match c {
                '{' => {
                    depth += 1;
                    cur.push(c);
                }
                '}' => {
                    depth -= 1;
                    cur.push(c);
                }
                ',' if depth <= 0 => {
                    let f = cur.trim().to_owned();
                    if !f.is_empty() {
                        out.push(f);
                    }
                    cur.clear();
                }
                _ => cur.push(c),
            }
        }
        let f = cur.trim().to_owned();
        if !f.is_empty() {
            out.push(f);
        }
        if out.is_empty() { None } else { Some(out) }
    }
}

fn bearer_token(auth: Option<&str>) -> Option<&str> {
    let auth = auth?.trim();
    let (scheme, token) = auth.split_once(' ')?;
    // Graph takes both `Bearer` and the older `OAuth` scheme.
    if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth") {
        Some(token.trim())
    } else {
        None
    }
}

fn dispatch(
    shared: &Shared,
    req: &GraphRequest,
    auth: Option<&str>,
    too_large: bool,
) -> GraphResult<Value> {
    let token = bearer_token(auth).or_else(|| req.query("access_token"));
    if let Some(result) = oauth::dispatch_public(shared, req, token) {
        return result;
    }
    oauth::authenticate(shared, token)?;
    if shared.token_expired() {
        return Err(GraphError::expired_token(SystemTime::now()));
    }
    if too_large {
        return Err(GraphError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            100,
            "(#100) The request body is too large",
        )
        .details(format!(
            "Request bodies are limited to {} bytes.",
            shared.cfg.max_body_bytes
        )));
    }
    let method = req.method.as_str();
    let Some(version) = req.segments.first() else {
        return Err(GraphError::unsupported(method));
    };
    if !util::is_graph_version(version) {
        return Err(GraphError::invalid_param(format!(
            "Unknown API version '{version}': paths start with a Graph API version such as /v23.0"
        )));
    }
    let rest = &req.segments[1..];
    let Some(id) = rest.first() else {
        return Err(GraphError::unsupported(method));
    };
    oauth::authorize(shared, req, token)?;
    if let Some(result) = oauth::dispatch_authorized(shared, req) {
        return result;
    }
    let cfg = &shared.cfg;
    let is_phone = *id == cfg.phone_number_id;
    let is_waba = *id == cfg.waba_id;
    let edge = rest.get(1).map(String::as_str);
    let m = &req.method;
    match (is_phone, is_waba, edge, rest.len()) {
        (true, _, None, _) if m == Method::GET => Ok(phone_node(shared, req)),
        (true, _, Some("messages"), 2) if m == Method::POST => messages::send(shared, req),
        (true, _, Some("whatsapp_business_profile"), 2) if m == Method::GET => {
            profile::get(shared, req)
        }
        (true, _, Some("whatsapp_business_profile"), 2) if m == Method::POST => {
            profile::update(shared, req)
        }
        (true, _, Some("message_history"), 2) if m == Method::GET => messages::history(shared, req),
        (_, true, None, _) if m == Method::GET => Ok(waba_node(shared, req)),
        (_, true, Some("message_templates"), 2) if m == Method::GET => templates::list(shared, req),
        (_, true, Some("message_templates"), 2) if m == Method::POST => {
            templates::create(shared, req)
        }
        (_, true, Some("message_templates"), 2) if m == Method::DELETE => {
            templates::delete(shared, req)
        }
        (_, true, Some("phone_numbers"), 2) if m == Method::GET => Ok(phone_numbers(shared, req)),
        (true, _, _, _) | (_, true, _, _) => Err(GraphError::unsupported(method)),
        (false, false, None, 1) if m == Method::GET => templates::get_by_id(shared, req, id)
            .ok_or_else(|| GraphError::unknown_object(method, id)),
        // A template node exists, but the sandbox serves only GET on it (no edits).
        _ if templates::exists(shared, id) => Err(GraphError::unsupported(method)),
        _ => Err(GraphError::unknown_object(method, id)),
    }
}

fn phone_number_json(shared: &Shared) -> Value {
    let cfg = &shared.cfg;
    json!({
        "verified_name": "Lucky Shrub",
        "code_verification_status": "VERIFIED",
        "display_phone_number": format_display_number(&cfg.display_phone_number),
        "quality_rating": "GREEN",
        "platform_type": "CLOUD_API",
        "throughput": {"level": "STANDARD"},
        "status": "CONNECTED",
        "name_status": "APPROVED",
        "messaging_limit_tier": "TIER_250",
        "account_mode": "SANDBOX",
        "id": cfg.phone_number_id,
    })
}

/// `15550783881` -> `+1 555-078-3881`, the way Graph displays North American numbers.
fn format_display_number(n: &str) -> String {
    let d = util::digits_only(n);
    if d.len() == 11 && d.starts_with('1') {
        format!("+1 {}-{}-{}", &d[1..4], &d[4..7], &d[7..])
    } else {
        format!("+{d}")
    }
}

fn select_fields(obj: Value, fields: Option<Vec<String>>, always: &[&str]) -> Value {
    let (Value::Object(map), Some(fields)) = (&obj, fields) else {
        return obj;
    };
    let mut out = Map::new();
    for (k, v) in map {
        let wanted = always.contains(&k.as_str())
            || fields
                .iter()
                .any(|f| f == k || f.split('{').next() == Some(k.as_str()));
        if wanted {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

fn phone_node(shared: &Shared, req: &GraphRequest) -> Value {
    select_fields(phone_number_json(shared), req.fields(), &["id"])
}

fn phone_numbers(shared: &Shared, req: &GraphRequest) -> Value {
    let item = select_fields(phone_number_json(shared), req.fields(), &["id"]);
    let mut data = vec![item];
    data.extend(oauth::extra_phone_numbers(shared, req.fields()));
    let cursor = util::encode_cursor(1);
    json!({"data": data, "paging": {"cursors": {"before": cursor, "after": cursor}}})
}

fn waba_node(shared: &Shared, req: &GraphRequest) -> Value {
    let v = json!({
        "id": shared.cfg.waba_id,
        "name": "Lucky Shrub (sandbox)",
        "timezone_id": "1",
        "message_template_namespace": "c8ae5f90_307a_ca4c_b8f6_d1e2a2573574",
        "currency": "USD",
        "account_review_status": "APPROVED",
        "business_verification_status": "verified",
    });
    let fields = req
        .fields()
        .or_else(|| Some(vec!["id".into(), "name".into()]));
    select_fields(v, fields, &["id"])
}

/// Cursor paging over items already sorted by descending key (newest first).
pub(crate) fn paginate(
    shared: &Shared,
    req: &GraphRequest,
    items: Vec<(u64, Value)>,
) -> GraphResult<Value> {
    let limit = match req.query("limit") {
        None => 25,
        Some(s) => match s.trim().parse::<i64>() {
            Ok(n) if n >= 1 => n.min(100) as usize,
            _ => {
                return Err(GraphError::invalid_param(format!(
                    "Param limit must be a positive integer - got \"{s}\"."
                )));
            }
        },
    };
    let decode = |name: &str| -> GraphResult<Option<u64>> {
        match req.query(name) {
            None => Ok(None),
            Some(c) => util::decode_cursor(c).map(Some).ok_or_else(|| {
                GraphError::invalid_param(format!("The {name} cursor is not valid: \"{c}\"."))
            }),
        }
    };
    let after = decode("after")?;
    let before = decode("before")?;
    let page: Vec<&(u64, Value)> = if let Some(a) = after {
        items.iter().filter(|(k, _)| *k < a).take(limit).collect()
    } else if let Some(b) = before {
        let newer: Vec<&(u64, Value)> = items.iter().filter(|(k, _)| *k > b).collect();
        let skip = newer.len().saturating_sub(limit);
        newer.into_iter().skip(skip).collect()
    } else {
        items.iter().take(limit).collect()
    };
    let data: Vec<Value> = page.iter().map(|(_, v)| v.clone()).collect();
    let mut out = Map::new();
    out.insert("data".into(), Value::Array(data));
    if let (Some(first), Some(last)) = (page.first(), page.last()) {
        let (first_key, last_key) = (first.0, last.0);
        let has_newer = items.iter().any(|(k, _)| *k > first_key);
        let has_older = items.iter().any(|(k, _)| *k < last_key);
        let mut paging = Map::new();
        paging.insert(
            "cursors".into(),
            json!({"before": util::encode_cursor(first_key), "after": util::encode_cursor(last_key)}),
        );
        if has_older {
            paging.insert(
                "next".into(),
                json!(page_url(
                    shared,
                    req,
                    "after",
                    &util::encode_cursor(last_key)
                )),
            );
        }
        if has_newer {
            paging.insert(
                "previous".into(),
                json!(page_url(
                    shared,
                    req,
                    "before",
                    &util::encode_cursor(first_key)
                )),
            );
        }
        out.insert("paging".into(), Value::Object(paging));
    }
    Ok(Value::Object(out))
}

fn page_url(shared: &Shared, req: &GraphRequest, key: &str, cursor: &str) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &req.query {
        if k != "after" && k != "before" {
            ser.append_pair(k, v);
        }
    }
    ser.append_pair(key, cursor);
    format!("{}{}?{}", shared.base_url, req.path, ser.finish())
}

fn base_headers(resp: &mut Response<Body>, version: Option<&str>) {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache, no-store, must-revalidate"),
    );
    if let Some(v) = version.and_then(|v| HeaderValue::from_str(v).ok()) {
        h.insert("facebook-api-version", v);
    }
    if let Ok(v) = HeaderValue::from_str(&util::fbtrace_id()) {
        h.insert("x-fb-trace-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&util::fbtrace_id()) {
        h.insert("x-fb-request-id", v);
    }
}

pub(crate) fn json_response(
    status: StatusCode,
    value: &Value,
    version: Option<&str>,
) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    base_headers(&mut resp, version);
    resp
}

fn error_response(e: &GraphError, version: Option<&str>) -> Response<Body> {
    let mut resp = json_response(e.http, &e.to_json(), version);
    if e.http == StatusCode::UNAUTHORIZED {
        // Graph names the problem in WWW-Authenticate too.
        let v = format!(
            "OAuth \"Facebook Platform\" \"invalid_token\" \"{}\"",
            e.message.replace('"', "'")
        );
        if let Ok(v) = HeaderValue::from_str(&v) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    resp
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut resp = Response::new(Body::from(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

// ---------------- control endpoints (loopback test hooks, no auth, not recorded) ------------

fn control_json(status: StatusCode, value: Value) -> Response<Body> {
    let body = serde_json::to_vec(&value).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn control_error(status: StatusCode, msg: impl Into<String>) -> Response<Body> {
    control_json(status, json!({"error": msg.into()}))
}

fn control(
    shared: &Shared,
    method: &Method,
    path: &str,
    body: &[u8],
    too_large: bool,
) -> Response<Body> {
    if too_large {
        return control_error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
    }
    let parse = || -> Result<Value, String> {
        serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))
    };
    let route = path.trim_end_matches('/');
    match (method, route) {
        (&Method::POST, "/_sandbox/inbound") => {
            let v = match parse() {
                Ok(v) => v,
                Err(msg) => return control_error(StatusCode::BAD_REQUEST, msg),
            };
            let from = v.get("from").and_then(Value::as_str).unwrap_or("");
            if util::digits_only(from).is_empty() {
                return control_error(StatusCode::BAD_REQUEST, "\"from\" must be a phone number");
            }
            let text = v.get("text").and_then(Value::as_str).unwrap_or("");
            // Optional unix seconds, for window boundary tests from other languages.
            let at = match v.get("timestamp").and_then(Value::as_u64) {
                Some(secs) => match std::time::UNIX_EPOCH.checked_add(Duration::from_secs(secs)) {
                    Some(t) => t,
                    None => {
                        return control_error(StatusCode::BAD_REQUEST, "timestamp out of range");
                    }
                },
                None => SystemTime::now(),
            };
            let id = shared.simulate_inbound(from, text, at);
            control_json(
                StatusCode::OK,
                json!({"success": true, "id": id, "from": util::digits_only(from)}),
            )
        }
        (&Method::GET, "/_sandbox/requests") => {
            let list: Vec<Value> = shared
                .requests()
                .iter()
                .map(|r| {
                    json!({
                        "method": r.method,
                        "path": r.path,
                        "query": r.query,
                        "headers": r.headers.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
                        "body": String::from_utf8_lossy(&r.body),
                        "json": r.json(),
                        "at_ms": util::unix_millis(r.at),
                    })
                })
                .collect();
            control_json(StatusCode::OK, Value::Array(list))
        }
        (&Method::DELETE, "/_sandbox/requests") => {
            shared.clear_requests();
            control_json(StatusCode::OK, json!({"success": true}))
        }
        (&Method::POST, "/_sandbox/faults") => {
            let wire: FaultWire = match serde_json::from_slice(body) {
                Ok(w) => w,
                Err(e) => {
                    return control_error(StatusCode::BAD_REQUEST, format!("invalid fault: {e}"));
                }
            };
            shared.inject_fault(Fault::from(wire));
            control_json(StatusCode::OK, json!({"success": true}))
        }
        (&Method::DELETE, "/_sandbox/faults") => {
            shared.clear_faults();
            control_json(StatusCode::OK, json!({"success": true}))
        }
        (&Method::GET, "/_sandbox/templates") => {
            let list: Vec<Value> = shared
                .template_snapshots()
                .into_iter()
                .map(|t| {
                    json!({
                        "id": t.id, "name": t.name, "language": t.language,
                        "category": t.category, "status": t.status,
                        "parameter_format": t.parameter_format,
                        "components": t.components, "rejected_reason": t.rejected_reason,
                    })
                })
                .collect();
            control_json(StatusCode::OK, Value::Array(list))
        }
        (&Method::GET, "/_sandbox/messages") => {
            let list: Vec<Value> = shared
                .sent_messages()
                .into_iter()
                .map(|m| {
                    json!({
                        "id": m.id, "to": m.to, "wa_id": m.wa_id, "type": m.kind,
                        "template": m.template.map(|(n, l)| json!({"name": n, "language": l})),
                        "at_ms": util::unix_millis(m.at), "request": m.request,
                    })
                })
                .collect();
            control_json(StatusCode::OK, Value::Array(list))
        }
        (&Method::POST, "/_sandbox/webhooks") => {
            // {"callback": "http://…/webhook"} starts deliveries there; null stops them.
            let v = match parse() {
                Ok(v) => v,
                Err(msg) => return control_error(StatusCode::BAD_REQUEST, msg),
            };
            let callback = match v.get("callback") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if url::Url::parse(s).is_ok() => Some(s.clone()),
                Some(_) => {
                    return control_error(
                        StatusCode::BAD_REQUEST,
                        "\"callback\" must be an http(s) URL or null",
                    );
                }
            };
            shared.set_webhook_callback(callback.clone());
            control_json(
                StatusCode::OK,
                json!({"success": true, "callback": callback}),
            )
        }
        (&Method::GET, "/_sandbox/webhooks") => {
            // Bodies stay out: inbound ones carry message text.
            let list: Vec<Value> = shared
                .webhook_log
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|d| {
                    json!({
                        "kind": format!("{:?}", d.kind),
                        "bytes": d.body.len(),
                        "attempts": d.attempts,
                        "last_status": d.last_status,
                        "delivered": d.delivered,
                    })
                })
                .collect();
            control_json(StatusCode::OK, Value::Array(list))
        }
        (&Method::POST, "/_sandbox/token") => {
            let v = match parse() {
                Ok(v) => v,
                Err(msg) => return control_error(StatusCode::BAD_REQUEST, msg),
            };
            let expired = v.get("expired").and_then(Value::as_bool).unwrap_or(false);
            shared.set_token_expired(expired);
            control_json(StatusCode::OK, json!({"success": true, "expired": expired}))
        }
        (&Method::GET, "/_sandbox") | (&Method::GET, "/_sandbox/config") => {
            let cfg = &shared.cfg;
            // Loopback test hook: the token is what a test in another language needs.
            control_json(
                StatusCode::OK,
                json!({
                    "base_url": shared.base_url,
                    "phone_number_id": cfg.phone_number_id,
                    "display_phone_number": cfg.display_phone_number,
                    "waba_id": cfg.waba_id,
                    "access_token": cfg.access_token,
                    "webhook_callback": shared.webhook_callback(),
                    // Throwaway sandbox secrets, so a receiver in another language can check
                    // signatures and answer the handshake.
                    "app_secret": cfg.app_secret,
                    "verify_token": cfg.verify_token,
                }),
            )
        }
        _ => control_error(
            StatusCode::NOT_FOUND,
            format!("unknown sandbox control endpoint: {method} {path}"),
        ),
    }
}
