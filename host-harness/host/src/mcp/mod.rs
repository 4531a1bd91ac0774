//! The MCP server: the component's tools served to AI clients over stdio or
//! streamable HTTP, in both protocol eras.
//!
//! rmcp 3.11 does the protocol work: it picks the era per request
//! (`initialize` → 2025-11-25 session semantics; a request whose `_meta` names
//! a protocol version → 2026-07-28 stateless semantics), negotiates versions,
//! answers `server/discover`, rejects unknown versions (`-32022`) and
//! incomplete `_meta` (`-32602`), strips `resultType` for legacy peers, and on
//! HTTP validates `Host`/`Origin`, `MCP-Protocol-Version`, `Mcp-Method` and
//! `Mcp-Name`. What it cannot know is ours: the tool list built from the
//! component's descriptors, the mapping of tool results and `ToolError`s to
//! MCP results, caching hints and `_meta` server identity on modern results,
//! and stopping a call when the client cancels it; and the inbox as
//! resources (`resources`), read through the same tool calls, with
//! subscriptions that notify of new messages (`subscriptions`).

mod handler;
mod http;
#[cfg(test)]
mod resource_tests;
mod resources;
mod sessions;
mod subscriptions;
#[cfg(test)]
mod tests;

use rmcp::ServiceExt as _;
use rmcp::service::{QuitReason, ServerInitializeError};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::gateway::ToolService;

pub use handler::{LIST_TTL_MS, McpServer, POLICY_LIST_TTL_MS};
pub use http::{
    DEFAULT_HTTP_ADDR, HttpOptions, http_config, replica_router, router, router_with_sessions,
    serve_http,
};
pub use sessions::SessionLimits;

/// Serves MCP over stdin/stdout until the client closes stdin.
pub async fn serve_stdio<S: ToolService>(server: McpServer<S>) -> anyhow::Result<()> {
    // `stdio_pipes` reads pipes through the reactor, so EOF (or shutdown)
    // never leaves a blocking stdin read behind the runtime's exit.
    serve_io(server, rmcp::transport::stdio_pipes()).await
}

/// Serves MCP over any byte stream pair (stdio, or an in-memory duplex in
/// tests and benchmarks) until the peer closes its side.
pub async fn serve_io<S, R, W>(server: McpServer<S>, io: (R, W)) -> anyhow::Result<()>
where
    S: ToolService,
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    let running = match server.serve(io).await {
        Ok(running) => running,
        // The client went away before it said anything: a normal end.
        Err(ServerInitializeError::ConnectionClosed(_)) => return Ok(()),
        Err(e) => return Err(anyhow::anyhow!("MCP session failed to start: {e}")),
    };
    match running.waiting().await {
        Ok(QuitReason::JoinError(e)) => Err(anyhow::anyhow!("MCP service task failed: {e}")),
        Ok(reason) => {
            tracing::info!(?reason, "MCP session ended");
            Ok(())
        }
        Err(e) => Err(anyhow::anyhow!("MCP service task failed: {e}")),
    }
}
