//! Meta's rules for the two template components beyond header, body, footer and buttons:
//! the media card carousel (a body plus 2–10 cards, each an image or video header, an optional
//! body of at most 160 characters and 1–2 quick-reply, URL or phone buttons, all cards alike)
//! https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates/media-card-carousel-templates
//! and the limited-time offer (marketing; offer text at most 16 characters; optional image or
//! video header; body at most 600 characters; no footer; copy-code and URL buttons, the
//! copy-code first when the offer expires)
//! https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates/limited-time-offer-templates

use serde_json::{Map, Value, json};

use super::template::ParamFormat;
use super::template_components::{
    template_error, validate_body, validate_buttons, validate_header,
};
use crate::graph_error::GraphResult;
use crate::util::char_len;

fn text_len(c: &Value) -> usize {
    c.get("text").and_then(Value::as_str).map_or(0, char_len)
}

fn button_types(c: &Value) -> Vec<String> {
    c.get("buttons")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|b| b.get("type").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

/// Checks a CAROUSEL component and upper-cases the types inside its cards.
pub(crate) fn validate_carousel(
    obj: &mut Map<String, Value>,
    format: ParamFormat,
) -> GraphResult<()> {
    let Some(cards) = obj.get_mut("cards").and_then(Value::as_array_mut) else {
        return Err(template_error(
            "Missing cards",
            "CAROUSEL: cards must be an array of 2 to 10 cards.",
        ));
    };
    if !(2..=10).contains(&cards.len()) {
        return Err(template_error(
            "Invalid number of cards",
            format!(
                "CAROUSEL: a carousel has 2 to 10 cards; found {}.",
                cards.len()
            ),
        ));
    }
    let mut first: Option<(String, Vec<String>)> = None;
    for (i, card) in cards.iter_mut().enumerate() {
        let section = format!("CAROUSEL: cards[{i}]");
        let Some(comps) = card.get_mut("components").and_then(Value::as_array_mut) else {
            return Err(template_error(
                "Invalid card",
                format!("{section}.components must be an array."),
            ));
        };
        let mut header = None;
        let mut buttons = None;
        let mut seen: Vec<String> = Vec::new();
        for comp in comps.iter_mut() {
            let Some(c) = comp.as_object_mut() else {
                return Err(template_error(
                    "Invalid card",
                    format!("{section}: each component must be an object."),
                ));
            };
            let ty = c
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_ascii_uppercase();
            if seen.contains(&ty) {
                return Err(template_error(
                    "Invalid card",
                    format!("{section}: only one {ty} component is allowed."),
                ));
            }
            c.insert("type".into(), json!(ty));
            match ty.as_str() {
                "HEADER" => {
                    let f = validate_header(c, format)?;
                    if !matches!(f.as_str(), "IMAGE" | "VIDEO") {
                        return Err(template_error(
                            "Invalid card header",
                            format!("{section}: the card header must be IMAGE or VIDEO, not {f}."),
                        ));
                    }
                    c.insert("format".into(), json!(f));
                    header = Some(f);
                }
                "BODY" => {
                    validate_body(c, format, false)?;
                    let n = text_len(&Value::Object(c.clone()));
                    if n > 160 {
                        return Err(template_error(
                            "Card body too long",
                            format!(
                                "{section}: the card body must be at most 160 characters; it has {n}."
                            ),
                        ));
                    }
                }
                "BUTTONS" => {
                    let bs = validate_buttons(c, false)?;
                    let types = button_types(&json!({"buttons": bs}));
                    if types.len() > 2
                        || types
                            .iter()
                            .any(|t| !matches!(t.as_str(), "QUICK_REPLY" | "URL" | "PHONE_NUMBER"))
                    {
                        return Err(template_error(
                            "Invalid card buttons",
                            format!(
                                "{section}: a card has 1 or 2 QUICK_REPLY, URL or PHONE_NUMBER buttons."
                            ),
                        ));
                    }
                    c.insert("buttons".into(), Value::Array(bs));
                    buttons = Some(types);
                }
                _ => {
                    return Err(template_error(
                        "Invalid card",
                        format!("{section}: a card has a HEADER, a BODY and BUTTONS, not {ty}."),
                    ));
                }
            }
            seen.push(ty);
        }
        let (Some(header), Some(buttons)) = (header, buttons) else {
            return Err(template_error(
                "Invalid card",
                format!("{section}: every card needs an IMAGE or VIDEO HEADER and BUTTONS."),
            ));
        };
        let shape = (header, buttons);
        match &first {
            None => first = Some(shape),
            Some(f) if *f != shape => {
                return Err(template_error(
                    "Cards don't match",
                    format!(
                        "{section}: all cards must have the same header format and the same number and types of buttons."
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Checks a LIMITED_TIME_OFFER component; returns its `has_expiration`.
pub(crate) fn validate_limited_time_offer(obj: &Map<String, Value>) -> GraphResult<bool> {
    let offer = obj.get("limited_time_offer").and_then(Value::as_object);
    let text = offer.and_then(|o| o.get("text")).and_then(Value::as_str);
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Err(template_error(
            "Missing offer text",
            "LIMITED_TIME_OFFER: limited_time_offer.text is required.",
        ));
    };
    if char_len(text) > 16 {
        return Err(template_error(
            "Offer text too long",
            format!(
                "LIMITED_TIME_OFFER: limited_time_offer.text must be at most 16 characters; it has {}.",
                char_len(text)
            ),
        ));
    }
    match offer.and_then(|o| o.get("has_expiration")) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(template_error(
            "Invalid offer",
            "LIMITED_TIME_OFFER: limited_time_offer.has_expiration must be a boolean.",
        )),
    }
}

/// What a carousel or an offer requires of the rest of the template (`comps` normalised,
/// types upper-case).
pub(crate) fn validate_combination(
    comps: &[Value],
    category: &str,
    lto_expires: bool,
) -> GraphResult<()> {
    let of = |t: &str| {
        comps
            .iter()
            .find(|c| c.get("type").and_then(Value::as_str) == Some(t))
    };
    if of("CAROUSEL").is_some() {
        if category == "AUTHENTICATION" {
            return Err(template_error(
                "Invalid category",
                "CAROUSEL: carousel templates must be MARKETING or UTILITY.",
            ));
        }
        if ["HEADER", "FOOTER", "BUTTONS", "LIMITED_TIME_OFFER"]
            .iter()
            .any(|t| of(t).is_some())
        {
            return Err(template_error(
                "Invalid components",
                "CAROUSEL: a carousel template has only a BODY and the CAROUSEL; headers and buttons belong to the cards.",
            ));
        }
    }
    if of("LIMITED_TIME_OFFER").is_none() {
        return Ok(());
    }
    if category != "MARKETING" {
        return Err(template_error(
            "Invalid category",
            "LIMITED_TIME_OFFER: limited-time offer templates must be MARKETING.",
        ));
    }
    if of("FOOTER").is_some() {
        return Err(template_error(
            "Invalid components",
            "LIMITED_TIME_OFFER: limited-time offer templates can't have a footer.",
        ));
    }
    if let Some(h) = of("HEADER")
        && !matches!(
            h.get("format").and_then(Value::as_str),
            Some("IMAGE" | "VIDEO")
        )
    {
        return Err(template_error(
            "Invalid header",
            "LIMITED_TIME_OFFER: the header of a limited-time offer must be IMAGE or VIDEO.",
        ));
    }
    if let Some(b) = of("BODY")
        && text_len(b) > 600
    {
        return Err(template_error(
            "Body too long",
            format!(
                "LIMITED_TIME_OFFER: the body must be at most 600 characters; it has {}.",
                text_len(b)
            ),
        ));
    }
    let types = of("BUTTONS").map(button_types).unwrap_or_default();
    if types
        .iter()
        .any(|t| !matches!(t.as_str(), "COPY_CODE" | "URL"))
    {
        return Err(template_error(
            "Invalid buttons",
            "LIMITED_TIME_OFFER: buttons must be COPY_CODE and URL buttons.",
        ));
    }
    if lto_expires && types.first().map(String::as_str) != Some("COPY_CODE") {
        return Err(template_error(
            "Missing copy code button",
            "LIMITED_TIME_OFFER: with has_expiration true, the first button must be COPY_CODE.",
        ));
    }
    Ok(())
}
