//! Proofs that the access token never leaves the host: not into the
//! component's memory, not into results or errors, not into logs.

use std::process::Command;

use serde_json::{Value, json};
use whatsapp_host::caps::vault::{self, Credential, Kind, Secret, Vault};
use whatsapp_host::tool::ErrorKind;
use whatsapp_sandbox::{Sandbox, SandboxConfig};

use crate::common::{CUSTOMER, Env};

/// A realistic call of each tool.
fn every_tool_call() -> Vec<(&'static str, Value)> {
    vec![
        ("whatsapp_get_business_profile", json!({})),
        (
            "whatsapp_update_business_profile",
            json!({"about": "Open late"}),
        ),
        ("whatsapp_list_templates", json!({"limit": 5})),
        (
            "whatsapp_create_template",
            json!({"name": "canary_template", "language": "en_US", "category": "UTILITY",
                   "components": [{"type": "BODY", "text": "Your code is {{1}}.", "example": {"body_text": [["1234"]]}}]}),
        ),
        (
            "whatsapp_send_template",
            json!({"to": CUSTOMER, "name": "hello_world", "language": "en_US"}),
        ),
        (
            "whatsapp_send_message",
            json!({"to": CUSTOMER, "text": "canary-text-8f3a"}),
        ),
        (
            "whatsapp_send_media",
            json!({"to": CUSTOMER, "media_type": "image", "link": "https://example.com/a.png"}),
        ),
        (
            "whatsapp_get_message_status",
            json!({"message_id": "wamid.unknown"}),
        ),
        (
            "whatsapp_delete_template",
            json!({"name": "canary_template"}),
        ),
        ("whatsapp_list_conversations", json!({})),
        ("whatsapp_get_messages", json!({"customer": CUSTOMER})),
        (
            "whatsapp_mark_as_read",
            json!({"customer": CUSTOMER, "message_id": "wamid.unknown", "typing_indicator": true}),
        ),
        (
            "whatsapp_send_reaction",
            json!({"to": CUSTOMER, "message_id": "wamid.unknown", "emoji": "👍"}),
        ),
    ]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn the_token_is_never_in_the_component_memory_after_any_tool() {
    let env = Env::builder()
        .settings(|s| {
            s.runtime.inspect_memory = true;
            s.inbox.enabled = true;
        })
        .start()
        .await;
    env.sandbox.simulate_inbound(CUSTOMER, "hi");
    let token = env.token();
    let mut tools_seen = std::collections::BTreeSet::new();
    for (tool, args) in every_tool_call() {
        let (result, memories) = env
            .harness
            .runtime()
            .call_tool_capturing_memory(tool, &args.to_string())
            .await;
        assert!(
            !memories.is_empty(),
            "{tool}: the instance's memory was captured"
        );
        for memory in &memories {
            assert!(
                !contains(memory, token.as_bytes()),
                "{tool}: the token is in the component's memory"
            );
        }
        if tool == "whatsapp_send_message" {
            // The scan works: what the component did see is found.
            assert!(
                memories.iter().any(|m| contains(m, b"canary-text-8f3a")),
                "the scan must find the text argument"
            );
        }
        let text = match &result {
            Ok(v) => v.to_string(),
            Err(e) => serde_json::to_string(e).unwrap(),
        };
        assert!(!text.contains(&token), "{tool}: the token is in the result");
        tools_seen.insert(tool);
    }
    assert_eq!(tools_seen.len(), env.harness.runtime().tools().len());
    // Every call was authorised by the host all the same.
    assert!(
        env.requests()
            .iter()
            .all(|r| r.header("authorization") == Some(format!("Bearer {token}").as_str()))
    );
}

#[tokio::test]
async fn errors_and_rejections_carry_no_token() {
    let env = Env::new().await;
    let token = env.token();
    env.sandbox.set_token_expired(true);
    for (tool, args) in every_tool_call() {
        if let Err(e) = env.call(tool, args).await {
            let all = format!("{} {}", serde_json::to_string(&e).unwrap(), e.one_line());
            assert!(!all.contains(&token), "{tool}: {all}");
        }
    }
}

#[tokio::test]
async fn a_token_without_a_required_scope_is_refused_before_any_instance_or_request() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let mut settings = whatsapp_host::config::Settings::default();
    let mut secrets = whatsapp_host::config::EnvSecrets::default();
    settings.point_at(
        host_harness::commands::sandbox::endpoint(&sandbox),
        &mut secrets,
    );
    settings.runtime.cache_dir = Some(crate::common::cache_dir());
    let vault = std::sync::Arc::new(Vault::new(whatsapp_host::config::default_grants()));
    vault.insert(Credential {
        name: vault::ACCESS_TOKEN.into(),
        kind: Kind::AccessToken,
        secret: Secret::new(sandbox.config().access_token.clone()),
        bindings: vec![settings.token_binding().unwrap()],
        scopes: vec!["whatsapp_business_messaging".into()],
        expires_at: None,
    });
    let harness = whatsapp_host::Connector::builder(settings)
        .secrets(secrets)
        .vault(vault)
        .build()
        .await
        .unwrap();
    // The scope check is the gateway's: the runtime runs what reaches it.
    let runtime = harness.runtime();
    let gateway = whatsapp_host::gateway::Gateway::open(runtime.clone());
    let before = runtime.instances_created();
    let e = gateway
        .call_tool("default", "whatsapp_list_templates", "{}")
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Denied);
    assert!(e.details.contains("whatsapp_business_management"), "{e:?}");
    assert!(e.hint.contains("connect"), "{e:?}");
    assert_eq!(
        runtime.instances_created(),
        before,
        "no instance for a refused call"
    );
    assert!(sandbox.requests().is_empty());
    // A tool within the granted scope runs.
    gateway
        .call_tool(
            "default",
            "whatsapp_send_template",
            &json!({"to": CUSTOMER, "name": "hello_world", "language": "en_US"}).to_string(),
        )
        .await
        .unwrap();
}

/// Runs the real binary with the most verbose logging against a sandbox
/// whose token we know, and searches everything it wrote.
#[tokio::test]
async fn the_token_never_appears_in_the_binary_output_at_trace_level() {
    let token = "EAAG-canary-token-b7e1c9";
    let sandbox = Sandbox::start(SandboxConfig {
        access_token: token.into(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    sandbox.simulate_inbound(CUSTOMER, "hi");
    let cache = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("binary-cache");
    let no_vault = cache.join("no-vault.json");
    // Compile once quietly: Cranelift at trace level writes gigabytes.
    let warm = Command::new(env!("CARGO_BIN_EXE_host-harness"))
        .args(["tools"])
        .env("XDG_CACHE_HOME", &cache)
        .env("WHATSAPP_VAULT_PATH", &no_vault)
        .output()
        .unwrap();
    assert!(warm.status.success());
    for (tool, args) in every_tool_call() {
        let (cache, no_vault) = (cache.clone(), no_vault.clone());
        let sandbox_url = sandbox.base_url();
        let cfg = sandbox.config().clone();
        let output = tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_host-harness"))
                .args(["--log", "trace", "call", tool, "--args", &args.to_string()])
                .env("WHATSAPP_ACCESS_TOKEN", token)
                .env("WHATSAPP_API_BASE_URL", sandbox_url)
                .env("WHATSAPP_PHONE_NUMBER_ID", cfg.phone_number_id)
                .env("WHATSAPP_WABA_ID", cfg.waba_id)
                .env("WHATSAPP_STATE_PATH", ":memory:")
                .env("WHATSAPP_VAULT_PATH", &no_vault)
                .env("XDG_CACHE_HOME", cache)
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let all = [output.stdout.as_slice(), output.stderr.as_slice()].concat();
        assert!(!all.is_empty());
        assert!(
            !contains(&all, token.as_bytes()),
            "{tool}: the token is in the output:\n{}",
            String::from_utf8_lossy(&all)
        );
    }
    let last = sandbox.requests().pop().unwrap();
    assert_eq!(
        last.header("authorization"),
        Some(format!("Bearer {token}").as_str()),
        "the calls were authorised"
    );
    assert!(sandbox.requests().len() >= 8);
}
