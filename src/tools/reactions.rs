//! whatsapp_mark_as_read, whatsapp_send_reaction: acting on a customer's message.
//!
//! Both endpoints are `POST /{phone-number-id}/messages`:
//! https://developers.facebook.com/docs/whatsapp/cloud-api/guides/mark-message-as-read
//! https://developers.facebook.com/docs/whatsapp/cloud-api/messages/reaction-messages

use serde_json::{Map, Value, json};
use unicode_segmentation::UnicodeSegmentation;

use super::conversations::customer;
use super::send::{self, Outgoing};
use crate::args::Args;
use crate::checks::check_token;
use crate::error::ToolError;
use crate::graph::{Graph, READ_MESSAGING};
use crate::host::Host;
use crate::inbox;
use crate::phone;
use crate::settings;

const WAMID_EXAMPLE: &str = "\"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTdBMkM5RjE3MDc4QjE0NkQ1RQA=\"";

/// The `wamid.` of `message_id`.
fn message_id(args: &Args) -> Result<&str, ToolError> {
    let id = args.str_req("message_id", WAMID_EXAMPLE)?;
    check_token("message_id", id, 512, "a message id", WAMID_EXAMPLE)?;
    if !id.starts_with("wamid.") || id.len() == "wamid.".len() {
        return Err(ToolError::invalid(
            "message_id",
            "Not a message id",
            format!("`message_id` is `{id}`; WhatsApp message ids start with `wamid.`"),
            format!(
                "Give the `id` of a message from whatsapp_get_messages, for example {WAMID_EXAMPLE}."
            ),
        ));
    }
    Ok(id)
}

/// What the inbox knows of `id`, refusing a message of another customer
/// than `digits` (named by `field`).
fn known_for(
    host: &dyn Host,
    id: &str,
    digits: &str,
    field: &str,
) -> Result<Option<inbox::Known>, ToolError> {
    if !settings::inbox_enabled(host) {
        return Ok(None);
    }
    // Unreadable inbox: the API still judges the id; only the check is skipped.
    let Ok(Some(known)) = inbox::lookup(host, id) else {
        return Ok(None);
    };
    if !phone::same_number(&known.customer, digits) {
        return Err(ToolError::invalid(
            "message_id",
            "Message of another conversation",
            format!(
                "`message_id` `{id}` belongs to the conversation with another customer, not to `{field}`"
            ),
            format!(
                "Use a message of this customer's conversation (whatsapp_get_messages with this `{field}`), or give the customer who sent it."
            ),
        ));
    }
    Ok(Some(known))
}

pub(crate) fn mark_as_read(host: &dyn Host, args: &Args) -> Result<Value, ToolError> {
    let digits = customer(args, "customer")?;
    let id = message_id(args)?;
    let typing = args.bool_opt("typing_indicator")?.unwrap_or(false);
    let known = known_for(host, id, &digits, "customer")?;
    if let Some(k) = &known
        && k.record.get("direction").and_then(Value::as_str) == Some("outbound")
    {
        return Err(ToolError::invalid(
            "message_id",
            "Not a customer's message",
            format!(
                "`message_id` `{id}` is a message this business sent; only messages a customer sent can be marked read"
            ),
            "Give the id of an inbound message (direction `inbound` in whatsapp_get_messages).",
        ));
    }
    let pnid = settings::phone_number_id(host)?;
    let graph = Graph::new(host)?;
    let mut body = Map::new();
    body.insert("messaging_product".into(), Value::from("whatsapp"));
    body.insert("status".into(), Value::from("read"));
    body.insert("message_id".into(), Value::from(id));
    if typing {
        body.insert("typing_indicator".into(), json!({"type": "text"}));
    }
    // A read receipt is idempotent: the retry rules of a read apply.
    let resp = graph.post(
        &format!("{pnid}/messages"),
        &Value::Object(body),
        READ_MESSAGING,
    )?;
    let success = resp
        .get("success")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut out = Map::new();
    let mut updated = false;
    if let (true, Some(k), Some(ttl)) = (success, &known, inbox::retention(host)) {
        let ts = k.record.get("ts").and_then(Value::as_i64).unwrap_or(0);
        match inbox::mark_read_through(host, &k.customer, ts, ttl) {
            Ok(()) => updated = true,
            Err(e) => {
                out.insert(
                    "warning".into(),
                    Value::from(format!(
                        "WhatsApp has the read receipt, but the inbox could not record it ({e}); whatsapp_list_conversations may still count the message as unread."
                    )),
                );
            }
        }
    }
    out.insert("success".into(), Value::Bool(success));
    out.insert(
        "customer".into(),
        Value::from(inbox::display_customer(&digits)),
    );
    out.insert("message_id".into(), Value::from(id));
    out.insert("typing_indicator".into(), Value::Bool(typing));
    out.insert("inbox_updated".into(), Value::Bool(updated));
    Ok(Value::Object(out))
}

/// One emoji: a single extended grapheme cluster (so skin tones, flags and
/// joined sequences count as one), not plain ASCII, no control or space
/// characters. Empty removes the reaction.
fn check_emoji(emoji: &str) -> Result<(), ToolError> {
    if emoji.is_empty() {
        return Ok(());
    }
    let clusters = emoji.graphemes(true).count();
    let bad = clusters != 1
        || emoji.is_ascii()
        || emoji.chars().any(|c| c.is_control() || c.is_whitespace())
        || emoji.chars().next().is_some_and(char::is_alphabetic);
    if bad {
        return Err(ToolError::invalid(
            "emoji",
            "Not one emoji",
            if clusters > 1 {
                format!(
                    "`emoji` is `{emoji}`, which is {clusters} characters as displayed; a reaction is exactly one emoji"
                )
            } else {
                format!("`emoji` is `{emoji}`, which is not an emoji")
            },
            "Give a single emoji such as \"👍\" or \"❤️\" (skin tones and flags are fine), or \"\" to remove your reaction.",
        ));
    }
    Ok(())
}

pub(crate) fn send_reaction(host: &dyn Host, args: &Args) -> Result<Value, ToolError> {
    let to = send::recipient(args)?;
    let id = message_id(args)?;
    let emoji = args.str_req("emoji", "\"👍\"")?;
    check_emoji(emoji)?;
    known_for(host, id, &to, "to")?;
    send::send(
        host,
        Outgoing {
            to,
            msg_type: "reaction".into(),
            content: json!({"message_id": id, "emoji": emoji}),
            reply_to: None,
            template: None,
        },
    )
}
