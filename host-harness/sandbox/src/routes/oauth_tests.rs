//! Facebook Login, tokens and account discovery over HTTP, as clients see them.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::config::{
    Consent, OAuthConfig, SCOPE_MANAGEMENT, SCOPE_MESSAGING, SandboxConfig as Config,
    SandboxPhoneNumber,
};
use crate::model::tokens::LONG_LIVED_SECS;
use crate::sandbox::Sandbox;
use crate::util;

const V: &str = "v23.0";

struct Http {
    sb: Sandbox,
    client: reqwest::Client,
}

struct Answer {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }

    fn code(&self) -> (i64, Option<i64>) {
        let v = self.json();
        (
            v["error"]["code"].as_i64().expect("a Graph error"),
            v["error"]["error_subcode"].as_i64(),
        )
    }
}

impl Http {
    async fn start(oauth: OAuthConfig) -> Http {
        crate::util::install_crypto_provider();
        Http {
            sb: Sandbox::start(Config {
                oauth,
                ..Config::default()
            })
            .await
            .unwrap(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> url::Url {
        let mut u = url::Url::parse(&format!("{}/{V}/{path}", self.sb.base_url())).unwrap();
        if !query.is_empty() {
            u.query_pairs_mut().extend_pairs(query);
        }
        u
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let resp = req.send().await.unwrap();
        Answer {
            status: resp.status().as_u16(),
            location: resp
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_string()),
            body: resp.text().await.unwrap(),
        }
    }

    async fn get(&self, path: &str, query: &[(&str, &str)], token: Option<&str>) -> Answer {
        let mut req = self.client.get(self.url(path, query));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    fn token(&self) -> String {
        self.sb.config().access_token.clone()
    }

    fn app(&self) -> (String, String) {
        (
            self.sb.config().oauth.app_id.clone(),
            self.sb.config().app_secret.clone(),
        )
    }

    /// Approves the dialog for `redirect` and returns the code.
    async fn code(&self, redirect: &str) -> String {
        let (app_id, _) = self.app();
        let a = self
            .get(
                "dialog/oauth",
                &[
                    ("client_id", &app_id),
                    ("redirect_uri", redirect),
                    ("state", "st"),
                    (
                        "scope",
                        "whatsapp_business_management,whatsapp_business_messaging",
                    ),
                ],
                None,
            )
            .await;
        assert_eq!(a.status, 302, "{}", a.body);
        let loc = url::Url::parse(a.location.as_deref().unwrap()).unwrap();
        loc.query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("a code")
    }

    async fn exchange(&self, code: &str, redirect: &str, secret: &str) -> Answer {
        let (app_id, _) = self.app();
        self.get(
            "oauth/access_token",
            &[
                ("client_id", &app_id),
                ("redirect_uri", redirect),
                ("client_secret", secret),
                ("code", code),
            ],
            None,
        )
        .await
    }
}

const REDIRECT: &str = "http://127.0.0.1:8976/callback";

#[tokio::test]
async fn a_token_lacking_a_scope_gets_graph_error_200_only_where_the_scope_is_needed() {
    let t = Http::start(OAuthConfig {
        access_token_scopes: vec![SCOPE_MESSAGING.into()],
        ..OAuthConfig::default()
    })
    .await;
    let cfg = t.sb.config();
    let send = t
        .send(
            t.client
                .post(t.url(&format!("{}/messages", cfg.phone_number_id), &[]))
                .bearer_auth(t.token())
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&json!({"messaging_product": "whatsapp", "to": "16505551234",
                    "type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}})).unwrap()),
        )
        .await;
    assert_eq!(send.status, 200, "{}", send.body);
    let list = t
        .get(
            &format!("{}/message_templates", cfg.waba_id),
            &[],
            Some(&t.token()),
        )
        .await;
    assert_eq!((list.status, list.code()), (403, (200, None)));
    assert!(list.body.contains(SCOPE_MANAGEMENT), "{}", list.body);

    let t = Http::start(OAuthConfig {
        access_token_scopes: vec![SCOPE_MANAGEMENT.into()],
        ..OAuthConfig::default()
    })
    .await;
    let cfg = t.sb.config();
    let send = t
        .send(
            t.client
                .post(t.url(&format!("{}/messages", cfg.phone_number_id), &[]))
                .bearer_auth(t.token())
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&json!({"messaging_product": "whatsapp", "to": "16505551234", "type": "text", "text": {"body": "hi"}})).unwrap()),
        )
        .await;
    assert_eq!((send.status, send.code()), (403, (200, None)));
    assert!(send.body.contains(SCOPE_MESSAGING), "{}", send.body);
    let list = t
        .get(
            &format!("{}/message_templates", cfg.waba_id),
            &[],
            Some(&t.token()),
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.body);
}

#[tokio::test]
async fn the_dialog_redirects_with_a_code_and_the_state_or_with_access_denied() {
    let t = Http::start(OAuthConfig::default()).await;
    let (app_id, _) = t.app();
    let redirect = "http://127.0.0.1:8976/callback?keep=1";
    let a = t
        .get(
            "dialog/oauth",
            &[
                ("client_id", &app_id),
                ("redirect_uri", redirect),
                ("state", "s-1"),
                ("scope", "whatsapp_business_management"),
                ("response_type", "code"),
            ],
            None,
        )
        .await;
    assert_eq!(a.status, 302);
    let loc = url::Url::parse(a.location.as_deref().unwrap()).unwrap();
    assert_eq!(loc.path(), "/callback");
    let q: HashMap<String, String> = loc.query_pairs().into_owned().collect();
    assert_eq!(q["keep"], "1");
    assert_eq!(q["state"], "s-1");
    assert!(q["code"].len() > 20);
    assert!(!q.contains_key("error"));

    let t = Http::start(OAuthConfig {
        consent: Consent::Deny,
        ..OAuthConfig::default()
    })
    .await;
    let a = t
        .get(
            "dialog/oauth",
            &[
                ("client_id", &app_id),
                ("redirect_uri", REDIRECT),
                ("state", "s-2"),
                ("scope", "whatsapp_business_management"),
            ],
            None,
        )
        .await;
    assert_eq!(a.status, 302);
    let loc = url::Url::parse(a.location.as_deref().unwrap()).unwrap();
    let q: HashMap<String, String> = loc.query_pairs().into_owned().collect();
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["error_reason"], "user_denied");
    assert_eq!(q["state"], "s-2");
    assert!(!q.contains_key("code"));
}

#[tokio::test]
async fn the_dialog_refuses_an_unknown_app_a_foreign_redirect_and_unknown_scopes_with_a_page() {
    let t = Http::start(OAuthConfig::default()).await;
    let (app_id, _) = t.app();
    for (query, words) in [
        (
            vec![("client_id", "999"), ("redirect_uri", REDIRECT)],
            "Invalid App ID",
        ),
        (
            vec![
                ("client_id", app_id.as_str()),
                ("redirect_uri", "https://evil.test/cb"),
            ],
            "URL Blocked",
        ),
        (
            vec![
                ("client_id", app_id.as_str()),
                ("redirect_uri", REDIRECT),
                ("scope", "read_mailbox"),
            ],
            "Invalid Scopes: read_mailbox",
        ),
        (
            vec![
                ("client_id", app_id.as_str()),
                ("redirect_uri", REDIRECT),
                ("config_id", "1"),
            ],
            "Invalid configuration ID",
        ),
    ] {
        let a = t.get("dialog/oauth", &query, None).await;
        assert_eq!(a.status, 400, "{query:?}");
        assert!(a.location.is_none(), "no redirect for {query:?}");
        assert!(a.body.contains(words), "{query:?}: {}", a.body);
    }
}

#[tokio::test]
async fn codes_are_single_use_bound_to_their_redirect_uri_and_the_app_secret() {
    let t = Http::start(OAuthConfig::default()).await;
    let (_, secret) = t.app();
    let code = t.code(REDIRECT).await;
    let a = t.exchange(&code, REDIRECT, "wrong-secret").await;
    assert_eq!((a.status, a.code()), (400, (1, None)));
    let a = t.exchange(&code, "http://127.0.0.1:1/other", &secret).await;
    assert_eq!(a.code(), (100, Some(36008)));
    let a = t.exchange(&code, REDIRECT, &secret).await;
    assert_eq!(
        a.status, 200,
        "failed attempts do not use the code up: {}",
        a.body
    );
    assert_eq!(a.json()["expires_in"], 7200);
    assert_eq!(a.json()["token_type"], "bearer");
    let a = t.exchange(&code, REDIRECT, &secret).await;
    assert_eq!(a.code(), (100, Some(36009)));
    assert!(a.body.contains("has been used"), "{}", a.body);
    let a = t.exchange("AQnot-a-code", REDIRECT, &secret).await;
    assert_eq!(a.code(), (100, None));

    let t = Http::start(OAuthConfig {
        code_lifetime: Duration::ZERO,
        ..OAuthConfig::default()
    })
    .await;
    let code = t.code(REDIRECT).await;
    let a = t.exchange(&code, REDIRECT, &t.app().1).await;
    assert_eq!(a.code(), (100, Some(36007)));
    assert!(a.body.contains("has expired"), "{}", a.body);
}

#[tokio::test]
async fn issued_tokens_are_long_lived_after_exchange_and_described_by_debug_token() {
    let t = Http::start(OAuthConfig::default()).await;
    let (app_id, secret) = t.app();
    let code = t.code(REDIRECT).await;
    let short = t.exchange(&code, REDIRECT, &secret).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let a = t
        .get(
            "oauth/access_token",
            &[
                ("grant_type", "fb_exchange_token"),
                ("client_id", &app_id),
                ("client_secret", &secret),
                ("fb_exchange_token", &short),
            ],
            None,
        )
        .await;
    assert_eq!(a.json()["expires_in"], LONG_LIVED_SECS);
    let long = a.json()["access_token"].as_str().unwrap().to_string();
    assert_ne!(long, short);

    let app_token = format!("{app_id}|{secret}");
    let d = t
        .get("debug_token", &[("input_token", &long)], Some(&app_token))
        .await
        .json();
    let data = &d["data"];
    assert_eq!(data["is_valid"], true);
    assert_eq!(data["type"], "USER");
    assert_eq!(data["app_id"], app_id.as_str());
    let left = data["expires_at"].as_u64().unwrap() - util::unix_secs(SystemTime::now());
    assert!(left.abs_diff(LONG_LIVED_SECS) < 60);
    assert_eq!(data["granular_scopes"][0]["scope"], SCOPE_MANAGEMENT);
    assert_eq!(
        data["granular_scopes"][0]["target_ids"],
        json!([t.sb.config().waba_id])
    );
    // The issued token works on the other endpoints.
    let p = t
        .get(&t.sb.config().phone_number_id.clone(), &[], Some(&long))
        .await;
    assert_eq!(p.status, 200, "{}", p.body);

    // The configured token: a system-user token that never expires (expires_at 0).
    let d = t
        .get(
            "debug_token",
            &[("input_token", &t.token())],
            Some(&t.token()),
        )
        .await
        .json();
    assert_eq!(
        (d["data"]["type"].clone(), d["data"]["expires_at"].clone()),
        (json!("SYSTEM_USER"), json!(0))
    );
    // Unknown input: is_valid false with error 190. No authorisation: 104. Bad: 190.
    let d = t
        .get(
            "debug_token",
            &[("input_token", "EAAnope")],
            Some(&app_token),
        )
        .await
        .json();
    assert_eq!(d["data"]["is_valid"], false);
    assert_eq!(d["data"]["error"]["code"], 190);
    assert_eq!(
        t.get("debug_token", &[("input_token", &long)], None)
            .await
            .code()
            .0,
        104
    );
    assert_eq!(
        t.get("debug_token", &[("input_token", &long)], Some("EAAnope"))
            .await
            .code()
            .0,
        190
    );
    // An unknown token cannot be exchanged.
    let a = t
        .get(
            "oauth/access_token",
            &[
                ("grant_type", "fb_exchange_token"),
                ("client_id", &app_id),
                ("client_secret", &secret),
                ("fb_exchange_token", "EAAnope"),
            ],
            None,
        )
        .await;
    assert_eq!(a.code().0, 190);
}

#[tokio::test]
async fn an_expired_configured_token_is_refused_everywhere_and_reported_invalid() {
    let t = Http::start(OAuthConfig {
        access_token_expires_in: Some(Duration::ZERO),
        ..OAuthConfig::default()
    })
    .await;
    let (app_id, secret) = t.app();
    let p = t
        .get(
            &t.sb.config().phone_number_id.clone(),
            &[],
            Some(&t.token()),
        )
        .await;
    assert_eq!((p.status, p.code()), (401, (190, Some(463))));
    let d = t
        .get(
            "debug_token",
            &[("input_token", &t.token())],
            Some(&format!("{app_id}|{secret}")),
        )
        .await
        .json();
    assert_eq!(d["data"]["is_valid"], false);
    assert_eq!(d["data"]["error"]["subcode"], 463);
}

#[tokio::test]
async fn without_a_waba_tokens_carry_no_target_ids_and_the_waba_is_out_of_reach() {
    let t = Http::start(OAuthConfig {
        no_waba: true,
        ..OAuthConfig::default()
    })
    .await;
    let d = t
        .get(
            "debug_token",
            &[("input_token", &t.token())],
            Some(&t.token()),
        )
        .await
        .json();
    assert!(
        d["data"]["granular_scopes"][0].get("target_ids").is_none(),
        "{d}"
    );
    let w = t
        .get(&t.sb.config().waba_id.clone(), &[], Some(&t.token()))
        .await;
    assert_eq!(w.code(), (100, Some(33)));
}

#[tokio::test]
async fn subscribed_apps_lists_subscribes_and_unsubscribes_the_app() {
    let t = Http::start(OAuthConfig {
        app_subscribed: false,
        ..OAuthConfig::default()
    })
    .await;
    let path = format!("{}/subscribed_apps", t.sb.config().waba_id);
    assert_eq!(
        t.get(&path, &[], Some(&t.token())).await.json(),
        json!({"data": []})
    );
    let post = t
        .send(t.client.post(t.url(&path, &[])).bearer_auth(t.token()))
        .await;
    assert_eq!(post.json(), json!({"success": true}));
    let list = t.get(&path, &[], Some(&t.token())).await.json();
    assert_eq!(
        list["data"][0]["whatsapp_business_api_data"]["id"],
        t.sb.config().oauth.app_id.as_str()
    );
    let del = t
        .send(t.client.delete(t.url(&path, &[])).bearer_auth(t.token()))
        .await;
    assert_eq!(del.json(), json!({"success": true}));
    assert_eq!(
        t.get(&path, &[], Some(&t.token())).await.json(),
        json!({"data": []})
    );
}

#[tokio::test]
async fn a_second_phone_number_is_listed_after_the_first_and_readable() {
    let t = Http::start(OAuthConfig {
        second_phone_number: Some(SandboxPhoneNumber {
            id: "109876543210987".into(),
            display_phone_number: "+1 555-010-2000".into(),
            verified_name: "Support".into(),
        }),
        ..OAuthConfig::default()
    })
    .await;
    let list = t
        .get(
            &format!("{}/phone_numbers", t.sb.config().waba_id),
            &[("fields", "id,display_phone_number")],
            Some(&t.token()),
        )
        .await
        .json();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [t.sb.config().phone_number_id.as_str(), "109876543210987"]
    );
    assert!(
        list["data"][1].get("verified_name").is_none(),
        "fields are honoured"
    );
    let node = t.get("109876543210987", &[], Some(&t.token())).await.json();
    assert_eq!(node["verified_name"], "Support");
}

#[tokio::test]
async fn recorded_requests_hide_secret_query_parameters_in_debug_output() {
    let t = Http::start(OAuthConfig::default()).await;
    t.exchange("AQcode-canary-1", REDIRECT, "secret-canary-2")
        .await;
    t.get(
        "debug_token",
        &[("input_token", "input-canary-3")],
        Some("auth-canary-4"),
    )
    .await;
    let text = format!("{:?}", t.sb.requests());
    for canary in [
        "code-canary-1",
        "secret-canary-2",
        "input-canary-3",
        "auth-canary-4",
    ] {
        assert!(!text.contains(canary), "{canary} in {text}");
    }
    assert!(text.contains("client_secret=<redacted>"), "{text}");
}
