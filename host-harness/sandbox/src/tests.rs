//! The sandbox driven over real HTTP on 127.0.0.1, as the connector will drive it.

use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::*;

const V: &str = "v23.0";
const CUSTOMER: &str = "+1 (650) 555-1234";
const CUSTOMER_DIGITS: &str = "16505551234";

struct Resp {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a Graph error and returns its `error` object.
    fn graph_error(&self, status: u16, code: i64) -> Value {
        let v = self.json();
        assert_eq!(self.status, status, "HTTP status for {v}");
        let e = v["error"].clone();
        assert_eq!(e["code"], json!(code), "code in {v}");
        assert!(e["message"].is_string(), "message in {v}");
        assert!(e["type"].is_string(), "type in {v}");
        let trace = e["fbtrace_id"].as_str().expect("fbtrace_id");
        assert!(trace.len() >= 11, "fbtrace_id looks random: {trace}");
        e
    }
}

fn client() -> reqwest::Client {
    crate::util::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("reqwest client")
}

struct T {
    sb: Sandbox,
    http: reqwest::Client,
}

impl T {
    async fn start() -> T {
        Self::with(SandboxConfig::default()).await
    }

    async fn with(cfg: SandboxConfig) -> T {
        T {
            sb: Sandbox::start(cfg).await.expect("sandbox starts"),
            http: client(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/{V}/{}",
            self.sb.base_url(),
            path.trim_start_matches('/')
        )
    }

    fn phone(&self, edge: &str) -> String {
        format!("{}/{edge}", self.sb.config().phone_number_id)
    }

    fn waba(&self, edge: &str) -> String {
        format!("{}/{edge}", self.sb.config().waba_id)
    }

    async fn send_raw(&self, rb: reqwest::RequestBuilder) -> Resp {
        let r = rb.send().await.expect("request gets an answer");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.bytes().await.expect("body").to_vec();
        Resp {
            status,
            headers,
            body,
        }
    }

    fn authed(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        rb.header(
            "authorization",
            format!("Bearer {}", self.sb.config().access_token),
        )
    }

    async fn get(&self, path: &str) -> Resp {
        self.send_raw(self.authed(self.http.get(self.url(path))))
            .await
    }

    async fn get_abs(&self, url: &str) -> Resp {
        self.send_raw(self.authed(self.http.get(url))).await
    }

    async fn post(&self, path: &str, body: Value) -> Resp {
        self.send_raw(
            self.authed(self.http.post(self.url(path)))
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&body).unwrap()),
        )
        .await
    }

    async fn delete(&self, path: &str) -> Resp {
        self.send_raw(self.authed(self.http.delete(self.url(path))))
            .await
    }

    async fn send_message(&self, body: Value) -> Resp {
        self.post(&self.phone("messages"), body).await
    }

    async fn text(&self, to: &str, text: &str) -> Resp {
        self.send_message(json!({
            "messaging_product": "whatsapp", "recipient_type": "individual",
            "to": to, "type": "text", "text": {"body": text}
        }))
        .await
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Resp {
        let mut rb = self
            .http
            .request(method, format!("{}{path}", self.sb.base_url()));
        if let Some(b) = body {
            rb = rb
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&b).unwrap());
        }
        self.send_raw(rb).await
    }
}

fn template_body(name: &str, lang: &str) -> Value {
    json!({
        "messaging_product": "whatsapp", "to": CUSTOMER_DIGITS, "type": "template",
        "template": {"name": name, "language": {"code": lang}}
    })
}

fn body_params(values: &[&str]) -> Value {
    json!([{"type": "body", "parameters": values.iter().map(|v| json!({"type": "text", "text": v})).collect::<Vec<_>>()}])
}

// ------------------------------------------------------------------------------ messages

#[tokio::test]
async fn text_inside_the_window_is_accepted_with_the_documented_shape() {
    let t = T::start().await;
    t.sb.simulate_inbound(CUSTOMER, "hi");
    let r = t.text("+1-650-555-1234", "Hello https://example.com").await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("facebook-api-version"), Some(V));
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let v = r.json();
    assert_eq!(v["messaging_product"], "whatsapp");
    assert_eq!(v["contacts"][0]["input"], "+1-650-555-1234");
    assert_eq!(v["contacts"][0]["wa_id"], CUSTOMER_DIGITS);
    let id = v["messages"][0]["id"].as_str().unwrap();
    assert!(id.starts_with("wamid."), "{id}");
    assert_eq!(v["messages"][0]["message_status"], "accepted");

    let sent = t.sb.sent_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].id, id);
    assert_eq!(sent[0].wa_id, CUSTOMER_DIGITS);
    assert_eq!(sent[0].kind, "text");
    assert_eq!(sent[0].template, None);
}

#[tokio::test]
async fn free_form_text_outside_the_window_is_refused_with_131047() {
    let t = T::start().await;
    let r = t.text(CUSTOMER_DIGITS, "hello?").await;
    let e = r.graph_error(400, 131047);
    assert_eq!(e["message"], "(#131047) Re-engagement message");
    assert_eq!(e["error_data"]["messaging_product"], "whatsapp");
    assert_eq!(
        e["error_data"]["details"],
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
    );
    assert!(t.sb.sent_messages().is_empty());
}

#[tokio::test]
async fn the_window_closes_exactly_24_hours_after_the_last_inbound_message() {
    let t = T::start().await;
    let now = SystemTime::now();
    t.sb.set_last_inbound("16505550001", now - Duration::from_secs(24 * 3600 - 60));
    t.sb.set_last_inbound("16505550002", now - Duration::from_secs(24 * 3600 + 60));
    assert_eq!(t.text("16505550001", "still open").await.status, 200);
    t.text("16505550002", "too late")
        .await
        .graph_error(400, 131047);
    // Media is free-form too.
    let r = t
        .send_message(
            json!({"messaging_product": "whatsapp", "to": "16505550002", "type": "image",
            "image": {"link": "https://example.com/a.png"}}),
        )
        .await;
    r.graph_error(400, 131047);
}

#[tokio::test]
async fn messaging_product_is_required_and_must_be_whatsapp() {
    let t = T::start().await;
    let e = t
        .send_message(json!({"to": CUSTOMER_DIGITS, "type": "text", "text": {"body": "x"}}))
        .await
        .graph_error(400, 100);
    assert_eq!(
        e["message"],
        "(#100) The parameter messaging_product is required."
    );
    t.send_message(
        json!({"messaging_product": "sms", "to": CUSTOMER_DIGITS, "text": {"body": "x"}}),
    )
    .await
    .graph_error(400, 100);
}

#[tokio::test]
async fn a_missing_recipient_is_100_and_an_invalid_phone_number_is_131009() {
    let t = T::start().await;
    let e = t
        .send_message(
            json!({"messaging_product": "whatsapp", "type": "text", "text": {"body": "x"}}),
        )
        .await
        .graph_error(400, 100);
    assert_eq!(e["message"], "(#100) The parameter to is required.");
    for bad in ["hello", "123", "+44 0", "1650555123456789"] {
        let e = t.text(bad, "x").await.graph_error(400, 131009);
        assert_eq!(e["message"], "(#131009) Parameter value is not valid");
        assert!(e["error_data"]["details"].as_str().unwrap().contains(bad));
    }
}

#[tokio::test]
async fn text_body_is_required_and_limited_to_4096_characters() {
    let t = T::start().await;
    t.sb.simulate_inbound(CUSTOMER_DIGITS, "hi");
    let e = t
        .send_message(json!({"messaging_product": "whatsapp", "to": CUSTOMER_DIGITS, "type": "text", "text": {}}))
        .await
        .graph_error(400, 131008);
    assert_eq!(e["message"], "(#131008) Required parameter is missing");
    t.send_message(json!({"messaging_product": "whatsapp", "to": CUSTOMER_DIGITS, "type": "text"}))
        .await
        .graph_error(400, 131008);
    let e = t
        .text(CUSTOMER_DIGITS, &"é".repeat(4097))
        .await
        .graph_error(400, 100);
    assert!(
        e["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("4096")
    );
    assert_eq!(t.text(CUSTOMER_DIGITS, &"é".repeat(4096)).await.status, 200);
}

#[tokio::test]
async fn type_defaults_to_text_and_an_unknown_type_is_a_parameter_error() {
    let t = T::start().await;
    t.sb.simulate_inbound(CUSTOMER_DIGITS, "hi");
    let r = t
        .send_message(
            json!({"messaging_product": "whatsapp", "to": CUSTOMER_DIGITS, "text": {"body": "x"}}),
        )
        .await;
    assert_eq!(r.status, 200);
    let e = t
        .send_message(json!({"messaging_product": "whatsapp", "to": CUSTOMER_DIGITS, "type": "hologram", "hologram": {}}))
        .await
        .graph_error(400, 100);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("Param type must be one of")
    );
}

#[tokio::test]
async fn media_needs_exactly_one_of_id_or_link_and_respects_caption_and_filename_rules() {
    let t = T::start().await;
    t.sb.simulate_inbound(CUSTOMER_DIGITS, "hi");
    let send = |ty: &str, media: Value| {
        let mut body = json!({"messaging_product": "whatsapp", "to": CUSTOMER_DIGITS, "type": ty});
        body[ty] = media;
        body
    };
    let ok = [
        send(
            "image",
            json!({"link": "https://example.com/a.png", "caption": "A plant"}),
        ),
        send(
            "video",
            json!({"id": "1013859600285441", "caption": "Watch"}),
        ),
        send(
            "document",
            json!({"link": "https://example.com/inv.pdf", "caption": "Invoice", "filename": "invoice.pdf"}),
        ),
        send("audio", json!({"id": "1013859600285442"})),
        send("sticker", json!({"id": "1013859600285443"})),
    ];
    for body in ok {
        let r = t.send_message(body.clone()).await;
        assert_eq!(
            r.status,
            200,
            "{body}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    t.send_message(send("image", json!({})))
        .await
        .graph_error(400, 131008);
    t.send_message(send(
        "image",
        json!({"id": "1", "link": "https://example.com/a.png"}),
    ))
    .await
    .graph_error(400, 100);
    t.send_message(send("audio", json!({"id": "1", "caption": "no"})))
        .await
        .graph_error(400, 100);
    t.send_message(send("image", json!({"id": "1", "filename": "a.png"})))
        .await
        .graph_error(400, 100);
    t.send_message(send(
        "image",
        json!({"id": "1", "caption": "c".repeat(1025)}),
    ))
    .await
    .graph_error(400, 100);
    t.send_message(send("image", json!({"link": "ftp://example.com/a.png"})))
        .await
        .graph_error(400, 131009);
    assert_eq!(t.sb.sent_messages().len(), 5);
}

#[tokio::test]
async fn hello_world_can_be_sent_outside_the_window() {
    let t = T::start().await;
    let r = t.send_message(template_body("hello_world", "en_US")).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let sent = t.sb.sent_messages();
    assert_eq!(
        sent[0].template,
        Some(("hello_world".to_string(), "en_US".to_string()))
    );
    assert_eq!(sent[0].kind, "template");
}

#[tokio::test]
async fn an_unknown_template_or_language_is_a_404_with_132001() {
    let t = T::start().await;
    let e = t
        .send_message(template_body("no_such_template", "en_US"))
        .await
        .graph_error(404, 132001);
    assert_eq!(
        e["message"],
        "(#132001) Template name does not exist in the translation"
    );
    assert_eq!(
        e["error_data"]["details"],
        "template name (no_such_template) does not exist in en_US"
    );
    let e = t
        .send_message(template_body("hello_world", "pt_BR"))
        .await
        .graph_error(404, 132001);
    assert_eq!(
        e["error_data"]["details"],
        "template name (hello_world) does not exist in pt_BR"
    );
}

#[tokio::test]
async fn template_parameter_counts_must_match_the_template_with_132000() {
    let t = T::start().await;
    let mut body = template_body("order_update", "en_US");
    body["template"]["components"] = body_params(&["Mark"]);
    let e = t.send_message(body.clone()).await.graph_error(400, 132000);
    assert_eq!(
        e["message"],
        "(#132000) Number of parameters does not match the expected number of params"
    );
    assert_eq!(
        e["error_data"]["details"],
        "body: number of localizable_params (1) does not match the expected number of params (2)"
    );
    body["template"]["components"] = body_params(&["Mark", "#1042"]);
    assert_eq!(t.send_message(body.clone()).await.status, 200);
    // hello_world has no parameters, so any is too many; its text header has none either.
    let mut hw = template_body("hello_world", "en_US");
    hw["template"]["components"] =
        json!([{"type": "header", "parameters": [{"type": "text", "text": "x"}]}]);
    let e = t.send_message(hw).await.graph_error(400, 132000);
    assert!(
        e["error_data"]["details"]
            .as_str()
            .unwrap()
            .starts_with("header:")
    );
}

async fn create_template(t: &T, body: Value) -> Resp {
    t.post(&t.waba("message_templates"), body).await
}

fn named_template(name: &str) -> Value {
    json!({
        "name": name, "category": "UTILITY", "language": "en_US", "parameter_format": "NAMED",
        "components": [{
            "type": "BODY",
            "text": "Hello {{first_name}}, your order {{order_id}} is ready.",
            "example": {"body_text_named_params": [
                {"param_name": "first_name", "example": "Pablo"},
                {"param_name": "order_id", "example": "566701"}
            ]}
        }]
    })
}

#[tokio::test]
async fn a_listed_template_s_quality_score_has_meta_s_score_and_unix_date() {
    let t = T::start().await;
    let before = util::unix_secs(SystemTime::now());
    let change = TemplateChange {
        quality_score: Some("GREEN".into()),
        ..Default::default()
    };
    t.sb.change_template("order_update", None, &change).unwrap();
    let r = t
        .get(&format!(
            "{}?name=order_update&fields=name%2Cquality_score",
            t.waba("message_templates")
        ))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let listed = r.json();
    let quality = &listed["data"][0]["quality_score"];
    assert_eq!(quality["score"], "GREEN", "{listed}");
    let date = quality["date"]
        .as_u64()
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(
        date >= before,
        "the date is when the score was set: {listed}"
    );
}

#[tokio::test]
async fn named_templates_need_parameter_names_or_get_132012() {
    let t = T::with(SandboxConfig {
        approval_delay: Duration::ZERO,
        ..Default::default()
    })
    .await;
    let r = create_template(&t, named_template("pickup_ready")).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let mut body = template_body("pickup_ready", "en_US");
    body["template"]["components"] = body_params(&["Pablo", "566701"]);
    let e = t.send_message(body.clone()).await.graph_error(400, 132012);
    assert_eq!(
        e["message"],
        "(#132012) Parameter format does not match format in the created template"
    );
    body["template"]["components"] = json!([{"type": "body", "parameters": [
        {"type": "text", "parameter_name": "order_id", "text": "566701"},
        {"type": "text", "parameter_name": "first_name", "text": "Pablo"}
    ]}]);
    let r = t.send_message(body).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

#[tokio::test]
async fn url_buttons_with_a_variable_need_their_parameter() {
    let t = T::with(SandboxConfig {
        approval_delay: Duration::ZERO,
        ..Default::default()
    })
    .await;
    let r = create_template(
        &t,
        json!({"name": "track_order", "category": "UTILITY", "language": "en",
            "components": [
                {"type": "BODY", "text": "Your parcel is on its way."},
                {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track", "url": "https://example.com/t/{{1}}", "example": ["abc"]}]}
            ]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let body = template_body("track_order", "en");
    let e = t.send_message(body.clone()).await.graph_error(400, 131008);
    assert_eq!(
        e["error_data"]["details"],
        "buttons: Button at index 0 of type Url requires a parameter"
    );
    let mut ok = body;
    ok["template"]["components"] = json!([{"type": "button", "sub_type": "url", "index": "0",
        "parameters": [{"type": "text", "text": "abc"}]}]);
    assert_eq!(t.send_message(ok).await.status, 200);
}

#[tokio::test]
async fn throughput_above_the_limit_is_refused_with_transient_130429() {
    let t = T::with(SandboxConfig {
        throughput_per_second: Some(5),
        pair_limit: None,
        ..Default::default()
    })
    .await;
    // Concurrent, so all eight land well within one second even on a busy machine.
    let sends = (0..8).map(|_| t.send_message(template_body("hello_world", "en_US")));
    let results = futures_util::future::join_all(sends).await;
    let accepted = results.iter().filter(|r| r.status == 200).count();
    assert_eq!(accepted, 5);
    let refused: Vec<&Resp> = results.iter().filter(|r| r.status != 200).collect();
    assert_eq!(refused.len(), 3);
    let e = refused[0].graph_error(400, 130429);
    assert_eq!(e["message"], "(#130429) Rate limit hit");
    assert_eq!(e["is_transient"], true);
    assert_eq!(
        e["error_data"]["details"],
        "Cloud API message throughput has been reached."
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        t.send_message(template_body("hello_world", "en_US"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn bursts_to_one_recipient_hit_the_pair_limit_with_131056() {
    let t = T::with(SandboxConfig {
        throughput_per_second: None,
        pair_limit: Some(PairLimit {
            burst: 3,
            interval: Duration::from_secs(2),
        }),
        ..Default::default()
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            t.send_message(template_body("hello_world", "en_US"))
                .await
                .status,
            200
        );
    }
    let e = t
        .send_message(template_body("hello_world", "en_US"))
        .await
        .graph_error(400, 131056);
    assert_eq!(
        e["message"],
        "(#131056) (Business Account, Consumer Account) pair rate limit hit"
    );
    // Other recipients are unaffected.
    let mut other = template_body("hello_world", "en_US");
    other["to"] = json!("16505559999");
    assert_eq!(t.send_message(other).await.status, 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        t.send_message(template_body("hello_world", "en_US"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn after_a_burst_one_user_gets_only_one_message_per_interval_like_meta_s_pair_limit() {
    let t = T::with(SandboxConfig {
        throughput_per_second: None,
        pair_limit: Some(PairLimit {
            burst: 3,
            interval: Duration::from_secs(1),
        }),
        ..Default::default()
    })
    .await;
    let send = || t.send_message(template_body("hello_world", "en_US"));
    for _ in 0..3 {
        assert_eq!(send().await.status, 200);
    }
    send().await.graph_error(400, 131056);
    // One interval later one slot is back, not a whole new burst (a sliding window would
    // allow three more here).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(send().await.status, 200);
    send().await.graph_error(400, 131056);
}

#[tokio::test]
async fn read_receipts_are_acknowledged() {
    let t = T::start().await;
    let id = t.sb.simulate_inbound_at(CUSTOMER, "hi", SystemTime::now());
    let r = t
        .send_message(json!({"messaging_product": "whatsapp", "status": "read", "message_id": id}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"success": true}));
    assert!(t.sb.sent_messages().is_empty());
}

// ------------------------------------------------------------------------------ auth & routing

#[tokio::test]
async fn a_missing_or_foreign_token_is_refused_with_401_code_190() {
    let t = T::start().await;
    let url = t.url(&t.phone("whatsapp_business_profile"));
    for rb in [
        t.http.get(&url),
        t.http.get(&url).header("authorization", "Bearer nope"),
        t.http
            .get(&url)
            .header("authorization", "Basic Zm9vOmJhcg=="),
    ] {
        let r = t.send_raw(rb).await;
        let e = r.graph_error(401, 190);
        assert_eq!(
            e["message"],
            "Invalid OAuth access token - Cannot parse access token"
        );
        assert_eq!(e["type"], "OAuthException");
        assert!(r.header("www-authenticate").is_some());
    }
    // Graph also takes the token as a query parameter.
    let r = t
        .send_raw(
            t.http
                .get(format!("{url}?access_token={}", t.sb.config().access_token)),
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn an_expired_token_fails_every_request_with_190_subcode_463() {
    let t = T::start().await;
    t.sb.set_token_expired(true);
    let e = t
        .get(&t.phone("whatsapp_business_profile"))
        .await
        .graph_error(401, 190);
    assert_eq!(e["error_subcode"], 463);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("Error validating access token: Session has expired on ")
    );
    t.sb.set_token_expired(false);
    assert_eq!(
        t.get(&t.phone("whatsapp_business_profile")).await.status,
        200
    );
}

#[tokio::test]
async fn an_unknown_object_id_is_100_subcode_33() {
    let t = T::start().await;
    let e = t
        .post(
            "999999999/messages",
            json!({"messaging_product": "whatsapp"}),
        )
        .await
        .graph_error(400, 100);
    assert_eq!(e["error_subcode"], 33);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("Unsupported post request. Object with ID '999999999' does not exist, cannot be loaded due to missing permissions, or does not support this operation")
    );
    let e = t
        .get("999999999/message_templates")
        .await
        .graph_error(400, 100);
    assert_eq!(e["error_subcode"], 33);
}

#[tokio::test]
async fn bad_versions_unknown_edges_and_wrong_methods_are_code_100() {
    let t = T::start().await;
    let base = t.sb.base_url();
    let token = t.sb.config().access_token.clone();
    let r = t
        .send_raw(
            t.http
                .get(format!(
                    "{base}/23.0/{}",
                    t.phone("whatsapp_business_profile")
                ))
                .bearer_auth(&token),
        )
        .await;
    r.graph_error(400, 100);
    assert_eq!(r.header("facebook-api-version"), None);
    let e = t.get(&t.phone("nonsense")).await.graph_error(400, 100);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("Unsupported get request.")
    );
    let r = t
        .send_raw(t.authed(t.http.put(t.url(&t.phone("messages")))))
        .await;
    let e = r.graph_error(400, 100);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("Unsupported put request.")
    );
    t.delete(&t.phone("messages")).await.graph_error(400, 100);
    t.get("").await.graph_error(400, 100);
}

#[tokio::test]
async fn malformed_json_bodies_are_code_100() {
    let t = T::start().await;
    for body in [
        &b"{\"messaging_product\": "[..],
        b"[1,2",
        b"\xff\xfe",
        b"[]",
    ] {
        let r = t
            .send_raw(
                t.authed(t.http.post(t.url(&t.phone("messages"))))
                    .header("content-type", "application/json")
                    .body(body.to_vec()),
            )
            .await;
        r.graph_error(400, 100);
    }
}

#[tokio::test]
async fn request_bodies_over_the_cap_get_413_code_100() {
    let t = T::with(SandboxConfig {
        max_body_bytes: 1000,
        ..Default::default()
    })
    .await;
    let r = t
        .send_message(json!({"messaging_product": "whatsapp", "to": CUSTOMER_DIGITS, "text": {"body": "x".repeat(5000)}}))
        .await;
    r.graph_error(413, 100);
    // The connection stays usable.
    assert_eq!(
        t.get(&t.phone("whatsapp_business_profile")).await.status,
        200
    );
}

#[tokio::test]
async fn weird_paths_and_encodings_never_break_the_server() {
    let t = T::start().await;
    for path in [
        "/%ff%fe/../x",
        "//",
        "/v23.0/%E2%82",
        "/v23.0/../../etc/passwd",
        "/v23.0/106540352242922/messages/extra/segments",
        "/v99999999999999999999.0/x",
        "/_sandboxx",
    ] {
        let r = t
            .send_raw(t.authed(t.http.get(format!("{}{path}", t.sb.base_url()))))
            .await;
        assert!(r.status >= 400, "{path}");
        assert!(r.json()["error"].is_object(), "{path}");
    }
    // Percent-encoded ids are decoded like any URL.
    let encoded: String =
        t.sb.config()
            .phone_number_id
            .bytes()
            .map(|b| format!("%{b:02X}"))
            .collect();
    let r = t.get(&format!("{encoded}/whatsapp_business_profile")).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn requests_are_recorded_with_lower_case_headers_query_and_body() {
    let t = T::start().await;
    t.sb.simulate_inbound(CUSTOMER_DIGITS, "hi");
    t.text(CUSTOMER_DIGITS, "recorded").await;
    t.get(&format!(
        "{}?name=hello&fields=name%2Cstatus",
        t.waba("message_templates")
    ))
    .await;
    t.control(reqwest::Method::GET, "/_sandbox/templates", None)
        .await;
    let reqs = t.sb.requests();
    assert_eq!(reqs.len(), 2, "control endpoints are not recorded");
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, format!("/{V}/{}", t.phone("messages")));
    assert_eq!(reqs[0].json().unwrap()["text"]["body"], "recorded");
    assert_eq!(
        reqs[0].header("Authorization"),
        Some(format!("Bearer {}", t.sb.config().access_token).as_str())
    );
    assert!(reqs[0].headers.iter().all(|(n, _)| *n == n.to_lowercase()));
    assert_eq!(
        reqs[1].query_pairs(),
        vec![
            ("name".to_string(), "hello".to_string()),
            ("fields".to_string(), "name,status".to_string())
        ]
    );
    t.sb.clear_requests();
    assert!(t.sb.requests().is_empty());
}

#[tokio::test]
async fn recorded_requests_never_show_the_token_in_debug_output() {
    let t = T::start().await;
    let token = t.sb.config().access_token.clone();
    t.get(&t.phone("whatsapp_business_profile")).await;
    t.send_raw(t.http.get(format!(
        "{}?access_token={token}",
        t.url(&t.phone("whatsapp_business_profile"))
    )))
    .await;
    let dbg = format!("{:?}", t.sb.requests());
    assert!(!dbg.contains(&token), "{dbg}");
    assert!(dbg.contains("<redacted>"));
}

#[tokio::test]
async fn form_encoded_bodies_are_accepted_like_graph() {
    let t = T::start().await;
    let r = t
        .send_raw(
            t.authed(t.http.post(t.url(&t.phone("whatsapp_business_profile"))))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("messaging_product=whatsapp&about=Open+late&websites=%5B%22https%3A%2F%2Fa.example%22%5D"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let p = t.get(&t.phone("whatsapp_business_profile")).await.json()["data"][0].clone();
    assert_eq!(p["about"], "Open late");
    assert_eq!(p["websites"], json!(["https://a.example"]));
}

// ------------------------------------------------------------------------------ templates

#[tokio::test]
async fn a_new_account_lists_hello_world_and_order_update_newest_first() {
    let t = T::start().await;
    let r = t.get(&t.waba("message_templates")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("facebook-api-version"), Some(V));
    let v = r.json();
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["name"], "order_update");
    let hw = &data[1];
    assert_eq!(hw["name"], "hello_world");
    assert_eq!(hw["language"], "en_US");
    assert_eq!(hw["status"], "APPROVED");
    assert_eq!(hw["category"], "UTILITY");
    assert_eq!(hw["parameter_format"], "POSITIONAL");
    assert!(
        hw["id"]
            .as_str()
            .unwrap()
            .bytes()
            .all(|b| b.is_ascii_digit())
    );
    assert_eq!(
        hw["components"][0],
        json!({"type": "HEADER", "format": "TEXT", "text": "Hello World"})
    );
    assert_eq!(hw["components"][1]["type"], "BODY");
    assert_eq!(
        hw["components"][2]["text"],
        "WhatsApp Business Platform sample message"
    );
    assert!(v["paging"]["cursors"]["before"].is_string());
    assert!(v["paging"]["cursors"]["after"].is_string());
    assert!(v["paging"].get("next").is_none());
}

#[tokio::test]
async fn template_pages_follow_next_and_before_cursors() {
    let t = T::start().await;
    for i in 0..3 {
        let r = create_template(
            &t,
            json!({"name": format!("promo_{i}"), "category": "MARKETING", "language": "en_US",
                "components": [{"type": "BODY", "text": "Sale number {{1}} is on!", "example": {"body_text": [["5"]]}}]}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    // 5 templates: promo_2, promo_1, promo_0, order_update, hello_world.
    let first = t
        .get(&format!("{}?limit=2", t.waba("message_templates")))
        .await
        .json();
    let names = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&first), vec!["promo_2", "promo_1"]);
    let next = first["paging"]["next"].as_str().unwrap().to_owned();
    assert!(next.starts_with(&t.sb.base_url()), "{next}");
    assert!(
        next.contains("limit=2") && next.contains("after="),
        "{next}"
    );
    let second = t.get_abs(&next).await.json();
    assert_eq!(names(&second), vec!["promo_0", "order_update"]);
    let third = t
        .get_abs(second["paging"]["next"].as_str().unwrap())
        .await
        .json();
    assert_eq!(names(&third), vec!["hello_world"]);
    assert!(third["paging"].get("next").is_none());
    // Going back from the third page gives the second one again.
    let before = third["paging"]["cursors"]["before"].as_str().unwrap();
    let back = t
        .get(&format!(
            "{}?limit=2&before={before}",
            t.waba("message_templates")
        ))
        .await
        .json();
    assert_eq!(names(&back), vec!["promo_0", "order_update"]);
    // Bad cursors and limits are parameter errors.
    t.get(&format!("{}?after=garbage", t.waba("message_templates")))
        .await
        .graph_error(400, 100);
    t.get(&format!("{}?limit=zero", t.waba("message_templates")))
        .await
        .graph_error(400, 100);
    // Above the edge's maximum the page is refused, not silently cut to 100.
    let e = t
        .get(&format!("{}?limit=101", t.waba("message_templates")))
        .await
        .graph_error(400, 100);
    assert!(
        e["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("at most 100"),
        "{e}"
    );
}

#[tokio::test]
async fn template_lists_filter_by_name_status_category_and_language_and_honour_fields() {
    let t = T::with(SandboxConfig {
        approval_delay: Duration::from_secs(60),
        ..Default::default()
    })
    .await;
    let r = create_template(
        &t,
        json!({"name": "hola_mundo", "category": "MARKETING", "language": "es",
            "components": [{"type": "BODY", "text": "Hola a todos"}]}),
    )
    .await;
    assert_eq!(r.status, 200);
    let q = |query: &str| format!("{}?{query}", t.waba("message_templates"));
    let names = |v: Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(t.get(&q("name=ORDER")).await.json()),
        vec!["order_update"]
    );
    assert_eq!(
        names(t.get(&q("status=PENDING")).await.json()),
        vec!["hola_mundo"]
    );
    assert_eq!(
        names(t.get(&q("status=approved,rejected")).await.json()),
        vec!["order_update", "hello_world"]
    );
    assert_eq!(
        names(t.get(&q("category=MARKETING")).await.json()),
        vec!["hola_mundo"]
    );
    assert_eq!(
        names(t.get(&q("language=es")).await.json()),
        vec!["hola_mundo"]
    );
    let v = t.get(&q("fields=name,status&name=hello")).await.json();
    let item = v["data"][0].as_object().unwrap();
    let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, vec!["id", "name", "status"]);
    let v = t.get(&q("summary=total_count&limit=1")).await.json();
    assert_eq!(v["summary"]["total_count"], 3);
}

#[tokio::test]
async fn a_created_template_is_pending_then_approved_after_the_delay() {
    let t = T::with(SandboxConfig {
        approval_delay: Duration::from_secs(1),
        ..Default::default()
    })
    .await;
    let r = create_template(
        &t,
        json!({
            "name": "seasonal_promotion_text_only", "category": "marketing", "language": "en",
            "components": [
                {"type": "HEADER", "format": "TEXT", "text": "Our {{1}} is on!", "example": {"header_text": ["Summer Sale"]}},
                {"type": "BODY", "text": "Shop now through {{1}} and use code {{2}} to get {{3}} off.",
                 "example": {"body_text": [["the end of August", "25OFF", "25%"]]}},
                {"type": "FOOTER", "text": "Use the buttons below to manage your marketing subscriptions"},
                {"type": "BUTTONS", "buttons": [
                    {"type": "QUICK_REPLY", "text": "Unsubscribe from Promos"},
                    {"type": "URL", "text": "Shop Now", "url": "https://x.com/shop?promo={{1}}", "example": ["summer2023"]},
                    {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "16467043595"}
                ]}
            ]
        }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!(v["status"], "PENDING");
    assert_eq!(v["category"], "MARKETING");
    let id = v["id"].as_str().unwrap().to_owned();
    assert!(id.bytes().all(|b| b.is_ascii_digit()));

    let mut body = template_body("seasonal_promotion_text_only", "en");
    body["template"]["components"] = json!([
        {"type": "header", "parameters": [{"type": "text", "text": "Winter Sale"}]},
        {"type": "body", "parameters": [{"type": "text", "text": "Friday"}, {"type": "text", "text": "WIN"}, {"type": "text", "text": "10%"}]},
        {"type": "button", "sub_type": "url", "index": 1, "parameters": [{"type": "text", "text": "win"}]}
    ]);
    // Not yet approved: as far as sending goes, it does not exist.
    t.send_message(body.clone()).await.graph_error(404, 132001);
    let snap = t.sb.templates().into_iter().find(|s| s.id == id).unwrap();
    assert_eq!(snap.status, "PENDING");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let snap = t.sb.templates().into_iter().find(|s| s.id == id).unwrap();
    assert_eq!(snap.status, "APPROVED");
    assert_eq!(snap.components[0]["type"], "HEADER");
    let r = t.send_message(body).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // The single-template node answers too.
    let node = t.get(&id).await.json();
    assert_eq!(node["name"], "seasonal_promotion_text_only");
    assert_eq!(node["status"], "APPROVED");
}

#[tokio::test]
async fn templates_named_reject_underscore_are_rejected_for_invalid_format() {
    let t = T::with(SandboxConfig {
        approval_delay: Duration::ZERO,
        ..Default::default()
    })
    .await;
    let r = create_template(
        &t,
        json!({"name": "reject_me", "category": "UTILITY", "language": "en_US",
            "components": [{"type": "BODY", "text": "This will not pass review."}]}),
    )
    .await;
    assert_eq!(r.json()["status"], "PENDING");
    let v = t
        .get(&format!(
            "{}?name=reject_me&fields=name,status,rejected_reason",
            t.waba("message_templates")
        ))
        .await
        .json();
    assert_eq!(v["data"][0]["status"], "REJECTED");
    assert_eq!(v["data"][0]["rejected_reason"], "INVALID_FORMAT");
    t.send_message(template_body("reject_me", "en_US"))
        .await
        .graph_error(404, 132001);
}

#[tokio::test]
async fn template_creation_is_validated_like_meta() {
    let t = T::start().await;
    let body = |text: &str| json!([{"type": "BODY", "text": text}]);
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"name": "Bad-Name", "category": "UTILITY", "language": "en_US", "components": body("x")}),
            "name",
        ),
        (
            json!({"category": "UTILITY", "language": "en_US", "components": body("x")}),
            "name",
        ),
        (
            json!({"name": "ok", "category": "PROMO", "language": "en_US", "components": body("x")}),
            "category",
        ),
        (
            json!({"name": "ok", "category": "UTILITY", "language": "xx_XX", "components": body("x")}),
            "language",
        ),
        (
            json!({"name": "ok", "category": "UTILITY", "language": "en_US", "components": []}),
            "components",
        ),
        (
            json!({"name": "ok", "category": "UTILITY", "language": "en_US",
            "components": [{"type": "FOOTER", "text": "f"}]}),
            "BODY",
        ),
        (
            json!({"name": "ok", "category": "UTILITY", "language": "en_US", "components": body(&"b".repeat(1025))}),
            "1024",
        ),
        (
            json!({"name": "ok", "category": "UTILITY", "language": "en_US",
            "components": [{"type": "BODY", "text": "Hi {{1}}, bye"}]}),
            "body_text",
        ),
        (
            json!({"name": "ok", "category": "UTILITY", "language": "en_US",
            "components": [{"type": "BODY", "text": "Hi {{1}} and {{3}} bye", "example": {"body_text": [["a", "b"]]}}]}),
            "sequential",
        ),
        (
            json!({"name": "ok", "category": "UTILITY", "language": "en_US",
            "components": [{"type": "HEADER", "format": "TEXT", "text": "h".repeat(61)}, {"type": "BODY", "text": "x"}]}),
            "60",
        ),
        (
            json!({"name": "ok", "category": "UTILITY", "language": "en_US",
            "components": [{"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": "x"}]}),
            "header_handle",
        ),
        (
            json!({"name": "ok", "category": "UTILITY", "language": "en_US",
            "components": [{"type": "BODY", "text": "x"}, {"type": "FOOTER", "text": "f".repeat(61)}]}),
            "FOOTER",
        ),
        (
            json!({"name": "ok", "category": "UTILITY", "language": "en_US",
            "components": [{"type": "BODY", "text": "x"}, {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "t".repeat(26)}]}]}),
            "25",
        ),
        (
            json!({"name": "ok", "category": "UTILITY", "language": "en_US", "parameter_format": "NAMED",
            "components": [{"type": "BODY", "text": "Hi {{name}}, bye"}]}),
            "body_text_named_params",
        ),
    ];
    for (req, needle) in cases {
        let r = create_template(&t, req.clone()).await;
        let e = r.graph_error(400, 100);
        let text = e.to_string();
        assert!(
            text.contains(needle),
            "{req} -> {text} should mention {needle}"
        );
    }
    let e = create_template(
        &t,
        json!({"name": "edge_vars", "category": "UTILITY", "language": "en_US",
            "components": [{"type": "BODY", "text": "{{1}} is your code", "example": {"body_text": [["1"]]}}]}),
    )
    .await
    .graph_error(400, 100);
    assert_eq!(e["error_subcode"], 2388299);
    assert_eq!(t.sb.templates().len(), 2, "nothing was created");
}

#[tokio::test]
async fn the_same_name_and_language_cannot_be_created_twice() {
    let t = T::start().await;
    let e = create_template(
        &t,
        json!({"name": "hello_world", "category": "UTILITY", "language": "en_US",
            "components": [{"type": "BODY", "text": "Again"}]}),
    )
    .await
    .graph_error(400, 100);
    assert_eq!(e["error_subcode"], 2388024);
    assert_eq!(
        e["error_user_title"],
        "Content in This Language Already Exists"
    );
    // Another language of the same name is a new translation.
    let r = create_template(
        &t,
        json!({"name": "hello_world", "category": "UTILITY", "language": "es",
            "components": [{"type": "BODY", "text": "Hola"}]}),
    )
    .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn authentication_templates_follow_the_documented_shape() {
    let t = T::with(SandboxConfig {
        approval_delay: Duration::ZERO,
        ..Default::default()
    })
    .await;
    let r = create_template(
        &t,
        json!({"name": "authentication_code_copy_code_button", "category": "AUTHENTICATION", "language": "en_US",
            "components": [
                {"type": "BODY", "add_security_recommendation": true},
                {"type": "FOOTER", "code_expiration_minutes": 10},
                {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy Code"}]}
            ]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let mut body = template_body("authentication_code_copy_code_button", "en_US");
    body["template"]["components"] = json!([
        {"type": "body", "parameters": [{"type": "text", "text": "123456"}]},
        {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "123456"}]}
    ]);
    let r = t.send_message(body).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

#[tokio::test]
async fn too_many_template_creations_per_hour_get_80007() {
    let t = T::with(SandboxConfig {
        template_creations_per_hour: Some(2),
        ..Default::default()
    })
    .await;
    for i in 0..2 {
        let r = create_template(
            &t,
            json!({"name": format!("t_{i}"), "category": "UTILITY", "language": "en", "components": [{"type": "BODY", "text": "x"}]}),
        )
        .await;
        assert_eq!(r.status, 200);
    }
    create_template(
        &t,
        json!({"name": "t_2", "category": "UTILITY", "language": "en", "components": [{"type": "BODY", "text": "x"}]}),
    )
    .await
    .graph_error(400, 80007);
}

#[tokio::test]
async fn the_waba_rate_limit_says_when_access_returns_in_the_usage_header() {
    let t = T::with(SandboxConfig {
        template_creations_per_hour: Some(1),
        ..Default::default()
    })
    .await;
    let body = |n: &str| json!({"name": n, "category": "UTILITY", "language": "en", "components": [{"type": "BODY", "text": "x"}]});
    assert_eq!(create_template(&t, body("t_0")).await.status, 200);
    let r = create_template(&t, body("t_1")).await;
    let usage: Value = serde_json::from_str(
        r.headers
            .get("x-business-use-case-usage")
            .expect("usage header on 80007")
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let entry = &usage[&t.sb.config().waba_id][0];
    assert_eq!(entry["type"], "whatsapp_business_management");
    assert_eq!(entry["estimated_time_to_regain_access"], 60);
    r.graph_error(400, 80007);
}

#[tokio::test]
async fn authentication_templates_refuse_body_text_and_need_an_otp_button() {
    let t = T::start().await;
    let otp = json!({"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy"}]});
    create_template(
        &t,
        json!({"name": "auth_text", "category": "AUTHENTICATION", "language": "en_US",
            "components": [{"type": "BODY", "text": "Your code is {{1}}."}, otp]}),
    )
    .await
    .graph_error(400, 100);
    create_template(
        &t,
        json!({"name": "auth_no_button", "category": "AUTHENTICATION", "language": "en_US",
            "components": [{"type": "BODY", "add_security_recommendation": true}]}),
    )
    .await
    .graph_error(400, 100);
    let r = create_template(
        &t,
        json!({"name": "auth_ok", "category": "AUTHENTICATION", "language": "en_US",
            "components": [{"type": "body", "add_security_recommendation": true}, otp]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

#[tokio::test]
async fn button_only_parameter_types_are_refused_in_a_body() {
    let t = T::start().await;
    let mut body = template_body("order_update", "en_US");
    body["template"]["components"] = json!([{"type": "body", "parameters": [
        {"type": "text", "text": "Mark"}, {"type": "payload", "payload": "STOP"}]}]);
    let e = t.send_message(body).await.graph_error(400, 100);
    assert!(
        e["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("only valid in button components")
    );
}

#[tokio::test]
async fn deleting_templates_by_name_and_by_hsm_id() {
    let t = T::start().await;
    for lang in ["en", "es", "fr"] {
        let r = create_template(
            &t,
            json!({"name": "multi", "category": "UTILITY", "language": lang, "components": [{"type": "BODY", "text": "x"}]}),
        )
        .await;
        assert_eq!(r.status, 200);
    }
    let path = t.waba("message_templates");
    let e = t.delete(&path).await.graph_error(400, 100);
    assert_eq!(e["message"], "(#100) The parameter name is required.");
    t.delete(&format!("{path}?name=nope"))
        .await
        .graph_error(400, 100);
    let es_id =
        t.sb.templates()
            .into_iter()
            .find(|s| s.name == "multi" && s.language == "es")
            .unwrap()
            .id;
    let hw_id =
        t.sb.templates()
            .into_iter()
            .find(|s| s.name == "hello_world")
            .unwrap()
            .id;
    // hsm_id must belong to that name.
    t.delete(&format!("{path}?name=multi&hsm_id={hw_id}"))
        .await
        .graph_error(400, 100);
    let r = t.delete(&format!("{path}?name=multi&hsm_id={es_id}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"success": true}));
    let left: Vec<String> =
        t.sb.templates()
            .into_iter()
            .filter(|s| s.name == "multi")
            .map(|s| s.language)
            .collect();
    assert_eq!(left, vec!["en", "fr"]);
    let r = t.delete(&format!("{path}?name=multi")).await;
    assert_eq!(r.json(), json!({"success": true}));
    assert!(t.sb.templates().iter().all(|s| s.name != "multi"));
    // A deleted name+language is blocked for 30 days.
    let e = create_template(
        &t,
        json!({"name": "multi", "category": "UTILITY", "language": "en", "components": [{"type": "BODY", "text": "x"}]}),
    )
    .await
    .graph_error(400, 100);
    assert_eq!(e["error_subcode"], 2388023);
}

// ------------------------------------------------------------------------------ profile

#[tokio::test]
async fn the_business_profile_has_the_documented_shape_and_honours_fields() {
    let t = T::start().await;
    let v = t.get(&t.phone("whatsapp_business_profile")).await.json();
    let p = &v["data"][0];
    assert_eq!(p["messaging_product"], "whatsapp");
    for k in [
        "about",
        "address",
        "description",
        "email",
        "profile_picture_url",
        "vertical",
    ] {
        assert!(p[k].is_string(), "{k} in {v}");
    }
    assert!(p["websites"].is_array());
    let v = t
        .get(&format!(
            "{}?fields=about,email",
            t.phone("whatsapp_business_profile")
        ))
        .await
        .json();
    let mut keys: Vec<&str> = v["data"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, vec!["about", "email", "messaging_product"]);
    t.get(&format!(
        "{}?fields=about,colour",
        t.phone("whatsapp_business_profile")
    ))
    .await
    .graph_error(400, 100);
}

#[tokio::test]
async fn updating_the_business_profile_validates_fields_and_changes_it() {
    let t = T::start().await;
    let path = t.phone("whatsapp_business_profile");
    let r = t
        .post(
            &path,
            json!({"messaging_product": "whatsapp", "about": "New about 🌵", "websites": ["https://a.example", "http://b.example"], "vertical": "restaurant", "email": "hi@a.example"}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"success": true}));
    let p = t.get(&path).await.json()["data"][0].clone();
    assert_eq!(p["about"], "New about 🌵");
    assert_eq!(p["vertical"], "RESTAURANT");
    assert_eq!(
        p["websites"],
        json!(["https://a.example", "http://b.example"])
    );
    assert_eq!(p["email"], "hi@a.example");

    let cases = [
        (json!({"about": "x"}), "messaging_product"),
        (
            json!({"messaging_product": "whatsapp", "about": "a".repeat(140)}),
            "about",
        ),
        (
            json!({"messaging_product": "whatsapp", "about": ""}),
            "about",
        ),
        (
            json!({"messaging_product": "whatsapp", "address": "a".repeat(257)}),
            "address",
        ),
        (
            json!({"messaging_product": "whatsapp", "description": "d".repeat(513)}),
            "description",
        ),
        (
            json!({"messaging_product": "whatsapp", "email": "not-an-email"}),
            "email",
        ),
        (
            json!({"messaging_product": "whatsapp", "websites": ["https://1.example", "https://2.example", "https://3.example"]}),
            "websites",
        ),
        (
            json!({"messaging_product": "whatsapp", "websites": ["ftp://x.example"]}),
            "websites",
        ),
        (
            json!({"messaging_product": "whatsapp", "vertical": "SPACESHIPS"}),
            "vertical",
        ),
    ];
    for (body, needle) in cases {
        let e = t.post(&path, body.clone()).await.graph_error(400, 100);
        assert!(e.to_string().contains(needle), "{body} -> {e}");
    }
    // Nothing changed.
    assert_eq!(
        t.get(&path).await.json()["data"][0]["about"],
        "New about 🌵"
    );
}

// ------------------------------------------------------------------------------ history

#[tokio::test]
async fn message_history_knows_accepted_messages_and_422s_unknown_ones() {
    let t = T::start().await;
    let id = t
        .send_message(template_body("hello_world", "en_US"))
        .await
        .json()["messages"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = t.phone("message_history");
    let q = |extra: &str| {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        ser.append_pair("message_id", &id);
        format!("{path}?{}{extra}", ser.finish())
    };
    let v = t.get(&q("")).await.json();
    assert_eq!(v["data"][0]["message_id"], id.as_str());
    assert!(
        v["data"][0].get("events").is_none(),
        "events only on request"
    );
    let v = t
        .get(&q(
            "&fields=id,message_id,events%7Bdelivery_status,timestamp%7D",
        ))
        .await
        .json();
    assert_eq!(v["data"][0]["events"]["data"][0]["delivery_status"], "SENT");
    let r = t.get(&format!("{path}?message_id=wamid.unknown")).await;
    let e = r.graph_error(422, 100);
    assert_eq!(
        e["message"],
        "The requested message_id was not found in the message history"
    );
    let all = t.get(&path).await.json();
    assert_eq!(all["data"].as_array().unwrap().len(), 1);
}

// ------------------------------------------------------------------------------ faults

#[tokio::test]
async fn a_status_fault_answers_a_non_json_proxy_error_once() {
    let t = T::start().await;
    t.sb.inject_fault(Fault::new(FaultKind::Status {
        status: 502,
        body: "<html><body>502 Bad Gateway</body></html>".into(),
        content_type: "text/html".into(),
    }));
    let r = t.send_message(template_body("hello_world", "en_US")).await;
    assert_eq!(r.status, 502);
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert!(String::from_utf8_lossy(&r.body).contains("Bad Gateway"));
    assert!(
        t.sb.sent_messages().is_empty(),
        "a faulted send is not made"
    );
    assert_eq!(t.sb.requests().len(), 1, "faulted requests are recorded");
    assert_eq!(
        t.send_message(template_body("hello_world", "en_US"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_graph_error_fault_answers_that_error_for_matching_paths_only() {
    let t = T::start().await;
    t.sb.inject_fault(
        Fault::new(FaultKind::GraphError {
            code: 2,
            http_status: 503,
            message: "An unexpected error occurred. Please retry your request".into(),
            is_transient: Some(true),
        })
        .on_path("/messages")
        .times(2),
    );
    assert_eq!(
        t.get(&t.phone("whatsapp_business_profile")).await.status,
        200
    );
    for _ in 0..2 {
        let e = t
            .send_message(template_body("hello_world", "en_US"))
            .await
            .graph_error(503, 2);
        assert_eq!(e["is_transient"], true);
    }
    assert_eq!(
        t.send_message(template_body("hello_world", "en_US"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_latency_fault_delays_then_answers_normally() {
    let t = T::start().await;
    t.sb.inject_fault(Fault::new(FaultKind::Latency(Duration::from_millis(300))));
    let started = Instant::now();
    let r = t.send_message(template_body("hello_world", "en_US")).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.status, 200);
    assert_eq!(t.sb.sent_messages().len(), 1);
}

#[tokio::test]
async fn a_malformed_json_fault_sends_a_truncated_200() {
    let t = T::start().await;
    t.sb.inject_fault(Fault::new(FaultKind::MalformedJson));
    let r = t.send_message(template_body("hello_world", "en_US")).await;
    assert_eq!(r.status, 200);
    assert!(serde_json::from_slice::<Value>(&r.body).is_err());
}

#[tokio::test]
async fn a_drop_connection_fault_closes_the_socket_without_a_response() {
    let t = T::start().await;
    t.sb.inject_fault(Fault::new(FaultKind::DropConnection));
    let err = t
        .authed(t.http.post(t.url(&t.phone("messages"))))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&template_body("hello_world", "en_US")).unwrap())
        .send()
        .await
        .expect_err("no response arrives");
    assert!(!err.is_timeout(), "{err:?}");
    assert!(err.status().is_none());
    assert_eq!(t.sb.requests().len(), 1);
    assert!(t.sb.sent_messages().is_empty());
    // The server keeps serving.
    assert_eq!(
        t.send_message(template_body("hello_world", "en_US"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_slow_body_fault_sends_headers_then_trickles_the_body() {
    let t = T::start().await;
    t.sb.inject_fault(Fault::new(FaultKind::SlowBody {
        chunk_delay: Duration::from_millis(40),
    }));
    let started = Instant::now();
    let resp = t
        .authed(t.http.post(t.url(&t.phone("messages"))))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&template_body("hello_world", "en_US")).unwrap())
        .send()
        .await
        .unwrap();
    let headers_after = started.elapsed();
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await.unwrap();
    let total = started.elapsed();
    let chunks = body.len().div_ceil(16) as u32;
    assert!(chunks >= 5, "{} bytes", body.len());
    assert!(total >= Duration::from_millis(40) * chunks, "{total:?}");
    assert!(headers_after < total / 2, "{headers_after:?} vs {total:?}");
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["messages"][0]["message_status"], "accepted");
}

#[tokio::test]
async fn an_oversized_body_fault_really_sends_that_many_bytes() {
    let t = T::start().await;
    let n = 3 * 1024 * 1024 + 7;
    t.sb.inject_fault(Fault::new(FaultKind::OversizedBody { bytes: n }));
    let r = t.get(&t.waba("message_templates")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), n);
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["data"], json!([]));
}

// ------------------------------------------------------------------------------ control

#[tokio::test]
async fn control_endpoints_drive_the_sandbox_over_http() {
    let t = T::start().await;
    let r = t
        .control(
            reqwest::Method::POST,
            "/_sandbox/inbound",
            Some(json!({"from": "+1 650 555 1234", "text": "hi"})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.json()["id"].as_str().unwrap().starts_with("wamid."));
    assert_eq!(t.text(CUSTOMER_DIGITS, "window is open").await.status, 200);

    let r = t
        .control(
            reqwest::Method::POST,
            "/_sandbox/faults",
            Some(json!({"path_contains": "whatsapp_business_profile", "kind": {"type": "graph_error", "code": 131000, "http_status": 500, "message": "(#131000) Something went wrong", "is_transient": true}})),
        )
        .await;
    assert_eq!(r.status, 200);
    t.get(&t.phone("whatsapp_business_profile"))
        .await
        .graph_error(500, 131000);
    let r = t
        .control(
            reqwest::Method::POST,
            "/_sandbox/faults",
            Some(json!({"kind": {"type": "latency", "ms": "soon"}})),
        )
        .await;
    assert_eq!(r.status, 400);

    let reqs = t
        .control(reqwest::Method::GET, "/_sandbox/requests", None)
        .await
        .json();
    let reqs = reqs.as_array().unwrap();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(reqs[0]["json"]["text"]["body"], "window is open");
    let r = t
        .control(reqwest::Method::DELETE, "/_sandbox/requests", None)
        .await;
    assert_eq!(r.status, 200);
    assert!(t.sb.requests().is_empty());

    let templates = t
        .control(reqwest::Method::GET, "/_sandbox/templates", None)
        .await
        .json();
    assert_eq!(templates.as_array().unwrap().len(), 2);
    let msgs = t
        .control(reqwest::Method::GET, "/_sandbox/messages", None)
        .await
        .json();
    assert_eq!(msgs[0]["wa_id"], CUSTOMER_DIGITS);
    let r = t
        .control(reqwest::Method::GET, "/_sandbox/nothing", None)
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn shutdown_stops_accepting_connections() {
    let t = T::start().await;
    let addr = t.sb.addr();
    // An idle keep-alive connection must not hold shutdown up.
    assert_eq!(
        t.get(&t.phone("whatsapp_business_profile")).await.status,
        200
    );
    let started = Instant::now();
    t.sb.clone().shutdown().await;
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn the_default_config_is_meta_like_and_the_token_is_redacted_in_debug() {
    let cfg = SandboxConfig::default();
    assert!(cfg.access_token.starts_with("sandbox-token-"));
    assert_eq!(cfg.access_token.len(), "sandbox-token-".len() + 32);
    assert_ne!(cfg.access_token, SandboxConfig::default().access_token);
    assert_eq!(cfg.phone_number_id, "106540352242922");
    assert_eq!(cfg.waba_id, "102290129340398");
    assert_eq!(cfg.throughput_per_second, Some(80));
    assert_eq!(
        cfg.pair_limit,
        Some(PairLimit {
            burst: 45,
            interval: Duration::from_secs(6)
        })
    );
    assert!(!format!("{cfg:?}").contains(&cfg.access_token));
    let t = T::with(cfg).await;
    assert!(t.sb.base_url().starts_with("http://127.0.0.1:"));
    assert!(!t.sb.base_url().ends_with('/'));
}
