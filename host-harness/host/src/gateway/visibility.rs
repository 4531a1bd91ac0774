//! Inbox visibility: an app restricted to some recipients (its
//! `allow_values` rules on `to`) neither reads, marks nor reacts in another
//! customer's conversation, nor sees it listed.
//!
//! The customer a call names is checked before the call (nothing is read or
//! sent for a hidden customer); `whatsapp_list_conversations` is filtered
//! after it, so a page may hold fewer conversations than its `limit` (its
//! `next_cursor` still leads on).

use serde_json::Value;

use crate::policy::{Denial, Layer, Visibility};

/// The tool listing the inbox's conversations.
pub(crate) const LIST_CONVERSATIONS: &str = "whatsapp_list_conversations";
/// The tool reading one customer's messages.
pub(crate) const GET_MESSAGES: &str = "whatsapp_get_messages";

/// The rule a refusal names.
pub(crate) const VISIBILITY_RULE: &str = "inbox-visibility";

/// The tools that name one customer, and the argument that names it.
const CUSTOMER_FIELDS: [(&str, &str); 3] = [
    (GET_MESSAGES, "customer"),
    ("whatsapp_mark_as_read", "customer"),
    ("whatsapp_send_reaction", "to"),
];

/// Refuses a call naming a customer `visibility` hides (or a customer a
/// restricted app's call does not name readably: it cannot be proved visible).
pub(super) fn check_before(
    visibility: &Visibility,
    tool: &str,
    args: Option<&Value>,
) -> Result<(), Denial> {
    if !visibility.is_restricted() {
        return Ok(());
    }
    let Some((_, field)) = CUSTOMER_FIELDS.iter().find(|(name, _)| *name == tool) else {
        return Ok(());
    };
    let reason = match args.and_then(|a| a.get(*field)).and_then(Value::as_str) {
        Some(number) if visibility.permits(number) => return Ok(()),
        Some(number) => format!("{number} is not a customer this app may see"),
        None => format!(
            "`{field}` is missing or not a phone number string, and this app sees only some \
             customers"
        ),
    };
    Err(Denial {
        rule: VISIBILITY_RULE.into(),
        layer: Layer::App,
        reason: format!("{reason} (rule `{VISIBILITY_RULE}`)"),
        hint: format!(
            "give in `{field}` a customer this app may message; ask the operator to allow the \
             number if this app should see that conversation"
        ),
        field: Some(field.to_string()),
        retryable: false,
    })
}

/// Drops from a `whatsapp_list_conversations` result the conversations
/// `visibility` hides.
pub(super) fn filter_after(visibility: &Visibility, tool: &str, result: &mut Value) {
    if tool != LIST_CONVERSATIONS || !visibility.is_restricted() {
        return;
    }
    if let Some(conversations) = result
        .get_mut("conversations")
        .and_then(Value::as_array_mut)
    {
        conversations.retain(|c| {
            c.get("customer")
                .and_then(Value::as_str)
                .is_some_and(|n| visibility.permits(n))
        });
    }
}
