//! `host-harness tools`: the component's tool descriptors as JSON.

use std::path::Path;
use std::process::ExitCode;

use whatsapp_host::Harness;
use whatsapp_host::runtime::ComponentSource;
use whatsapp_host::settings::Settings;

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
) -> anyhow::Result<Harness> {
    let settings = Settings::load(config)?;
    Harness::builder(settings)
        .component(component)
        .in_memory_state()
        .build()
        .await
}
