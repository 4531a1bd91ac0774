//! The sandbox's shared state. One std `Mutex`, never held across an `.await`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use super::profile::Profile;
use super::templates::{self, Template};
use super::util;
use super::webhooks::{self, Inbox, Outbox, WebhookDelivery};
use super::{Fault, FaultKind, RecordedRequest, SandboxConfig, SentMessage, TemplateSnapshot};

/// Bounds that keep long benchmarks from growing memory without limit.
const MAX_RECORDED_REQUESTS: usize = 50_000;
const MAX_SENT_MESSAGES: usize = 100_000;
const MAX_INBOUND_MESSAGES: usize = 10_000;

pub(crate) struct Shared {
    pub cfg: SandboxConfig,
    pub base_url: String,
    state: Mutex<State>,
    /// Taken by the webhook dispatcher when the server starts.
    webhook_inbox: Mutex<Option<Inbox>>,
    /// Finished webhook deliveries, for tests (bounded).
    pub webhook_log: std::sync::Arc<Mutex<VecDeque<WebhookDelivery>>>,
    /// Issued tokens and codes, and the webhook subscription (see `oauth`).
    pub oauth: super::oauth::OAuthState,
}

/// A user message that reached the business (for the window; delivered as a webhook).
#[derive(Clone, Debug)]
#[allow(dead_code)] // kept as the record of what arrived; the webhook carries the content
pub(crate) struct InboundMessage {
    pub id: String,
    pub from: String,
    pub text: String,
    pub at: SystemTime,
}

/// An accepted send plus the ordering key used by `message_history` paging.
#[derive(Clone, Debug)]
pub(crate) struct SentRecord {
    pub seq: u64,
    pub history_id: String,
    pub msg: SentMessage,
    /// The error code the message fails with (reported by webhook), if it does.
    pub failure: Option<i64>,
}

pub(crate) struct State {
    pub requests: VecDeque<RecordedRequest>,
    pub faults: VecDeque<Fault>,
    pub token_expired: bool,

    pub templates: Vec<Template>,
    pub next_template_seq: u64,
    /// (name, language, deleted at): Meta blocks re-creating a deleted name+language for 30 days.
    pub deleted_templates: Vec<(String, String, SystemTime)>,
    pub template_creations: VecDeque<Instant>,

    pub profile: Profile,

    /// digits-only user number -> when they last wrote to the business.
    pub last_inbound: HashMap<String, SystemTime>,
    pub inbound: VecDeque<InboundMessage>,

    pub sent: VecDeque<SentRecord>,
    pub next_sent_seq: u64,
    /// Accepted sends within the last second (throughput, 130429).
    pub send_times: VecDeque<Instant>,
    /// wa_id -> accepted sends within the pair window (131056).
    pub pair_times: HashMap<String, VecDeque<Instant>>,

    /// Where webhooks are queued for delivery.
    pub outbox: Outbox,
}

impl Shared {
    pub fn new(cfg: SandboxConfig, base_url: String) -> Shared {
        let now = Instant::now();
        let (outbox, inbox) = webhooks::channel(cfg.webhook_callback.clone());
        let oauth = super::oauth::OAuthState::new(&cfg);
        let mut state = State {
            requests: VecDeque::new(),
            faults: VecDeque::new(),
            token_expired: false,
            templates: Vec::new(),
            next_template_seq: 1,
            deleted_templates: Vec::new(),
            template_creations: VecDeque::new(),
            profile: Profile::seed(),
            last_inbound: HashMap::new(),
            inbound: VecDeque::new(),
            sent: VecDeque::new(),
            next_sent_seq: 1,
            send_times: VecDeque::new(),
            pair_times: HashMap::new(),
            outbox,
        };
        templates::seed(&mut state, now);
        Shared {
            cfg,
            base_url,
            state: Mutex::new(state),
            webhook_inbox: Mutex::new(Some(inbox)),
            webhook_log: Default::default(),
            oauth,
        }
    }

    pub fn take_webhook_inbox(&self) -> Option<Inbox> {
        self.webhook_inbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    pub fn set_webhook_callback(&self, url: Option<String>) {
        self.lock().outbox.set_callback(url);
    }

    pub fn webhook_callback(&self) -> Option<String> {
        self.lock().outbox.callback()
    }

    /// Locks the state; a panic elsewhere must not make the sandbox unusable.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn record(&self, req: RecordedRequest) {
        let mut st = self.lock();
        if st.requests.len() >= MAX_RECORDED_REQUESTS {
            st.requests.pop_front();
        }
        st.requests.push_back(req);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.iter().cloned().collect()
    }

    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    pub fn simulate_inbound(&self, from: &str, text: &str, at: SystemTime) -> String {
        let key = util::digits_only(from);
        let id = util::wamid(&key);
        let mut st = self.lock();
        // A later timestamp never moves backwards because of an older simulated message.
        let entry = st.last_inbound.entry(key.clone()).or_insert(at);
        if *entry < at {
            *entry = at;
        }
        if st.inbound.len() >= MAX_INBOUND_MESSAGES {
            st.inbound.pop_front();
        }
        st.outbox.inbound(&self.cfg, &id, &key, text, at);
        st.inbound.push_back(InboundMessage {
            id: id.clone(),
            from: key,
            text: text.to_owned(),
            at,
        });
        tracing::debug!(from = %util::digits_only(from), "sandbox: simulated inbound message");
        id
    }

    pub fn set_last_inbound(&self, from: &str, at: SystemTime) {
        self.lock().last_inbound.insert(util::digits_only(from), at);
    }

    pub fn inject_fault(&self, mut fault: Fault) {
        fault.times = fault.times.max(1);
        self.lock().faults.push_back(fault);
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Consumes one application of the first fault matching `path`.
    pub fn take_fault(&self, path: &str) -> Option<FaultKind> {
        let mut st = self.lock();
        let idx = st.faults.iter().position(|f| match &f.path_contains {
            Some(p) => path.contains(p.as_str()),
            None => true,
        })?;
        let fault = &mut st.faults[idx];
        let kind = fault.kind.clone();
        fault.times = fault.times.saturating_sub(1);
        if fault.times == 0 {
            st.faults.remove(idx);
        }
        Some(kind)
    }

    pub fn set_token_expired(&self, expired: bool) {
        self.lock().token_expired = expired;
    }

    pub fn token_expired(&self) -> bool {
        self.lock().token_expired
    }

    pub fn template_snapshots(&self) -> Vec<TemplateSnapshot> {
        let mut st = self.lock();
        st.refresh_templates(&self.cfg, Instant::now());
        st.templates.iter().map(Template::snapshot).collect()
    }

    pub fn sent_messages(&self) -> Vec<SentMessage> {
        self.lock().sent.iter().map(|r| r.msg.clone()).collect()
    }
}

impl State {
    /// Applies due template reviews (PENDING -> APPROVED / REJECTED). Lazy: no timer runs.
    pub fn refresh_templates(&mut self, cfg: &SandboxConfig, now: Instant) {
        for t in &mut self.templates {
            if let Some(change) = t.review_if_due(now) {
                self.outbox.template_status(
                    cfg,
                    &t.id,
                    &t.name,
                    &t.language,
                    change,
                    t.rejected_reason.as_deref(),
                );
                tracing::debug!(
                    waba_id = %cfg.waba_id,
                    template_id = %t.id,
                    name = %t.name,
                    language = %t.language,
                    event = %change,
                    "sandbox: template review finished"
                );
            }
        }
    }

    pub fn push_sent(&mut self, msg: SentMessage, failure: Option<i64>) {
        let seq = self.next_sent_seq;
        self.next_sent_seq += 1;
        if self.sent.len() >= MAX_SENT_MESSAGES {
            self.sent.pop_front();
        }
        self.sent.push_back(SentRecord {
            seq,
            history_id: util::numeric_id(16),
            msg,
            failure,
        });
    }
}
