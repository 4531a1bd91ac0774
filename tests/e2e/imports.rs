//! What the built component can reach: only the host's narrow interfaces
//! and sandbox-safe WASI, read from the component's type by wasmtime.

use crate::common::Env;

#[tokio::test]
async fn the_component_imports_nothing_that_reaches_the_world_except_our_http_and_media() {
    let env = Env::new().await;
    let imports = env.harness.runtime().imports();
    for forbidden in ["wasi:sockets", "wasi:http", "wasi:filesystem"] {
        assert!(
            !imports.iter().any(|i| i.starts_with(forbidden)),
            "{forbidden} is imported: {imports:?}"
        );
    }
    for ours in ["vault", "http", "media", "config", "kv"] {
        let name = format!("whatsapp:connector/{ours}@0.1.0");
        assert!(imports.contains(&name), "{name} missing from {imports:?}");
    }
    let allowed = [
        "whatsapp:connector/",
        "wasi:cli/",
        "wasi:io/",
        "wasi:clocks/",
        "wasi:random/",
    ];
    for import in &imports {
        assert!(
            allowed.iter().any(|p| import.starts_with(p)),
            "unexpected import {import}"
        );
    }
}
