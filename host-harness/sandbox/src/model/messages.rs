//! Sending messages: the stateful rules (the 24-hour customer-service window, throughput and
//! pair rate limits, approved templates) and what an accepted send leaves behind (the record
//! and its status webhooks).
//! https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-messages

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use http::StatusCode;
use serde_json::{Map, Value};

use super::inbound;
use super::params::require_whatsapp_product;
use super::send_rules::{Outgoing, mark_read, validate};
use super::template::Status;
use super::template_params::check_template_params;
use super::world::World;
use crate::delivery::failures::{self, Failure};
use crate::delivery::outbox::AcceptedSend;
use crate::graph_error::{GraphError, GraphResult};
use crate::records::SentMessage;
use crate::util;

/// The customer-service window.
const WINDOW: Duration = Duration::from_secs(24 * 3600);

/// How failures found while accepting a send are reported. Meta answers some in the HTTP
/// response and others (131047 often, 131026 and 131053 always) only later, in a `failed`
/// status webhook. Without a webhook callback the sandbox answers 131047 synchronously (nothing
/// else could report it); with one it accepts the send and fails it by webhook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FailureMode {
    Sync,
    Webhook,
}

/// 131047 answered at once; the same failure as the `failed` webhook reports it.
fn window_closed() -> GraphError {
    failure_now(Failure::window_closed())
}

/// A failure Meta reports by webhook, answered at once (no callback to report it).
fn failure_now(failure: Failure) -> GraphError {
    GraphError::new(
        StatusCode::BAD_REQUEST,
        failure.code,
        format!("(#{}) {}", failure.code, failure.title),
    )
    .details(failure.details)
}

fn throughput_hit() -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, 130429, "(#130429) Rate limit hit")
        .details("Cloud API message throughput has been reached.")
        .transient(true)
}

fn pair_limit_hit() -> GraphError {
    GraphError::new(
        StatusCode::BAD_REQUEST,
        131056,
        "(#131056) (Business Account, Consumer Account) pair rate limit hit",
    )
    .details(
        "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.",
    )
}

fn template_missing(name: &str, lang: &str) -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        132001,
        "(#132001) Template name does not exist in the translation",
    )
    .details(format!("template name ({name}) does not exist in {lang}"))
}

fn template_paused(name: &str) -> GraphError {
    GraphError::new(
        StatusCode::BAD_REQUEST,
        132015,
        "(#132015) Template is Paused",
    )
    .details(format!(
        "Template {name} is paused due to low quality so it cannot be sent in a template message."
    ))
}

fn template_disabled(name: &str) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, 132016, "(#132016) Template is disabled").details(
        format!("Template {name} has been paused too many times due to low quality and is now permanently disabled."),
    )
}

/// What a `POST messages` did.
pub(crate) enum SendOutcome {
    /// A read receipt (or typing indicator) was acknowledged.
    MarkedRead,
    /// A message was accepted: its id, `to` as given and the recipient's WhatsApp id.
    Accepted {
        id: String,
        to: String,
        wa_id: String,
    },
}

/// `POST /{v}/{phone-number-id}/messages` with its parameters: the body rules, then the
/// stateful ones (template approved and parameters matching, the 24-hour window, throughput
/// and pair rate limits).
pub(crate) fn send(world: &World, params: Map<String, Value>) -> GraphResult<SendOutcome> {
    require_whatsapp_product(&params)?;
    if params.contains_key("status") {
        mark_read(&params)?;
        let id = params
            .get("message_id")
            .and_then(Value::as_str)
            .unwrap_or("");
        inbound::mark_read(world, id)?;
        return Ok(SendOutcome::MarkedRead);
    }
    let out = validate(&params)?;
    accept(world, out, Value::Object(params))
}

fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        times.pop_front();
    }
}

fn accept(world: &World, out: Outgoing, request: Value) -> GraphResult<SendOutcome> {
    let cfg = &world.cfg;
    let now = Instant::now();
    let now_sys = SystemTime::now();
    let mut st = world.lock();
    st.refresh_templates(cfg, now);

    // Failures Meta may report asynchronously; see FailureMode.
    let mode = if st.outbox.enabled() {
        FailureMode::Webhook
    } else {
        FailureMode::Sync
    };
    let window_failure = if out.template.is_none() && out.individual {
        let open = st.last_inbound.get(&out.wa_id).is_some_and(|last| {
            match now_sys.duration_since(*last) {
                Ok(age) => age < WINDOW,
                // A last message "in the future" (clock games in tests) counts as now.
                Err(_) => true,
            }
        });
        !open
    } else {
        false
    };
    let mut delivery_failure = None;
    if window_failure {
        match mode {
            FailureMode::Sync => return Err(window_closed()),
            FailureMode::Webhook => delivery_failure = Some(Failure::window_closed()),
        }
    }
    if delivery_failure.is_none()
        && let Some(target) = out.reacts_to.as_deref()
        && !inbound::reaction_target_known(&st, &cfg.display_phone_number, &out.wa_id, target)
    {
        let failure = Failure::reaction_target_unknown(target);
        match mode {
            FailureMode::Sync => return Err(failure_now(failure)),
            FailureMode::Webhook => delivery_failure = Some(failure),
        }
    }
    if mode == FailureMode::Webhook && delivery_failure.is_none() {
        if out.individual && failures::undeliverable(&out.wa_id) {
            delivery_failure = Some(Failure::undeliverable());
        } else if let Some(link) = out
            .link
            .as_deref()
            .filter(|l| failures::media_unfetchable(l))
        {
            delivery_failure = Some(Failure::media_unfetchable(link));
        }
    }

    let mut template_category = None;
    if let Some(ts) = &out.template {
        let t = st
            .templates
            .iter()
            .find(|t| t.name == ts.name && t.language == ts.lang)
            .ok_or_else(|| template_missing(&ts.name, &ts.lang))?;
        match t.status {
            Status::Paused => return Err(template_paused(&ts.name)),
            Status::Disabled => return Err(template_disabled(&ts.name)),
            s if !s.sendable() => return Err(template_missing(&ts.name, &ts.lang)),
            _ => {}
        }
        check_template_params(t, &ts.components)?;
        template_category = Some(t.category.to_ascii_lowercase());
    }

    if let Some(limit) = cfg.throughput_per_second {
        prune(&mut st.send_times, now, Duration::from_secs(1));
        if st.send_times.len() >= limit as usize {
            return Err(throughput_hit());
        }
    }
    let mut pair_next = None;
    if let Some(pair) = cfg.pair_limit {
        if st.pair_times.len() > 10_000 {
            // Forget recipients whose bucket is full again, so the map stays small.
            st.pair_times.retain(|_, full_at| *full_at > now);
        }
        // A token bucket as a theoretical arrival time (GCRA): each send moves it one interval
        // on; a send is refused when that would put it more than the burst ahead of now.
        let full_at = st
            .pair_times
            .get(&out.wa_id)
            .copied()
            .unwrap_or(now)
            .max(now);
        let ahead = pair.interval * pair.burst.saturating_sub(1);
        if full_at.duration_since(now) > ahead {
            return Err(pair_limit_hit());
        }
        pair_next = Some(full_at + pair.interval);
    }

    // Accepted.
    let id = util::wamid(&out.wa_id);
    if cfg.throughput_per_second.is_some() {
        st.send_times.push_back(now);
    }
    if let Some(next) = pair_next {
        st.pair_times.insert(out.wa_id.clone(), next);
    }
    st.outbox.message_statuses(
        cfg,
        AcceptedSend {
            id: &id,
            wa_id: &out.wa_id,
            template_category,
            at: now_sys,
            failure: delivery_failure.clone(),
        },
    );
    st.push_sent(
        SentMessage {
            id: id.clone(),
            to: out.to.clone(),
            wa_id: out.wa_id.clone(),
            kind: out.kind.clone(),
            template: out.template.map(|t| (t.name, t.lang)),
            at: now_sys,
            request,
        },
        delivery_failure.map(|f| f.code),
    );
    drop(st);
    tracing::debug!(kind = %out.kind, "sandbox: message accepted");
    Ok(SendOutcome::Accepted {
        id,
        to: out.to,
        wa_id: out.wa_id,
    })
}
