//! `serve --sandbox --inbound-from NUMBER` seeds a customer's question that an
//! agent can read as soon as the server has answered `initialize`.

use serde_json::json;

use crate::common::{CUSTOMER, StdioServer};

#[tokio::test]
async fn serve_with_inbound_from_shows_the_customers_question_right_after_initialize() {
    let mut io = StdioServer::start(
        &["--sandbox", "--inbound-from", CUSTOMER],
        &[("WHATSAPP_INBOX_ENABLED", "true")],
    )
    .await;
    let reply = io
        .request(
            1,
            "tools/call",
            json!({"name": "whatsapp_get_messages", "arguments": {"customer": CUSTOMER}}),
        )
        .await;
    let result = &reply["result"];
    assert_ne!(result["isError"], true, "{reply}");
    let messages = &result["structuredContent"]["messages"];
    assert_eq!(messages.as_array().map(Vec::len), Some(1), "{reply}");
    let m = &messages[0];
    assert_eq!(m["direction"], "inbound", "{m}");
    assert_eq!(m["type"], "text", "{m}");
    assert_eq!(m["text"], "Hi! Is my order ready for pickup?", "{m}");
    assert!(
        m["id"].as_str().is_some_and(|id| id.starts_with("wamid.")),
        "{m}"
    );
    io.finish().await;
}
