//! `host-harness tools`: the component's tool descriptors as JSON.

use std::path::Path;
use std::process::ExitCode;

use whatsapp_host::Connector;
use whatsapp_host::config::Settings;
use whatsapp_host::runtime::ComponentSource;

/// Prints the descriptors (name, title, description, schemas, annotations).
pub async fn run(config: Option<&Path>, component: ComponentSource) -> anyhow::Result<ExitCode> {
    let harness = inspection_harness(config, component).await?;
    println!(
        "{}",
        serde_json::to_string_pretty(harness.runtime().tools())?
    );
    Ok(ExitCode::SUCCESS)
}

/// The component loaded to read its tools, with its state in memory so that
/// looking leaves nothing on disk.
pub(crate) async fn inspection_harness(
    config: Option<&Path>,
    component: ComponentSource,
) -> anyhow::Result<Connector> {
    let settings = Settings::load(config)?;
    Connector::builder(settings)
        .component(component)
        .in_memory_state()
        .build()
        .await
}
