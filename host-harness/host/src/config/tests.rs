use std::collections::BTreeMap;

use super::whatsapp::DEFAULT_API_BASE_URL;
use super::*;
use crate::webhook_endpoint::DEFAULT_MAX_BODY_BYTES;

#[test]
fn environment_overrides_the_file() {
    let mut s: Settings =
        toml::from_str("[whatsapp]\nphone_number_id = \"1\"\napi_version = \"v22.0\"").unwrap();
    let env = BTreeMap::from([
        ("WHATSAPP_PHONE_NUMBER_ID", "2"),
        ("WHATSAPP_WINDOW_POLICY", "enforce"),
        ("WHATSAPP_API_BASE_URL", ""),
    ]);
    s.apply_env(|k| env.get(k).map(|v| v.to_string())).unwrap();
    assert_eq!(s.whatsapp.phone_number_id.as_deref(), Some("2"));
    assert_eq!(s.whatsapp.api_version, "v22.0");
    assert_eq!(s.whatsapp.window_policy, WindowPolicy::Enforce);
    assert_eq!(
        s.whatsapp.api_base_url, DEFAULT_API_BASE_URL,
        "empty values are ignored"
    );
}

#[test]
fn unknown_keys_and_bad_values_are_rejected_with_the_setting_named() {
    let err = toml::from_str::<Settings>("[whatsapp]\nphone_id = \"1\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("phone_id"), "{err}");
    let mut s = Settings::default();
    s.whatsapp.api_version = "23".into();
    assert!(s.validate().unwrap_err().to_string().contains("v23.0"));
    let mut s = Settings::default();
    s.whatsapp.waba_id = Some("abc".into());
    assert!(s.validate().unwrap_err().to_string().contains("waba_id"));
    let mut s = Settings::default();
    assert!(
        s.apply_env(|k| (k == "WHATSAPP_WINDOW_POLICY").then(|| "strict".into()))
            .is_err()
    );
}

#[test]
fn the_token_is_bound_to_the_versioned_api_path() {
    let mut s = Settings::default();
    s.whatsapp.api_base_url = "http://127.0.0.1:9000/".into();
    let b = s.token_binding().unwrap();
    assert_eq!(b.to_string(), "http://127.0.0.1:9000/v23.0/");
}

#[test]
fn the_mcp_section_sets_the_session_cap_and_idle_timeout_with_checked_values() {
    let d = Settings::default();
    assert_eq!(d.mcp.max_sessions, 1000);
    assert_eq!(d.mcp.session_idle_secs, 300);
    let s: Settings = toml::from_str("[mcp]\nmax_sessions = 20\nsession_idle_secs = 60").unwrap();
    let limits = crate::mcp::SessionLimits::from(&s.mcp);
    assert_eq!(limits.max_sessions, 20);
    assert_eq!(limits.idle, std::time::Duration::from_secs(60));
    let mut s = Settings::default();
    let env = BTreeMap::from([
        ("WHATSAPP_MCP_MAX_SESSIONS", "5"),
        ("WHATSAPP_MCP_SESSION_IDLE_SECS", "30"),
    ]);
    s.apply_env(|k| env.get(k).map(|v| v.to_string())).unwrap();
    assert_eq!((s.mcp.max_sessions, s.mcp.session_idle_secs), (5, 30));
    let err = s
        .apply_env(|k| (k == "WHATSAPP_MCP_MAX_SESSIONS").then(|| "many".into()))
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("WHATSAPP_MCP_MAX_SESSIONS"),
        "{err:#}"
    );
    for (toml, field) in [
        ("[mcp]\nmax_sessions = 0", "mcp.max_sessions"),
        ("[mcp]\nsession_idle_secs = 0", "mcp.session_idle_secs"),
    ] {
        let s: Settings = toml::from_str(toml).unwrap();
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains(field), "{err}");
    }
    let err = toml::from_str::<Settings>("[mcp]\nmax_session = 5")
        .unwrap_err()
        .to_string();
    assert!(err.contains("max_session"), "{err}");
}

#[test]
fn the_webhooks_section_of_the_settings_file_is_read() {
    let s: Settings =
        toml::from_str("[webhooks]\nlisten = \"127.0.0.1:9999\"\nmax_body_bytes = 2048").unwrap();
    assert_eq!(s.webhooks.listen, Some("127.0.0.1:9999".parse().unwrap()));
    assert_eq!(s.webhooks.max_body_bytes, 2048);
    let d = Settings::default();
    assert_eq!(d.webhooks.listen, None);
    assert_eq!(d.webhooks.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
    let mut s = Settings::default();
    s.apply_env(|k| (k == "WHATSAPP_WEBHOOK_LISTEN").then(|| "0.0.0.0:8766".into()))
        .unwrap();
    assert_eq!(s.webhooks.listen, Some("0.0.0.0:8766".parse().unwrap()));
    assert!(
        s.apply_env(|k| (k == "WHATSAPP_WEBHOOK_LISTEN").then(|| "port 80".into()))
            .is_err()
    );
}

#[test]
fn plain_http_to_a_host_that_is_not_loopback_is_refused_unless_allowed() {
    for url in [
        "http://graph.example.com",
        "http://10.0.0.5:8089",
        "http://[2001:db8::1]/",
    ] {
        let mut s = Settings::default();
        s.whatsapp.api_base_url = url.into();
        let err = s.validate().unwrap_err().to_string();
        assert!(
            err.contains("cleartext") && err.contains("allow_insecure_http"),
            "{url}: {err}"
        );
        s.apply_env(|k| (k == "WHATSAPP_ALLOW_INSECURE_HTTP").then(|| "true".into()))
            .unwrap();
        s.validate().unwrap();
    }
    for url in [
        "https://graph.facebook.com",
        "http://127.0.0.1:8089",
        "http://localhost:9",
        "http://[::1]:80",
    ] {
        let mut s = Settings::default();
        s.whatsapp.api_base_url = url.into();
        s.validate().unwrap();
    }
    let s: Settings = toml::from_str(
        "[whatsapp]\napi_base_url = \"http://10.0.0.5\"\nallow_insecure_http = true",
    )
    .unwrap();
    s.validate().unwrap();
}
