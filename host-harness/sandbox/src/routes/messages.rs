//! `POST /{v}/{phone-number-id}/messages` and `GET /{v}/{phone-number-id}/message_history`.
//! https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages

use std::time::{Duration, SystemTime};

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::paging::paginate;
use super::request::GraphRequest;
use crate::graph_error::{GraphError, GraphResult};
use crate::model::messages::{self, SendOutcome};
use crate::model::world::{SentRecord, World};
use crate::util;

/// `POST /{v}/{phone-number-id}/messages`: a send or a read receipt.
pub(crate) fn send(world: &World, req: &GraphRequest) -> GraphResult<Value> {
    Ok(match messages::send(world, req.params()?)? {
        SendOutcome::MarkedRead => json!({"success": true}),
        SendOutcome::Accepted { id, to, wa_id } => json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": wa_id}],
            "messages": [{"id": id, "message_status": "accepted"}],
        }),
    })
}

fn history_entry(r: &SentRecord, with_events: bool, now: SystemTime) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(r.history_id));
    m.insert("message_id".into(), json!(r.msg.id));
    if with_events {
        let sent_at = util::unix_secs(r.msg.at);
        if let Some(code) = r.failure {
            m.insert(
                "events".into(),
                json!({"data": [{
                    "id": format!("{}1", r.history_id),
                    "delivery_status": "FAILED",
                    "timestamp": sent_at,
                    "webhook_update_state": "DELIVERED",
                    "error_description": format!("(#{code}) the message could not be delivered"),
                }]}),
            );
            return Value::Object(m);
        }
        let mut events = vec![json!({
            "id": format!("{}1", r.history_id),
            "delivery_status": "SENT",
            "timestamp": sent_at,
            // The sandbox does not track per-event webhook delivery here.
            "webhook_update_state": "PENDING",
        })];
        // The simulated handset receives the message a second after it was sent.
        let delivered = r.msg.at + Duration::from_secs(1);
        if now >= delivered {
            events.push(json!({
                "id": format!("{}2", r.history_id),
                "delivery_status": "DELIVERED",
                "timestamp": util::unix_secs(delivered),
                "webhook_update_state": "PENDING",
            }));
        }
        m.insert("events".into(), json!({ "data": events }));
    }
    Value::Object(m)
}

/// `GET /{v}/{phone-number-id}/message_history`.
pub(crate) fn history(world: &World, req: &GraphRequest) -> GraphResult<Value> {
    // Graph's default fields are `id,message_id`; events only when asked for.
    let with_events = req
        .fields()
        .is_some_and(|f| f.iter().any(|x| x == "events" || x.starts_with("events{")));
    let now = SystemTime::now();
    let st = world.lock();
    if let Some(mid) = req.query("message_id") {
        let Some(r) = st.sent.iter().find(|r| r.msg.id == mid) else {
            return Err(GraphError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                100,
                "The requested message_id was not found in the message history",
            )
            .kind("GraphMethodException")
            .details(format!(
                "No message with id {mid} was sent from this phone number."
            )));
        };
        return Ok(json!({ "data": [history_entry(r, with_events, now)] }));
    }
    let items: Vec<(u64, Value)> = st
        .sent
        .iter()
        .rev()
        .map(|r| (r.seq, history_entry(r, with_events, now)))
        .collect();
    drop(st);
    paginate(&world.base_url, req, items)
}
