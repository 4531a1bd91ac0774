//! The wasmtime embedding: compile once, `InstancePre` once, and a fresh,
//! limited `Store` for every call, so calls are isolated from each other and
//! a trap, timeout or memory blow-up ends only the call that caused it.
//!
//! The runtime runs what reaches it: which tools exist for a client and
//! whether the token's scopes allow one is the gateway's decision.
//!
//! Instances come from two budgets: tool calls (`max_instances`) and webhooks
//! (`webhook_instances`), so a flood of one never starves the other. A call
//! waits at most `queue_timeout` for a slot, then fails with a retryable
//! "busy" error: never an unbounded queue.

pub(crate) mod bindings;
mod cache;
mod engine;
mod failures;
mod guest_log;
mod instance;
#[cfg(feature = "testing")]
pub mod testing;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::Value;
use tokio::sync::Semaphore;
use wasmtime::{Engine, Store, Trap};

use crate::caps::Capabilities;
use crate::tool::{ToolDescriptor, ToolError};
use bindings::{ConnectorPre, webhooks};
use engine::{EPOCH_TICK, EpochTicker};
use instance::CallData;

pub use engine::{ComponentSource, Limits};

/// Which instance budget a call draws from.
#[derive(Clone, Copy)]
enum Budget {
    /// MCP and CLI tool calls.
    Tools,
    /// Webhook verification of signed deliveries and ingest.
    Webhooks,
}

/// A loaded connector, ready to serve calls concurrently.
pub struct Runtime {
    engine: Engine,
    pre: ConnectorPre<CallData>,
    caps: Arc<Capabilities>,
    limits: Limits,
    tools: Vec<ToolDescriptor>,
    tool_slots: Semaphore,
    webhook_slots: Semaphore,
    instances_created: AtomicU64,
    #[cfg(feature = "testing")]
    component_bytes: usize,
    _ticker: EpochTicker,
}

impl Runtime {
    /// Loads `source`, using the compiled-artifact cache in `cache_dir` when given.
    pub(crate) async fn new(
        source: &ComponentSource,
        caps: Capabilities,
        limits: Limits,
        cache_dir: Option<PathBuf>,
    ) -> anyhow::Result<Runtime> {
        let engine = engine::engine(&limits)?;
        let bytes = source.bytes()?;
        let (component, _) = cache::load(&engine, &bytes, cache_dir.as_deref())?;
        let pre = instance::linker(&engine)?
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .context(
                "the component needs imports this host does not provide (it may reach \
                      only our http, media, vault, config and kv, plus WASI cli, clocks, random and io)",
            )?;
        let pre = ConnectorPre::new(pre)?;
        let ticker = EpochTicker::start(engine.clone());
        let mut runtime = Runtime {
            engine,
            pre,
            caps: Arc::new(caps),
            tool_slots: Semaphore::new(limits.max_instances.max(1) as usize),
            webhook_slots: Semaphore::new(limits.webhook_instances.max(1) as usize),
            limits,
            tools: Vec::new(),
            instances_created: AtomicU64::new(0),
            #[cfg(feature = "testing")]
            component_bytes: bytes.len(),
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
    ) -> wasmtime::Result<(Store<CallData>, bindings::Connector)> {
        let mut store = Store::new(
            &self.engine,
            CallData::new(self.caps.clone(), self.limits.memory_bytes, deadline),
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

    /// Stops taking calls: later calls fail at once with a retryable
    /// "shutting down" error; calls already running carry on.
    pub fn close(&self) {
        self.tool_slots.close();
        self.webhook_slots.close();
    }

    /// Waits until no call is running, at most `limit`; whether it got there.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let idle = || {
            self.tool_slots.available_permits() >= self.limits.max_instances.max(1) as usize
                && self.webhook_slots.available_permits()
                    >= self.limits.webhook_instances.max(1) as usize
        };
        while !idle() {
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

    /// The tool named `name`, if the component has one.
    pub fn tool(&self, name: &str) -> Option<&ToolDescriptor> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// The capabilities the component's imports reach.
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// The limits each call runs under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether a fresh instance of the component can be made now (for
    /// readiness): fails once the runtime is closed or when instantiation
    /// fails (e.g. the memory limit is out of reach).
    pub async fn check_instantiable(&self) -> anyhow::Result<()> {
        if self.tool_slots.is_closed() {
            anyhow::bail!("the runtime is shutting down and takes no new calls");
        }
        self.instantiate(Instant::now() + self.limits.call_timeout)
            .await
            .map(drop)
            .map_err(anyhow::Error::from)
            .context("a fresh instance of the component cannot be made")
    }

    /// Instances running now: tool calls and webhook ingests.
    pub fn live_instances(&self) -> usize {
        let busy = |slots: &Semaphore, max: u32| {
            (max.max(1) as usize).saturating_sub(slots.available_permits())
        };
        busy(&self.tool_slots, self.limits.max_instances)
            + busy(&self.webhook_slots, self.limits.webhook_instances)
    }

    /// Instances created so far (one per call, plus one at load and one per
    /// readiness check).
    pub fn instances_created(&self) -> u64 {
        self.instances_created.load(Ordering::Relaxed)
    }

    /// Runs tool `name` with `arguments` (JSON text) in a fresh instance.
    /// Whether the tool exists and may be called is the caller's business:
    /// the component answers an unknown name with an `unknown_tool` error.
    pub async fn call_tool(&self, name: &str, arguments: &str) -> Result<Value, ToolError> {
        self.call_tool_queued(name, arguments, Instant::now()).await
    }

    /// `call_tool` for a call that has been waiting since `queued_at` (for
    /// its app's concurrency slot): the queue timeout counts from then.
    pub(crate) async fn call_tool_queued(
        &self,
        name: &str,
        arguments: &str,
        queued_at: Instant,
    ) -> Result<Value, ToolError> {
        self.call_tool_inspecting(name, arguments, queued_at, |_| ())
            .await
    }

    /// `call_tool`, with `inspect` given the instance's store once the call
    /// returns (not after a timeout).
    async fn call_tool_inspecting(
        &self,
        name: &str,
        arguments: &str,
        queued_at: Instant,
        inspect: impl FnOnce(&mut Store<CallData>),
    ) -> Result<Value, ToolError> {
        if arguments.len() > self.limits.max_argument_bytes {
            return Err(failures::arguments_too_large(arguments.len(), &self.limits));
        }
        let json = self
            .run(
                Budget::Tools,
                queued_at,
                |mut store, connector| async move {
                    let result = connector
                        .whatsapp_connector_tools()
                        .call_call_tool(&mut store, name, arguments)
                        .await;
                    (store, result)
                },
                inspect,
            )
            .await?
            .map_err(ToolError::from_wit)?;
        serde_json::from_str(&json).map_err(|e| failures::malformed_result(&e))
    }

    /// Asks the component whether a webhook request is authentic.
    pub(crate) async fn webhook_verify(
        &self,
        req: webhooks::WebhookRequest,
    ) -> Result<webhooks::WebhookVerdict, ToolError> {
        self.run(
            Budget::Webhooks,
            Instant::now(),
            |mut store, connector| async move {
                let result = connector
                    .whatsapp_connector_webhooks()
                    .call_verify(&mut store, &req)
                    .await;
                (store, result)
            },
            |_| (),
        )
        .await
    }

    /// Passes an authentic delivery to the component.
    pub(crate) async fn webhook_ingest(
        &self,
        body: &[u8],
    ) -> Result<Result<webhooks::IngestReport, String>, ToolError> {
        self.run(
            Budget::Webhooks,
            Instant::now(),
            |mut store, connector| async move {
                let result = connector
                    .whatsapp_connector_webhooks()
                    .call_ingest(&mut store, body)
                    .await;
                (store, result)
            },
            |_| (),
        )
        .await
    }

    /// Takes a slot of `budget` (waiting until `queued_at` + the queue
    /// timeout at most), instantiates, runs `body` under the call deadline and
    /// the memory limit, and turns any failure of the instance into a
    /// `ToolError`. `inspect` sees the store when `body` returns.
    async fn run<'a, T, F, Fut>(
        &'a self,
        budget: Budget,
        queued_at: Instant,
        body: F,
        inspect: impl FnOnce(&mut Store<CallData>),
    ) -> Result<T, ToolError>
    where
        F: FnOnce(Store<CallData>, bindings::Connector) -> Fut,
        Fut: std::future::Future<Output = (Store<CallData>, wasmtime::Result<T>)> + 'a,
    {
        let (slots, capacity, name) = match budget {
            Budget::Tools => (&self.tool_slots, self.limits.max_instances, "tool-call"),
            Budget::Webhooks => (
                &self.webhook_slots,
                self.limits.webhook_instances,
                "webhook",
            ),
        };
        let give_up = tokio::time::Instant::from_std(queued_at + self.limits.queue_timeout);
        let _slot = match tokio::time::timeout_at(give_up, slots.acquire()).await {
            Ok(Ok(slot)) => slot,
            Ok(Err(_closed)) => return Err(failures::shutting_down()),
            Err(_elapsed) => {
                tracing::warn!(
                    budget = name,
                    capacity,
                    "no free instance slot; call refused as busy"
                );
                return Err(failures::no_free_instance(
                    name,
                    capacity.max(1),
                    &self.limits,
                ));
            }
        };
        let deadline = Instant::now() + self.limits.call_timeout;
        let (store, connector) = self
            .instantiate(deadline)
            .await
            .map_err(|e| failures::component_failure(&e, false, &self.limits))?;
        // Outer guard in case the component waits inside a host call.
        let budget = self.limits.call_timeout + Duration::from_secs(1);
        match tokio::time::timeout(budget, body(store, connector)).await {
            Ok((mut store, result)) => {
                inspect(&mut store);
                result.map_err(|e| {
                    let landed = store.data().http.write_may_have_landed;
                    failures::component_failure(&e, landed, &self.limits)
                })
            }
            Err(_) => Err(failures::component_failure(
                &wasmtime::Error::from(Trap::Interrupt),
                true,
                &self.limits,
            )),
        }
    }
}
