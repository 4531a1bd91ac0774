//! A hostile component (tests/hostile-guest) against the real host: the
//! token never leaves for another origin, limits stop runaway guests, and the
//! host keeps serving afterwards.

use serde_json::{Value, json};
use whatsapp_host::caps::vault::Secret;
use whatsapp_host::tool::ErrorKind;

use crate::common::{Env, EnvBuilder, Recorder, hostile_component};

const APP_SECRET: &str = "app-secret-value";

fn hostile() -> EnvBuilder {
    Env::builder()
        .component(hostile_component())
        .settings(|s| {
            s.runtime.call_timeout_ms = 700;
            s.runtime.memory_limit_mib = 16;
        })
        .secrets(|s| s.app_secret = Some(Secret::new(APP_SECRET)))
}

/// The http error the hostile tool reported, or "" if the request went through.
fn http_error(result: &Value) -> String {
    result
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn no_request_carried_the_token(env: &Env) {
    let token = env.token();
    for r in env.requests() {
        assert!(
            !r.headers.iter().any(|(_, v)| v.contains(&token)),
            "the sandbox got the token on {} {}",
            r.method,
            r.path
        );
    }
}

#[tokio::test]
async fn the_token_is_not_sent_to_an_origin_outside_the_allowlist() {
    let evil = Recorder::start(None).await;
    let env = hostile().start().await;
    let result = env
        .call(
            "exfiltrate",
            json!({"url": format!("{}/v23.0/steal", evil.base_url)}),
        )
        .await
        .unwrap();
    assert!(http_error(&result).contains("Denied"), "{result}");
    assert!(evil.seen().is_empty(), "nothing may reach the other server");
}

#[tokio::test]
async fn the_token_is_not_sent_to_an_allowlisted_origin_it_is_not_bound_to() {
    let evil = Recorder::start(None).await;
    let evil_origin = evil.base_url.clone();
    let env = hostile()
        .settings(move |s| s.http.extra_allowed_origins = vec![evil_origin])
        .start()
        .await;
    let url = format!("{}/v23.0/steal", evil.base_url);
    let with_token = env.call("exfiltrate", json!({"url": url})).await.unwrap();
    assert!(
        http_error(&with_token).contains("not bound"),
        "{with_token}"
    );
    assert!(evil.seen().is_empty());
}

#[tokio::test]
async fn look_alike_hosts_ports_schemes_and_paths_get_no_token() {
    let env = hostile().start().await;
    let port = env.sandbox.addr().port();
    let look_alikes = [
        // Same server by another name: still another origin.
        format!("http://localhost:{port}/v23.0/x"),
        format!("http://127.0.0.1.evil.test:{port}/v23.0/x"),
        format!("https://127.0.0.1:{port}/v23.0/x"),
        format!("http://127.0.0.1:{}/v23.0/x", port.wrapping_add(1)),
        // Right origin, outside the bound path prefix.
        format!("http://127.0.0.1:{port}/oauth/access_token"),
        format!("http://127.0.0.1:{port}/v23.0/../debug_token"),
        format!("http://user:pw@127.0.0.1:{port}/v23.0/x"),
    ];
    for url in &look_alikes {
        let result = env.call("exfiltrate", json!({"url": url})).await.unwrap();
        let error = http_error(&result);
        assert!(
            error.contains("Denied") || error.contains("InvalidRequest"),
            "{url}: {result}"
        );
    }
    assert!(
        env.requests().is_empty(),
        "no look-alike reached the sandbox: {:?}",
        env.requests()
    );
}

#[tokio::test]
async fn the_bound_origin_gets_the_token_added_by_the_host() {
    let env = hostile().start().await;
    let url = format!(
        "{}/v23.0/{}/whatsapp_business_profile",
        env.sandbox.base_url(),
        env.phone_number_id()
    );
    let result = env.call("exfiltrate", json!({"url": url})).await.unwrap();
    assert_eq!(result["status"], 200, "{result}");
    let requests = env.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Bearer {}", env.token()).as_str())
    );
    assert!(
        !result.to_string().contains(&env.token()),
        "the response body carries no token"
    );
}

#[tokio::test]
async fn a_redirect_is_returned_not_followed() {
    let evil = Recorder::start(None).await;
    let redirector = Recorder::start(Some(format!("{}/v23.0/steal", evil.base_url))).await;
    let redirector_url = redirector.base_url.clone();
    let evil_origin = evil.base_url.clone();
    let env = hostile()
        .settings(move |s| {
            s.whatsapp.api_base_url = redirector_url;
            s.http.extra_allowed_origins = vec![evil_origin];
        })
        .start()
        .await;
    let result = env
        .call(
            "exfiltrate",
            json!({"url": format!("{}/v23.0/redirect", redirector.base_url)}),
        )
        .await
        .unwrap();
    assert_eq!(result["status"], 302, "{result}");
    assert_eq!(redirector.seen().len(), 1);
    assert!(
        evil.seen().is_empty(),
        "the redirect target was never contacted"
    );
}

#[tokio::test]
async fn a_component_supplied_authorization_header_is_refused() {
    let env = hostile().start().await;
    let url = format!("{}/v23.0/x", env.sandbox.base_url());
    let result = env
        .call("own_authorization", json!({"url": url}))
        .await
        .unwrap();
    assert!(http_error(&result).contains("InvalidRequest"), "{result}");
    assert!(http_error(&result).contains("Authorization"), "{result}");
    assert!(env.requests().is_empty());
}

#[tokio::test]
async fn credentials_not_granted_cannot_be_opened() {
    let env = hostile().start().await;
    for name in ["github", "aws", "admin", ""] {
        let result = env
            .call("open_credential", json!({"name": name}))
            .await
            .unwrap();
        assert!(
            http_error(&result).contains("NotGranted"),
            "{name}: {result}"
        );
    }
    // A granted one opens and exposes only metadata.
    let result = env
        .call("open_credential", json!({"name": "whatsapp"}))
        .await
        .unwrap();
    assert_eq!(result["opened"], "whatsapp");
    no_request_carried_the_token(&env);
}

#[tokio::test]
async fn secret_operations_return_a_mac_never_the_secret() {
    use hmac::{Hmac, Mac};
    let env = hostile().start().await;
    let result = env.call("sign", json!({})).await.unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(b"payload");
    assert_eq!(result["mac"], hex::encode(mac.finalize().into_bytes()));
    assert!(!result.to_string().contains(APP_SECRET));
}

#[tokio::test]
async fn an_infinite_loop_is_stopped_by_the_deadline_and_the_next_call_works() {
    let env = hostile().start().await;
    // Without the deadline the call never returns; the outer bound only turns
    // that hang into a failure (it is not a speed target).
    let err = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        env.call("spin", json!({})),
    )
    .await
    .expect("the call deadline stops an infinite loop")
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout, "{err:?}");
    let ok = env.call("echo_size", json!({})).await.unwrap();
    assert_eq!(ok["bytes"], 2);
}

#[tokio::test]
async fn unbounded_allocation_hits_the_memory_limit_and_the_next_call_works() {
    let env = hostile().start().await;
    let err = env.call("allocate", json!({})).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::ComponentFailure, "{err:?}");
    assert!(err.details.contains("memory limit"), "{err:?}");
    assert!(env.call("echo_size", json!({})).await.is_ok());
}

#[tokio::test]
async fn a_multi_megabyte_argument_is_handled_and_an_oversized_one_refused() {
    let env = hostile().start().await;
    let big = "x".repeat(3 << 20);
    let ok = env.call("echo_size", json!({ "blob": big })).await.unwrap();
    assert_eq!(ok["bytes"], (3 << 20) + 11);
    let huge = "x".repeat(5 << 20);
    let err = env
        .call("echo_size", json!({ "blob": huge }))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArguments);
    assert_eq!(err.field.as_deref(), Some("arguments"));
    assert!(env.call("echo_size", json!({})).await.is_ok());
}

#[tokio::test]
async fn many_concurrent_calls_run_in_isolated_instances() {
    let env = std::sync::Arc::new(hostile().start().await);
    let before = env.harness.runtime().instances_created();
    let calls: Vec<_> = (0..40)
        .map(|i| {
            let env = env.clone();
            tokio::spawn(async move {
                let arg = "y".repeat(i);
                env.call("echo_size", json!({ "a": arg })).await.unwrap()["bytes"]
                    .as_u64()
                    .unwrap()
            })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.unwrap(), 8 + i as u64);
    }
    assert_eq!(
        env.harness.runtime().instances_created() - before,
        40,
        "one instance per call"
    );
}
