//! The `carousel` and `limited_time_offer` send components of a template:
//! https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates/media-card-carousel-templates
//! and https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates/limited-time-offer-templates.

use serde_json::{Map, Value, json};

use super::{BODY_TEXT_MAX, component};
use crate::args::{as_array, as_object, reject_unknown, wrong_type};
use crate::error::ToolError;

/// Cards of a carousel, at most (card_index 0..=9).
const MAX_CARDS: usize = 10;

/// The component for `c` when its type is `carousel` or `limited_time_offer`;
/// `None` for the other types, which `component` handles.
pub(super) fn special(path: &str, c: &Value) -> Result<Option<Value>, ToolError> {
    let Some(obj) = c.as_object() else {
        return Ok(None);
    };
    match obj.get("type").and_then(Value::as_str) {
        Some(t) if t.eq_ignore_ascii_case("carousel") => carousel(path, obj).map(Some),
        Some(t) if t.eq_ignore_ascii_case("limited_time_offer") => {
            limited_time_offer(path, obj).map(Some)
        }
        _ => Ok(None),
    }
}

fn carousel(path: &str, obj: &Map<String, Value>) -> Result<Value, ToolError> {
    reject_unknown(obj, &["type", "cards"], path)?;
    let cf = format!("{path}.cards");
    let cards = match obj.get("cards") {
        None | Some(Value::Null) => {
            return Err(crate::args::missing(
                &cf,
                "[{\"card_index\": 0, \"components\": [{\"type\": \"header\", \"parameters\": [{\"type\": \"image\", \"image\": {\"id\": \"1013859600285441\"}}]}]}]",
            ));
        }
        Some(v) => as_array(v, &cf)?,
    };
    if cards.is_empty() || cards.len() > MAX_CARDS {
        return Err(ToolError::invalid(
            cf,
            "Wrong number of cards",
            format!(
                "the carousel has {} cards; a carousel template has 1 to {MAX_CARDS}, one per card of the template",
                cards.len()
            ),
            "Give one entry per card of the template (see its CAROUSEL component in whatsapp_list_templates).",
        ));
    }
    let mut indexes: Vec<u64> = Vec::new();
    let mut out = Vec::with_capacity(cards.len());
    for (i, card) in cards.iter().enumerate() {
        let card_path = format!("{cf}[{i}]");
        let card = as_object(card, &card_path)?;
        reject_unknown(card, &["card_index", "components"], &card_path)?;
        let xf = format!("{card_path}.card_index");
        let index = match card.get("card_index") {
            None | Some(Value::Null) => return Err(crate::args::missing(&xf, "0")),
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n < MAX_CARDS as u64) => {
                n.as_u64().unwrap_or(0)
            }
            Some(v @ Value::Number(_)) => {
                return Err(ToolError::invalid(
                    xf,
                    "Invalid card index",
                    format!("`card_index` is {v}; expected the card's position, 0 to 9"),
                    "Give the zero-based position of the card in the template, for example 0.",
                ));
            }
            Some(v) => return Err(wrong_type(&xf, v, "a whole number 0 to 9")),
        };
        if indexes.contains(&index) {
            return Err(ToolError::invalid(
                xf,
                "Duplicate card index",
                format!("two cards have card_index {index}"),
                "Give each card the index of a different card of the template.",
            ));
        }
        indexes.push(index);
        let pf = format!("{card_path}.components");
        let comps = match card.get("components") {
            None | Some(Value::Null) => {
                return Err(crate::args::missing(
                    &pf,
                    "[{\"type\": \"header\", \"parameters\": [{\"type\": \"image\", \"image\": {\"id\": \"1013859600285441\"}}]}]",
                ));
            }
            Some(v) => as_array(v, &pf)?,
        };
        let mut card_components = Vec::with_capacity(comps.len());
        let mut has_header = false;
        for (j, comp) in comps.iter().enumerate() {
            let comp = component(&format!("{pf}[{j}]"), comp, BODY_TEXT_MAX)?;
            has_header |= comp.get("type").and_then(Value::as_str) == Some("header");
            card_components.push(comp);
        }
        if !has_header {
            return Err(ToolError::invalid(
                pf,
                "Card without its header",
                format!(
                    "card {index} has no header component; every carousel card shows an image or video, given when sending"
                ),
                "Add {\"type\": \"header\", \"parameters\": [{\"type\": \"image\", \"image\": {\"id\": \"…\"}}]} (or a video) to the card.",
            ));
        }
        out.push(json!({"card_index": index, "components": card_components}));
    }
    Ok(json!({"type": "carousel", "cards": out}))
}

fn limited_time_offer(path: &str, obj: &Map<String, Value>) -> Result<Value, ToolError> {
    reject_unknown(obj, &["type", "parameters"], path)?;
    let pf = format!("{path}.parameters");
    let example = "[{\"type\": \"limited_time_offer\", \"limited_time_offer\": {\"expiration_time_ms\": 1767225599000}}]";
    let params = match obj.get("parameters") {
        None | Some(Value::Null) => return Err(crate::args::missing(&pf, example)),
        Some(v) => as_array(v, &pf)?,
    };
    let [param] = params.as_slice() else {
        return Err(ToolError::invalid(
            pf,
            "Wrong number of parameters",
            format!(
                "the limited_time_offer component has {} parameters; it takes exactly one, the offer's expiry",
                params.len()
            ),
            format!("Give `parameters`: {example}."),
        ));
    };
    let p0 = format!("{pf}[0]");
    let param = as_object(param, &p0)?;
    if param.get("type").and_then(Value::as_str) != Some("limited_time_offer") {
        return Err(ToolError::invalid(
            format!("{p0}.type"),
            "Invalid parameter type",
            "the parameter of a limited_time_offer component has type `limited_time_offer`",
            format!("Give `parameters`: {example}."),
        ));
    }
    reject_unknown(param, &["type", "limited_time_offer"], &p0)?;
    let lf = format!("{p0}.limited_time_offer");
    let offer = as_object(param.get("limited_time_offer").unwrap_or(&Value::Null), &lf)?;
    reject_unknown(offer, &["expiration_time_ms"], &lf)?;
    let ef = format!("{lf}.expiration_time_ms");
    let ms = match offer.get("expiration_time_ms") {
        None | Some(Value::Null) => return Err(crate::args::missing(&ef, "1767225599000")),
        Some(Value::Number(n)) if n.as_i64().is_some_and(|ms| ms > 0) => n.as_i64().unwrap_or(0),
        Some(v) => {
            return Err(wrong_type(
                &ef,
                v,
                "a positive whole number: the offer's end as Unix time in milliseconds",
            ));
        }
    };
    Ok(json!({"type": "limited_time_offer", "parameters": [
        {"type": "limited_time_offer", "limited_time_offer": {"expiration_time_ms": ms}}]}))
}
