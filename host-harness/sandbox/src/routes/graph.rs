//! The Graph router: which handler serves a request, after authentication and authorisation.

use std::time::SystemTime;

use http::{Method, StatusCode};
use serde_json::Value;

use super::request::{GraphRequest, bearer_token};
use super::{accounts, media, messages, profile, templates, tokens};
use crate::graph_error::{GraphError, GraphResult};
use crate::model;
use crate::model::world::World;
use crate::util;

/// Routes one Graph request to its handler: the self-authorising OAuth endpoints first, then
/// authentication, the body cap, the version, authorisation, and the object and edge.
pub(crate) fn dispatch(
    world: &World,
    req: &GraphRequest,
    auth: Option<&str>,
    too_large: bool,
) -> GraphResult<Value> {
    let token = bearer_token(auth).or_else(|| req.query("access_token"));
    if let Some(result) = tokens::dispatch(world, req, token) {
        return result;
    }
    world.tokens.authenticate(token)?;
    if world.token_expired() {
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
            world.cfg.max_body_bytes
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
    let edge = rest.get(1).map(String::as_str);
    let cfg = &world.cfg;
    world.tokens.authorize(cfg, method, id, edge, token)?;
    let m = &req.method;
    if id.starts_with("upload:") && rest.len() == 1 && world.lock().media.has_session(id) {
        return media::session(world, req, id, req.file_offset.as_deref());
    }
    if *id == cfg.oauth.app_id && edge == Some("uploads") && rest.len() == 2 && m == Method::POST {
        return media::open_session(world, req);
    }
    if *id == cfg.waba_id && edge == Some("subscribed_apps") && rest.len() == 2 {
        return accounts::subscribed_apps(world, m);
    }
    if let Some(p) = cfg
        .oauth
        .second_phone_number
        .as_ref()
        .filter(|p| p.id == *id)
    {
        return accounts::second_phone(p, req);
    }
    let is_phone = *id == cfg.phone_number_id;
    let is_waba = *id == cfg.waba_id;
    match (is_phone, is_waba, edge, rest.len()) {
        (true, _, None, _) if m == Method::GET => Ok(accounts::phone_node(world, req)),
        (true, _, Some("messages"), 2) if m == Method::POST => messages::send(world, req),
        (true, _, Some("media"), 2) if m == Method::POST => media::upload(world, req),
        (true, _, Some("whatsapp_business_profile"), 2) if m == Method::GET => {
            profile::get(world, req)
        }
        (true, _, Some("whatsapp_business_profile"), 2) if m == Method::POST => {
            profile::update(world, req)
        }
        (true, _, Some("message_history"), 2) if m == Method::GET => messages::history(world, req),
        (_, true, None, _) if m == Method::GET => Ok(accounts::waba_node(world, req)),
        (_, true, Some("message_templates"), 2) if m == Method::GET => templates::list(world, req),
        (_, true, Some("message_templates"), 2) if m == Method::POST => {
            templates::create(world, req)
        }
        (_, true, Some("message_templates"), 2) if m == Method::DELETE => {
            templates::delete(world, req)
        }
        (_, true, Some("phone_numbers"), 2) if m == Method::GET => {
            Ok(accounts::phone_numbers(world, req))
        }
        (true, _, _, _) | (_, true, _, _) => Err(GraphError::unsupported(method)),
        (false, false, None, 1) if m == Method::GET => templates::get_by_id(world, req, id)
            .or_else(|| media::get(world, id))
            .ok_or_else(|| GraphError::unknown_object(method, id)),
        // A template node exists, but the sandbox serves only GET on it (no edits).
        _ if model::templates::exists(world, id) => Err(GraphError::unsupported(method)),
        _ => Err(GraphError::unknown_object(method, id)),
    }
}
