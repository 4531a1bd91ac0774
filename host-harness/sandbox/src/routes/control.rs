//! The control endpoints `/_sandbox/*`: loopback test hooks, no auth, never recorded or
//! faulted (the list is in the crate documentation).

use axum::body::Body;
use http::{HeaderValue, Method, Response, StatusCode, header};
use serde_json::{Value, json};

use super::fault_wire::FaultWire;
use crate::model::faults::Fault;
use crate::model::inbound::{self, InboundMessage};
use crate::model::template_admin::{self, TemplateChange};
use crate::model::world::World;
use crate::util;

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

pub(crate) fn control(
    world: &World,
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
            let msg: InboundMessage = match serde_json::from_slice(body) {
                Ok(m) => m,
                Err(e) => {
                    return control_error(
                        StatusCode::BAD_REQUEST,
                        format!("invalid inbound message: {e}"),
                    );
                }
            };
            match inbound::receive(world, &msg) {
                Ok(id) => control_json(
                    StatusCode::OK,
                    json!({"success": true, "id": id, "from": util::digits_only(&msg.from)}),
                ),
                Err(e) => control_error(StatusCode::BAD_REQUEST, e),
            }
        }
        (&Method::GET, "/_sandbox/inbound") => {
            let list: Vec<Value> = world
                .received_messages()
                .into_iter()
                .map(|m| {
                    json!({
                        "id": m.id, "from": m.from, "type": m.kind, "message": m.message,
                        "at_ms": util::unix_millis(m.at), "read": m.read,
                    })
                })
                .collect();
            control_json(StatusCode::OK, Value::Array(list))
        }
        (&Method::GET, "/_sandbox/requests") => {
            let list: Vec<Value> = world
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
            world.clear_requests();
            control_json(StatusCode::OK, json!({"success": true}))
        }
        (&Method::POST, "/_sandbox/faults") => {
            let wire: FaultWire = match serde_json::from_slice(body) {
                Ok(w) => w,
                Err(e) => {
                    return control_error(StatusCode::BAD_REQUEST, format!("invalid fault: {e}"));
                }
            };
            world.inject_fault(Fault::from(wire));
            control_json(StatusCode::OK, json!({"success": true}))
        }
        (&Method::DELETE, "/_sandbox/faults") => {
            world.clear_faults();
            control_json(StatusCode::OK, json!({"success": true}))
        }
        (&Method::GET, "/_sandbox/templates") => {
            let list: Vec<Value> = world
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
        (&Method::POST, "/_sandbox/templates") => {
            // {"name", "language"?, "status"?, "quality_score"?, "category"?}
            let v = match parse() {
                Ok(v) => v,
                Err(msg) => return control_error(StatusCode::BAD_REQUEST, msg),
            };
            let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
            let Some(name) = text("name") else {
                return control_error(StatusCode::BAD_REQUEST, "\"name\" is required");
            };
            let change = TemplateChange {
                status: text("status"),
                quality_score: text("quality_score"),
                category: text("category"),
            };
            match template_admin::apply(world, &name, text("language").as_deref(), &change) {
                Ok(changed) => control_json(
                    StatusCode::OK,
                    json!({"success": true, "changed": changed.iter().map(|t| json!({
                        "id": t.id, "language": t.language, "status": t.status,
                        "category": t.category,
                    })).collect::<Vec<_>>()}),
                ),
                Err(msg) => control_error(StatusCode::BAD_REQUEST, msg),
            }
        }
        (&Method::GET, "/_sandbox/messages") => {
            let list: Vec<Value> = world
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
            world.set_webhook_callback(callback.clone());
            control_json(
                StatusCode::OK,
                json!({"success": true, "callback": callback}),
            )
        }
        (&Method::GET, "/_sandbox/webhooks") => {
            // Bodies stay out: inbound ones carry message text.
            let list: Vec<Value> = world
                .delivery_log
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
            world.set_token_expired(expired);
            control_json(StatusCode::OK, json!({"success": true, "expired": expired}))
        }
        (&Method::GET, "/_sandbox") | (&Method::GET, "/_sandbox/config") => {
            let cfg = &world.cfg;
            // Loopback test hook: the token is what a test in another language needs.
            control_json(
                StatusCode::OK,
                json!({
                    "base_url": world.base_url,
                    "phone_number_id": cfg.phone_number_id,
                    "display_phone_number": cfg.display_phone_number,
                    "waba_id": cfg.waba_id,
                    "access_token": cfg.access_token,
                    "webhook_callback": world.webhook_callback(),
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
