//! Small helpers with no knowledge of the API: random identifiers, query and path decoding,
//! phone numbers, cursors, clock conversions and the TLS provider.

use base64::Engine as _;
use rand::Rng as _;

pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    hex::encode(buf)
}

/// A Graph-looking trace id, e.g. `AXsgnV2Cm3ZMGF3dF_cfYIn` (23 chars of base64url).
pub(crate) fn fbtrace_id() -> String {
    let mut buf = [0u8; 17];
    rand::rng().fill(&mut buf[..]);
    let mut s = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf);
    s.truncate(23);
    s
}

/// A message id shaped like Meta's: `wamid.HBgL` + base64 of an opaque blob that embeds the
/// recipient, as real ids do.
pub(crate) fn wamid(wa_id: &str) -> String {
    let mut blob = Vec::with_capacity(wa_id.len() + 20);
    blob.extend_from_slice(wa_id.as_bytes());
    blob.extend_from_slice(&[0x15, 0x02, 0x00, 0x11, 0x18, 0x12]);
    let mut rnd = [0u8; 12];
    rand::rng().fill(&mut rnd[..]);
    blob.extend_from_slice(&rnd);
    format!(
        "wamid.HBgL{}",
        base64::engine::general_purpose::STANDARD.encode(blob)
    )
}

/// The id of a message a user sent, shaped like Meta's inbound ids: the sender, the inbound
/// marker and 20 upper-case hex characters (`wamid.HBgL…FQIAEhgU…`).
pub(crate) fn inbound_wamid(wa_id: &str) -> String {
    let mut blob = Vec::with_capacity(wa_id.len() + 27);
    blob.extend_from_slice(wa_id.as_bytes());
    blob.extend_from_slice(&[0x15, 0x02, 0x00, 0x12, 0x18, 0x14]);
    blob.extend_from_slice(random_hex(10).to_ascii_uppercase().as_bytes());
    blob.push(0x00);
    format!(
        "wamid.HBgL{}",
        base64::engine::general_purpose::STANDARD.encode(blob)
    )
}

/// A numeric id of `digits` digits that does not start with 0.
pub(crate) fn numeric_id(digits: usize) -> String {
    let mut rng = rand::rng();
    let mut s = String::with_capacity(digits);
    s.push(char::from(b'1' + rng.random_range(0..9u8)));
    for _ in 1..digits {
        s.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    s
}

/// The last value of `name` among `pairs` (Graph lets a later parameter override an earlier one).
pub(crate) fn last_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Percent-decoded `key=value` pairs (`+` is a space), in order.
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    match query {
        Some(q) => url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        None => Vec::new(),
    }
}

/// Splits a raw path into percent-decoded, non-empty segments (lossy on invalid UTF-8).
pub(crate) fn path_segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hi = (bytes[i + 1] as char).to_digit(16);
            let lo = (bytes[i + 2] as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `^v[0-9]+\.[0-9]+$`
pub(crate) fn is_graph_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let Some((major, minor)) = rest.split_once('.') else {
        return false;
    };
    !major.is_empty()
        && !minor.is_empty()
        && major.bytes().all(|b| b.is_ascii_digit())
        && minor.bytes().all(|b| b.is_ascii_digit())
}

/// Normalises a phone number the way the Cloud API accepts it: `+`, spaces, dashes, dots and
/// parentheses are dropped; what remains must be 7-15 digits (E.164) not starting with 0.
pub(crate) fn normalize_phone(input: &str) -> Option<String> {
    let mut digits = String::with_capacity(input.len());
    for (i, c) in input.trim().chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => {}
            ' ' | '-' | '(' | ')' | '.' => {}
            _ => return None,
        }
    }
    if !(7..=15).contains(&digits.len()) || digits.starts_with('0') {
        return None;
    }
    Some(digits)
}

/// Digits only, for keying the customer-service window (inputs from tests may be formatted).
pub(crate) fn digits_only(input: &str) -> String {
    input.chars().filter(|c| c.is_ascii_digit()).collect()
}

const CURSOR_PREFIX: &str = "sandbox:";

/// An opaque paging cursor for an ordering key.
pub(crate) fn encode_cursor(key: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{key}"))
}

pub(crate) fn decode_cursor(cursor: &str) -> Option<u64> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim_end_matches('='))
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    s.strip_prefix(CURSOR_PREFIX)?.parse().ok()
}

pub(crate) fn char_len(s: &str) -> usize {
    s.chars().count()
}

pub(crate) fn unix_secs(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn unix_millis(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Installs the process-wide TLS crypto provider (ring) once: reqwest is
/// built without one, and the webhook client needs it even for plain HTTP.
pub(crate) fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Fails only if another provider was installed first, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn phone_numbers_are_normalised_like_the_cloud_api() {
        assert_eq!(
            normalize_phone("+1-631-555-5555").as_deref(),
            Some("16315555555")
        );
        assert_eq!(
            normalize_phone("+1 (650) 555-1234").as_deref(),
            Some("16505551234")
        );
        assert_eq!(
            normalize_phone("16505551234").as_deref(),
            Some("16505551234")
        );
        assert_eq!(normalize_phone("abc"), None);
        assert_eq!(normalize_phone("123"), None);
        assert_eq!(normalize_phone("0044123456789"), None);
        assert_eq!(normalize_phone("1650+5551234"), None);
        assert_eq!(normalize_phone(""), None);
    }

    #[test]
    fn versions_must_look_like_v23_0() {
        assert!(is_graph_version("v23.0"));
        assert!(is_graph_version("v9.12"));
        assert!(!is_graph_version("23.0"));
        assert!(!is_graph_version("v23"));
        assert!(!is_graph_version("v23.x"));
        assert!(!is_graph_version("v.0"));
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Some(42));
        assert_eq!(decode_cursor("MAZDZD"), None);
        assert_eq!(decode_cursor("%%%"), None);
    }

    #[test]
    fn percent_decoding_never_panics_on_truncated_escapes() {
        assert_eq!(path_segments("/v23.0/%31%32/x%"), vec!["v23.0", "12", "x%"]);
        assert_eq!(path_segments("/%e2%82"), vec!["\u{fffd}"]);
        assert_eq!(path_segments("/a%2"), vec!["a%2"]);
    }
}

/// The WhatsApp id (`wa_id`) of a normalised number, which differs from the number for two
/// well-known aliases: Brazilian mobiles registered before the ninth digit was added are known
/// without it (`55 11 9xxxx-xxxx` → `55 11 xxxx-xxxx`), and Mexican mobiles keep the old `1`
/// after the country code (`52 xx…` → `521 xx…`). Meta answers a send with this `wa_id`
/// (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages: "the WhatsApp
/// ID may not match the input"), and the user's messages come from it. The sandbox applies
/// both rules to every such number, so clients that treat `to` and `wa_id` as one are tested.
pub(crate) fn wa_id_for(digits: &str) -> String {
    let b = digits.as_bytes();
    if b.len() == 13 && digits.starts_with("55") && b[4] == b'9' {
        return format!("{}{}", &digits[..4], &digits[5..]);
    }
    if b.len() == 12 && digits.starts_with("52") && b[2] != b'1' {
        return format!("521{}", &digits[2..]);
    }
    digits.to_owned()
}

#[cfg(test)]
mod wa_id_tests {
    use super::wa_id_for;

    #[test]
    fn brazilian_and_mexican_mobiles_have_a_different_wa_id() {
        let cases = [
            ("5511987654321", "551187654321"),
            ("551187654321", "551187654321"),
            ("525512345678", "5215512345678"),
            ("5215512345678", "5215512345678"),
            ("16505551234", "16505551234"),
        ];
        for (number, wa_id) in cases {
            assert_eq!(wa_id_for(number), wa_id, "{number}");
        }
    }
}
