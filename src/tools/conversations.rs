//! whatsapp_list_conversations, whatsapp_get_messages: the inbox, read.

use serde_json::{Map, Value};

use crate::args::Args;
use crate::checks::check_token;
use crate::error::ToolError;
use crate::host::Host;
use crate::inbox::{self, NEXT_CHECK_AFTER_SECONDS, read};
use crate::phone;
use crate::settings;
use crate::time::{now_seconds, rfc3339};
use crate::window::{self, WINDOW_SECONDS, WindowState};

/// The error of a reader when the operator has not turned the inbox on.
fn inbox_off() -> ToolError {
    ToolError::internal(
        "Inbox is off",
        "this gateway does not keep inbound messages: its `[inbox] enabled` setting is false",
        "Ask the operator to set `[inbox] enabled = true` in the gateway's settings (environment variable WHATSAPP_INBOX_ENABLED=true); only messages that arrive after that are kept.",
    )
}

fn store_error(e: String) -> ToolError {
    ToolError::internal(
        "Inbox unavailable",
        format!("the inbox could not be read: {e}"),
        "Try again shortly; if it persists, ask the operator to check the gateway's state store.",
    )
    .retryable(true)
}

/// `limit`, 1 to 100 (default 20).
fn limit(args: &Args, page_of: &str) -> Result<usize, ToolError> {
    let limit = args.int_opt("limit")?.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ToolError::invalid(
            "limit",
            "Limit out of range",
            format!("`limit` is {limit}; expected 1 to 100"),
            format!(
                "Use a limit from 1 to 100 (default 20) and page through {page_of} with `cursor`."
            ),
        ));
    }
    Ok(limit as usize)
}

fn cursor(args: &Args) -> Result<Option<&str>, ToolError> {
    let Some(c) = args.str_opt("cursor")? else {
        return Ok(None);
    };
    check_token(
        "cursor",
        c,
        600,
        "a paging cursor",
        "the `next_cursor` of the previous page",
    )?;
    Ok(Some(c))
}

fn next_check_after(out: &mut Map<String, Value>) {
    out.insert(
        "next_check_after".into(),
        Value::from(NEXT_CHECK_AFTER_SECONDS),
    );
}

/// The sort key of a conversation: most recent activity first, then by customer.
fn order_key(s: &read::Summary) -> String {
    let inverted = 9_999_999_999 - s.last_at().clamp(0, 9_999_999_999);
    format!("{inverted:010}/{}", s.customer)
}

pub(crate) fn list_conversations(host: &dyn Host, args: &Args) -> Result<Value, ToolError> {
    let limit = limit(args, "the conversations")?;
    let after = cursor(args)?;
    let unread_only = args.bool_opt("unread_only")?.unwrap_or(false);
    if !settings::inbox_enabled(host) {
        return Err(inbox_off());
    }
    let mut all: Vec<(String, read::Summary)> = read::summaries(host)
        .map_err(store_error)?
        .into_iter()
        .filter(|s| !unread_only || s.has_unread())
        .map(|s| (order_key(&s), s))
        .filter(|(k, _)| after.is_none_or(|a| k.as_str() > a))
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let more = all.len() > limit;
    all.truncate(limit);
    let now = now_seconds(host);
    let webhooks = settings::webhooks_configured(host);
    let mut conversations = Vec::with_capacity(all.len());
    for (_, s) in &all {
        let unread = if s.has_unread() {
            read::unread_count(host, &s.customer, s.read_through).map_err(store_error)?
        } else {
            0
        };
        let w = window::lookup(host, &s.customer, now, webhooks);
        let mut c = Map::new();
        c.insert(
            "customer".into(),
            Value::from(inbox::display_customer(&s.customer)),
        );
        if let Some(name) = &s.name {
            c.insert("name".into(), Value::from(name.as_str()));
        }
        c.insert("unread".into(), Value::from(unread));
        c.insert("last_message_at".into(), Value::from(rfc3339(s.last_at())));
        let open = w.state == WindowState::Open;
        c.insert("window_open".into(), Value::Bool(open));
        if let (true, Some(last)) = (open, w.last_inbound) {
            c.insert(
                "window_expires_at".into(),
                Value::from(rfc3339(last.saturating_add(WINDOW_SECONDS))),
            );
        }
        conversations.push(Value::Object(c));
    }
    let mut out = Map::new();
    out.insert("conversations".into(), Value::Array(conversations));
    if let (true, Some((key, _))) = (more, all.last()) {
        out.insert("next_cursor".into(), Value::from(key.as_str()));
    }
    next_check_after(&mut out);
    Ok(Value::Object(out))
}

/// Validates and normalises a customer's number given as `field`.
pub(crate) fn customer(args: &Args, field: &str) -> Result<String, ToolError> {
    let given = args.str_req(field, "\"+16505551234\"")?;
    phone::normalise(given)
        .map_err(|(details, hint)| ToolError::invalid(field, "Invalid phone number", details, hint))
}

pub(crate) fn get_messages(host: &dyn Host, args: &Args) -> Result<Value, ToolError> {
    let digits = customer(args, "customer")?;
    let limit = limit(args, "older messages")?;
    let after = cursor(args)?;
    if !settings::inbox_enabled(host) {
        return Err(inbox_off());
    }
    let customer = read::resolve_customer(host, &digits).map_err(store_error)?;
    let prefix = inbox::messages_prefix(&customer);
    let start = after.map(|c| format!("{prefix}{c}"));
    let mut page = host
        .kv_scan(&prefix, start.as_deref(), limit as u32 + 1)
        .map_err(store_error)?;
    let more = page.len() > limit;
    page.truncate(limit);
    let read_through = inbox::read_through(host, &customer).map_err(store_error)?;
    let messages: Vec<Value> = page
        .iter()
        .filter_map(|(_, bytes)| serde_json::from_slice::<Value>(bytes).ok())
        .map(|record| read::render(host, &record, read_through))
        .collect();
    let mut out = Map::new();
    out.insert(
        "customer".into(),
        Value::from(inbox::display_customer(&customer)),
    );
    out.insert("messages".into(), Value::Array(messages));
    if let (true, Some((key, _))) = (more, page.last()) {
        out.insert("next_cursor".into(), Value::from(&key[prefix.len()..]));
    }
    next_check_after(&mut out);
    Ok(Value::Object(out))
}
