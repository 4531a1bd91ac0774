//! The world the API imitates: one WhatsApp Business Account with its phone number, templates,
//! profile, conversations and tokens, plus what the sandbox records for tests. The aggregate
//! of the model: it imports the leaf types it stores; the operations (`templates`,
//! `messages`) import it. One std `Mutex`, never held across an `.await`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use super::faults::{Fault, FaultKind};
use super::profile::Profile;
use super::template::{self, Template};
use super::tokens::TokenRegistry;
use crate::config::SandboxConfig;
use crate::delivery::outbox::{self, Inbox, Outbox};
use crate::delivery::record::DeliveryLog;
use crate::records::{ReceivedMessage, RecordedRequest, SentMessage, TemplateSnapshot};
use crate::util;

/// Bounds that keep long benchmarks from growing memory without limit.
const MAX_RECORDED_REQUESTS: usize = 50_000;
const MAX_SENT_MESSAGES: usize = 100_000;
pub(crate) const MAX_INBOUND_MESSAGES: usize = 10_000;

/// The whole sandbox state, shared by the connections and the webhook dispatcher.
pub(crate) struct World {
    pub(crate) cfg: SandboxConfig,
    pub(crate) base_url: String,
    store: Mutex<Store>,
    /// Taken by the webhook dispatcher when the server starts.
    webhook_inbox: Mutex<Option<Inbox>>,
    /// Finished webhook deliveries, for tests (bounded).
    pub(crate) delivery_log: DeliveryLog,
    /// Issued tokens and codes, and the webhook subscription.
    pub(crate) tokens: TokenRegistry,
}

/// An accepted send plus the ordering key used by `message_history` paging.
#[derive(Clone, Debug)]
pub(crate) struct SentRecord {
    pub(crate) seq: u64,
    pub(crate) history_id: String,
    pub(crate) msg: SentMessage,
    /// The error code the message fails with (reported by webhook), if it does.
    pub(crate) failure: Option<i64>,
}

/// What the world holds under its lock.
pub(crate) struct Store {
    pub(crate) requests: VecDeque<RecordedRequest>,
    pub(crate) faults: VecDeque<Fault>,
    pub(crate) token_expired: bool,

    pub(crate) templates: Vec<Template>,
    pub(crate) next_template_seq: u64,
    /// (name, language, deleted at): Meta blocks re-creating a deleted name+language for 30 days.
    pub(crate) deleted_templates: Vec<(String, String, SystemTime)>,
    pub(crate) template_creations: VecDeque<Instant>,

    pub(crate) profile: Profile,

    /// digits-only user number -> when they last wrote to the business.
    pub(crate) last_inbound: HashMap<String, SystemTime>,
    /// What users wrote, oldest first (bounded), with whether the business marked it read.
    pub(crate) inbound: VecDeque<ReceivedMessage>,

    pub(crate) sent: VecDeque<SentRecord>,
    pub(crate) next_sent_seq: u64,
    /// Accepted sends within the last second (throughput, 130429).
    pub(crate) send_times: VecDeque<Instant>,
    /// wa_id -> when the recipient's pair-rate bucket is full again (131056): the
    /// theoretical arrival time of the next send, one `PairLimit::interval` per send.
    pub(crate) pair_times: HashMap<String, Instant>,

    /// Uploaded media and Resumable Upload sessions.
    pub(crate) media: super::media::MediaStore,

    /// Where webhooks are queued for delivery.
    pub(crate) outbox: Outbox,
}

impl World {
    pub(crate) fn new(cfg: SandboxConfig, base_url: String) -> World {
        let (outbox, inbox) = outbox::channel(cfg.webhook_callback.clone());
        let tokens = TokenRegistry::new(&cfg);
        let mut store = Store {
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
            media: Default::default(),
            outbox,
        };
        for mut t in template::seed() {
            t.seq = store.next_template_seq;
            store.next_template_seq += 1;
            store.templates.push(t);
        }
        World {
            cfg,
            base_url,
            store: Mutex::new(store),
            webhook_inbox: Mutex::new(Some(inbox)),
            delivery_log: Default::default(),
            tokens,
        }
    }

    pub(crate) fn take_webhook_inbox(&self) -> Option<Inbox> {
        self.webhook_inbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    pub(crate) fn set_webhook_callback(&self, url: Option<String>) {
        self.lock().outbox.set_callback(url);
    }

    pub(crate) fn webhook_callback(&self) -> Option<String> {
        self.lock().outbox.callback()
    }

    /// Locks the state; a panic elsewhere must not make the sandbox unusable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn record(&self, req: RecordedRequest) {
        let mut st = self.lock();
        if st.requests.len() >= MAX_RECORDED_REQUESTS {
            st.requests.pop_front();
        }
        st.requests.push_back(req);
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.iter().cloned().collect()
    }

    pub(crate) fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// Every message users wrote that the sandbox still holds, oldest first.
    pub(crate) fn received_messages(&self) -> Vec<ReceivedMessage> {
        self.lock().inbound.iter().cloned().collect()
    }

    pub(crate) fn set_last_inbound(&self, from: &str, at: SystemTime) {
        self.lock()
            .last_inbound
            .insert(util::wa_id_for(&util::digits_only(from)), at);
    }

    pub(crate) fn inject_fault(&self, mut fault: Fault) {
        fault.times = fault.times.max(1);
        self.lock().faults.push_back(fault);
    }

    pub(crate) fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Consumes one application of the first fault matching `path`.
    pub(crate) fn take_fault(&self, path: &str) -> Option<FaultKind> {
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

    pub(crate) fn set_token_expired(&self, expired: bool) {
        self.lock().token_expired = expired;
    }

    pub(crate) fn token_expired(&self) -> bool {
        self.lock().token_expired
    }

    pub(crate) fn template_snapshots(&self) -> Vec<TemplateSnapshot> {
        let mut st = self.lock();
        st.refresh_templates(&self.cfg, Instant::now());
        st.templates.iter().map(Template::snapshot).collect()
    }

    pub(crate) fn sent_messages(&self) -> Vec<SentMessage> {
        self.lock().sent.iter().map(|r| r.msg.clone()).collect()
    }
}

impl Store {
    /// Applies due template reviews (PENDING -> APPROVED / REJECTED). Lazy: no timer runs.
    pub(crate) fn refresh_templates(&mut self, cfg: &SandboxConfig, now: Instant) {
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

    pub(crate) fn push_sent(&mut self, msg: SentMessage, failure: Option<i64>) {
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
