//! For template creation: the two components beyond HEADER, BODY, FOOTER and
//! BUTTONS, and the rules they impose on the rest of the template.
//! A media card carousel is a BODY (the bubble text) plus a CAROUSEL of 2 to
//! 10 cards, each with an IMAGE or VIDEO header, an optional body of at most
//! 160 characters and 1 or 2 buttons, all cards alike
//! (https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates/media-card-carousel-templates).
//! A limited-time offer is a MARKETING template with a LIMITED_TIME_OFFER
//! component (text ≤ 16 characters), an optional IMAGE or VIDEO header, a
//! BODY of at most 600 characters, no FOOTER, and COPY_CODE / URL buttons,
//! the COPY_CODE first when the offer expires
//! (https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates/limited-time-offer-templates).

use serde_json::{Map, Value};

use super::components::check_create_component;
use crate::args::{as_array, as_object, as_str, missing, reject_unknown, wrong_type};
use crate::checks::check_len;
use crate::error::ToolError;

const MIN_CARDS: usize = 2;
const MAX_CARDS: usize = 10;
const CARD_BODY_MAX: usize = 160;
const CARD_BUTTON_TYPES: &[&str] = &["QUICK_REPLY", "URL", "PHONE_NUMBER"];
const LTO_TEXT_MAX: usize = 16;
const LTO_BODY_MAX: usize = 600;

/// What a card looks like, which every other card must repeat.
struct CardShape {
    header_at: usize,
    header_format: String,
    button_types: Vec<String>,
}

fn types_of(v: &Value) -> Vec<String> {
    v.get("buttons")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|b| b.get("type").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

/// Checks a CAROUSEL component (names already upper-cased).
pub(super) fn check_carousel(
    path: &str,
    c: &Map<String, Value>,
    named: bool,
    category: &str,
) -> Result<(), ToolError> {
    reject_unknown(c, &["type", "cards"], path)?;
    let cf = format!("{path}.cards");
    let cards = match c.get("cards") {
        None | Some(Value::Null) => {
            return Err(missing(
                &cf,
                "[{\"components\": [{\"type\": \"HEADER\", \"format\": \"IMAGE\", \"example\": {\"header_handle\": [\"4::aW…\"]}}, {\"type\": \"BUTTONS\", \"buttons\": [{\"type\": \"QUICK_REPLY\", \"text\": \"More\"}]}]}, …]",
            ));
        }
        Some(v) => as_array(v, &cf)?,
    };
    if !(MIN_CARDS..=MAX_CARDS).contains(&cards.len()) {
        return Err(ToolError::invalid(
            cf,
            "Wrong number of cards",
            format!(
                "the carousel has {} cards; a carousel template has {MIN_CARDS} to {MAX_CARDS}",
                cards.len()
            ),
            format!("Give between {MIN_CARDS} and {MAX_CARDS} cards."),
        ));
    }
    let mut first: Option<CardShape> = None;
    for (i, card) in cards.iter().enumerate() {
        let card_path = format!("{cf}[{i}]");
        let shape = check_card(&card_path, as_object(card, &card_path)?, named, category)?;
        match &first {
            None => first = Some(shape),
            Some(f) if f.header_format != shape.header_format => {
                return Err(ToolError::invalid(
                    format!("{card_path}.components[{}].format", shape.header_at),
                    "Cards differ",
                    format!(
                        "card {i} has a {} header but card 0 a {} header; every card of a carousel has the same header format",
                        shape.header_format, f.header_format
                    ),
                    format!("Give every card a {} header.", f.header_format),
                ));
            }
            Some(f) if f.button_types != shape.button_types => {
                return Err(ToolError::invalid(
                    format!("{card_path}.components"),
                    "Cards differ",
                    format!(
                        "card {i} has buttons {:?} but card 0 has {:?}; every card has the same number and types of buttons, in the same order",
                        shape.button_types, f.button_types
                    ),
                    "Give every card the same buttons (labels and URLs may differ).",
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn check_card(
    path: &str,
    card: &Map<String, Value>,
    named: bool,
    category: &str,
) -> Result<CardShape, ToolError> {
    reject_unknown(card, &["components"], path)?;
    let cf = format!("{path}.components");
    let components = match card.get("components") {
        None | Some(Value::Null) => {
            return Err(missing(
                &cf,
                "[{\"type\": \"HEADER\", \"format\": \"IMAGE\", …}, {\"type\": \"BODY\", \"text\": \"…\"}, {\"type\": \"BUTTONS\", …}]",
            ));
        }
        Some(v) => as_array(v, &cf)?,
    };
    let mut header_format = None;
    let mut button_types = None;
    let mut seen: Vec<String> = Vec::new();
    for (j, comp) in components.iter().enumerate() {
        let p = format!("{cf}[{j}]");
        let t = comp.get("type").and_then(Value::as_str).unwrap_or("");
        if matches!(t, "FOOTER" | "CAROUSEL" | "LIMITED_TIME_OFFER") {
            return Err(ToolError::invalid(
                format!("{p}.type"),
                "Invalid card component",
                format!(
                    "a carousel card has no {t}; it has a HEADER, an optional BODY and BUTTONS"
                ),
                "Remove this component from the card.",
            ));
        }
        let t = check_create_component(&p, comp, named, category)?;
        if seen.contains(&t) {
            return Err(ToolError::invalid(
                format!("{p}.type"),
                "Duplicate component",
                format!("the card has more than one {t} component"),
                format!("Give each card at most one {t}."),
            ));
        }
        match t.as_str() {
            "HEADER" => {
                let f = comp.get("format").and_then(Value::as_str).unwrap_or("");
                if !matches!(f, "IMAGE" | "VIDEO") {
                    return Err(ToolError::invalid(
                        format!("{p}.format"),
                        "Invalid card header",
                        format!("a carousel card header is IMAGE or VIDEO, not {f}"),
                        "Use \"format\": \"IMAGE\" (or VIDEO) with an example.header_handle.",
                    ));
                }
                header_format = Some((j, f.to_string()));
            }
            "BODY" => {
                if let Some(text) = comp.get("text").and_then(Value::as_str) {
                    check_len(&format!("{p}.text"), text, 1, CARD_BODY_MAX, "a card body")?;
                }
            }
            _ => {
                let types = types_of(comp);
                if types.len() > 2 {
                    return Err(ToolError::invalid(
                        format!("{p}.buttons"),
                        "Too many card buttons",
                        format!("the card has {} buttons; a card has 1 or 2", types.len()),
                        "Keep one or two buttons per card.",
                    ));
                }
                if let Some(k) = types
                    .iter()
                    .position(|t| !CARD_BUTTON_TYPES.contains(&t.as_str()))
                {
                    return Err(ToolError::invalid(
                        format!("{p}.buttons[{k}].type"),
                        "Invalid card button",
                        format!(
                            "a carousel card button is QUICK_REPLY, URL or PHONE_NUMBER, not {}",
                            types[k]
                        ),
                        "Use QUICK_REPLY, URL or PHONE_NUMBER buttons on cards.",
                    ));
                }
                button_types = Some(types);
            }
        }
        seen.push(t);
    }
    let Some((header_at, header_format)) = header_format else {
        return Err(ToolError::invalid(
            cf,
            "Missing card header",
            "every carousel card needs an IMAGE or VIDEO HEADER",
            "Add {\"type\": \"HEADER\", \"format\": \"IMAGE\", \"example\": {\"header_handle\": [\"4::aW…\"]}} to the card.",
        ));
    };
    let Some(button_types) = button_types else {
        return Err(ToolError::invalid(
            cf,
            "Missing card buttons",
            "every carousel card needs a BUTTONS component with 1 or 2 buttons",
            "Add {\"type\": \"BUTTONS\", \"buttons\": [{\"type\": \"QUICK_REPLY\", \"text\": \"More\"}]} to the card.",
        ));
    };
    Ok(CardShape {
        header_at,
        header_format,
        button_types,
    })
}

/// Checks a LIMITED_TIME_OFFER component; returns its `has_expiration`.
pub(super) fn check_limited_time_offer(
    path: &str,
    c: &Map<String, Value>,
) -> Result<bool, ToolError> {
    reject_unknown(c, &["type", "limited_time_offer"], path)?;
    let of = format!("{path}.limited_time_offer");
    let offer = match c.get("limited_time_offer") {
        None | Some(Value::Null) => {
            return Err(missing(
                &of,
                "{\"text\": \"Expiring offer!\", \"has_expiration\": true}",
            ));
        }
        Some(v) => as_object(v, &of)?,
    };
    reject_unknown(offer, &["text", "has_expiration"], &of)?;
    let tf = format!("{of}.text");
    match offer.get("text") {
        None => return Err(missing(&tf, "\"Expiring offer!\"")),
        Some(v) => check_len(&tf, as_str(v, &tf)?, 1, LTO_TEXT_MAX, "an offer text")?,
    }
    match offer.get("has_expiration") {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(wrong_type(&format!("{of}.has_expiration"), v, "a boolean")),
    }
}

/// The category a CAROUSEL or LIMITED_TIME_OFFER component requires
/// (checked before the components, whose rules depend on the category).
pub(super) fn check_category(components: &[Value], category: &str) -> Result<(), ToolError> {
    let has = |t: &str| {
        components
            .iter()
            .any(|c| c.get("type").and_then(Value::as_str) == Some(t))
    };
    if has("CAROUSEL") && !matches!(category, "MARKETING" | "UTILITY") {
        return Err(ToolError::invalid(
            "category",
            "Carousel in an authentication template",
            format!("carousel templates are MARKETING or UTILITY; this one is {category}"),
            "Use category MARKETING (or UTILITY).",
        ));
    }
    if has("LIMITED_TIME_OFFER") && category != "MARKETING" {
        return Err(ToolError::invalid(
            "category",
            "Offer outside marketing",
            format!("limited-time offer templates are MARKETING; this one is {category}"),
            "Use category MARKETING.",
        ));
    }
    Ok(())
}

/// The rules a CAROUSEL or LIMITED_TIME_OFFER component imposes on the
/// other components. `types[i]` is the type of
/// `components[i]`; `lto_expires` the offer's `has_expiration`.
pub(super) fn check_template_rules(
    components: &[Value],
    types: &[String],
    lto_expires: bool,
) -> Result<(), ToolError> {
    let at = |t: &str| types.iter().position(|x| x == t);
    let text_len = |i: usize| {
        components[i]
            .get("text")
            .and_then(Value::as_str)
            .map_or(0, |s| s.chars().count())
    };
    if let Some(ci) = at("CAROUSEL")
        && let Some(i) = types
            .iter()
            .position(|t| !matches!(t.as_str(), "BODY" | "CAROUSEL"))
    {
        return Err(ToolError::invalid(
            format!("components[{i}].type"),
            "Component beside a carousel",
            format!(
                "a carousel template has a BODY and the CAROUSEL (components[{ci}]) only; headers, footers and buttons go on the cards"
            ),
            "Remove this component, or move it into the cards.",
        ));
    }
    if let Some(li) = at("LIMITED_TIME_OFFER") {
        let here = |i: usize, title: &str, details: String, hint: &str| {
            ToolError::invalid(format!("components[{i}]"), title, details, hint)
        };
        if let Some(i) = at("FOOTER") {
            return Err(here(
                i,
                "Footer in a limited-time offer",
                format!(
                    "a template with a LIMITED_TIME_OFFER (components[{li}]) cannot have a FOOTER"
                ),
                "Remove the FOOTER component.",
            ));
        }
        if let Some(i) = at("HEADER") {
            let f = components[i].get("format").and_then(Value::as_str);
            if !matches!(f, Some("IMAGE" | "VIDEO")) {
                return Err(ToolError::invalid(
                    format!("components[{i}].format"),
                    "Invalid offer header",
                    "a limited-time offer's header is IMAGE or VIDEO",
                    "Use an IMAGE or VIDEO header, or leave the header out.",
                ));
            }
        }
        if let Some(i) = at("BODY")
            && text_len(i) > LTO_BODY_MAX
        {
            return Err(ToolError::invalid(
                format!("components[{i}].text"),
                "Text too long",
                format!(
                    "the body has {} characters; a limited-time offer body has at most {LTO_BODY_MAX}",
                    text_len(i)
                ),
                format!("Shorten the body to {LTO_BODY_MAX} characters."),
            ));
        }
        let buttons = at("BUTTONS").map(|i| (i, types_of(&components[i])));
        if let Some((i, bt)) = &buttons
            && let Some(k) = bt
                .iter()
                .position(|t| !matches!(t.as_str(), "COPY_CODE" | "URL"))
        {
            return Err(ToolError::invalid(
                format!("components[{i}].buttons[{k}].type"),
                "Invalid offer button",
                format!(
                    "a limited-time offer has a COPY_CODE and URL buttons, not {}",
                    bt[k]
                ),
                "Use a COPY_CODE button (the coupon) and URL buttons.",
            ));
        }
        if lto_expires
            && buttons
                .as_ref()
                .is_none_or(|(_, bt)| bt.first().map(String::as_str) != Some("COPY_CODE"))
        {
            let field = buttons.map_or("components".to_string(), |(i, _)| {
                format!("components[{i}].buttons[0]")
            });
            return Err(ToolError::invalid(
                field,
                "Missing copy-code button",
                "an offer with has_expiration true needs a COPY_CODE button first (it carries the coupon and shows the countdown)",
                "Put {\"type\": \"COPY_CODE\", \"example\": \"SPRING25\"} first in BUTTONS.",
            ));
        }
    }
    Ok(())
}
