//! An app restricted to some recipients (its `allow_values` rules on `to`)
//! is refused every way into another customer's conversation, through the
//! real MCP HTTP transport with real app keys: the tools, the resources and
//! the subscriptions.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::wiring::{Inbox, with_key};

const AGENT_KEY: &str = "agent-a-key-0123456789abcdef";
const SUPERVISOR_KEY: &str = "supervisor-key-0123456789abcdef";
// Each test has its own customers: the broadcast of new messages is
// process-wide, and the tests run in one process.

const POLICY: &str = r#"
[[apps]]
name = "agent-a"
tools = ["*"]

[[apps.rules]]
id = "only-a"
template = "allow_values"
tools = ["whatsapp_send_message", "whatsapp_send_reaction"]
field = "to"
values = ["A"]

[[apps]]
name = "supervisor"
tools = ["*"]
"#;

/// The restricted app `agent-a` may message only `a`.
async fn start(a: &str) -> Inbox {
    let policy = POLICY.replace("[\"A\"]", &format!("[\"{a}\"]"));
    let policy = with_key(
        &with_key(&policy, "agent-a", AGENT_KEY),
        "supervisor",
        SUPERVISOR_KEY,
    );
    Inbox::start(Some(&policy)).await
}

fn customers(list: &Value) -> Vec<String> {
    list["structuredContent"]["conversations"]
        .as_array()
        .unwrap_or_else(|| panic!("a conversation list: {list}"))
        .iter()
        .map(|c| c["customer"].as_str().unwrap().to_string())
        .collect()
}

fn assert_refused_by_visibility(result: &Value) {
    assert_eq!(result["isError"], true, "{result}");
    let error: Value =
        serde_json::from_str(result["content"][1]["text"].as_str().unwrap()).unwrap();
    let error = &error["error"];
    assert_eq!(error["kind"], "denied", "{error}");
    assert!(
        error["rule"] == "inbox-visibility" || error["rule"] == "only-a",
        "{error}"
    );
}

#[tokio::test]
async fn an_app_restricted_to_one_customer_can_neither_list_read_mark_nor_react_in_anothers_conversation()
 {
    const A: &str = "+16505550201";
    const B: &str = "+16505550202";
    let inbox = start(A).await;
    let b_message =
        inbox
            .env
            .sandbox
            .simulate_inbound_at(B, "my card number is private", SystemTime::now());
    inbox.env.sandbox.simulate_inbound(A, "hello from A");
    inbox.applied(2).await;
    // Both conversations exist: the unrestricted app sees them.
    let all = inbox
        .call(
            Some(SUPERVISOR_KEY),
            "whatsapp_list_conversations",
            json!({}),
        )
        .await;
    let mut seen = customers(&all);
    seen.sort();
    assert_eq!(seen, [A, B], "{all}");

    let agent = Some(AGENT_KEY);
    let listed = inbox
        .call(agent, "whatsapp_list_conversations", json!({}))
        .await;
    assert_eq!(customers(&listed), [A], "{listed}");
    assert!(!listed.to_string().contains("private"));

    // B in any spelling WhatsApp treats as the same number.
    for spelling in [B, "+1 (650) 555-0202", "1 650 555 0202"] {
        let read = inbox
            .call(
                agent,
                "whatsapp_get_messages",
                json!({"customer": spelling}),
            )
            .await;
        assert_refused_by_visibility(&read);
        assert!(!read.to_string().contains("private"), "{read}");
    }
    inbox.env.sandbox.clear_requests();
    let mark = inbox
        .call(
            agent,
            "whatsapp_mark_as_read",
            json!({"customer": B, "message_id": b_message}),
        )
        .await;
    assert_refused_by_visibility(&mark);
    let react = inbox
        .call(
            agent,
            "whatsapp_send_reaction",
            json!({"to": B, "message_id": b_message, "emoji": "👍"}),
        )
        .await;
    assert_refused_by_visibility(&react);
    assert!(
        inbox.env.requests().is_empty(),
        "nothing reached the API for B: {:?}",
        inbox.env.requests()
    );
    // B's message is still unread for the app allowed to see it.
    let b_messages = inbox
        .call(
            Some(SUPERVISOR_KEY),
            "whatsapp_get_messages",
            json!({"customer": B}),
        )
        .await;
    assert_eq!(
        b_messages["structuredContent"]["messages"][0]["read"], false,
        "{b_messages}"
    );

    // The app's own customer works.
    let own = inbox
        .call(agent, "whatsapp_get_messages", json!({"customer": A}))
        .await;
    assert_eq!(
        own["structuredContent"]["messages"][0]["text"], "hello from A",
        "{own}"
    );
}

#[tokio::test]
async fn a_restricted_app_neither_lists_nor_reads_another_customers_resource() {
    const A: &str = "+16505550203";
    const B: &str = "+16505550204";
    let inbox = start(A).await;
    inbox.env.sandbox.simulate_inbound(B, "resource secret");
    inbox.env.sandbox.simulate_inbound(A, "hi");
    inbox.applied(2).await;
    let agent = Some(AGENT_KEY);
    let list = inbox.modern(agent, "resources/list", None, json!({})).await;
    let uris: Vec<String> = list["result"]["resources"]
        .as_array()
        .unwrap_or_else(|| panic!("{list}"))
        .iter()
        .map(|r| r["uri"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        uris,
        [
            "whatsapp://conversations".to_string(),
            format!("whatsapp://conversations/{A}")
        ]
    );
    let uri = format!("whatsapp://conversations/{B}");
    let read = inbox
        .modern(agent, "resources/read", Some(&uri), json!({"uri": uri}))
        .await;
    // 2026-07-28 reports an unknown resource as -32602.
    assert_eq!(read["error"]["code"], -32602, "{read}");
    assert!(!read.to_string().contains("resource secret"), "{read}");
    let index = inbox
        .modern(
            agent,
            "resources/read",
            Some("whatsapp://conversations"),
            json!({"uri": "whatsapp://conversations"}),
        )
        .await;
    let text = index["result"]["contents"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{index}"));
    assert!(text.contains(A) && !text.contains(B), "{text}");
    // The supervisor reads it: the refusal was about the app, not the resource.
    let allowed = inbox
        .modern(
            Some(SUPERVISOR_KEY),
            "resources/read",
            Some(&uri),
            json!({"uri": uri}),
        )
        .await;
    assert!(
        allowed["result"]["contents"][0]["text"]
            .as_str()
            .unwrap()
            .contains("resource secret"),
        "{allowed}"
    );
}

#[tokio::test]
async fn a_restricted_app_cannot_subscribe_to_another_customer_nor_hear_of_their_messages() {
    const A: &str = "+16505550205";
    const B: &str = "+16505550206";
    let inbox = start(A).await;
    let mut session = inbox.session(Some(AGENT_KEY)).await;
    let hidden = session
        .request(
            "resources/subscribe",
            json!({"uri": format!("whatsapp://conversations/{B}")}),
        )
        .await;
    assert_eq!(hidden["error"]["code"], -32002, "{hidden}");
    let own = format!("whatsapp://conversations/{A}");
    for uri in ["whatsapp://conversations", own.as_str()] {
        let ok = session
            .request("resources/subscribe", json!({"uri": uri}))
            .await;
        assert!(ok.get("result").is_some(), "{ok}");
    }
    let mut stream = session.stream().await;
    // B writes first, and is applied before A writes: a leak would be the
    // first notification.
    inbox
        .env
        .sandbox
        .simulate_inbound(B, "for the supervisor only");
    inbox.applied(1).await;
    inbox.env.sandbox.simulate_inbound(A, "hello");
    let mut updates = vec![stream.next_update().await, stream.next_update().await];
    updates.sort();
    assert_eq!(
        updates,
        ["whatsapp://conversations".to_string(), own],
        "exactly A's two resources, nothing for B"
    );
}

#[tokio::test]
async fn a_restricted_apps_listen_stream_never_carries_another_customers_news() {
    const A: &str = "+16505550207";
    const B: &str = "+16505550208";
    let inbox = start(A).await;
    let own = format!("whatsapp://conversations/{A}");
    let hidden = format!("whatsapp://conversations/{B}");
    let (mut stream, _ack) = inbox
        .listen(
            Some(AGENT_KEY),
            &["whatsapp://conversations", &hidden, &own],
        )
        .await;
    // B writes first and is applied before A writes: a leak (on B's URI or
    // the index) would be the first notification.
    inbox.env.sandbox.simulate_inbound(B, "not for agent-a");
    inbox.applied(1).await;
    inbox.env.sandbox.simulate_inbound(A, "hello");
    let mut updates = vec![stream.next_update().await, stream.next_update().await];
    updates.sort();
    assert_eq!(updates, ["whatsapp://conversations".to_string(), own]);
}
