//! The small helpers: dates, encodings, placeholders, excerpts, checks.

use crate::checks::is_email;
use crate::encoding::{encode_query_value, hex_decode, parse_query, percent_decode};
use crate::graph::excerpt;
use crate::placeholders::{Placeholder, placeholders};
use crate::time::rfc3339;
use crate::webhooks::ct_eq;

#[test]
fn rfc3339_formats_utc_times() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(1_764_000_000), "2025-11-24T16:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
}

#[test]
fn query_values_are_percent_encoded_and_decoded() {
    assert_eq!(
        encode_query_value("a b/c=d&e,f"),
        "a%20b%2Fc%3Dd%26e%2Cf".replace("%2C", ",")
    );
    assert_eq!(encode_query_value("é"), "%C3%A9");
    assert_eq!(percent_decode("a+b%20c%zz%4"), b"a b c%zz%4");
    let q = parse_query("hub.mode=subscribe&hub.challenge=12&flag&x=%E2%82%AC");
    assert_eq!(q[0], (b"hub.mode".to_vec(), b"subscribe".to_vec()));
    assert_eq!(q[2], (b"flag".to_vec(), vec![]));
    assert_eq!(q[3].1, "€".as_bytes());
}

#[test]
fn placeholders_are_parsed_strictly() {
    assert_eq!(
        placeholders("Hi {{1}} and {{2}}").unwrap(),
        vec![Placeholder::Positional(1), Placeholder::Positional(2)]
    );
    assert_eq!(
        placeholders("Hi {{first_name}}").unwrap(),
        vec![Placeholder::Named("first_name".into())]
    );
    assert!(placeholders("Hi {{ 1 }}").is_err());
    assert!(placeholders("Hi {{0}}").is_err());
    assert!(placeholders("Hi {{First}}").is_err());
    assert!(placeholders("Hi {{1").is_err());
    assert!(placeholders("no placeholders {} here").unwrap().is_empty());
}

#[test]
fn excerpts_are_short_single_line_and_tag_free() {
    let e = excerpt(
        b"<html>\n<body>\t<h1>502   Bad\nGateway</h1></body></html>",
        100,
    );
    assert_eq!(e, "502 Bad Gateway");
    assert!(excerpt("x".repeat(500).as_bytes(), 20).chars().count() <= 21);
    assert_eq!(excerpt(&[0xff, 0xfe, b'a'], 10), "��a");
}

#[test]
fn emails_and_hex_are_checked() {
    assert!(is_email("a@b.co"));
    for bad in [
        "ab.co", "a@b", "a@@b.co", "a b@c.co", "@b.co", "a@.b.co", "a@b..co",
    ] {
        assert!(!is_email(bad), "{bad}");
    }
    assert_eq!(hex_decode("00ff"), Some(vec![0, 255]));
    assert_eq!(hex_decode("0"), None);
    assert_eq!(hex_decode("zz"), None);
    assert!(ct_eq(b"abc", b"abc") && !ct_eq(b"abc", b"abd") && !ct_eq(b"ab", b"abc"));
}
