#![no_main]
//! Any answer from the API (status and body) to any call: no panic, and a
//! failure is always a clear error.

use libfuzzer_sys::fuzz_target;
use whatsapp_connector::fuzzing::{FuzzHost, assert_clear};

/// One call of each request shape: a send, a listing, a profile read, a delete.
const CALLS: [(&str, &str); 4] = [
    (
        "whatsapp_send_template",
        r#"{"to":"+16505551234","name":"hello_world","language":"en_US"}"#,
    ),
    ("whatsapp_list_templates", r#"{"limit":5}"#),
    ("whatsapp_get_business_profile", "{}"),
    ("whatsapp_delete_template", r#"{"name":"old_promo"}"#),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (status_bytes, body) = rest.split_at(rest.len().min(2));
    let status = match status_bytes {
        [a, b] => 100 + (u16::from_le_bytes([*a, *b]) % 500),
        _ => 200,
    };
    let (tool, arguments) = CALLS[selector as usize % CALLS.len()];
    let host = FuzzHost::answering(status, body);
    if let Err(e) = whatsapp_connector::tools::run(&host, tool, arguments) {
        assert_clear(&e);
    }
});
