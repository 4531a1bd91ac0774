//! The inbox as MCP resources: `whatsapp://conversations` (the
//! conversations, as `whatsapp_list_conversations` returns them) and
//! `whatsapp://conversations/{number}` (one customer's messages, as
//! `whatsapp_get_messages` returns them).
//!
//! Every list and read is a tool call through the [`ToolService`] as the
//! requesting app, so the policy (tool enablement, rules, visibility,
//! audit) applies exactly as to the tools: an app that may not call a tool
//! does not see its resource, and an app restricted to some recipients
//! neither lists nor reads another customer's conversation.

use rmcp::ErrorData;
use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate,
};
use serde_json::{Map, Value, json};

use crate::gateway::{CallError, GET_MESSAGES, LIST_CONVERSATIONS, ToolService, VISIBILITY_RULE};
use crate::tool::ErrorKind;

/// The conversations of the inbox.
pub(crate) const CONVERSATIONS_URI: &str = "whatsapp://conversations";
/// The messages of one customer: this prefix, then the number.
const CONVERSATION_PREFIX: &str = "whatsapp://conversations/";
/// The template of the per-customer resources (RFC 6570).
const CONVERSATION_TEMPLATE: &str = "whatsapp://conversations/{number}";
const JSON_MIME: &str = "application/json";
/// Conversations listed by `resources/list`, the largest page the tool gives.
const LISTED_CONVERSATIONS: u32 = 100;

/// What a resource URI names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// Every conversation.
    Conversations,
    /// One customer's conversation: E.164 digits (no `+`).
    Conversation(String),
}

impl Target {
    /// The resource `uri` names, if it is one of ours. A number may be
    /// written in any format `to` accepts (`%2B` for `+` too).
    pub(crate) fn parse(uri: &str) -> Option<Target> {
        if uri == CONVERSATIONS_URI {
            return Some(Target::Conversations);
        }
        let number = uri.strip_prefix(CONVERSATION_PREFIX)?;
        let number = number.replace("%2B", "+").replace("%2b", "+");
        whatsapp_connector::phone::normalise(&number)
            .ok()
            .map(Target::Conversation)
    }

    /// The tool that reads it.
    fn tool(&self) -> &'static str {
        match self {
            Target::Conversations => LIST_CONVERSATIONS,
            Target::Conversation(_) => GET_MESSAGES,
        }
    }

    /// Whether `app` may read it: the tool is enabled for the app and the
    /// customer is one it may see. Says nothing of whether it has messages.
    pub(crate) fn readable_by<S: ToolService>(&self, service: &S, app: &str) -> bool {
        let enabled = service
            .visible_tools(app)
            .iter()
            .any(|t| t.name == self.tool());
        enabled
            && match self {
                Target::Conversations => true,
                Target::Conversation(digits) => {
                    service.may_see_customer(app, &format!("+{digits}"))
                }
            }
    }

    /// Whether news of `customer` (E.164 with `+`) changes it for `app`.
    pub(crate) fn changed_by<S: ToolService>(
        &self,
        service: &S,
        app: &str,
        customer: &str,
    ) -> bool {
        let concerned = match self {
            Target::Conversations => true,
            Target::Conversation(digits) => whatsapp_connector::phone::normalise(customer)
                .is_ok_and(|c| whatsapp_connector::phone::same_number(digits, &c)),
        };
        concerned && service.may_see_customer(app, customer)
    }
}

/// A resource that is not ours or that this app may not read: both read as
/// "not found", so an app learns nothing of conversations hidden from it.
pub(crate) fn not_found(uri: &str) -> ErrorData {
    ErrorData::resource_not_found(
        format!(
            "no resource {uri}: this server offers {CONVERSATIONS_URI} and \
             {CONVERSATION_TEMPLATE} (a customer this app may see, in international format), \
             when the inbox is enabled and the app may use the inbox tools"
        ),
        Some(json!({ "uri": uri })),
    )
}

/// `resources/list`: the conversations resource and one resource per
/// conversation the app may see (the most recent ones), when it may list them.
pub(crate) async fn list<S: ToolService>(
    service: &S,
    app: &str,
) -> Result<ListResourcesResult, ErrorData> {
    if !Target::Conversations.readable_by(service, app) {
        return Ok(ListResourcesResult::with_all_items(Vec::new()));
    }
    let mut resources = vec![
        Resource::new(CONVERSATIONS_URI, "conversations")
            .with_title("WhatsApp conversations")
            .with_description(
                "The customers who wrote to this business number, newest first, with unread \
                 counts and whether their 24-hour window is open.",
            )
            .with_mime_type(JSON_MIME),
    ];
    let mut arguments = Map::new();
    arguments.insert("limit".into(), json!(LISTED_CONVERSATIONS));
    let listed = match call(
        service,
        app,
        LIST_CONVERSATIONS,
        arguments,
        CONVERSATIONS_URI,
    )
    .await
    {
        Ok(listed) => listed,
        // The inbox off or unreachable: the index alone; reading it says why.
        Err(e) => {
            tracing::debug!(error = %e.message, "resources/list without the conversations");
            return Ok(ListResourcesResult::with_all_items(resources));
        }
    };
    let customers = listed
        .get("conversations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for conversation in customers {
        let Some(customer) = conversation.get("customer").and_then(Value::as_str) else {
            continue;
        };
        let mut resource = Resource::new(
            format!("{CONVERSATION_PREFIX}{customer}"),
            format!("conversation {customer}"),
        )
        .with_mime_type(JSON_MIME);
        if let Some(name) = conversation.get("name").and_then(Value::as_str) {
            resource = resource.with_title(format!("WhatsApp conversation with {name}"));
        }
        resources.push(resource);
    }
    Ok(ListResourcesResult::with_all_items(resources))
}

/// `resources/templates/list`: the per-customer template, when the app may
/// read messages.
pub(crate) fn templates<S: ToolService>(service: &S, app: &str) -> ListResourceTemplatesResult {
    let readable = service
        .visible_tools(app)
        .iter()
        .any(|t| t.name == GET_MESSAGES);
    let templates = readable
        .then(|| {
            ResourceTemplate::new(CONVERSATION_TEMPLATE, "conversation")
                .with_title("WhatsApp conversation with one customer")
                .with_description(
                    "One customer's messages, newest first: what they wrote (with quoted \
                     messages, media ids and reactions) and what this business sent, with \
                     delivery statuses. {number} is the customer's number in international \
                     format, like +16505551234.",
                )
                .with_mime_type(JSON_MIME)
        })
        .into_iter()
        .collect();
    ListResourceTemplatesResult::with_all_items(templates)
}

/// `resources/read`: the tool's result as JSON text.
pub(crate) async fn read<S: ToolService>(
    service: &S,
    app: &str,
    uri: &str,
) -> Result<ReadResourceResult, ErrorData> {
    let Some(target) = Target::parse(uri) else {
        return Err(not_found(uri));
    };
    let mut arguments = Map::new();
    if let Target::Conversation(digits) = &target {
        arguments.insert("customer".into(), json!(format!("+{digits}")));
    }
    let value = call(service, app, target.tool(), arguments, uri).await?;
    Ok(ReadResourceResult::new(vec![
        ResourceContents::text(value.to_string(), uri).with_mime_type(JSON_MIME),
    ]))
}

/// Runs `tool` for a resource; a tool the app may not use, or a customer it
/// may not see, is "not found".
async fn call<S: ToolService>(
    service: &S,
    app: &str,
    tool: &str,
    arguments: Map<String, Value>,
    uri: &str,
) -> Result<Value, ErrorData> {
    match service.call(app, tool, arguments).await {
        Ok(value) => Ok(value),
        Err(CallError::UnknownTool { .. } | CallError::NotEnabled { .. }) => Err(not_found(uri)),
        Err(CallError::Denied(e)) if e.rule.as_deref() == Some(VISIBILITY_RULE) => {
            Err(not_found(uri))
        }
        // Another rule (a rate limit, a time window): the app should know why.
        Err(CallError::Denied(e)) => Err(ErrorData::invalid_request(
            e.one_line(),
            Some(json!({ "uri": uri, "rule": e.rule, "retryable": e.retryable })),
        )),
        Err(CallError::Failed(e)) if e.kind == ErrorKind::InvalidArguments => Err(
            ErrorData::invalid_params(e.one_line(), Some(json!({ "uri": uri }))),
        ),
        Err(CallError::Failed(e)) => Err(ErrorData::internal_error(
            e.one_line(),
            Some(json!({ "uri": uri, "retryable": e.retryable })),
        )),
    }
}
