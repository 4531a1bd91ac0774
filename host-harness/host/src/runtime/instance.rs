//! What one call's store holds and what its instance may import: sandboxed
//! WASI, a memory limiter, and a view of each capability.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Result};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::guest_log::GuestLog;
use crate::caps::config::ConfigView;
use crate::caps::http::{HttpCall, HttpView};
use crate::caps::kv::KvView;
use crate::caps::media::MediaView;
use crate::caps::vault::{VaultCall, VaultView};
use crate::caps::{self, Capabilities};

/// A memory growth the store refused; surfaces as this call's error.
#[derive(Debug, thiserror::Error)]
#[error("the component exceeded its memory limit of {limit} bytes (asked for {desired})")]
pub(crate) struct MemoryLimitExceeded {
    limit: usize,
    desired: usize,
}

/// Refuses memory growth past the call's limit, with an error that names it.
pub(crate) struct Limiter {
    memory_bytes: usize,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        if desired > self.memory_bytes {
            return Err(MemoryLimitExceeded {
                limit: self.memory_bytes,
                desired,
            }
            .into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The data of one call's store: WASI, the resource table (open credential
/// handles), the limiter, the shared capabilities and what this call has
/// used of them.
pub(crate) struct CallData {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    caps: Arc<Capabilities>,
    vault: VaultCall,
    pub(crate) http: HttpCall,
}

impl CallData {
    pub(crate) fn new(caps: Arc<Capabilities>, memory_bytes: usize, deadline: Instant) -> CallData {
        // No preopens, no environment, no arguments, no sockets, no stdin;
        // stdout and stderr go to the log.
        let wasi = WasiCtx::builder()
            .stdout(GuestLog)
            .stderr(GuestLog)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        CallData {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter { memory_bytes },
            caps,
            vault: VaultCall::default(),
            http: HttpCall::new(deadline),
        }
    }

    fn vault(&mut self) -> VaultView<'_> {
        VaultView {
            vault: &self.caps.vault,
            table: &mut self.table,
            call: &mut self.vault,
        }
    }

    fn http(&mut self) -> HttpView<'_> {
        HttpView {
            http: &self.caps.http,
            vault: &self.caps.vault,
            table: &mut self.table,
            call: &mut self.http,
        }
    }

    fn media(&mut self) -> MediaView<'_> {
        MediaView {
            media: &self.caps.media,
            table: &mut self.table,
            call: &mut self.http,
        }
    }

    fn config(&mut self) -> ConfigView<'_> {
        ConfigView {
            settings: &self.caps.config,
        }
    }

    fn kv(&mut self) -> KvView<'_> {
        KvView {
            store: &self.caps.state,
        }
    }
}

impl WasiView for CallData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wasmtime_wasi_io::IoView for CallData {
    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

/// Everything a component may import: the connector's capabilities and the
/// WASI 0.2 interfaces a Rust std guest needs, and nothing that reaches
/// outside: no filesystem, no sockets, no HTTP but ours.
pub(crate) fn linker(engine: &Engine) -> anyhow::Result<Linker<CallData>> {
    let mut linker = Linker::new(engine);
    link_wasi(&mut linker)?;
    caps::vault::add_to_linker(&mut linker, CallData::vault)?;
    caps::http::add_to_linker(&mut linker, CallData::http)?;
    caps::media::add_to_linker(&mut linker, CallData::media)?;
    caps::config::add_to_linker(&mut linker, CallData::config)?;
    caps::kv::add_to_linker(&mut linker, CallData::kv)?;
    Ok(linker)
}

fn link_wasi(linker: &mut Linker<CallData>) -> anyhow::Result<()> {
    use wasmtime_wasi::cli::WasiCli;
    use wasmtime_wasi::clocks::WasiClocks;
    use wasmtime_wasi::p2::bindings::{cli, clocks, random};
    use wasmtime_wasi::random::WasiRandom;
    use wasmtime_wasi::{cli::WasiCliView as _, clocks::WasiClocksView as _};

    wasmtime_wasi_io::add_to_linker_async(linker)?;
    let l = linker;
    clocks::wall_clock::add_to_linker::<CallData, WasiClocks>(l, CallData::clocks)?;
    clocks::monotonic_clock::add_to_linker::<CallData, WasiClocks>(l, CallData::clocks)?;
    random::random::add_to_linker::<CallData, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure::add_to_linker::<CallData, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<CallData, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    cli::exit::add_to_linker::<CallData, WasiCli>(l, CallData::cli)?;
    cli::environment::add_to_linker::<CallData, WasiCli>(l, CallData::cli)?;
    cli::stdin::add_to_linker::<CallData, WasiCli>(l, CallData::cli)?;
    cli::stdout::add_to_linker::<CallData, WasiCli>(l, CallData::cli)?;
    cli::stderr::add_to_linker::<CallData, WasiCli>(l, CallData::cli)?;
    cli::terminal_input::add_to_linker::<CallData, WasiCli>(l, CallData::cli)?;
    cli::terminal_output::add_to_linker::<CallData, WasiCli>(l, CallData::cli)?;
    cli::terminal_stdin::add_to_linker::<CallData, WasiCli>(l, CallData::cli)?;
    cli::terminal_stdout::add_to_linker::<CallData, WasiCli>(l, CallData::cli)?;
    cli::terminal_stderr::add_to_linker::<CallData, WasiCli>(l, CallData::cli)?;
    Ok(())
}
