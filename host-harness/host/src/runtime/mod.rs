//! The wasmtime embedding: compile once, `InstancePre` once, and a fresh,
//! limited `Store` for every call, so calls are isolated from each other and
//! a trap, timeout or memory blow-up ends only the call that caused it.

pub mod bindings;
mod cache;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::Value;
use tokio::sync::Semaphore;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};

use crate::caps::{Capabilities, HostState, MemoryLimitExceeded};
use crate::tool::{ErrorKind, ToolDescriptor, ToolError};
use bindings::{ConnectorPre, webhooks};

/// The connector component built from this repository.
pub static EMBEDDED_COMPONENT: &[u8] = include_bytes!(env!("CONNECTOR_WASM"));

/// How often the engine's epoch advances; the unit of call deadlines.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Resource limits for each call.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Wall-clock budget of one call, outbound requests included.
    pub call_timeout: Duration,
    /// Largest linear memory an instance may grow to.
    pub memory_bytes: usize,
    /// Largest `arguments` JSON accepted for a call.
    pub max_argument_bytes: usize,
    /// Instances alive at once; further calls wait for a slot.
    pub max_instances: u32,
    /// Compile with guest debugging so tests can read every linear memory
    /// after a call (`Runtime::call_tool_capturing_memory`). Slower; tests only.
    pub inspect_memory: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            call_timeout: Duration::from_secs(30),
            memory_bytes: 64 << 20,
            max_argument_bytes: 4 << 20,
            max_instances: 256,
            inspect_memory: false,
        }
    }
}

/// Where the component comes from.
#[derive(Clone, Debug)]
pub enum ComponentSource {
    Embedded,
    File(PathBuf),
    Bytes(Vec<u8>),
}

impl ComponentSource {
    pub fn bytes(&self) -> anyhow::Result<std::borrow::Cow<'_, [u8]>> {
        Ok(match self {
            ComponentSource::Embedded => EMBEDDED_COMPONENT.into(),
            ComponentSource::File(path) => std::fs::read(path)
                .with_context(|| format!("cannot read the component at {}", path.display()))?
                .into(),
            ComponentSource::Bytes(bytes) => bytes.as_slice().into(),
        })
    }
}

/// Advances the engine epoch until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: Engine) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        EpochTicker { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A loaded connector, ready to serve calls concurrently.
pub struct Runtime {
    engine: Engine,
    pre: ConnectorPre<HostState>,
    caps: Arc<Capabilities>,
    limits: Limits,
    tools: Vec<ToolDescriptor>,
    slots: Semaphore,
    instances_created: AtomicU64,
    component_bytes: usize,
    _ticker: EpochTicker,
}

/// A live instance kept idle, for measuring memory per instance.
pub struct IdleInstance {
    _store: Store<HostState>,
    _connector: bindings::Connector,
}

/// Compiles `bytes`, or loads them from `cache_dir`, reporting which and how long.
pub fn load_component(
    limits: &Limits,
    bytes: &[u8],
    cache_dir: Option<&std::path::Path>,
) -> anyhow::Result<LoadReport> {
    let engine = engine(limits)?;
    Ok(cache::load(&engine, bytes, cache_dir)?.1)
}

/// How long loading took, for the benchmarks.
#[derive(Clone, Copy, Debug)]
pub struct LoadReport {
    pub compiled: bool,
    pub load_time: Duration,
}

pub fn engine(limits: &Limits) -> anyhow::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    let n = limits.max_instances.max(1);
    pool.total_component_instances(n)
        .total_core_instances(n * 8)
        .total_memories(n * 2)
        .total_tables(n * 4)
        .total_stacks(n)
        .max_memory_size(limits.memory_bytes);
    // Reset a finished instance's memory by rewriting only the pages it
    // touched (PAGEMAP_SCAN, Linux 6.7+; plain madvise elsewhere) instead of
    // unmapping them: no page faults on reuse and no cross-CPU TLB flushes.
    // Measured with `host-harness bench`: call overhead 78 -> 31 µs p50,
    // MCP send throughput +40%.
    pool.pagemap_scan(wasmtime::Enabled::Auto)
        .linear_memory_keep_resident(1 << 20)
        .table_keep_resident(64 << 10);
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .guest_debug(limits.inspect_memory)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Ok(Engine::new(&config)?)
}

impl Runtime {
    /// Loads `source`, using the compiled-artifact cache in `cache_dir` when given.
    pub async fn new(
        source: &ComponentSource,
        caps: Capabilities,
        limits: Limits,
        cache_dir: Option<PathBuf>,
    ) -> anyhow::Result<Runtime> {
        let engine = engine(&limits)?;
        let bytes = source.bytes()?;
        let (component, _) = cache::load(&engine, &bytes, cache_dir.as_deref())?;
        Self::with_component(engine, component, bytes.len(), caps, limits).await
    }

    pub(crate) async fn with_component(
        engine: Engine,
        component: Component,
        component_bytes: usize,
        caps: Capabilities,
        limits: Limits,
    ) -> anyhow::Result<Runtime> {
        let mut linker: Linker<HostState> = Linker::new(&engine);
        link_wasi(&mut linker)?;
        bindings::Connector::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .context(
                "the component needs imports this host does not provide (it may reach \
                      only our http, vault, config and kv, plus WASI cli, clocks, random and io)",
            )?;
        let pre = ConnectorPre::new(pre)?;
        let ticker = EpochTicker::start(engine.clone());
        let mut runtime = Runtime {
            engine,
            pre,
            caps: Arc::new(caps),
            slots: Semaphore::new(limits.max_instances as usize),
            limits,
            tools: Vec::new(),
            instances_created: AtomicU64::new(0),
            component_bytes,
            _ticker: ticker,
        };
        runtime.tools = runtime.load_descriptors().await?;
        Ok(runtime)
    }

    async fn load_descriptors(&self) -> anyhow::Result<Vec<ToolDescriptor>> {
        let (mut store, connector) = self
            .instantiate(Instant::now() + self.limits.call_timeout)
            .await?;
        let raw = connector
            .whatsapp_connector_tools()
            .call_list_tools(&mut store)
            .await
            .map_err(anyhow::Error::from)
            .context("the component failed to list its tools")?;
        raw.into_iter().map(ToolDescriptor::from_wit).collect()
    }

    async fn instantiate(
        &self,
        deadline: Instant,
    ) -> wasmtime::Result<(Store<HostState>, bindings::Connector)> {
        let mut store = Store::new(
            &self.engine,
            HostState::new(self.caps.clone(), self.limits.memory_bytes, deadline),
        );
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_trap();
        // A little slack past the deadline lets the component turn a timed-out
        // request into a proper error before the epoch stops it.
        let ticks = (deadline.saturating_duration_since(Instant::now())
            + Duration::from_millis(500))
        .as_millis()
            / EPOCH_TICK.as_millis();
        store.set_epoch_deadline(ticks as u64 + 1);
        let connector = self.pre.instantiate_async(&mut store).await?;
        self.instances_created.fetch_add(1, Ordering::Relaxed);
        Ok((store, connector))
    }

    /// Instantiates the component, runs one tool call in it, then keeps the
    /// instance alive (benchmarks: memory per live instance).
    pub async fn idle_instance(&self, tool: &str, arguments: &str) -> anyhow::Result<IdleInstance> {
        let (mut store, connector) = self
            .instantiate(Instant::now() + self.limits.call_timeout)
            .await?;
        let result = connector
            .whatsapp_connector_tools()
            .call_call_tool(&mut store, tool, arguments)
            .await?;
        anyhow::ensure!(result.is_ok(), "`{tool}` failed in the idle instance");
        Ok(IdleInstance {
            _store: store,
            _connector: connector,
        })
    }

    /// Stops taking calls: later calls fail at once with a retryable
    /// "shutting down" error; calls already running carry on.
    pub fn close(&self) {
        self.slots.close();
    }

    /// Waits until no call is running, at most `limit`; whether it got there.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let all = self.limits.max_instances as usize;
        while self.slots.available_permits() < all {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// The tools, in the component's order.
    pub fn tools(&self) -> &[ToolDescriptor] {
        &self.tools
    }

    pub fn tool(&self, name: &str) -> Option<&ToolDescriptor> {
        self.tools.iter().find(|t| t.name == name)
    }

    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Instances created so far (one per call, plus one at load).
    pub fn instances_created(&self) -> u64 {
        self.instances_created.load(Ordering::Relaxed)
    }

    /// The names of the interfaces the component imports, from its type.
    pub fn imports(&self) -> Vec<String> {
        self.pre
            .instance_pre()
            .component()
            .component_type()
            .imports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect()
    }

    pub fn component_bytes(&self) -> usize {
        self.component_bytes
    }

    /// Runs one tool call in a fresh instance.
    pub async fn call_tool(&self, name: &str, arguments: &str) -> Result<Value, ToolError> {
        self.call_tool_capturing_memory(name, arguments).await.0
    }

    /// Like `call_tool`, and also returns a copy of each linear memory of the
    /// instance at the end of the call (empty unless `Limits::inspect_memory`).
    pub async fn call_tool_capturing_memory(
        &self,
        name: &str,
        arguments: &str,
    ) -> (Result<Value, ToolError>, Vec<Vec<u8>>) {
        if self.tool(name).is_none() {
            let known: Vec<&str> = self.tools.iter().map(|t| t.name.as_str()).collect();
            return (
                Err(ToolError::new(
                    ErrorKind::UnknownTool,
                    "Unknown tool",
                    format!("there is no tool named `{name}`"),
                    format!("use one of: {}", known.join(", ")),
                )),
                vec![],
            );
        }
        if let Some(e) = self.missing_scope(name) {
            return (Err(e), vec![]);
        }
        if arguments.len() > self.limits.max_argument_bytes {
            let mut e = ToolError::new(
                ErrorKind::InvalidArguments,
                "Arguments too large",
                format!(
                    "the arguments are {} bytes; at most {} are accepted",
                    arguments.len(),
                    self.limits.max_argument_bytes
                ),
                "send shorter values; media should be passed as a link or media id, not inline",
            );
            e.field = Some("arguments".into());
            return (Err(e), vec![]);
        }
        let (outcome, memories) = self
            .run(|mut store, connector| async move {
                let result = connector
                    .whatsapp_connector_tools()
                    .call_call_tool(&mut store, name, arguments)
                    .await;
                (store, result)
            })
            .await;
        let result = match outcome {
            Err(e) => Err(e),
            Ok(Err(e)) => Err(ToolError::from_wit(e)),
            Ok(Ok(json)) => serde_json::from_str(&json).map_err(|e| {
                ToolError::new(
                    ErrorKind::Internal,
                    "Malformed tool result",
                    format!("the component returned a result that is not JSON: {e}"),
                    "this is a bug in the connector; report it",
                )
            }),
        };
        (result, memories)
    }

    /// Refuses a tool whose required OAuth scopes the access token is known
    /// to lack, before anything runs. Tokens with unknown scopes (e.g. pasted
    /// without validation) are left to the API.
    fn missing_scope(&self, tool: &str) -> Option<ToolError> {
        let descriptor = self.tool(tool)?;
        let name = self
            .caps
            .config
            .get(whatsapp_connector::config_keys::CREDENTIAL)?;
        let credential = self.caps.vault.get(name)?;
        if credential.scopes.is_empty() {
            return None;
        }
        let missing = descriptor
            .scopes
            .iter()
            .find(|s| !credential.scopes.contains(s))?;
        let mut e = ToolError::new(
            ErrorKind::Denied,
            "Missing permission",
            format!(
                "`{tool}` needs the OAuth scope `{missing}`, which the access token `{name}` was not \
                 granted (it has: {}); nothing was sent",
                credential.scopes.join(", ")
            ),
            format!(
                "grant `{missing}`: run `host-harness connect` and approve it, or give the system \
                 user that permission in Meta Business Manager, generate a new token and store it \
                 with `host-harness vault set {name}`"
            ),
        );
        e.code = Some(200);
        Some(e)
    }

    /// Asks the component whether a webhook request is authentic.
    pub async fn webhook_verify(
        &self,
        req: webhooks::WebhookRequest,
    ) -> Result<webhooks::WebhookVerdict, ToolError> {
        self.run(|mut store, connector| async move {
            let result = connector
                .whatsapp_connector_webhooks()
                .call_verify(&mut store, &req)
                .await;
            (store, result)
        })
        .await
        .0
    }

    /// Passes an authentic delivery to the component.
    pub async fn webhook_ingest(
        &self,
        body: &[u8],
    ) -> Result<Result<webhooks::IngestReport, String>, ToolError> {
        self.run(|mut store, connector| async move {
            let result = connector
                .whatsapp_connector_webhooks()
                .call_ingest(&mut store, body)
                .await;
            (store, result)
        })
        .await
        .0
    }

    /// Instantiates, runs `body` under the call deadline and the memory limit,
    /// and turns any failure of the instance into a `ToolError`. Also returns
    /// the instance's memories when `inspect_memory` is on.
    async fn run<'a, T, F, Fut>(&'a self, body: F) -> (Result<T, ToolError>, Vec<Vec<u8>>)
    where
        F: FnOnce(Store<HostState>, bindings::Connector) -> Fut,
        Fut: std::future::Future<Output = (Store<HostState>, wasmtime::Result<T>)> + 'a,
    {
        let Ok(_slot) = self.slots.acquire().await else {
            let e = ToolError::new(
                ErrorKind::Internal,
                "Shutting down",
                "the host is shutting down",
                "retry later",
            );
            return (Err(e.retryable(true)), vec![]);
        };
        let deadline = Instant::now() + self.limits.call_timeout;
        let (store, connector) = match self.instantiate(deadline).await {
            Ok(instance) => instance,
            Err(e) => return (Err(component_failure(&e, false, &self.limits)), vec![]),
        };
        // Outer guard in case the component waits inside a host call.
        let budget = self.limits.call_timeout + Duration::from_secs(1);
        match tokio::time::timeout(budget, body(store, connector)).await {
            Ok((mut store, result)) => {
                let memories = if self.limits.inspect_memory {
                    snapshot_memories(&mut store)
                } else {
                    vec![]
                };
                let result = result.map_err(|e| {
                    component_failure(&e, store.data().write_may_have_landed, &self.limits)
                });
                (result, memories)
            }
            Err(_) => (
                Err(component_failure(
                    &wasmtime::Error::from(Trap::Interrupt),
                    true,
                    &self.limits,
                )),
                vec![],
            ),
        }
    }
}

/// Copies every linear memory of every core instance in `store`.
fn snapshot_memories(store: &mut Store<HostState>) -> Vec<Vec<u8>> {
    let mut memories = Vec::new();
    for instance in store.debug_all_instances() {
        let exports: Vec<wasmtime::Extern> = instance
            .exports(&mut *store)
            .map(|e| e.into_extern())
            .collect();
        for export in exports {
            if let wasmtime::Extern::Memory(memory) = export {
                memories.push(memory.data(&*store).to_vec());
            }
        }
    }
    memories
}

/// Maps a trap or instantiation failure to an error a model can act on.
fn component_failure(
    e: &wasmtime::Error,
    write_may_have_landed: bool,
    limits: &Limits,
) -> ToolError {
    tracing::warn!(error = ?e, "component call failed");
    if let Some(m) = e.downcast_ref::<MemoryLimitExceeded>() {
        return ToolError::new(
            ErrorKind::ComponentFailure,
            "Memory limit exceeded",
            m.to_string(),
            "the input is too large to process; send smaller arguments",
        );
    }
    if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        let mut err = ToolError::new(
            ErrorKind::Timeout,
            "Call timed out",
            format!(
                "the call did not finish within {} ms",
                limits.call_timeout.as_millis()
            ),
            "retry later; if it keeps happening, the API or the network is slow",
        )
        .retryable(!write_may_have_landed);
        if write_may_have_landed {
            err.kind = ErrorKind::OutcomeUnknown;
            err.title = "Outcome unknown".into();
            err.hint = "the request may have reached WhatsApp: check whatsapp_get_message_status \
                        or list the templates before repeating it"
                .into();
        }
        return err;
    }
    ToolError::new(
        ErrorKind::ComponentFailure,
        "Connector failure",
        format!("the connector stopped unexpectedly: {}", root_cause(e)),
        "retry once; if it fails again, report it with the host's log",
    )
}

fn root_cause(e: &wasmtime::Error) -> String {
    match e.downcast_ref::<Trap>() {
        Some(trap) => format!("trap: {trap}"),
        None => e.root_cause().to_string(),
    }
}

/// Links the WASI 0.2 interfaces a Rust std guest imports, and nothing that
/// reaches outside: no filesystem, no sockets, no HTTP.
fn link_wasi(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    use wasmtime_wasi::cli::WasiCli;
    use wasmtime_wasi::clocks::WasiClocks;
    use wasmtime_wasi::p2::bindings::{cli, clocks, random};
    use wasmtime_wasi::random::WasiRandom;
    use wasmtime_wasi::{WasiView as _, cli::WasiCliView as _, clocks::WasiClocksView as _};

    wasmtime_wasi_io::add_to_linker_async(linker)?;
    let l = linker;
    clocks::wall_clock::add_to_linker::<HostState, WasiClocks>(l, HostState::clocks)?;
    clocks::monotonic_clock::add_to_linker::<HostState, WasiClocks>(l, HostState::clocks)?;
    random::random::add_to_linker::<HostState, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure::add_to_linker::<HostState, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<HostState, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    cli::exit::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::environment::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::stdin::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::stdout::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::stderr::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::terminal_input::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::terminal_output::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::terminal_stdin::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::terminal_stdout::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::terminal_stderr::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    Ok(())
}
