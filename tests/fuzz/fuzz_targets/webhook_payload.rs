#![no_main]
//! Any webhook body: ingest never panics, and whatever it stored can be read
//! back by the status tool.

use libfuzzer_sys::fuzz_target;
use whatsapp_connector::fuzzing::{FuzzHost, assert_clear};
use whatsapp_connector::webhooks::{WebhookRequest, ingest, verify};

fuzz_target!(|data: &[u8]| {
    let host = FuzzHost::accepting();
    match ingest(&host, data) {
        Ok(_) => {}
        Err(message) => assert!(!message.trim().is_empty(), "a rejection without a reason"),
    }
    // Statuses recorded from the payload must still be readable.
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(start) = text.find("wamid.")
    {
        let id: String = text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "._=-".contains(*c))
            .collect();
        let args = serde_json::json!({ "message_id": id }).to_string();
        if let Err(e) = whatsapp_connector::tools::run(&host, "whatsapp_get_message_status", &args)
        {
            assert_clear(&e);
        }
    }
    // The same bytes as a signed delivery and as a handshake query.
    let signature = format!("sha256={}", "0".repeat(64));
    for (method, query) in [
        ("POST", String::new()),
        ("GET", String::from_utf8_lossy(data).into_owned()),
    ] {
        let verdict = verify(
            &host,
            &WebhookRequest {
                method: method.into(),
                query,
                headers: vec![("x-hub-signature-256".into(), signature.clone())],
                body: data.to_vec(),
            },
        );
        assert!(!verdict.accept || method == "POST");
    }
});
