//! `ServerHandler` for the component's dynamic tool list.

use std::sync::Arc;
use std::time::Instant;

use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock,
    DiscoverResult, Implementation, ListResourceTemplatesResult, ListResourcesResult,
    ListToolsResult, MetaObject, PaginatedRequestParams, ProtocolVersion,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
    SubscribeRequestParams, SubscriptionFilter, Tool, ToolAnnotations, UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};

use super::resources::{self, Target};
use super::subscriptions::{self, SessionSubscriptions};
use crate::gateway::{CallError, GET_MESSAGES, Gateway, LIST_CONVERSATIONS, ToolService};
use crate::inbox_events::{self, InboxEvents};
use crate::policy::OPEN_APP;
use crate::runtime::Runtime;
use crate::tool::{ToolDescriptor, ToolError};

/// How long clients may cache `tools/list` and `server/discover` (2026-07-28).
/// The tool set is fixed for the life of the process; a restart with another
/// component is the only way it changes, so minutes are safe.
pub const LIST_TTL_MS: u64 = 300_000;

/// With a policy, the list depends on who asks and changes when the policy
/// file does: private to the client, and cached briefly.
pub const POLICY_LIST_TTL_MS: u64 = 30_000;

const SERVER_NAME: &str = "whatsapp-connector";
const SERVER_TITLE: &str = "WhatsApp Business connector";
const SERVER_INFO_META_KEY: &str = "io.modelcontextprotocol/serverInfo";

const INSTRUCTIONS: &str = "Tools for the WhatsApp Business Cloud API: send messages, \
templates and media, manage message templates and the business profile, and look up the \
delivery status of sent messages. Free-form messages (whatsapp_send_message, \
whatsapp_send_media) reach a customer only within 24 hours of that customer's last message; \
outside that window use whatsapp_send_template with an approved template. A failed call \
returns isError with a one-line explanation and a hint on what to do next.";

/// The app an HTTP request authenticated as, put in its extensions by the
/// API-key check (`super::http`) and read here from the request's HTTP parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AuthenticatedApp(pub(crate) String);

/// The MCP face of a loaded connector: serves the tools of a
/// [`ToolService`] (the [`Gateway`], or a stub in tests). Cheap to clone
/// (one `Arc`), so the HTTP transport can hand a copy to every session and
/// stateless request.
pub struct McpServer<S: ToolService = Gateway> {
    inner: Arc<Inner<S>>,
    /// The resources this session subscribed to (2025-11-25): shared by
    /// clones, fresh for each HTTP session ([`McpServer::for_session`]).
    session: Arc<SessionSubscriptions>,
}

impl<S: ToolService> Clone for McpServer<S> {
    fn clone(&self) -> Self {
        McpServer {
            inner: self.inner.clone(),
            session: self.session.clone(),
        }
    }
}

struct Inner<S> {
    /// The tools and the calls (the gateway: policy, runtime, audit log).
    service: Arc<S>,
    /// The app for requests that carry no HTTP credentials (stdio). Over
    /// HTTP with a policy, each request's app comes from its API key.
    app: Option<String>,
    /// Built once from the descriptors, in the component's (stable) order:
    /// every tool; each app sees those the policy enables for it.
    tools: Vec<Tool>,
    info: Implementation,
    /// `_meta` carrying the server identity, attached to modern results.
    info_meta: MetaObject,
    /// Whether the component has the inbox tools, so the inbox resources.
    inbox: bool,
    /// "Customer X has new messages", for resource subscriptions.
    events: InboxEvents,
}

impl McpServer<Gateway> {
    /// Every tool, no policy: the `default` app.
    pub fn new(runtime: Arc<Runtime>) -> McpServer {
        McpServer::with_gateway(Arc::new(Gateway::open(runtime)), Some(OPEN_APP.to_string()))
    }
}

impl<S: ToolService> McpServer<S> {
    /// Serves `gateway`'s tools as `app` (stdio), or, with `None`, as the
    /// app whose key each HTTP request carries (without a policy, the
    /// gateway's only app).
    pub fn with_gateway(gateway: Arc<S>, app: Option<String>) -> McpServer<S> {
        let tools = gateway.tools().iter().map(to_mcp_tool).collect();
        let mut info = Implementation::new(SERVER_NAME, env!("CARGO_PKG_VERSION"));
        info.title = Some(SERVER_TITLE.to_string());
        let mut info_meta = MetaObject::default();
        info_meta.0.insert(
            SERVER_INFO_META_KEY.to_string(),
            serde_json::to_value(&info).expect("Implementation serialises"),
        );
        let inbox = gateway
            .tools()
            .iter()
            .any(|t| t.name == LIST_CONVERSATIONS || t.name == GET_MESSAGES);
        McpServer {
            inner: Arc::new(Inner {
                service: gateway,
                app,
                tools,
                info,
                info_meta,
                inbox,
                events: inbox_events::global().clone(),
            }),
            session: Arc::default(),
        }
    }

    /// The same server hearing of new messages from `events` instead of
    /// the process's broadcast (tests feed their own).
    pub fn with_inbox_events(self, events: InboxEvents) -> McpServer<S> {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            service: shared.service.clone(),
            app: shared.app.clone(),
            tools: shared.tools.clone(),
            info: shared.info.clone(),
            info_meta: shared.info_meta.clone(),
            inbox: shared.inbox,
            events: shared.events.clone(),
        });
        inner.events = events;
        McpServer {
            inner: Arc::new(inner),
            session: self.session,
        }
    }

    /// A copy for a new session: the same tools, no subscriptions.
    pub(crate) fn for_session(&self) -> McpServer<S> {
        McpServer {
            inner: self.inner.clone(),
            session: Arc::default(),
        }
    }

    /// Every tool as MCP lists them (an app may see fewer).
    pub fn tools(&self) -> &[Tool] {
        &self.inner.tools
    }

    /// The tool service behind this server.
    pub(crate) fn service(&self) -> &Arc<S> {
        &self.inner.service
    }

    /// The app this request acts as: the one its API key names (HTTP), else
    /// the server's own. An HTTP request without a valid key never gets an
    /// app when a policy is in force (the transport answers 401 first).
    fn app_for(&self, context: &RequestContext<RoleServer>) -> Result<String, ErrorData> {
        let parts = context.extensions.get::<http::request::Parts>();
        if let Some(parts) = parts {
            if let Some(AuthenticatedApp(app)) = parts.extensions.get::<AuthenticatedApp>() {
                return Ok(app.clone());
            }
            if self.inner.service.requires_auth() {
                return Err(ErrorData::invalid_request(
                    "this request carries no valid app key: send Authorization: Bearer <app key>",
                    None,
                ));
            }
        }
        let app = match &self.inner.app {
            Some(app) => Some(app.clone()),
            None if !self.inner.service.requires_auth() => self.inner.service.default_app(),
            None => None,
        };
        app.ok_or_else(|| {
            ErrorData::invalid_request("no app is selected for this connection", None)
        })
    }

    /// The tools `app` may see, in the component's order, as MCP lists them.
    fn tools_for(&self, app: &str) -> Vec<Tool> {
        self.inner
            .service
            .visible_tools(app)
            .into_iter()
            .filter_map(|d| self.inner.tools.iter().find(|t| t.name == d.name))
            .cloned()
            .collect()
    }

    /// `-32601` for the resource methods when the component has no inbox.
    fn require_inbox<M: rmcp::model::ConstString>(&self) -> Result<(), ErrorData> {
        if self.inner.inbox {
            Ok(())
        } else {
            Err(ErrorData::method_not_found::<M>())
        }
    }

    fn modern_meta(&self, context: &RequestContext<RoleServer>) -> Option<MetaObject> {
        is_modern(context).then(|| self.inner.info_meta.clone())
    }
}

/// Whether this request is served with 2026-07-28 semantics: it named that
/// version in its `_meta`, or the session it belongs to opened that way.
fn is_modern(context: &RequestContext<RoleServer>) -> bool {
    context
        .protocol_version()
        .is_some_and(|version| !version.has_initialize())
}

fn to_mcp_tool(d: &ToolDescriptor) -> Tool {
    // `ToolDescriptor::from_wit` has already checked both schemas are objects.
    let object = |schema: &Value| Arc::new(schema.as_object().cloned().unwrap_or_default());
    let a = d.annotations;
    // All four hints are explicit: MCP's defaults assume the worst
    // (destructive, open-world), which would mislabel the read tools.
    let annotations = ToolAnnotations::from_raw(
        Some(d.title.clone()),
        Some(a.read_only_hint),
        Some(a.destructive_hint),
        Some(a.idempotent_hint),
        Some(a.open_world_hint),
    );
    Tool::new(
        d.name.clone(),
        d.description.clone(),
        object(&d.input_schema),
    )
    .with_title(d.title.clone())
    .with_raw_output_schema(object(&d.output_schema))
    .with_annotations(annotations)
}

/// A failed call as the model and the client see it: the one-line
/// explanation first, then the structured error (code, title, details, hint,
/// retryable…) as JSON. The structured error is deliberately not
/// `structuredContent`: that must conform to the tool's `outputSchema`, and
/// the MCP Inspector validates it even on `isError` results.
fn tool_error_result(e: &ToolError) -> CallToolResult {
    CallToolResult::error(vec![
        ContentBlock::text(e.one_line()),
        ContentBlock::text(e.to_json().to_string()),
    ])
}

/// `-32602`: the tool does not exist, or this app may not see it (to the
/// app it does not exist: it is absent from its `tools/list`).
fn unknown_tool(name: &str, known: &[String], rule: Option<&str>) -> ErrorData {
    let mut data = json!({ "tool": name, "known_tools": known });
    let message = match rule {
        Some(rule) => {
            data["rule"] = json!(rule);
            format!("Unknown tool: {name} (not enabled for this app)")
        }
        None => format!("Unknown tool: {name}"),
    };
    ErrorData::invalid_params(message, Some(data))
}

impl<S: ToolService> ServerHandler for McpServer<S> {
    fn get_info(&self) -> ServerConfig {
        let mut capabilities = if self.inner.inbox {
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_resources_subscribe()
                .build()
        } else {
            ServerCapabilities::builder().enable_tools().build()
        };
        if let Some(tools) = capabilities.tools.as_mut() {
            // The list never changes while the process runs.
            tools.list_changed = Some(false);
        }
        if let Some(resources) = capabilities.resources.as_mut() {
            // A new conversation is news on `whatsapp://conversations`, which
            // a client subscribes to; no separate list-changed notification.
            resources.list_changed = Some(false);
        }
        ServerConfig::new(capabilities)
            // The answer to an `initialize` offering a version we cannot
            // handshake in (2026-07-28, or unknown): the last handshake era.
            .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
            .with_server_info(self.inner.info.clone())
            .with_instructions(INSTRUCTIONS)
    }

    async fn discover(
        &self,
        _context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, ErrorData> {
        // Same for every caller, so shareable; rmcp's default is "private, 0 ms".
        Ok(DiscoverResult::from_server_info(
            self.supported_protocol_versions().into_owned(),
            self.get_info(),
        )
        .with_ttl_ms(LIST_TTL_MS)
        .with_cache_scope(CacheScope::Public))
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        // One page holds every tool, so no cursor we could receive is ours.
        if let Some(cursor) = request.and_then(|r| r.cursor) {
            return Err(ErrorData::invalid_params(
                format!("invalid cursor {cursor:?}: tools/list returns every tool in one page"),
                None,
            ));
        }
        let app = self.app_for(&context)?;
        let mut result = ListToolsResult::with_all_items(self.tools_for(&app));
        if is_modern(&context) {
            result = if self.inner.service.requires_auth() {
                // Each app has its own list, and a reload may change it.
                result
                    .with_ttl_ms(POLICY_LIST_TTL_MS)
                    .with_cache_scope(CacheScope::Private)
            } else {
                // The tools do not depend on who asks: any cache may share them.
                result
                    .with_ttl_ms(LIST_TTL_MS)
                    .with_cache_scope(CacheScope::Public)
            };
            result.meta = Some(self.inner.info_meta.clone());
        }
        Ok(result)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        // Lets rmcp's HTTP transport check `Mcp-Param-*` headers against the schema.
        self.inner.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        mut request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = request.arguments.take().unwrap_or_default();
        let name = request.name.as_ref();
        let app = self.app_for(&context)?;
        let started = Instant::now();
        // Dropping the call future drops its wasm instance (and any request it
        // is waiting on), so a cancelled call stops here, not when it finishes.
        let outcome = tokio::select! {
            biased;
            _ = context.ct.cancelled() => {
                tracing::info!(tool = name, "tool call cancelled by the client");
                return Err(ErrorData::invalid_request("request cancelled by the client", None));
            }
            outcome = self.inner.service.call(&app, name, arguments) => outcome,
        };
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let mut result = match outcome {
            Ok(value) => {
                tracing::info!(tool = name, elapsed_ms, "tool call succeeded");
                // structuredContent plus the same JSON as text, for clients that
                // read only content blocks.
                CallToolResult::structured(value)
            }
            Err(CallError::UnknownTool { known, .. }) => {
                return Err(unknown_tool(name, &known, None));
            }
            Err(CallError::NotEnabled { denial, known }) => {
                tracing::info!(tool = name, app, "call to a tool this app may not use");
                return Err(unknown_tool(name, &known, Some(&denial.rule)));
            }
            Err(CallError::Denied(e) | CallError::Failed(e)) => {
                tracing::info!(tool = name, elapsed_ms, error = %e.one_line(), "tool call failed");
                tool_error_result(&e)
            }
        };
        result.meta = self.modern_meta(&context);
        Ok(result.into())
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        self.require_inbox::<rmcp::model::ListResourcesRequestMethod>()?;
        if let Some(cursor) = request.and_then(|r| r.cursor) {
            return Err(ErrorData::invalid_params(
                format!("invalid cursor {cursor:?}: resources/list returns one page"),
                None,
            ));
        }
        let app = self.app_for(&context)?;
        let mut result = resources::list(self.inner.service.as_ref(), &app).await?;
        if is_modern(&context) {
            // Conversations change with every message: never cached.
            result = result.with_ttl_ms(0).with_cache_scope(CacheScope::Private);
            result.meta = Some(self.inner.info_meta.clone());
        }
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        self.require_inbox::<rmcp::model::ListResourceTemplatesRequestMethod>()?;
        let app = self.app_for(&context)?;
        let mut result = resources::templates(self.inner.service.as_ref(), &app);
        if is_modern(&context) {
            result = result
                .with_ttl_ms(POLICY_LIST_TTL_MS)
                .with_cache_scope(CacheScope::Private);
            result.meta = Some(self.inner.info_meta.clone());
        }
        Ok(result)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        self.require_inbox::<rmcp::model::ReadResourceRequestMethod>()?;
        let app = self.app_for(&context)?;
        let mut result = resources::read(self.inner.service.as_ref(), &app, &request.uri).await?;
        if is_modern(&context) {
            result = result.with_ttl_ms(0).with_cache_scope(CacheScope::Private);
            result.meta = Some(self.inner.info_meta.clone());
        }
        Ok(result.into())
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.require_inbox::<rmcp::model::SubscribeRequestMethod>()?;
        let app = self.app_for(&context)?;
        let service = self.inner.service.clone();
        let Some(target) =
            Target::parse(&request.uri).filter(|t| t.readable_by(service.as_ref(), &app))
        else {
            return Err(resources::not_found(&request.uri));
        };
        // Listening starts before the answer, so no message after it is missed.
        let events = self.inner.events.subscribe();
        if self.session.add(&request.uri, target) {
            tokio::spawn(subscriptions::notify_session(
                service,
                Arc::downgrade(&self.session),
                context.peer.clone(),
                app,
                events,
            ));
        }
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.require_inbox::<rmcp::model::UnsubscribeRequestMethod>()?;
        self.session.remove(&request.uri);
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        if !self.inner.inbox {
            return None;
        }
        let accepted = subscriptions::accepted_filter(requested);
        // Listening starts before the acknowledgement goes out.
        self.session.hold_for_listen(self.inner.events.subscribe());
        Some(accepted)
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let app = self.app_for(context.request_context())?;
        let events = self
            .session
            .take_for_listen()
            .unwrap_or_else(|| self.inner.events.subscribe());
        subscriptions::listen(self.inner.service.clone(), app, context, events).await;
        Ok(())
    }
}
