//! Hooks for tests and benchmarks (the `testing` feature): what the
//! component imports, its memory after a call, idle instances, load times.

use std::time::{Duration, Instant};

use serde_json::Value;
use wasmtime::Store;

use super::instance::CallData;
use super::{Limits, Runtime, bindings, cache, engine};
use crate::tool::ToolError;

/// A live instance kept idle, for measuring memory per instance.
pub struct IdleInstance {
    _store: Store<CallData>,
    _connector: bindings::Connector,
}

/// How long loading took, for the benchmarks.
#[derive(Clone, Copy, Debug)]
pub struct LoadReport {
    /// Compiled now (true) or read from the cache (false).
    pub compiled: bool,
    /// Time to get a runnable component.
    pub load_time: Duration,
}

/// Compiles `bytes`, or loads them from `cache_dir`, reporting which and how long.
pub fn load_component(
    limits: &Limits,
    bytes: &[u8],
    cache_dir: Option<&std::path::Path>,
) -> anyhow::Result<LoadReport> {
    let engine = engine::engine(limits)?;
    let started = Instant::now();
    let (_, compiled) = cache::load(&engine, bytes, cache_dir)?;
    Ok(LoadReport {
        compiled,
        load_time: started.elapsed(),
    })
}

impl Runtime {
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

    /// Size of the component's bytes.
    pub fn component_bytes(&self) -> usize {
        self.component_bytes
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

    /// Like `call_tool`, and also returns a copy of each linear memory of the
    /// instance at the end of the call (empty unless `Limits::inspect_memory`).
    pub async fn call_tool_capturing_memory(
        &self,
        name: &str,
        arguments: &str,
    ) -> (Result<Value, ToolError>, Vec<Vec<u8>>) {
        let mut memories = Vec::new();
        let inspect = self.limits.inspect_memory;
        let result = self
            .call_tool_inspecting(name, arguments, Instant::now(), |store| {
                if inspect {
                    memories = snapshot_memories(store);
                }
            })
            .await;
        (result, memories)
    }
}

/// Copies every linear memory of every core instance in `store`.
fn snapshot_memories(store: &mut Store<CallData>) -> Vec<Vec<u8>> {
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
