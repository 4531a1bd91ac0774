//! What a webhook body looks like and how it is signed: the documented envelope, Meta's
//! `\uXXXX` escaping, `X-Hub-Signature-256`, and the order status events go out in.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::config::{SandboxConfig, WebhookBehaviour};

/// Orders a message's status events for delivery: natural order at their delays, or, with
/// `duplicate_and_reorder`, reversed (the last state first) and then each again in order.
pub(super) fn schedule(
    events: Vec<(Duration, Value)>,
    b: &WebhookBehaviour,
) -> Vec<(Duration, Value)> {
    if !b.duplicate_and_reorder {
        return events;
    }
    let delays: Vec<Duration> = events.iter().map(|(d, _)| *d).collect();
    let last = delays.iter().copied().max().unwrap_or_default();
    let step = delays
        .iter()
        .copied()
        .min()
        .unwrap_or_default()
        .max(Duration::from_millis(10));
    let mut out = Vec::with_capacity(events.len() * 2);
    for (slot, (_, event)) in events.iter().rev().enumerate() {
        out.push((delays[slot], event.clone()));
    }
    for (k, (_, event)) in events.into_iter().enumerate() {
        out.push((last + step * (k as u32 + 1), event));
    }
    out
}

pub(super) fn messages_value(cfg: &SandboxConfig, extra: Value) -> Value {
    let mut value = json!({
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": cfg.display_phone_number,
            "phone_number_id": cfg.phone_number_id,
        },
    });
    if let (Some(obj), Value::Object(extra)) = (value.as_object_mut(), extra) {
        obj.extend(extra);
    }
    value
}

/// The documented envelope (`{"object": "whatsapp_business_account", "entry": [...]}`), serialised the way Meta sends it.
pub(super) fn envelope(
    cfg: &SandboxConfig,
    field: &str,
    value: Value,
    time: Option<u64>,
) -> Vec<u8> {
    let mut entry = json!({
        "id": cfg.waba_id,
        "changes": [{"field": field, "value": value}],
    });
    if let Some(t) = time {
        entry["time"] = Value::from(t);
    }
    let payload = json!({"object": "whatsapp_business_account", "entry": [entry]});
    escape_non_ascii(&payload.to_string()).into_bytes()
}

/// JSON text with every non-ASCII character written as `\uXXXX` (lower-case hex, surrogate
/// pairs beyond the BMP). Valid only for JSON produced by serde_json, where such characters
/// appear inside strings only.
fn escape_non_ascii(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// `sha256=<hex>` of `body` keyed with `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn non_ascii_is_escaped_with_lower_case_hex_and_surrogate_pairs() {
        let text = json!({"t": "Café 😀 /@"}).to_string();
        let escaped = escape_non_ascii(&text);
        assert_eq!(escaped, r#"{"t":"Caf\u00e9 \ud83d\ude00 /@"}"#);
        let back: Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back["t"], "Café 😀 /@");
    }

    #[test]
    fn the_signature_is_the_lower_case_hex_hmac_of_the_exact_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn reordering_sends_the_last_state_first_and_then_every_state_again() {
        let b = WebhookBehaviour {
            duplicate_and_reorder: true,
            ..WebhookBehaviour::default()
        };
        let events = vec![
            (b.sent_after, json!("sent")),
            (b.delivered_after, json!("delivered")),
            (b.read_after, json!("read")),
        ];
        let mut out = schedule(events, &b);
        out.sort_by_key(|(d, _)| *d);
        let order: Vec<&str> = out.iter().map(|(_, v)| v.as_str().unwrap()).collect();
        assert_eq!(
            order,
            ["read", "delivered", "sent", "sent", "delivered", "read"]
        );
    }
}
