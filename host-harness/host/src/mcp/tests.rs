//! The MCP layer against a stub [`ToolService`]: no wasmtime, no component.
//! A client speaks newline-delimited JSON-RPC over an in-memory stream
//! served by [`serve_io`], exactly as stdio is served.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::io::{
    AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, DuplexStream, ReadHalf, WriteHalf,
};

use super::{McpServer, serve_io};
use crate::gateway::{CallError, ToolService};
use crate::policy::{Denial, Layer, TOOL_NOT_ENABLED};
use crate::tool::{Annotations, Category, ErrorKind, ToolDescriptor, ToolError};

const TOOLS: [&str; 4] = ["read_status", "send_text", "fail_always", "hang"];

/// Four tools; the app `reader` may use all but `send_text`.
struct Stub {
    tools: Vec<ToolDescriptor>,
    /// Set when a `hang` call's future is dropped (the call was stopped).
    hang_dropped: Arc<AtomicBool>,
    /// Set when a `hang` call has started.
    hang_started: Arc<tokio::sync::Notify>,
}

impl Stub {
    fn new() -> Stub {
        let tool = |name: &str| ToolDescriptor {
            name: name.into(),
            title: format!("The {name} tool"),
            description: format!("Does {name}."),
            category: Category::Read,
            input_schema: json!({"type": "object", "properties": {"to": {"type": "string"}}}),
            output_schema: json!({"type": "object"}),
            annotations: Annotations {
                read_only_hint: true,
                destructive_hint: false,
                idempotent_hint: true,
                open_world_hint: true,
            },
            scopes: Vec::new(),
        };
        Stub {
            tools: TOOLS.iter().map(|t| tool(t)).collect(),
            hang_dropped: Arc::new(AtomicBool::new(false)),
            hang_started: Arc::new(tokio::sync::Notify::new()),
        }
    }

    fn enabled(app: &str, tool: &str) -> bool {
        app == "reader" && tool != "send_text"
    }

    fn known(&self, app: &str) -> Vec<String> {
        self.visible_tools(app)
            .iter()
            .map(|t| t.name.clone())
            .collect()
    }
}

/// Sets its flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl ToolService for Stub {
    fn tools(&self) -> &[ToolDescriptor] {
        &self.tools
    }

    fn visible_tools(&self, app: &str) -> Vec<&ToolDescriptor> {
        self.tools
            .iter()
            .filter(|t| Stub::enabled(app, &t.name))
            .collect()
    }

    fn requires_auth(&self) -> bool {
        false
    }

    fn authenticate(&self, _key: &str) -> Option<String> {
        None
    }

    fn default_app(&self) -> Option<String> {
        Some("reader".into())
    }

    fn may_see_customer(&self, _app: &str, _customer: &str) -> bool {
        true
    }

    async fn call(
        &self,
        app: &str,
        tool: &str,
        arguments: Map<String, Value>,
    ) -> Result<Value, CallError> {
        if !TOOLS.contains(&tool) {
            return Err(CallError::UnknownTool {
                tool: tool.into(),
                known: self.known(app),
            });
        }
        if !Stub::enabled(app, tool) {
            return Err(CallError::NotEnabled {
                denial: Denial {
                    rule: TOOL_NOT_ENABLED.into(),
                    layer: Layer::Enablement,
                    reason: format!("the tool `{tool}` is not enabled for the app `{app}`"),
                    hint: "use another tool".into(),
                    field: None,
                    retryable: false,
                },
                known: self.known(app),
            });
        }
        match tool {
            "fail_always" => Err(CallError::Failed(
                ToolError::new(
                    ErrorKind::ApiError,
                    "Rate limited",
                    "the API refused the call",
                    "wait a minute",
                )
                .retryable(true),
            )),
            "hang" => {
                let _flag = DropFlag(self.hang_dropped.clone());
                self.hang_started.notify_one();
                std::future::pending().await
            }
            _ => Ok(json!({"received": arguments})),
        }
    }
}

/// A client on the other end of an in-memory stream.
struct Wire {
    write: WriteHalf<DuplexStream>,
    lines: BufReader<ReadHalf<DuplexStream>>,
}

impl Wire {
    async fn open(stub: Arc<Stub>) -> Wire {
        let (client, server_end) = tokio::io::duplex(1 << 20);
        let server = McpServer::with_gateway(stub, None);
        tokio::spawn(serve_io(server, tokio::io::split(server_end)));
        let (read, write) = tokio::io::split(client);
        let mut wire = Wire {
            write,
            lines: BufReader::new(read),
        };
        let init = json!({"protocolVersion": "2025-11-25", "capabilities": {},
                          "clientInfo": {"name": "unit", "version": "0"}});
        wire.request(0, "initialize", init).await;
        wire.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        wire
    }

    async fn send(&mut self, message: Value) {
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(b'\n');
        self.write.write_all(&bytes).await.unwrap();
    }

    /// The next message from the server, or `None` after `wait`.
    async fn next(&mut self, wait: Duration) -> Option<Value> {
        let mut line = String::new();
        match tokio::time::timeout(wait, self.lines.read_line(&mut line)).await {
            Ok(Ok(n)) if n > 0 => Some(serde_json::from_str(&line).unwrap()),
            _ => None,
        }
    }

    async fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        loop {
            let m = self
                .next(Duration::from_secs(10))
                .await
                .unwrap_or_else(|| panic!("no reply to {method}"));
            if m["id"] == json!(id) {
                return m;
            }
        }
    }

    async fn call(&mut self, id: u64, tool: &str, arguments: Value) -> Value {
        let params = json!({"name": tool, "arguments": arguments});
        self.request(id, "tools/call", params).await
    }
}

#[tokio::test]
async fn tools_list_shows_only_the_tools_the_app_may_use_in_the_services_order() {
    let mut wire = Wire::open(Arc::new(Stub::new())).await;
    let reply = wire.request(1, "tools/list", json!({})).await;
    let names: Vec<&str> = reply["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["read_status", "fail_always", "hang"], "{reply}");
    let first = &reply["result"]["tools"][0];
    assert_eq!(first["title"], "The read_status tool");
    assert_eq!(first["annotations"]["readOnlyHint"], true);
}

#[tokio::test]
async fn an_unknown_tool_is_invalid_params_naming_the_tools_the_app_may_use() {
    let mut wire = Wire::open(Arc::new(Stub::new())).await;
    let reply = wire.call(1, "no_such_tool", json!({})).await;
    let error = &reply["error"];
    assert_eq!(error["code"], -32602, "{reply}");
    assert_eq!(error["message"], "Unknown tool: no_such_tool");
    assert_eq!(error["data"]["tool"], "no_such_tool");
    assert_eq!(
        error["data"]["known_tools"],
        json!(["read_status", "fail_always", "hang"])
    );
    assert!(error["data"].get("rule").is_none(), "{reply}");
}

#[tokio::test]
async fn a_tool_not_enabled_for_the_app_is_invalid_params_naming_the_rule() {
    let mut wire = Wire::open(Arc::new(Stub::new())).await;
    let reply = wire
        .call(1, "send_text", json!({"to": "+16505551234"}))
        .await;
    let error = &reply["error"];
    assert_eq!(error["code"], -32602, "{reply}");
    assert_eq!(
        error["message"],
        "Unknown tool: send_text (not enabled for this app)"
    );
    assert_eq!(error["data"]["rule"], TOOL_NOT_ENABLED);
    assert_eq!(
        error["data"]["known_tools"],
        json!(["read_status", "fail_always", "hang"])
    );
}

#[tokio::test]
async fn a_failed_call_is_an_error_result_with_the_one_line_text_and_the_structured_error() {
    let mut wire = Wire::open(Arc::new(Stub::new())).await;
    let reply = wire.call(1, "fail_always", json!({})).await;
    let result = &reply["result"];
    assert_eq!(result["isError"], true, "{reply}");
    let expected = ToolError::new(
        ErrorKind::ApiError,
        "Rate limited",
        "the API refused the call",
        "wait a minute",
    )
    .retryable(true);
    assert_eq!(result["content"][0]["text"], expected.one_line());
    assert_eq!(
        result["content"][0]["text"],
        "Rate limited: the API refused the call. Hint: wait a minute"
    );
    let structured: Value =
        serde_json::from_str(result["content"][1]["text"].as_str().unwrap()).unwrap();
    assert_eq!(structured, expected.to_json());
    assert!(result.get("structuredContent").is_none(), "{reply}");
}

#[tokio::test]
async fn the_arguments_reach_the_service_as_the_object_the_client_sent() {
    let mut wire = Wire::open(Arc::new(Stub::new())).await;
    let args = json!({"to": "+16505551234", "nested": {"n": 1.5, "list": [true, null]}});
    let reply = wire.call(1, "read_status", args.clone()).await;
    assert_eq!(reply["result"]["isError"], false, "{reply}");
    assert_eq!(reply["result"]["structuredContent"]["received"], args);
    // No arguments at all: an empty object.
    let reply = wire
        .request(2, "tools/call", json!({"name": "read_status"}))
        .await;
    assert_eq!(reply["result"]["structuredContent"]["received"], json!({}));
}

#[tokio::test]
async fn a_cancelled_call_is_stopped_at_once_and_never_answered() {
    let stub = Arc::new(Stub::new());
    let mut wire = Wire::open(stub.clone()).await;
    let started = stub.hang_started.notified();
    wire.send(json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                     "params": {"name": "hang", "arguments": {}}}))
        .await;
    tokio::time::timeout(Duration::from_secs(10), started)
        .await
        .expect("the call never reached the service");
    assert!(!stub.hang_dropped.load(Ordering::SeqCst));
    wire.send(
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                     "params": {"requestId": 7, "reason": "user pressed stop"}}),
    )
    .await;
    // The next request is answered, and by then the cancelled call is gone.
    let reply = wire.call(8, "read_status", json!({})).await;
    assert_eq!(reply["result"]["isError"], false, "{reply}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !stub.hang_dropped.load(Ordering::SeqCst) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the call kept running"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        wire.next(Duration::from_millis(300)).await.is_none(),
        "a cancelled call was answered"
    );
}
