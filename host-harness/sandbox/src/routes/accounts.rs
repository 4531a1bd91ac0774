//! The account's nodes: the phone number(s), the WhatsApp Business Account, its
//! `phone_numbers` and `subscribed_apps` edges.
//! https://developers.facebook.com/docs/whatsapp/business-management-api/manage-phone-numbers

use http::Method;
use serde_json::{Map, Value, json};

use super::request::GraphRequest;
use crate::config::SandboxPhoneNumber;
use crate::graph_error::{GraphError, GraphResult};
use crate::model::world::World;
use crate::util;

fn phone_number_json(world: &World) -> Value {
    let cfg = &world.cfg;
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

pub(crate) fn phone_node(world: &World, req: &GraphRequest) -> Value {
    select_fields(phone_number_json(world), req.fields(), &["id"])
}

pub(crate) fn phone_numbers(world: &World, req: &GraphRequest) -> Value {
    let item = select_fields(phone_number_json(world), req.fields(), &["id"]);
    let mut data = vec![item];
    let fields = req.fields();
    data.extend(
        world
            .cfg
            .oauth
            .second_phone_number
            .iter()
            .map(|p| select_fields(second_phone_json(p), fields.clone(), &["id"])),
    );
    let cursor = util::encode_cursor(1);
    json!({"data": data, "paging": {"cursors": {"before": cursor, "after": cursor}}})
}

pub(crate) fn waba_node(world: &World, req: &GraphRequest) -> Value {
    let v = json!({
        "id": world.cfg.waba_id,
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

/// `GET /{v}/{second-phone-number-id}`: the only thing served on a second phone number.
pub(crate) fn second_phone(p: &SandboxPhoneNumber, req: &GraphRequest) -> GraphResult<Value> {
    if req.segments.len() == 2 && req.method == Method::GET {
        Ok(select_fields(second_phone_json(p), req.fields(), &["id"]))
    } else {
        Err(GraphError::unsupported(req.method.as_str()))
    }
}

fn second_phone_json(p: &SandboxPhoneNumber) -> Value {
    json!({
        "verified_name": p.verified_name,
        "code_verification_status": "VERIFIED",
        "display_phone_number": p.display_phone_number,
        "quality_rating": "GREEN",
        "platform_type": "CLOUD_API",
        "throughput": {"level": "STANDARD"},
        "status": "CONNECTED",
        "name_status": "APPROVED",
        "account_mode": "SANDBOX",
        "id": p.id,
    })
}

/// `GET|POST|DELETE /{v}/{waba-id}/subscribed_apps`: the app's webhook subscription.
pub(crate) fn subscribed_apps(world: &World, method: &Method) -> GraphResult<Value> {
    let cfg = &world.cfg.oauth;
    match *method {
        Method::GET => {
            let data = if world.tokens.subscribed() {
                vec![json!({"whatsapp_business_api_data": {
                    "id": cfg.app_id,
                    "name": cfg.app_name,
                    "link": format!("https://www.facebook.com/games/?app_id={}", cfg.app_id),
                }})]
            } else {
                vec![]
            };
            Ok(json!({ "data": data }))
        }
        Method::POST => {
            world.tokens.set_subscribed(true);
            Ok(json!({"success": true}))
        }
        Method::DELETE => {
            world.tokens.set_subscribed(false);
            Ok(json!({"success": true}))
        }
        _ => Err(GraphError::unsupported(method.as_str())),
    }
}
