//! `host-harness tools`: the component's tool descriptors as JSON.

use std::path::Path;
use std::process::ExitCode;

use whatsapp_host::Harness;
use whatsapp_host::runtime::ComponentSource;
use whatsapp_host::settings::Settings;

/// Prints the descriptors (name, title, description, schemas, annotations).
pub async fn run(config: Option<&Path>, component: ComponentSource) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(config)?;
    let harness = Harness::builder(settings)
        .component(component)
        .in_memory_state()
        .build()
        .await?;
    println!(
        "{}",
        serde_json::to_string_pretty(harness.runtime().tools())?
    );
    Ok(ExitCode::SUCCESS)
}
