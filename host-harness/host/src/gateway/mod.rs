//! The gateway between clients (MCP, the CLI) and the runtime: the policy
//! decides first, then the component runs, then the audit log records.
//!
//! - A denied call never instantiates the component and sends nothing; the
//!   client gets a `denied` [`ToolError`] naming the rule.
//! - The policy is an `Arc` snapshot: a reload swaps it, and a call keeps
//!   the snapshot it started with, so in-flight calls are never dropped.
//! - `rate_limit` counts live in the state store's host table, so they
//!   survive restarts; checking and recording happen under one lock, so the
//!   limit is exact under concurrency.
//! - A tool whose OAuth scopes the access token is known to lack is refused
//!   here, before the runtime is asked to run it.
//! - Each app has at most `max_concurrent` calls running; a call that finds
//!   no free slot (of its app, then of the runtime) within the runtime's
//!   queue timeout fails with a retryable "busy" error, so one app's slow or
//!   flooding calls never hold the others up.
//!
//! `Runtime` knows nothing of this: it runs whatever reaches it. Protocol
//! layers see the gateway through [`ToolService`].

mod arguments;
mod concurrency;
mod rate_limit;
mod record;
mod reload;
mod scope;
mod service;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::audit::{AuditConfig, AuditLog};
use crate::config::Settings;
use crate::policy::{
    Call, Clock, Layer, NoCounters, OPEN_APP, Policy, PolicyError, SystemClock, ToolInfo, Verdict,
};
use crate::redact;
use crate::runtime::Runtime;
use crate::tool::{ToolDescriptor, ToolError};
use arguments::Arguments;
use concurrency::AppSlots;
use record::{Pending, Recorder};

pub use reload::{Reload, reload_interval};
pub use service::{CallError, ToolService};

/// The policy, the runtime and the audit log, in front of every tool call.
pub struct Gateway {
    runtime: Arc<Runtime>,
    tools: Vec<ToolInfo>,
    policy: RwLock<Arc<Policy>>,
    source: Option<PathBuf>,
    /// Digest of the file content last read (applied or rejected).
    last_seen: Mutex<Option<[u8; 32]>>,
    audit: Option<AuditLog>,
    clock: Arc<dyn Clock>,
    /// Served beyond loopback without app keys (`serve --allow-unauthenticated`):
    /// every `tools/list` says so in the log.
    unauthenticated: AtomicBool,
    /// Each app's running calls, against its `max_concurrent`.
    app_slots: AppSlots,
    /// Why the policy file's current content is not in force, when a reload failed.
    policy_problem: Mutex<Option<String>>,
}

impl Gateway {
    /// No policy: one app, `default`, with every tool and no rules.
    pub fn open(runtime: Arc<Runtime>) -> Gateway {
        let tools = ToolInfo::from_descriptors(runtime.tools());
        let policy = Policy::open(&tools);
        Gateway::new(runtime, tools, policy, None)
    }

    /// Enforces `policy`, which is never reloaded.
    pub fn with_policy(runtime: Arc<Runtime>, policy: Policy) -> Gateway {
        let tools = ToolInfo::from_descriptors(runtime.tools());
        Gateway::new(runtime, tools, policy, None)
    }

    /// Enforces the policy in `path`, validated against the component's
    /// tools; [`Gateway::reload`] and [`Gateway::watch`] pick up changes.
    pub fn with_policy_file(runtime: Arc<Runtime>, path: &Path) -> Result<Gateway, PolicyError> {
        let tools = ToolInfo::from_descriptors(runtime.tools());
        let text = reload::read(path)?;
        let policy = Policy::parse(&text, &path.display().to_string(), &tools)?;
        let gateway = Gateway::new(runtime, tools, policy, Some(path.to_path_buf()));
        *lock(&gateway.last_seen) = Some(reload::digest(&text));
        Ok(gateway)
    }

    fn new(
        runtime: Arc<Runtime>,
        tools: Vec<ToolInfo>,
        policy: Policy,
        source: Option<PathBuf>,
    ) -> Gateway {
        Gateway {
            runtime,
            tools,
            policy: RwLock::new(Arc::new(policy)),
            source,
            last_seen: Mutex::new(None),
            audit: None,
            clock: Arc::new(SystemClock),
            unauthenticated: AtomicBool::new(false),
            app_slots: AppSlots::default(),
            policy_problem: Mutex::new(None),
        }
    }

    /// The gateway the settings describe: the policy file (`policy_file`,
    /// else `[policy] path`, else none) and the audit log (`[audit] path`).
    pub fn from_settings(
        runtime: Arc<Runtime>,
        settings: &Settings,
        policy_file: Option<&Path>,
    ) -> anyhow::Result<Gateway> {
        let path = policy_file.or(settings.policy.path.as_deref());
        let mut gateway = match path {
            Some(path) => Gateway::with_policy_file(runtime, path)?,
            None => Gateway::open(runtime),
        };
        if let Some(config) = settings.audit.config(&settings.vault)? {
            gateway = gateway.with_audit_config(config)?;
        }
        Ok(gateway)
    }

    /// Opens the audit log described by `config` and writes one line per
    /// call to it.
    pub fn with_audit_config(mut self, config: AuditConfig) -> anyhow::Result<Gateway> {
        self.audit = Some(AuditLog::open(config)?);
        Ok(self)
    }

    /// Marks this gateway as served to the network without app keys: each
    /// `tools/list` then logs a warning, so the exposure is not forgotten.
    pub fn mark_unauthenticated(&self) {
        self.unauthenticated.store(true, Ordering::Relaxed);
    }

    /// Takes the time from `clock` (for rate limits, time windows and the audit log).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Gateway {
        self.clock = clock;
        self
    }

    /// The audit log, if one is written.
    pub fn audit(&self) -> Option<&AuditLog> {
        self.audit.as_ref()
    }

    /// The policy in force now (a snapshot).
    pub fn policy(&self) -> Arc<Policy> {
        self.policy
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The policy file, if the policy came from one.
    pub fn policy_file(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// The app a stdio client or the CLI acts as: `requested` if the policy
    /// has it, else the only app of the policy (`default` without one).
    pub fn select_app(&self, requested: Option<&str>) -> anyhow::Result<String> {
        let policy = self.policy();
        let Some(app) = requested else {
            return match only_app(&policy) {
                Some(app) => Ok(app),
                None => anyhow::bail!(
                    "the policy {} defines several apps; choose one with --app ({})",
                    policy.origin(),
                    app_names(&policy)
                ),
            };
        };
        if policy.app(app).is_some() {
            return Ok(app.to_string());
        }
        if policy.is_open() {
            anyhow::bail!(
                "there is no policy, so the only app is `{OPEN_APP}`; give --policy FILE to \
                 choose among its apps"
            );
        }
        anyhow::bail!(
            "the policy {} has no app `{app}`; its apps are: {}",
            policy.origin(),
            app_names(&policy)
        )
    }

    /// The tools `app` may see under `policy`, in the component's order.
    fn visible_under(&self, policy: &Policy, app: &str) -> Vec<&ToolDescriptor> {
        let Some(app) = policy.app(app) else {
            return Vec::new();
        };
        self.runtime
            .tools()
            .iter()
            .filter(|t| app.enabled(&t.name))
            .collect()
    }

    /// The names of the tools `app` may use under `policy`.
    fn known_tools(policy: &Policy, app: &str) -> Vec<String> {
        policy
            .app(app)
            .map(|a| a.tools().to_vec())
            .unwrap_or_default()
    }

    /// Runs `name` for `app` with `arguments` given as JSON text (the CLI):
    /// policy, then the component, then the audit log.
    pub async fn call_tool(
        &self,
        app: &str,
        name: &str,
        arguments: &str,
    ) -> Result<Value, ToolError> {
        self.run(app, name, Arguments::text(arguments))
            .await
            .map_err(ToolError::from)
    }

    async fn run(&self, app: &str, name: &str, args: Arguments<'_>) -> Result<Value, CallError> {
        let recorder = Recorder {
            audit: self.audit.as_ref(),
            time: self.clock.now(),
            app,
            tool: name,
            args: args.parsed(),
            started: Instant::now(),
        };
        // Audits a refusal and hands the error back.
        let refuse = |e: CallError| -> CallError {
            recorder.record(Err(&e.to_tool_error()), true);
            e
        };
        // The snapshot this call keeps, whatever reloads happen meanwhile.
        let policy = self.policy();
        let Some(descriptor) = self.runtime.tool(name) else {
            let known = Gateway::known_tools(&policy, app);
            return Err(refuse(CallError::UnknownTool {
                tool: name.to_string(),
                known,
            }));
        };
        // Arguments are read only when a rule will look at them.
        let empty = Value::Object(Map::new());
        let mut judged = args.parsed().unwrap_or(&empty);
        if policy.has_rules(app, name) && policy.app(app).is_some_and(|a| a.enabled(name)) {
            let Some(object) = args.object() else {
                return Err(refuse(CallError::Denied(arguments::not_an_object())));
            };
            judged = object;
        }
        // A template's known text, so text rules judge the send as rendered.
        let template = if policy.has_rules(app, name) {
            crate::policy::known_template(&self.runtime.capabilities().state, name, judged).await
        } else {
            None
        };
        let call = Call {
            app,
            tool: name,
            args: judged,
            now: recorder.time,
            template: template.as_ref(),
        };
        let verdict = if policy.has_rate_limits(app, name) {
            let state = &self.runtime.capabilities().state;
            match rate_limit::judge(&policy, &call, state).await {
                Ok(verdict) => verdict,
                Err(e) => return Err(refuse(CallError::Denied(e))),
            }
        } else {
            policy.evaluate(&call, &NoCounters)
        };
        if let Verdict::Deny(denial) = verdict {
            // The reason may quote a number the client sent: masked here; the client gets it as sent.
            tracing::info!(app, tool = name, rule = %denial.rule, layer = %denial.layer,
                reason = %redact::scrub(&denial.reason), "tool call denied by policy");
            crate::admin::metrics::global().policy_denial(&denial.rule);
            let e = match denial.layer {
                Layer::Enablement => CallError::NotEnabled {
                    known: Gateway::known_tools(&policy, app),
                    denial,
                },
                Layer::Global | Layer::App => CallError::Denied(denial.to_tool_error()),
            };
            return Err(refuse(e));
        }
        let max_concurrent = policy.app(app).and_then(|a| a.max_concurrent());
        drop(policy);
        // The policy let it through; the access token must allow it too.
        // Audited as a call the policy allowed, like any failure from here on.
        if let Some(e) = scope::token_scopes(&self.runtime)
            .and_then(|token| scope::missing_scope(descriptor, &token))
        {
            recorder.record(Err(&e), false);
            return Err(CallError::Denied(e));
        }
        // Records the call even if the client cancels it (the future is dropped).
        let mut pending = Pending {
            recorder,
            done: false,
        };
        // The queue timeout bounds the wait for both slots together.
        let queued_at = Instant::now();
        let waited = self.runtime.limits().queue_timeout;
        let _app_slot = match self
            .app_slots
            .acquire(app, max_concurrent, queued_at + waited, waited)
            .await
        {
            Ok(slot) => slot,
            Err(e) => {
                pending.done = true;
                recorder.record(Err(&e), false);
                return Err(CallError::Failed(e));
            }
        };
        let result = self
            .runtime
            .call_tool_queued(name, &args.to_text(), queued_at)
            .await;
        pending.done = true;
        recorder.record(result.as_ref(), false);
        result.map_err(CallError::Failed)
    }

    /// Re-reads the policy file if its content changed. A file that fails
    /// to load leaves the policy in force as it is.
    pub fn reload(&self) -> Result<Reload, PolicyError> {
        self.reload_inner(false)
    }

    /// Why the policy in force is not the policy file's current content
    /// (the last reload failed), for readiness; `None` when it is.
    pub fn policy_problem(&self) -> Option<String> {
        lock(&self.policy_problem).clone()
    }

    /// Re-reads the policy file; `force`: even if it looks unchanged (SIGHUP).
    /// Remembers a failure until a reload succeeds.
    fn reload_inner(&self, force: bool) -> Result<Reload, PolicyError> {
        let result = self.reload_file(force);
        match &result {
            Ok(Reload::Applied) => *lock(&self.policy_problem) = None,
            Ok(_) => {}
            Err(e) => {
                *lock(&self.policy_problem) = Some(format!(
                    "the policy file failed to load (the previous policy stays in force): {e}"
                ));
            }
        }
        result
    }

    fn reload_file(&self, force: bool) -> Result<Reload, PolicyError> {
        let Some(path) = &self.source else {
            return Ok(Reload::NoFile);
        };
        let text = reload::read(path);
        let seen = text.as_ref().ok().map(|t| reload::digest(t));
        {
            let mut last = lock(&self.last_seen);
            if !force && seen.is_some() && *last == seen {
                return Ok(Reload::Unchanged);
            }
            *last = seen;
        }
        let policy = Policy::parse(&text?, &path.display().to_string(), &self.tools)?;
        *self.policy.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(policy);
        Ok(Reload::Applied)
    }

    fn reload_and_log(&self, force: bool) {
        match self.reload_inner(force) {
            Ok(Reload::Applied) => {
                let policy = self.policy();
                tracing::info!(
                    file = %policy.origin(),
                    apps = policy.apps().len(),
                    "policy reloaded"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::error!("{e}\nThe previous policy stays in force."),
        }
    }

    /// Reloads the policy file when it changes (checked every `interval`)
    /// and on SIGHUP, until the task is aborted.
    pub fn watch(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let gateway = self.clone();
        tokio::spawn(async move {
            if gateway.source.is_none() {
                return;
            }
            #[cfg(unix)]
            let mut hangup =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            let mut tick = tokio::time::interval(interval.max(Duration::from_millis(10)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                #[cfg(unix)]
                let force = match hangup.as_mut() {
                    Some(hangup) => tokio::select! {
                        _ = tick.tick() => false,
                        _ = hangup.recv() => true,
                    },
                    None => {
                        tick.tick().await;
                        false
                    }
                };
                #[cfg(not(unix))]
                let force = {
                    tick.tick().await;
                    false
                };
                if force {
                    tracing::info!("SIGHUP: reloading the policy");
                }
                gateway.reload_and_log(force);
            }
        })
    }

    /// Writes out the audit log; call before the process exits.
    pub fn shutdown(&self) {
        if let Some(audit) = &self.audit {
            audit.close();
        }
    }
}

impl ToolService for Gateway {
    fn tools(&self) -> &[ToolDescriptor] {
        self.runtime.tools()
    }

    fn visible_tools(&self, app: &str) -> Vec<&ToolDescriptor> {
        // Only `tools/list` asks for this: the place to repeat the warning.
        if self.unauthenticated.load(Ordering::Relaxed) {
            tracing::warn!(
                "tools/list served without authentication to a non-loopback address \
                 (--allow-unauthenticated): anyone who reaches it can use every tool"
            );
        }
        self.visible_under(&self.policy(), app)
    }

    fn requires_auth(&self) -> bool {
        !self.policy().is_open()
    }

    fn authenticate(&self, key: &str) -> Option<String> {
        self.policy()
            .authenticate(key)
            .map(|a| a.name().to_string())
    }

    fn default_app(&self) -> Option<String> {
        only_app(&self.policy())
    }

    async fn call(
        &self,
        app: &str,
        tool: &str,
        arguments: Map<String, Value>,
    ) -> Result<Value, CallError> {
        self.run(app, tool, Arguments::from_object(arguments)).await
    }
}

/// The policy's app when it has exactly one (`default` without a policy).
fn only_app(policy: &Policy) -> Option<String> {
    match policy.apps() {
        [one] => Some(one.name().to_string()),
        _ => None,
    }
}

fn app_names(policy: &Policy) -> String {
    policy
        .apps()
        .iter()
        .map(|a| a.name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
