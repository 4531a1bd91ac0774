//! The inbox resources and their subscriptions against a stub inbox: the
//! MCP layer reads through the service as the connected app, and tells a
//! subscribed client of new messages only about customers the app may see.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::io::{
    AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, DuplexStream, ReadHalf, WriteHalf,
};

use super::{McpServer, serve_io};
use crate::gateway::{CallError, ToolService};
use crate::inbox_events::InboxEvents;
use crate::tool::{Annotations, Category, ErrorKind, ToolDescriptor, ToolError};

const VISIBLE: &str = "+15550000001";
const HIDDEN: &str = "+15550000002";

/// The two inbox read tools; the app sees only [`VISIBLE`].
struct Inbox {
    tools: Vec<ToolDescriptor>,
    calls: Mutex<Vec<(String, String, Value)>>,
    /// Every call fails as the component's tools do with the inbox off.
    off: bool,
}

impl Inbox {
    fn new() -> Inbox {
        let tool = |name: &str| ToolDescriptor {
            name: name.into(),
            title: name.into(),
            description: name.into(),
            category: Category::Read,
            input_schema: json!({"type": "object"}),
            output_schema: json!({"type": "object"}),
            annotations: Annotations {
                read_only_hint: true,
                destructive_hint: false,
                idempotent_hint: true,
                open_world_hint: false,
            },
            scopes: Vec::new(),
        };
        Inbox {
            tools: vec![
                tool("whatsapp_list_conversations"),
                tool("whatsapp_get_messages"),
            ],
            calls: Mutex::new(Vec::new()),
            off: false,
        }
    }
}

impl ToolService for Inbox {
    fn tools(&self) -> &[ToolDescriptor] {
        &self.tools
    }

    fn visible_tools(&self, _app: &str) -> Vec<&ToolDescriptor> {
        self.tools.iter().collect()
    }

    fn requires_auth(&self) -> bool {
        false
    }

    fn authenticate(&self, _key: &str) -> Option<String> {
        None
    }

    fn default_app(&self) -> Option<String> {
        Some("restricted".into())
    }

    fn may_see_customer(&self, _app: &str, customer: &str) -> bool {
        whatsapp_connector::phone::normalise(customer).is_ok_and(|d| format!("+{d}") == VISIBLE)
    }

    async fn call(
        &self,
        app: &str,
        tool: &str,
        arguments: Map<String, Value>,
    ) -> Result<Value, CallError> {
        let arguments = Value::Object(arguments);
        self.calls
            .lock()
            .unwrap()
            .push((app.into(), tool.into(), arguments.clone()));
        if self.off {
            return Err(CallError::Failed(ToolError::new(
                ErrorKind::Internal,
                "Inbox is off",
                "this gateway does not keep inbound messages",
                "ask the operator to turn the inbox on",
            )));
        }
        Ok(match tool {
            "whatsapp_list_conversations" => json!({
                "conversations": [{"customer": VISIBLE, "name": "Ana", "unread": 1}],
                "next_check_after": 30,
            }),
            _ => json!({"customer": arguments["customer"], "messages": [], "next_check_after": 30}),
        })
    }
}

struct Wire {
    write: WriteHalf<DuplexStream>,
    lines: BufReader<ReadHalf<DuplexStream>>,
}

impl Wire {
    /// A 2025-11-25 session with `inbox`, hearing `events`.
    async fn open(inbox: Arc<Inbox>, events: InboxEvents, legacy: bool) -> (Wire, Value) {
        let (client, server_end) = tokio::io::duplex(1 << 20);
        let server =
            McpServer::with_gateway(inbox, Some("restricted".into())).with_inbox_events(events);
        tokio::spawn(serve_io(server, tokio::io::split(server_end)));
        let (read, write) = tokio::io::split(client);
        let mut wire = Wire {
            write,
            lines: BufReader::new(read),
        };
        if !legacy {
            return (wire, Value::Null);
        }
        let init = json!({"protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "test", "version": "0"}});
        let reply = wire.request(0, "initialize", init).await;
        wire.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        (wire, reply)
    }

    async fn send(&mut self, message: Value) {
        let mut line = message.to_string();
        line.push('\n');
        self.write.write_all(line.as_bytes()).await.unwrap();
    }

    async fn next(&mut self) -> Value {
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(10), self.lines.read_line(&mut line));
        read.await.expect("the server answers").unwrap();
        serde_json::from_str(&line).unwrap()
    }

    async fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        loop {
            let message = self.next().await;
            if message["id"] == json!(id) {
                return message;
            }
        }
    }
}

fn modern_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    })
}

#[tokio::test]
async fn initialize_advertises_subscribable_resources_when_the_component_has_an_inbox() {
    let (_wire, reply) = Wire::open(Arc::new(Inbox::new()), InboxEvents::new(), true).await;
    let resources = &reply["result"]["capabilities"]["resources"];
    assert_eq!(resources["subscribe"], true, "{reply}");
    assert_eq!(resources["listChanged"], false, "{reply}");
}

#[tokio::test]
async fn resources_are_listed_and_read_through_the_tools_as_the_connected_app() {
    let inbox = Arc::new(Inbox::new());
    let (mut wire, _) = Wire::open(inbox.clone(), InboxEvents::new(), true).await;
    let list = wire.request(1, "resources/list", json!({})).await;
    let uris: Vec<&str> = list["result"]["resources"]
        .as_array()
        .expect("a resource list")
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert_eq!(
        uris,
        [
            "whatsapp://conversations",
            "whatsapp://conversations/+15550000001"
        ]
    );
    let templates = wire.request(2, "resources/templates/list", json!({})).await;
    assert_eq!(
        templates["result"]["resourceTemplates"][0]["uriTemplate"],
        "whatsapp://conversations/{number}"
    );
    // Any spelling `to` accepts, `+` percent-encoded included.
    let uri = "whatsapp://conversations/%2B1 555 000 0001";
    let read = wire.request(3, "resources/read", json!({"uri": uri})).await;
    let contents = &read["result"]["contents"][0];
    assert_eq!(contents["uri"], uri, "{read}");
    assert_eq!(contents["mimeType"], "application/json");
    let body: Value = serde_json::from_str(contents["text"].as_str().unwrap()).unwrap();
    assert_eq!(body["customer"], VISIBLE);
    let calls = inbox.calls.lock().unwrap().clone();
    assert_eq!(
        calls.last().unwrap(),
        &(
            "restricted".to_string(),
            "whatsapp_get_messages".to_string(),
            json!({"customer": VISIBLE})
        )
    );
}

#[tokio::test]
async fn a_conversation_the_app_may_not_see_can_be_neither_subscribed_to_nor_an_unknown_uri_read() {
    let (mut wire, _) = Wire::open(Arc::new(Inbox::new()), InboxEvents::new(), true).await;
    let hidden = format!("whatsapp://conversations/{HIDDEN}");
    let subscribe = wire
        .request(1, "resources/subscribe", json!({"uri": hidden}))
        .await;
    assert_eq!(subscribe["error"]["code"], -32002, "{subscribe}");
    let unknown = wire
        .request(2, "resources/read", json!({"uri": "file:///etc/passwd"}))
        .await;
    assert_eq!(unknown["error"]["code"], -32002, "{unknown}");
}

#[tokio::test]
async fn a_subscribed_session_hears_of_its_customers_new_messages_but_never_of_a_hidden_customer() {
    let events = InboxEvents::new();
    let (mut wire, _) = Wire::open(Arc::new(Inbox::new()), events.clone(), true).await;
    let conversation = format!("whatsapp://conversations/{VISIBLE}");
    for (id, uri) in [(1, conversation.as_str()), (2, "whatsapp://conversations")] {
        let reply = wire
            .request(id, "resources/subscribe", json!({"uri": uri}))
            .await;
        assert!(reply.get("result").is_some(), "{reply}");
    }
    // The hidden customer's news first: had it leaked, it would arrive first.
    events.published(&[HIDDEN.to_string(), VISIBLE.to_string()]);
    let mut notified = Vec::new();
    for _ in 0..2 {
        let message = wire.next().await;
        assert_eq!(
            message["method"], "notifications/resources/updated",
            "{message}"
        );
        notified.push(message["params"]["uri"].as_str().unwrap().to_string());
    }
    notified.sort();
    assert_eq!(
        notified,
        ["whatsapp://conversations", conversation.as_str()]
    );

    let reply = wire
        .request(3, "resources/unsubscribe", json!({"uri": conversation}))
        .await;
    assert!(reply.get("result").is_some(), "{reply}");
    events.published(&[VISIBLE.to_string()]);
    let message = wire.next().await;
    assert_eq!(message["params"]["uri"], "whatsapp://conversations");
    // Nothing more: the unsubscribed conversation is not notified. A ping
    // answered next proves no notification was queued before it.
    let ping = wire.request(4, "ping", json!({})).await;
    assert!(ping.get("result").is_some(), "{ping}");
}

#[tokio::test]
async fn a_modern_listen_stream_carries_updates_for_the_resources_it_names() {
    let events = InboxEvents::new();
    let (mut wire, _) = Wire::open(Arc::new(Inbox::new()), events.clone(), false).await;
    let conversation = format!("whatsapp://conversations/{VISIBLE}");
    wire.send(json!({"jsonrpc": "2.0", "id": "listen:1", "method": "subscriptions/listen",
        "params": {"_meta": modern_meta(),
                   "notifications": {"resourceSubscriptions": [conversation, "https://elsewhere/x"]}}}))
        .await;
    let ack = wire.next().await;
    assert_eq!(
        ack["method"], "notifications/subscriptions/acknowledged",
        "{ack}"
    );
    assert_eq!(
        ack["params"]["notifications"]["resourceSubscriptions"],
        json!([conversation]),
        "only our URIs are accepted: {ack}"
    );
    // Listening started before the acknowledgement: nothing published after it is missed.
    events.published(&[HIDDEN.to_string(), VISIBLE.to_string()]);
    let update = wire.next().await;
    assert_eq!(
        update["method"], "notifications/resources/updated",
        "{update}"
    );
    assert_eq!(update["params"]["uri"], conversation.as_str());
    assert_eq!(
        update["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "listen:1"
    );
}

#[tokio::test]
async fn with_the_inbox_off_resources_list_names_the_index_and_reading_it_says_why() {
    let mut inbox = Inbox::new();
    inbox.off = true;
    let (mut wire, _) = Wire::open(Arc::new(inbox), InboxEvents::new(), true).await;
    let list = wire.request(1, "resources/list", json!({})).await;
    assert_eq!(
        list["result"]["resources"][0]["uri"], "whatsapp://conversations",
        "{list}"
    );
    assert_eq!(
        list["result"]["resources"].as_array().map(Vec::len),
        Some(1)
    );
    let read = wire
        .request(
            2,
            "resources/read",
            json!({"uri": "whatsapp://conversations"}),
        )
        .await;
    assert_eq!(read["error"]["code"], -32603, "{read}");
    assert!(
        read["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Inbox is off"),
        "{read}"
    );
}
