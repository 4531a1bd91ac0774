use serde_json::json;

use super::{GRAPH, assert_invalid, call, input_schema_accepts};
use crate::host::Method;
use crate::testing::{FakeHost, PNID};

#[test]
fn get_business_profile_reads_the_data_array_shape() {
    let host = FakeHost::new();
    host.respond(
        200,
        r#"{"data":[{"about":"Succulent specialists!","address":"1 Hacker Way","description":"d","email":"lucky@luckyshrub.com","messaging_product":"whatsapp","profile_picture_url":"https://pps.whatsapp.net/x","websites":["https://a.com"],"vertical":"RETAIL"}]}"#,
    );
    let out = call(&host, "whatsapp_get_business_profile", json!({})).unwrap();
    let req = host.last_request();
    assert_eq!(req.method, Method::Get);
    assert_eq!(
        req.url,
        format!(
            "{GRAPH}/{PNID}/whatsapp_business_profile?fields=about,address,description,email,profile_picture_url,websites,vertical"
        )
    );
    assert_eq!(out["profile"]["about"], "Succulent specialists!");
    assert_eq!(out["profile"]["websites"], json!(["https://a.com"]));
    assert!(out["profile"].get("messaging_product").is_none());
}

#[test]
fn get_business_profile_accepts_the_wrapped_shape_and_field_selection() {
    let host = FakeHost::new();
    host.respond(
        200,
        r#"{"data":[{"business_profile":{"about":"Hi","vertical":"SOMETHING_NEW"}}]}"#,
    );
    let out = call(
        &host,
        "whatsapp_get_business_profile",
        json!({"fields": ["about", "vertical"]}),
    )
    .unwrap();
    assert!(host.last_request().url.ends_with("?fields=about,vertical"));
    assert_eq!(
        out,
        json!({"profile": {"about": "Hi", "vertical": "SOMETHING_NEW"}})
    );
    host.respond(200, r#"{"data":[]}"#);
    assert_eq!(
        call(&host, "whatsapp_get_business_profile", json!({})).unwrap(),
        json!({"profile": {}})
    );
}

#[test]
fn get_business_profile_validation_rejects_each_rule() {
    let host = FakeHost::new();
    let n = "whatsapp_get_business_profile";
    assert_invalid(&host, n, json!({"fields": []}), "fields");
    assert_invalid(&host, n, json!({"fields": ["phone"]}), "fields[0]");
    assert_invalid(&host, n, json!({"fields": ["about", "about"]}), "fields[1]");
    assert_invalid(&host, n, json!({"fields": "about"}), "fields");
}

#[test]
fn update_business_profile_posts_only_the_given_fields() {
    let host = FakeHost::new();
    host.respond(200, r#"{"success":true}"#);
    let args = json!({"about": "Succulent specialists! 🌵", "email": "a@b.com", "websites": ["https://a.com", "http://b.com"], "vertical": "RETAIL"});
    assert!(input_schema_accepts(
        "whatsapp_update_business_profile",
        &args
    ));
    let out = call(&host, "whatsapp_update_business_profile", args).unwrap();
    let req = host.last_request();
    assert_eq!(req.method, Method::Post);
    assert_eq!(req.url, format!("{GRAPH}/{PNID}/whatsapp_business_profile"));
    assert_eq!(
        host.last_body(),
        json!({"messaging_product": "whatsapp", "about": "Succulent specialists! 🌵", "email": "a@b.com",
               "websites": ["https://a.com", "http://b.com"], "vertical": "RETAIL"})
    );
    assert_eq!(
        out,
        json!({"success": true, "updated_fields": ["about", "email", "websites", "vertical"]})
    );
}

#[test]
fn update_business_profile_validation_rejects_each_rule_and_sends_nothing() {
    let host = FakeHost::new();
    let n = "whatsapp_update_business_profile";
    assert_invalid(&host, n, json!({"about": ""}), "about");
    assert_invalid(&host, n, json!({"about": "x".repeat(140)}), "about");
    assert_invalid(&host, n, json!({"address": "x".repeat(257)}), "address");
    assert_invalid(
        &host,
        n,
        json!({"description": "x".repeat(513)}),
        "description",
    );
    assert_invalid(&host, n, json!({"email": "not-an-email"}), "email");
    assert_invalid(
        &host,
        n,
        json!({"email": format!("{}@b.com", "a".repeat(124))}),
        "email",
    );
    assert_invalid(
        &host,
        n,
        json!({"websites": ["https://a.com", "https://b.com", "https://c.com"]}),
        "websites",
    );
    assert_invalid(
        &host,
        n,
        json!({"websites": ["ftp://a.com"]}),
        "websites[0]",
    );
    assert_invalid(
        &host,
        n,
        json!({"websites": [format!("https://{}.com", "a".repeat(250))]}),
        "websites[0]",
    );
    assert_invalid(&host, n, json!({"vertical": "retail"}), "vertical");
    assert_invalid(&host, n, json!({"phone": "+1"}), "phone");
    let e = crate::tools::call_tool(&host, n, "{}").unwrap_err();
    assert_eq!(e.kind, crate::error::ErrorKind::InvalidArguments);
    assert!(!input_schema_accepts(n, &json!({})));
    assert_eq!(host.request_count(), 0);
}
