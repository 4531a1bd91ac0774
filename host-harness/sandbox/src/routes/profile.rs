//! `GET|POST /{v}/{phone-number-id}/whatsapp_business_profile`.
//! https://developers.facebook.com/docs/whatsapp/cloud-api/reference/business-profiles

use serde_json::{Map, Value, json};

use super::request::GraphRequest;
use crate::graph_error::{GraphError, GraphResult};
use crate::model::profile::Profile;
use crate::model::world::World;

/// The fields a profile can be asked for.
const FIELDS: &[&str] = &[
    "about",
    "address",
    "description",
    "email",
    "messaging_product",
    "profile_picture_url",
    "websites",
    "vertical",
];

/// `GET /{v}/{phone-number-id}/whatsapp_business_profile`.
pub(crate) fn get(world: &World, req: &GraphRequest) -> GraphResult<Value> {
    let all = profile_json(&world.lock().profile);
    let item = match req.fields() {
        None => all,
        Some(fields) => {
            let mut out = Map::new();
            for f in &fields {
                if !FIELDS.contains(&f.as_str()) {
                    return Err(GraphError::new(
                        http::StatusCode::BAD_REQUEST,
                        100,
                        format!(
                            "(#100) Tried accessing nonexisting field ({f}) on node type (WhatsAppBusinessProfile)"
                        ),
                    ));
                }
                if let Some(v) = all.get(f) {
                    out.insert(f.clone(), v.clone());
                }
            }
            out.insert("messaging_product".into(), json!("whatsapp"));
            out
        }
    };
    Ok(json!({ "data": [Value::Object(item)] }))
}

/// `POST /{v}/{phone-number-id}/whatsapp_business_profile`.
pub(crate) fn update(world: &World, req: &GraphRequest) -> GraphResult<Value> {
    let params = req.params()?;
    world.lock().profile.update(&params)?;
    Ok(json!({"success": true}))
}

/// The profile as Graph shows it: unset fields omitted.
fn profile_json(p: &Profile) -> Map<String, Value> {
    // Unset fields are omitted, as Graph does.
    let mut m = Map::new();
    let mut put = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    };
    put("about", &p.about);
    put("address", &p.address);
    put("description", &p.description);
    put("email", &p.email);
    put("profile_picture_url", &p.profile_picture_url);
    put("vertical", &p.vertical);
    m.insert("messaging_product".into(), json!("whatsapp"));
    if !p.websites.is_empty() {
        m.insert("websites".into(), json!(p.websites));
    }
    m
}
