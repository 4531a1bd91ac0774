//! What users write to the business: the simulated inbound messages (text, a button reply, an
//! image, a quoted reply, a reaction) in the shape of Meta's `messages` webhook
//! (https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components), and read
//! receipts for them (`POST /{phone-number-id}/messages` with `status: read`,
//! https://developers.facebook.com/docs/whatsapp/cloud-api/guides/mark-message-as-read).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::world::{MAX_INBOUND_MESSAGES, Store, World};
use crate::graph_error::{GraphError, GraphResult};
use crate::records::ReceivedMessage;
use crate::util;

/// The profile name a simulated user has when the message names none.
pub(crate) const DEFAULT_PROFILE_NAME: &str = "Sandbox User";

/// The photo a simulated user sends: an 8×8 grey baseline JPEG (WhatsApp delivers photos as
/// JPEG), kept under a media id that `GET /{media-id}` describes.
const CUSTOMER_PHOTO: &[u8] = &[
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01,
    0x00, 0x01, 0x00, 0x00, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00,
    0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00, 0xff, 0xc4, 0x00, 0x26, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff,
    0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00, 0x3f, 0xff, 0xd9,
];
const CUSTOMER_PHOTO_MIME: &str = "image/jpeg";

/// What kind of message a simulated user sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboundKind {
    /// A text message (`text` required); with `context_message_id` it quotes that message.
    #[default]
    Text,
    /// A tap on a reply button (`button` required) of the message `context_message_id`, or
    /// of the latest interactive or template message sent to the user. An interactive
    /// message's button arrives as `interactive.button_reply {id, title}`, a template's
    /// quick-reply button as `button {payload, text}`, as Meta sends them.
    ButtonReply,
    /// A photo (a JPEG kept under a new media id), with an optional `caption`.
    Image,
    /// A text (`text` required) quoting `context_message_id` (required): `context {from, id}`.
    Reply,
    /// A reaction (`emoji`, empty to remove one) to `context_message_id` (required).
    Reaction,
}

/// A reply button a simulated user taps: the button's `id` (or a template button's payload)
/// and its `title`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundButton {
    /// The button's id as the business sent it (a template quick reply's payload).
    pub id: String,
    /// The text shown on the button.
    pub title: String,
}

/// A message a simulated user writes to the business, delivered as a signed `messages`
/// webhook in Meta's shape. The JSON form is the body of `POST /_sandbox/inbound`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundMessage {
    /// The user's phone number, any format (`+1 650 555 1234`).
    pub from: String,
    /// What they send (default `text`).
    #[serde(default)]
    pub kind: InboundKind,
    /// The text of a `text` or `reply`.
    #[serde(default)]
    pub text: Option<String>,
    /// The button of a `button_reply`.
    #[serde(default)]
    pub button: Option<InboundButton>,
    /// The message quoted (`reply`, optional for `text`, `image`, `button_reply`) or reacted
    /// to (`reaction`): a message the business sent to this user or one the user sent.
    #[serde(default)]
    pub context_message_id: Option<String>,
    /// The reaction's emoji; empty removes the user's reaction.
    #[serde(default)]
    pub emoji: Option<String>,
    /// The caption of an `image`.
    #[serde(default)]
    pub caption: Option<String>,
    /// The user's profile name (default `Sandbox User`).
    #[serde(default)]
    pub name: Option<String>,
    /// When the user sent it, in Unix seconds (default now), for window boundary tests.
    #[serde(default)]
    pub timestamp: Option<u64>,
}

impl InboundMessage {
    /// A text message from `from`.
    pub fn text(from: &str, text: &str) -> InboundMessage {
        InboundMessage {
            from: from.to_owned(),
            text: Some(text.to_owned()),
            ..InboundMessage::default()
        }
    }
}

/// A message the quoted or reacted-to id names: who sent it and its type.
struct Quoted {
    from: String,
    kind: String,
}

/// The message `id` in the conversation with `wa_id`: one the business sent to the user or
/// one the user sent.
fn find_in_conversation(st: &Store, display_number: &str, wa_id: &str, id: &str) -> Option<Quoted> {
    if let Some(sent) = st
        .sent
        .iter()
        .rev()
        .find(|r| r.msg.id == id && r.msg.wa_id == wa_id)
    {
        return Some(Quoted {
            from: display_number.to_owned(),
            kind: sent.msg.kind.clone(),
        });
    }
    st.inbound
        .iter()
        .rev()
        .find(|m| m.id == id && m.from == wa_id)
        .map(|m| Quoted {
            from: m.from.clone(),
            kind: m.kind.clone(),
        })
}

impl InboundKind {
    fn name(self) -> &'static str {
        match self {
            InboundKind::Text => "text",
            InboundKind::ButtonReply => "button_reply",
            InboundKind::Image => "image",
            InboundKind::Reply => "reply",
            InboundKind::Reaction => "reaction",
        }
    }

    /// The content fields this kind takes (`context_message_id` goes with every kind).
    fn fields(self) -> &'static [&'static str] {
        match self {
            InboundKind::Text | InboundKind::Reply => &["text"],
            InboundKind::ButtonReply => &["button"],
            InboundKind::Image => &["caption"],
            InboundKind::Reaction => &["emoji"],
        }
    }
}

/// Refuses a content field the kind does not send, rather than dropping it unseen.
fn check_fields(msg: &InboundMessage) -> Result<(), String> {
    let given = [
        ("text", msg.text.is_some()),
        ("button", msg.button.is_some()),
        ("caption", msg.caption.is_some()),
        ("emoji", msg.emoji.is_some()),
    ];
    let allowed = msg.kind.fields();
    match given
        .iter()
        .find(|(name, set)| *set && !allowed.contains(name))
    {
        Some((name, _)) => Err(format!(
            "\"{name}\" does not go with kind \"{}\", which takes \"{}\"",
            msg.kind.name(),
            allowed.join("\", \"")
        )),
        None => Ok(()),
    }
}

fn required_text(value: &Option<String>, kind: &str) -> Result<String, String> {
    match value.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => Ok(value.clone().unwrap_or_default()),
        _ => Err(format!(
            "\"text\" is required for kind \"{kind}\": the words the user writes"
        )),
    }
}

/// Delivers `msg` as a `messages` webhook (when a callback is set), opens or refreshes the
/// user's 24-hour window and keeps the message for read receipts and reactions. Returns its
/// id, or what is wrong with `msg`.
pub(crate) fn receive(world: &World, msg: &InboundMessage) -> Result<String, String> {
    let at = match msg.timestamp {
        Some(secs) => UNIX_EPOCH
            .checked_add(Duration::from_secs(secs))
            .ok_or("\"timestamp\" is out of range: give Unix seconds")?,
        None => SystemTime::now(),
    };
    receive_at(world, msg, at)
}

/// [`receive`] with the time the user sent it (`msg.timestamp` is not read).
pub(crate) fn receive_at(
    world: &World,
    msg: &InboundMessage,
    at: SystemTime,
) -> Result<String, String> {
    let digits = util::digits_only(&msg.from);
    if digits.is_empty() {
        return Err("\"from\" must be the user's phone number, e.g. +16505551234".into());
    }
    check_fields(msg)?;
    // A user writes from their WhatsApp id, which for some numbers differs from the number.
    let wa_id = util::wa_id_for(&digits);
    let business = util::digits_only(&world.cfg.display_phone_number);
    let name = msg
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_PROFILE_NAME.to_owned());
    let mut st = world.lock();
    let quoted = match msg.context_message_id.as_deref() {
        Some(id) => Some(
            find_in_conversation(&st, &business, &wa_id, id).ok_or_else(|| {
                format!(
                    "\"context_message_id\" {id} is not a message of the conversation with \
                     {wa_id}: quote or react to a message the business sent to this user \
                     (its send answer's id) or one the user sent"
                )
            })?,
        ),
        None => None,
    };
    let mut message = Map::new();
    let kind: &str = match msg.kind {
        InboundKind::Text => {
            let text = required_text(&msg.text, "text")?;
            message.insert("text".into(), json!({"body": text}));
            "text"
        }
        InboundKind::Reply => {
            if quoted.is_none() {
                return Err(
                    "\"context_message_id\" is required for kind \"reply\": the id \
                            of the message the user quotes"
                        .into(),
                );
            }
            let text = required_text(&msg.text, "reply")?;
            message.insert("text".into(), json!({"body": text}));
            "text"
        }
        InboundKind::ButtonReply => {
            let Some(button) = msg
                .button
                .as_ref()
                .filter(|b| !b.id.trim().is_empty() && !b.title.trim().is_empty())
            else {
                return Err("\"button\" {\"id\", \"title\"} is required for kind \
                            \"button_reply\": the reply button the user taps"
                    .into());
            };
            let (kind, context) = match &quoted {
                Some(q) if q.kind != "interactive" && q.kind != "template" => {
                    return Err(format!(
                        "\"context_message_id\" names a {} message, which has no reply \
                         buttons: a button reply answers an interactive or template message",
                        q.kind
                    ));
                }
                Some(q) => (q.kind.clone(), msg.context_message_id.clone()),
                None => {
                    let latest = st.sent.iter().rev().find(|r| {
                        r.msg.wa_id == wa_id
                            && (r.msg.kind == "interactive" || r.msg.kind == "template")
                    });
                    match latest {
                        Some(r) => (r.msg.kind.clone(), Some(r.msg.id.clone())),
                        None => {
                            return Err(format!(
                                "a button reply answers a message with buttons, and none was \
                                 sent to {wa_id}: send an interactive or template message \
                                 first, or give \"context_message_id\""
                            ));
                        }
                    }
                }
            };
            // A button reply always quotes the message whose button was tapped.
            if let Some(id) = context {
                message.insert("context".into(), json!({"from": business, "id": id}));
            }
            if kind == "template" {
                message.insert(
                    "button".into(),
                    json!({"payload": button.id, "text": button.title}),
                );
                "button"
            } else {
                message.insert(
                    "interactive".into(),
                    json!({"type": "button_reply",
                           "button_reply": {"id": button.id, "title": button.title}}),
                );
                "interactive"
            }
        }
        InboundKind::Image => {
            let (id, media) = st.media.receive(CUSTOMER_PHOTO_MIME, CUSTOMER_PHOTO);
            // Webhooks carry the SHA-256 in base64 (Meta's webhook examples); `GET
            // /{media-id}` answers it in hex.
            let digest = hex::decode(&media.sha256).unwrap_or_default();
            let mut image = json!({
                "mime_type": media.mime_type,
                "sha256": base64::engine::general_purpose::STANDARD.encode(digest),
                "id": id,
            });
            if let Some(caption) = msg.caption.as_deref().filter(|c| !c.is_empty()) {
                image["caption"] = Value::from(caption);
            }
            message.insert("image".into(), image);
            "image"
        }
        InboundKind::Reaction => {
            let Some(target) = msg.context_message_id.as_deref() else {
                return Err(
                    "\"context_message_id\" is required for kind \"reaction\": the \
                            id of the message the user reacts to"
                        .into(),
                );
            };
            let Some(emoji) = msg.emoji.as_deref() else {
                return Err(
                    "\"emoji\" is required for kind \"reaction\" (\"\" removes the \
                            user's reaction)"
                        .into(),
                );
            };
            // A removed reaction arrives without an emoji.
            let mut reaction = json!({"message_id": target});
            if !emoji.is_empty() {
                reaction["emoji"] = Value::from(emoji);
            }
            message.insert("reaction".into(), reaction);
            "reaction"
        }
    };
    if msg.kind != InboundKind::Reaction
        && msg.kind != InboundKind::ButtonReply
        && let (Some(q), Some(id)) = (&quoted, &msg.context_message_id)
    {
        message.insert("context".into(), json!({"from": q.from, "id": id}));
    }
    let id = util::inbound_wamid(&wa_id);
    message.insert("from".into(), Value::from(wa_id.clone()));
    message.insert("id".into(), Value::from(id.clone()));
    message.insert(
        "timestamp".into(),
        Value::from(util::unix_secs(at).to_string()),
    );
    message.insert("type".into(), Value::from(kind));
    let message = Value::Object(message);

    // A later timestamp never moves backwards because of an older simulated message.
    let last = st.last_inbound.entry(wa_id.clone()).or_insert(at);
    if *last < at {
        *last = at;
    }
    if st.inbound.len() >= MAX_INBOUND_MESSAGES {
        st.inbound.pop_front();
    }
    st.outbox
        .inbound(&world.cfg, &wa_id, &name, message.clone());
    st.inbound.push_back(ReceivedMessage {
        id: id.clone(),
        from: wa_id,
        kind: kind.to_owned(),
        message,
        at,
        read: false,
    });
    drop(st);
    tracing::debug!(kind, "sandbox: simulated inbound message");
    Ok(id)
}

/// A read receipt for `message_id`: it must be a message a user wrote to this number. It and
/// every earlier message from the same user become read, as on WhatsApp.
pub(crate) fn mark_read(world: &World, message_id: &str) -> GraphResult<()> {
    let mut st = world.lock();
    let Some(pos) = st.inbound.iter().rposition(|m| m.id == message_id) else {
        // The sandbox's choice of error: Graph's invalid-parameter code naming the field.
        return Err(GraphError::invalid_param(format!(
            "Param message_id must be the id of a message a user sent to this phone number \
             (from its messages webhook) - got \"{message_id}\"."
        )));
    };
    let from = st.inbound[pos].from.clone();
    for m in st.inbound.iter_mut().take(pos + 1) {
        if m.from == from {
            m.read = true;
        }
    }
    Ok(())
}

/// Whether a reaction to `message_id` sent to `wa_id` can be delivered: the message is in
/// the conversation and is not itself a reaction. Meta fails the others by a webhook with
/// 131009 (https://developers.facebook.com/docs/whatsapp/cloud-api/messages/reaction-messages).
pub(crate) fn reaction_target_known(
    st: &Store,
    display_number: &str,
    wa_id: &str,
    message_id: &str,
) -> bool {
    find_in_conversation(st, &util::digits_only(display_number), wa_id, message_id)
        .is_some_and(|q| q.kind != "reaction")
}
