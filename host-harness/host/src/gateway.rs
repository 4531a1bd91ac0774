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
//!
//! `Runtime` knows nothing of this: it runs whatever reaches it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::audit::{AuditConfig, AuditLog, CallRecord};
use crate::config::Settings;
use crate::policy::{
    Call, Clock, Counters, OPEN_APP, Policy, PolicyError, RateHit, SystemClock, ToolInfo, Verdict,
};
use crate::runtime::Runtime;
use crate::store::{StateStore, Table};
use crate::tool::{ErrorKind, ToolDescriptor, ToolError};

/// How often the policy file is checked for changes by default.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// How often the settings say to check the policy file.
pub fn reload_interval(settings: &Settings) -> Duration {
    match settings.policy.reload_interval_ms {
        0 => DEFAULT_RELOAD_INTERVAL,
        ms => Duration::from_millis(ms),
    }
}

/// What a reload did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reload {
    /// A new policy is in force.
    Applied,
    /// The file has not changed since it was last read.
    Unchanged,
    /// No policy file: nothing to reload.
    NoFile,
}

pub struct Gateway {
    runtime: Arc<Runtime>,
    tools: Vec<ToolInfo>,
    policy: RwLock<Arc<Policy>>,
    source: Option<PathBuf>,
    /// Digest of the file content last read (applied or rejected).
    last_seen: Mutex<Option<[u8; 32]>>,
    audit: Option<AuditLog>,
    clock: Arc<dyn Clock>,
    /// Serialises check-and-record for rate-limited calls.
    rate_lock: tokio::sync::Mutex<()>,
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
        let text = read(path)?;
        let policy = Policy::parse(&text, &path.display().to_string(), &tools)?;
        let gateway = Gateway::new(runtime, tools, policy, Some(path.to_path_buf()));
        *lock(&gateway.last_seen) = Some(digest(&text));
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
            rate_lock: tokio::sync::Mutex::new(()),
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
        if let Some(path) = &settings.audit.path {
            let a = &settings.audit;
            gateway = gateway.with_audit_config(AuditConfig {
                path: path.clone(),
                max_bytes: a.max_bytes,
                keep: a.keep,
                include_bodies: a.include_bodies,
                mask_recipients: a.mask_recipients,
            })?;
        }
        Ok(gateway)
    }

    /// The app a stdio client or the CLI acts as: `requested` if the policy
    /// has it, else the default app (see [`Gateway::default_app`]).
    pub fn select_app(&self, requested: Option<&str>) -> anyhow::Result<String> {
        match requested {
            Some(app) => {
                self.check_app(app)?;
                Ok(app.to_string())
            }
            None => self.default_app(),
        }
    }

    /// Writes one line per call to `audit`.
    pub fn with_audit(mut self, audit: AuditLog) -> Gateway {
        self.audit = Some(audit);
        self
    }

    /// Opens the audit log described by `config` and writes to it.
    pub fn with_audit_config(self, config: AuditConfig) -> anyhow::Result<Gateway> {
        Ok(self.with_audit(AuditLog::open(config)?))
    }

    /// Takes the time from `clock` (for rate limits, time windows and the audit log).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Gateway {
        self.clock = clock;
        self
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

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

    pub fn policy_file(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// Whether clients must present an app key (a policy file is in force).
    pub fn requires_auth(&self) -> bool {
        !self.policy().is_open()
    }

    /// The name of the app whose API key this is.
    pub fn authenticate(&self, key: &str) -> Option<String> {
        self.policy()
            .authenticate(key)
            .map(|a| a.name().to_string())
    }

    /// The app a client gets when it names none: `default` without a
    /// policy, the only app of a policy that has one, else an error.
    pub fn default_app(&self) -> anyhow::Result<String> {
        let policy = self.policy();
        match policy.apps() {
            [one] => Ok(one.name().to_string()),
            apps => anyhow::bail!(
                "the policy {} defines several apps; choose one with --app ({})",
                policy.origin(),
                apps.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ")
            ),
        }
    }

    /// Checks that `app` exists in the policy in force.
    pub fn check_app(&self, app: &str) -> anyhow::Result<()> {
        let policy = self.policy();
        if policy.app(app).is_some() {
            return Ok(());
        }
        let names: Vec<&str> = policy.apps().iter().map(|a| a.name()).collect();
        if policy.is_open() {
            anyhow::bail!(
                "there is no policy, so the only app is `{OPEN_APP}`; give --policy FILE to \
                 choose among its apps"
            );
        }
        anyhow::bail!(
            "the policy {} has no app `{app}`; its apps are: {}",
            policy.origin(),
            names.join(", ")
        )
    }

    /// The tools `app` may see, in the component's order.
    pub fn list_tools(&self, app: &str) -> Vec<&ToolDescriptor> {
        let policy = self.policy();
        let Some(app) = policy.app(app) else {
            return Vec::new();
        };
        self.runtime
            .tools()
            .iter()
            .filter(|t| app.enabled(&t.name))
            .collect()
    }

    /// Runs `name` for `app`: policy, then the component, then the audit log.
    pub async fn call_tool(
        &self,
        app: &str,
        name: &str,
        arguments: &str,
    ) -> Result<Value, ToolError> {
        let started = Instant::now();
        let now = self.clock.now();
        // The snapshot this call keeps, whatever reloads happen meanwhile.
        let policy = self.policy();
        let parsed: Option<Value> = serde_json::from_str(arguments).ok();
        // Audits a refusal and hands the error back.
        let refuse = |e: ToolError| -> ToolError {
            self.record(
                now,
                app,
                name,
                parsed.as_ref(),
                &Err(e.clone()),
                true,
                started,
            );
            e
        };
        if self.runtime.tool(name).is_none() {
            return Err(refuse(self.unknown_tool(&policy, app, name)));
        }
        // Arguments are read only when a rule will look at them; the
        // component then gets exactly the JSON the rules judged.
        let canonical;
        let mut to_run = arguments;
        let empty = Value::Object(Default::default());
        let mut args = parsed.as_ref().unwrap_or(&empty);
        if policy.has_rules(app, name) && policy.app(app).is_some_and(|a| a.enabled(name)) {
            match &parsed {
                Some(value @ Value::Object(_)) => {
                    canonical = value.to_string();
                    to_run = &canonical;
                    args = value;
                }
                _ => {
                    let mut e = ToolError::new(
                        ErrorKind::InvalidArguments,
                        "Invalid arguments",
                        "the arguments are not a JSON object",
                        "pass the arguments as a JSON object, e.g. {\"to\": \"+16505551234\", \
                         \"text\": \"Hello\"}",
                    );
                    e.field = Some("arguments".into());
                    return Err(refuse(e));
                }
            }
        }
        let call = Call {
            app,
            tool: name,
            args,
            now,
        };
        let verdict = if policy.has_rate_limits(app, name) {
            let _guard = self.rate_lock.lock().await;
            let verdict = policy.evaluate(&call, &StoreCounters(&self.state()));
            if let Verdict::Allow(hits) = &verdict
                && let Err(e) = self.count(hits, now.as_millisecond()).await
            {
                return Err(refuse(e));
            }
            verdict
        } else {
            policy.evaluate(&call, &crate::policy::NoCounters)
        };
        if let Verdict::Deny(denial) = verdict {
            tracing::info!(app, tool = name, rule = %denial.rule, layer = %denial.layer, "tool call denied by policy");
            return Err(refuse(denial.to_tool_error()));
        }
        drop(policy);
        // Records the call even if the client cancels it (the future is dropped).
        let mut pending = Pending {
            gateway: self,
            time: now,
            app,
            tool: name,
            args: parsed.as_ref(),
            started,
            done: false,
        };
        let result = self.runtime.call_tool(name, to_run).await;
        pending.done = true;
        self.record(now, app, name, parsed.as_ref(), &result, false, started);
        result
    }

    fn unknown_tool(&self, policy: &Policy, app: &str, name: &str) -> ToolError {
        let known: Vec<&str> = policy
            .app(app)
            .map(|a| a.tools().iter().map(String::as_str).collect())
            .unwrap_or_default();
        ToolError::new(
            ErrorKind::UnknownTool,
            "Unknown tool",
            format!("there is no tool named `{name}`"),
            format!("use one of: {}", known.join(", ")),
        )
    }

    fn state(&self) -> StateStore {
        self.runtime.capabilities().state.clone()
    }

    /// Records an allowed call against each rate limit it passed.
    async fn count(&self, hits: &[RateHit], now_ms: i64) -> Result<(), ToolError> {
        let state = self.state();
        for hit in hits {
            let mut times = StoreCounters(&state)
                .recent(&hit.key)
                .map_err(store_failed)?;
            times.retain(|t| *t > now_ms - hit.window_ms);
            times.push(now_ms);
            let bytes: Vec<u8> = times.iter().flat_map(|t| t.to_be_bytes()).collect();
            let ttl = u32::try_from(hit.window_ms / 1000 + 2).unwrap_or(u32::MAX);
            state
                .set(Table::Host, &hit.key, bytes, Some(ttl))
                .await
                .map_err(|e| store_failed(e.to_string()))?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        time: jiff::Timestamp,
        app: &str,
        tool: &str,
        args: Option<&Value>,
        result: &Result<Value, ToolError>,
        denied: bool,
        started: Instant,
    ) {
        if let Some(audit) = &self.audit {
            audit.record(&CallRecord {
                time,
                app,
                tool,
                args,
                result,
                denied,
                latency: started.elapsed(),
            });
        }
    }

    /// Re-reads the policy file if its content changed. A file that fails
    /// to load leaves the policy in force as it is.
    pub fn reload(&self) -> Result<Reload, PolicyError> {
        self.reload_inner(false)
    }

    /// Re-reads the policy file even if it looks unchanged (SIGHUP).
    pub fn reload_now(&self) -> Result<Reload, PolicyError> {
        self.reload_inner(true)
    }

    fn reload_inner(&self, force: bool) -> Result<Reload, PolicyError> {
        let Some(path) = &self.source else {
            return Ok(Reload::NoFile);
        };
        let text = read(path);
        let seen = text.as_ref().ok().map(|t| digest(t));
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

/// An allowed call on its way; writes a `cancelled` audit line if dropped
/// before the component returns.
struct Pending<'a> {
    gateway: &'a Gateway,
    time: jiff::Timestamp,
    app: &'a str,
    tool: &'a str,
    args: Option<&'a Value>,
    started: Instant,
    done: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let e = ToolError::new(
            ErrorKind::OutcomeUnknown,
            "Cancelled",
            "the client cancelled the call while it ran",
            "check before repeating it",
        );
        self.gateway.record(
            self.time,
            self.app,
            self.tool,
            self.args,
            &Err(e),
            false,
            self.started,
        );
    }
}

/// Rate-limit counters in the host table of the state store: the call
/// times (Unix ms, 8 bytes big-endian each) under each key.
struct StoreCounters<'a>(&'a StateStore);

impl Counters for StoreCounters<'_> {
    fn recent(&self, key: &str) -> Result<Vec<i64>, String> {
        let bytes = self
            .0
            .get(Table::Host, key)
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        Ok(bytes
            .chunks_exact(8)
            .map(|c| i64::from_be_bytes(c.try_into().expect("8 bytes")))
            .collect())
    }
}

fn store_failed(e: String) -> ToolError {
    tracing::error!(error = %e, "rate-limit state unavailable");
    ToolError::new(
        ErrorKind::Internal,
        "Rate limit unavailable",
        format!("the call could not be counted against its rate limit ({e}); nothing was sent"),
        "retry in a moment",
    )
    .retryable(true)
}

fn read(path: &Path) -> Result<String, PolicyError> {
    std::fs::read_to_string(path).map_err(|e| PolicyError {
        origin: path.display().to_string(),
        problems: vec![crate::policy::Problem {
            line: None,
            place: String::new(),
            what: format!("cannot read it: {e}"),
            fix: "check the path given with --policy or [policy] path".into(),
        }],
    })
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
