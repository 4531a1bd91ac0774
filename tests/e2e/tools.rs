//! Each of the nine tools, through the real component and host, against the
//! sandbox: the call succeeds, the result matches the tool's output schema,
//! and the sandbox received exactly the documented request.

use serde_json::{Value, json};
use whatsapp_sandbox::RecordedRequest;

use crate::common::{CUSTOMER, CUSTOMER_DIGITS, Env, assert_matches_output_schema};

/// The single request the sandbox received since `clear_requests`.
fn only_request(env: &Env) -> RecordedRequest {
    let requests = env.requests();
    assert_eq!(
        requests.len(),
        1,
        "expected exactly one request, got {requests:?}"
    );
    requests.into_iter().next().unwrap()
}

fn assert_authorised_by_host(env: &Env, r: &RecordedRequest) {
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {}", env.token()).as_str())
    );
    assert_eq!(
        r.query_pairs().iter().find(|(k, _)| k == "access_token"),
        None,
        "never in the URL"
    );
}

async fn call_ok(env: &Env, tool: &str, args: Value) -> Value {
    env.sandbox.clear_requests();
    let out = env
        .call(tool, args)
        .await
        .unwrap_or_else(|e| panic!("{tool} failed: {e}"));
    assert_matches_output_schema(env, tool, &out);
    out
}

#[tokio::test]
async fn send_message_posts_the_documented_text_payload() {
    let env = Env::new().await;
    env.sandbox.simulate_inbound(CUSTOMER, "hi");
    let out = call_ok(
        &env,
        "whatsapp_send_message",
        json!({"to": "+1 (650) 555-1234", "text": "Your order shipped: https://example.com/t/1", "preview_url": true}),
    )
    .await;
    let r = only_request(&env);
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        (
            "POST",
            format!("/v23.0/{}/messages", env.phone_number_id()).as_str()
        )
    );
    assert_authorised_by_host(&env, &r);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json().unwrap(),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER_DIGITS,
               "type": "text", "text": {"body": "Your order shipped: https://example.com/t/1", "preview_url": true}})
    );
    let sent = env.sandbox.sent_messages();
    assert_eq!(out["message_id"], sent[0].id.as_str());
    assert_eq!(out["message_status"], "accepted");
    assert_eq!(out["to"], CUSTOMER_DIGITS);
}

#[tokio::test]
async fn send_template_posts_name_language_and_parameters() {
    let env = Env::new().await;
    let out = call_ok(
        &env,
        "whatsapp_send_template",
        json!({"to": CUSTOMER, "name": "order_update", "language": "en_US", "body_parameters": ["Sam", "#1042"]}),
    )
    .await;
    let r = only_request(&env);
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, format!("/v23.0/{}/messages", env.phone_number_id()));
    assert_authorised_by_host(&env, &r);
    assert_eq!(
        r.json().unwrap(),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER_DIGITS,
               "type": "template", "template": {"name": "order_update",
               "language": {"code": "en_US", "policy": "deterministic"},
               "components": [{"type": "body", "parameters": [{"type": "text", "text": "Sam"}, {"type": "text", "text": "#1042"}]}]}})
    );
    assert!(out["message_id"].as_str().unwrap().starts_with("wamid."));
}

#[tokio::test]
async fn send_media_posts_a_document_by_link_with_caption_and_filename() {
    let env = Env::new().await;
    env.sandbox
        .simulate_inbound(CUSTOMER, "send the invoice please");
    call_ok(
        &env,
        "whatsapp_send_media",
        json!({"to": CUSTOMER, "media_type": "document", "link": "https://example.com/inv/42.pdf",
               "caption": "Invoice 42", "filename": "invoice-42.pdf"}),
    )
    .await;
    let r = only_request(&env);
    assert_eq!(r.path, format!("/v23.0/{}/messages", env.phone_number_id()));
    assert_authorised_by_host(&env, &r);
    assert_eq!(
        r.json().unwrap(),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER_DIGITS,
               "type": "document", "document": {"link": "https://example.com/inv/42.pdf",
               "caption": "Invoice 42", "filename": "invoice-42.pdf"}})
    );
}

#[tokio::test]
async fn list_templates_gets_the_waba_templates_with_filters_and_paging() {
    let env = Env::new().await;
    let out = call_ok(
        &env,
        "whatsapp_list_templates",
        json!({"status": ["APPROVED"], "category": "UTILITY", "language": "en_US", "limit": 1}),
    )
    .await;
    let r = only_request(&env);
    assert_eq!(
        (r.method.as_str(), r.path.clone()),
        ("GET", format!("/v23.0/{}/message_templates", env.waba_id()))
    );
    assert_authorised_by_host(&env, &r);
    let query = r.query_pairs();
    let get = |k: &str| {
        query
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("status"), Some("APPROVED"));
    assert_eq!(get("category"), Some("UTILITY"));
    assert_eq!(get("language"), Some("en_US"));
    assert_eq!(get("limit"), Some("1"));
    assert!(get("fields").unwrap().split(',').any(|f| f == "components"));
    assert_eq!(r.body, b"");
    assert_eq!(out["count"], 1);
    // Meta's quality_score is {score, date}; both reach the model.
    assert_eq!(out["templates"][0]["quality_score"], "UNKNOWN", "{out}");
    assert!(out["templates"][0]["quality_score_date"].is_u64(), "{out}");
    // Two approved en_US utility templates are seeded: a second page exists.
    let cursor = out["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let page2 = call_ok(
        &env,
        "whatsapp_list_templates",
        json!({"status": ["APPROVED"], "category": "UTILITY", "limit": 1, "after": cursor}),
    )
    .await;
    assert_eq!(page2["count"], 1);
    assert_ne!(page2["templates"][0]["name"], out["templates"][0]["name"]);
}

#[tokio::test]
async fn create_template_posts_the_components_and_returns_pending() {
    let env = Env::new().await;
    let args = json!({
        "name": "appointment_reminder", "language": "en_US", "category": "UTILITY",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Reminder for {{1}}", "example": {"header_text": ["Sam"]}},
            {"type": "BODY", "text": "Your appointment is on {{1}} at {{2}}.", "example": {"body_text": [["May 1", "10:00"]]}},
            {"type": "FOOTER", "text": "Reply STOP to opt out"},
            {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Reschedule"}]}
        ]
    });
    let out = call_ok(&env, "whatsapp_create_template", args.clone()).await;
    let r = only_request(&env);
    assert_eq!(
        (r.method.as_str(), r.path.clone()),
        (
            "POST",
            format!("/v23.0/{}/message_templates", env.waba_id())
        )
    );
    assert_authorised_by_host(&env, &r);
    let body = r.json().unwrap();
    assert_eq!(body["name"], "appointment_reminder");
    assert_eq!(body["language"], "en_US");
    assert_eq!(body["category"], "UTILITY");
    assert_eq!(body["components"], args["components"]);
    assert_eq!(out["status"], "PENDING");
    assert_eq!(
        out["id"],
        env.sandbox
            .templates()
            .iter()
            .find(|t| t.name == "appointment_reminder")
            .unwrap()
            .id
            .as_str()
    );
}

#[tokio::test]
async fn delete_template_sends_name_and_template_id_in_the_query() {
    let env = Env::new().await;
    let hello = env
        .sandbox
        .templates()
        .into_iter()
        .find(|t| t.name == "hello_world")
        .unwrap();
    let out = call_ok(
        &env,
        "whatsapp_delete_template",
        json!({"name": "hello_world", "template_id": hello.id}),
    )
    .await;
    let r = only_request(&env);
    assert_eq!(
        (r.method.as_str(), r.path.clone()),
        (
            "DELETE",
            format!("/v23.0/{}/message_templates", env.waba_id())
        )
    );
    assert_authorised_by_host(&env, &r);
    assert_eq!(
        r.query_pairs(),
        vec![
            ("name".to_string(), "hello_world".to_string()),
            ("hsm_id".to_string(), hello.id.clone())
        ]
    );
    assert_eq!(out["success"], true);
    assert_eq!(out["scope"], "single");
    assert!(
        env.sandbox
            .templates()
            .iter()
            .all(|t| t.name != "hello_world")
    );
}

#[tokio::test]
async fn get_business_profile_asks_for_the_requested_fields() {
    let env = Env::new().await;
    let out = call_ok(
        &env,
        "whatsapp_get_business_profile",
        json!({"fields": ["about", "email", "websites"]}),
    )
    .await;
    let r = only_request(&env);
    assert_eq!(
        (r.method.as_str(), r.path.clone()),
        (
            "GET",
            format!("/v23.0/{}/whatsapp_business_profile", env.phone_number_id())
        )
    );
    assert_authorised_by_host(&env, &r);
    assert_eq!(
        r.query_pairs(),
        vec![("fields".to_string(), "about,email,websites".to_string())]
    );
    assert!(out["profile"]["about"].is_string());
    assert!(
        out["profile"].get("address").is_none(),
        "only the requested fields: {out}"
    );
}

#[tokio::test]
async fn update_business_profile_posts_only_the_changed_fields() {
    let env = Env::new().await;
    let out = call_ok(
        &env,
        "whatsapp_update_business_profile",
        json!({"about": "Open 9-5", "email": "help@shop.example", "websites": ["https://shop.example"], "vertical": "RETAIL"}),
    )
    .await;
    let r = only_request(&env);
    assert_eq!(
        (r.method.as_str(), r.path.clone()),
        (
            "POST",
            format!("/v23.0/{}/whatsapp_business_profile", env.phone_number_id())
        )
    );
    assert_authorised_by_host(&env, &r);
    assert_eq!(
        r.json().unwrap(),
        json!({"messaging_product": "whatsapp", "about": "Open 9-5", "email": "help@shop.example",
               "websites": ["https://shop.example"], "vertical": "RETAIL"})
    );
    assert_eq!(out["success"], true);
    let profile = call_ok(&env, "whatsapp_get_business_profile", json!({})).await;
    assert_eq!(profile["profile"]["about"], "Open 9-5");
}

#[tokio::test]
async fn get_message_status_reads_local_state_and_sends_nothing() {
    let env = Env::new().await;
    let sent = call_ok(
        &env,
        "whatsapp_send_template",
        json!({"to": CUSTOMER, "name": "hello_world", "language": "en_US"}),
    )
    .await;
    let id = sent["message_id"].as_str().unwrap();
    let status = call_ok(
        &env,
        "whatsapp_get_message_status",
        json!({"message_id": id}),
    )
    .await;
    assert!(
        env.requests().is_empty(),
        "served from local state: {:?}",
        env.requests()
    );
    assert_eq!(status["message_id"], id);
    assert_eq!(status["status"], "accepted");
    assert_eq!(status["recipient"], CUSTOMER_DIGITS);
    assert_eq!(status["message_type"], "template");
    assert_eq!(status["timeline"][0]["status"], "accepted");
}
