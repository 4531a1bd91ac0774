use super::config_file::{set_whatsapp_ids, write_ids};
use super::errors::{ConnectError, code_exchange_error};
use super::redirect::{
    Callback, authorization_url, bind, check_callback, printable, random_state, receive_code,
};
use crate::graph_admin::AdminError;
use whatsapp_host::config::Settings;

fn cb(pairs: &[(&str, &str)]) -> Callback {
    Callback {
        params: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

#[test]
fn the_authorization_url_asks_for_both_scopes_or_a_configuration() {
    let url = authorization_url(
        "https://www.facebook.com",
        "v23.0",
        "123",
        "http://127.0.0.1:8976/callback",
        "s1",
        None,
    )
    .unwrap();
    assert_eq!(
        url.as_str(),
        "https://www.facebook.com/v23.0/dialog/oauth?client_id=123&redirect_uri=http%3A%2F%2F127.0.0.1%3A8976%2Fcallback&state=s1&scope=whatsapp_business_management%2Cwhatsapp_business_messaging&response_type=code"
    );
    let url = authorization_url("http://127.0.0.1:9/", "v23.0", "1", "r", "s", Some("77")).unwrap();
    assert!(url.as_str().contains("config_id=77"));
    assert!(!url.as_str().contains("scope="));
}

#[test]
fn states_are_random_and_long() {
    let (a, b) = (random_state(), random_state());
    assert_ne!(a, b);
    assert_eq!(a.len(), 48);
}

#[test]
fn the_callback_needs_our_state_and_names_a_denial() {
    assert!(check_callback(&cb(&[("code", "c"), ("state", "s")]), "s").is_ok());
    assert!(matches!(
        check_callback(&cb(&[("code", "c"), ("state", "x")]), "s"),
        Err(ConnectError::StateMismatch)
    ));
    assert!(matches!(
        check_callback(&cb(&[("code", "c")]), "s"),
        Err(ConnectError::StateMismatch)
    ));
    let denied = check_callback(
        &cb(&[
            ("error", "access_denied"),
            ("error_reason", "user_denied"),
            ("error_description", "Permissions error"),
            ("state", "s"),
        ]),
        "s",
    )
    .unwrap_err();
    assert!(matches!(denied, ConnectError::ConsentDenied { .. }));
    assert!(denied.to_string().contains("user_denied"), "{denied}");
    assert!(matches!(
        check_callback(&cb(&[("state", "s")]), "s"),
        Err(ConnectError::NoCode)
    ));
}

#[test]
fn code_exchange_errors_are_told_apart() {
    let graph = |sub: Option<i64>, msg: &str| AdminError::Graph {
        call: "x",
        status: 400,
        code: 100,
        subcode: sub,
        message: msg.into(),
    };
    assert!(matches!(
        code_exchange_error(graph(Some(36007), "x")),
        ConnectError::CodeExpired(_)
    ));
    assert!(matches!(
        code_exchange_error(graph(None, "This authorization code has been used.")),
        ConnectError::CodeReused(_)
    ));
    assert!(matches!(
        code_exchange_error(graph(Some(36008), "x")),
        ConnectError::RedirectMismatch(_)
    ));
}

#[test]
fn the_ids_land_in_the_whatsapp_table_and_the_rest_is_kept() {
    let text = "# my config\n[whatsapp]\napi_version = \"v23.0\" # pinned\nwaba_id = \"1\"\n\n[state]\npath = \":memory:\"\n";
    let out = set_whatsapp_ids(text, "22", "33");
    assert_eq!(
        out,
        "# my config\n[whatsapp]\napi_version = \"v23.0\" # pinned\nwaba_id = \"22\"\nphone_number_id = \"33\"\n\n[state]\npath = \":memory:\"\n"
    );
    let s: Settings = toml::from_str(&out).unwrap();
    assert_eq!(s.state.url, ":memory:");
    let out = set_whatsapp_ids("[state]\npath = \"x\"\n", "22", "33");
    let s: Settings = toml::from_str(&out).unwrap();
    assert_eq!(s.whatsapp.waba_id.as_deref(), Some("22"));
    assert_eq!(s.whatsapp.phone_number_id.as_deref(), Some("33"));
    assert_eq!(s.state.url, "x");
    let s: Settings = toml::from_str(&set_whatsapp_ids("", "1", "2")).unwrap();
    assert_eq!(s.whatsapp.phone_number_id.as_deref(), Some("2"));
}

#[test]
fn writing_ids_creates_or_updates_the_file_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    write_ids(&path, "5", "6").unwrap();
    write_ids(&path, "7", "6").unwrap();
    let s: Settings = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(s.whatsapp.waba_id.as_deref(), Some("7"));
    assert_eq!(s.whatsapp.phone_number_id.as_deref(), Some("6"));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temp file left"
    );
}

/// Starts the callback listener for `state` and returns its URL and the
/// flow's outcome.
async fn listen(
    state: &'static str,
    timeout_ms: u64,
) -> (
    String,
    tokio::task::JoinHandle<Result<whatsapp_host::caps::vault::Secret, ConnectError>>,
) {
    whatsapp_host::install_crypto_provider();
    let (listener, uri) = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let flow = tokio::spawn(async move {
        receive_code(
            listener,
            state,
            std::time::Duration::from_millis(timeout_ms),
            || {},
        )
        .await
    });
    (uri, flow)
}

#[tokio::test]
async fn requests_without_the_flows_state_get_an_error_page_and_the_flow_keeps_waiting() {
    let (uri, flow) = listen("our-state", 60_000).await;
    let client = reqwest::Client::new();
    for query in [
        "error=access_denied&error_description=gotcha",
        "error=access_denied&state=another",
        "code=stolen&state=another",
        "code=no-state",
    ] {
        let page = client.get(format!("{uri}?{query}")).send().await.unwrap();
        assert_eq!(page.status(), 400, "{query}");
        assert!(page.text().await.unwrap().contains("ignored"), "{query}");
        assert!(!flow.is_finished(), "{query} ended the flow");
    }
    let page = client
        .get(format!("{uri}?code=the-code&state=our-state"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let code = flow
        .await
        .unwrap()
        .expect("the flow takes its own redirect");
    assert_eq!(code.expose(), b"the-code");
}

#[tokio::test]
async fn only_foreign_requests_until_the_timeout_end_in_a_timeout() {
    let (uri, flow) = listen("our-state", 1_500).await;
    let page = reqwest::get(format!("{uri}?error=access_denied"))
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    assert!(matches!(flow.await.unwrap(), Err(ConnectError::Timeout(_))));
}

#[tokio::test]
async fn texts_from_the_callback_reach_the_terminal_without_control_characters() {
    let (uri, flow) = listen("our-state", 60_000).await;
    let hostile = "\u{1b}]0;owned\u{7}\u{1b}[2J\rfake prompt\u{202e}txt.exe\u{9b}31m";
    let url = url::Url::parse_with_params(
        &uri,
        [
            ("error", "access_denied"),
            ("error_reason", hostile),
            ("error_description", hostile),
            ("state", "our-state"),
        ],
    )
    .unwrap();
    let page = reqwest::get(url).await.unwrap();
    assert_eq!(page.status(), 200);
    let message = flow.await.unwrap().unwrap_err().to_string();
    assert!(message.contains("fake prompt"), "{message}");
    assert!(
        !message.chars().any(|c| c.is_control() || c == '\u{202e}'),
        "{message:?}"
    );
}

#[test]
fn printable_text_is_bounded_and_keeps_ordinary_characters() {
    assert_eq!(
        printable("Permissions error: déjà vu"),
        "Permissions error: déjà vu"
    );
    assert_eq!(printable("a\nb\u{1b}[31mc"), "ab[31mc");
    let long = printable(&"x".repeat(1000));
    assert_eq!(long.chars().count(), 301);
}
