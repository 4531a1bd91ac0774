//! The templates of the WhatsApp Business Account: list, find, create (with the account's
//! limits) and delete. Requests and JSON are the routes' business; this is the state.

use std::time::{Duration, Instant, SystemTime};

use http::StatusCode;
use serde_json::{Map, Value};

use super::template::{DELETED_NAME_BLOCK, REJECT_PREFIX, Status, Template};
use super::template_rules::{language_name, validate_create};
use super::world::World;
use crate::config::SandboxConfig;
use crate::graph_error::{GraphError, GraphResult};
use crate::util;

/// Which templates a list asks for (each `None` matches all).
pub(crate) struct TemplateFilter {
    /// Lower-case substring of the name.
    pub(crate) name: Option<String>,
    /// Upper-case statuses.
    pub(crate) statuses: Option<Vec<String>>,
    /// Upper-case categories.
    pub(crate) categories: Option<Vec<String>>,
    pub(crate) languages: Option<Vec<String>>,
}

/// The matching templates, newest first, and how many the account has in all.
pub(crate) fn list(world: &World, filter: &TemplateFilter) -> (Vec<Template>, usize) {
    let TemplateFilter {
        name,
        statuses,
        categories,
        languages,
    } = filter;
    let mut st = world.lock();
    st.refresh_templates(&world.cfg, Instant::now());
    let mut matching: Vec<Template> = st
        .templates
        .iter()
        .filter(|t| name.as_deref().is_none_or(|n| t.name.contains(n)))
        .filter(|t| {
            statuses
                .as_ref()
                .is_none_or(|s| s.iter().any(|x| x == t.status.as_str()))
        })
        .filter(|t| categories.as_ref().is_none_or(|c| c.contains(&t.category)))
        .filter(|t| languages.as_ref().is_none_or(|l| l.contains(&t.language)))
        .cloned()
        .collect();
    matching.sort_by_key(|t| std::cmp::Reverse(t.seq));
    (matching, st.templates.len())
}

/// Whether a template has this id (whatever its status).
pub(crate) fn exists(world: &World, id: &str) -> bool {
    world.lock().templates.iter().any(|t| t.id == id)
}

/// The template with this id, its status brought up to date.
pub(crate) fn find(world: &World, id: &str) -> Option<Template> {
    let mut st = world.lock();
    st.refresh_templates(&world.cfg, Instant::now());
    st.templates.iter().find(|t| t.id == id).cloned()
}

/// Creates a template from request parameters: Meta's rules, then the account's limits
/// (duplicates, names deleted in the last 30 days, creations per hour). The new template is
/// `PENDING` and its review is scheduled.
pub(crate) fn create(world: &World, params: &Map<String, Value>) -> GraphResult<Template> {
    let new = validate_create(params)?;
    let cfg: &SandboxConfig = &world.cfg;
    let now = Instant::now();
    let now_sys = SystemTime::now();
    let mut st = world.lock();
    st.refresh_templates(cfg, now);

    if st
        .templates
        .iter()
        .any(|t| t.name == new.name && t.language == new.language)
    {
        let lang = language_name(&new.language);
        return Err(GraphError::new(StatusCode::BAD_REQUEST, 100, "Invalid parameter")
            .subcode(2388024)
            .transient(false)
            .user(
                "Content in This Language Already Exists",
                format!(
                    "There is already {lang} content for this template. You can create a new template and try again."
                ),
            )
            .details(format!(
                "A template named {} already exists in {}.",
                new.name, new.language
            )));
    }
    st.deleted_templates.retain(|(_, _, at)| {
        now_sys
            .duration_since(*at)
            .map(|d| d < DELETED_NAME_BLOCK)
            .unwrap_or(true)
    });
    if st
        .deleted_templates
        .iter()
        .any(|(n, l, _)| *n == new.name && *l == new.language)
    {
        let lang = language_name(&new.language);
        return Err(GraphError::new(StatusCode::BAD_REQUEST, 100, "Invalid parameter")
            .subcode(2388023)
            .transient(false)
            .user(
                "Message Template Language Is Being Deleted",
                format!(
                    "New {lang} content can't be added while the existing {lang} content is being deleted. Try again in 4 weeks or create a new message template."
                ),
            )
            .details(format!(
                "The template {} in {} was deleted less than 30 days ago; its name can't be reused yet.",
                new.name, new.language
            )));
    }
    if let Some(limit) = cfg.template_creations_per_hour {
        let hour = Duration::from_secs(3600);
        while st
            .template_creations
            .front()
            .is_some_and(|t| now.duration_since(*t) >= hour)
        {
            st.template_creations.pop_front();
        }
        if st.template_creations.len() >= limit as usize {
            // Access returns when the oldest creation of the hour leaves the window.
            let regain = st
                .template_creations
                .front()
                .map(|t| hour.saturating_sub(now.duration_since(*t)))
                .unwrap_or(hour);
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                80007,
                "(#80007) Rate limit issues",
            )
            .details(format!(
                "Message template creation limit reached: at most {limit} templates can be created per WhatsApp Business Account per hour."
            ))
            .business_usage(
                &cfg.waba_id,
                "whatsapp_business_management",
                regain.as_secs().div_ceil(60).max(1),
            ));
        }
    }
    st.template_creations.push_back(now);

    let outcome = if new.name.starts_with(REJECT_PREFIX) {
        Status::Rejected
    } else {
        Status::Approved
    };
    let seq = st.next_template_seq;
    st.next_template_seq += 1;
    let mut id = util::numeric_id(16);
    while st.templates.iter().any(|t| t.id == id) {
        id = util::numeric_id(16);
    }
    tracing::debug!(name = %new.name, language = %new.language, id = %id, "sandbox: template created");
    let template = Template {
        seq,
        id,
        name: new.name,
        language: new.language,
        category: new.category,
        parameter_format: new.format,
        components: new.components,
        status: Status::Pending,
        rejected_reason: None,
        // A delay too large for the clock means the review never ends.
        review: now.checked_add(cfg.approval_delay).map(|at| (at, outcome)),
        quality_score: "UNKNOWN".into(),
        quality_score_at: now_sys,
        previous_category: None,
    };
    st.templates.push(template.clone());
    if let Some(at) = now.checked_add(cfg.approval_delay) {
        // With webhooks, the review result is announced when it is due.
        st.outbox.review_due(at);
    }
    Ok(template)
}

/// Deletes every language of template `name`, or only the one with `hsm_id`; the
/// name+language pairs cannot be created again for 30 days.
pub(crate) fn delete(world: &World, name: &str, hsm_id: Option<&str>) -> GraphResult<()> {
    let now_sys = SystemTime::now();
    let mut st = world.lock();
    st.refresh_templates(&world.cfg, Instant::now());
    let doomed: Vec<usize> = match hsm_id {
        Some(id) => {
            let Some(pos) = st.templates.iter().position(|t| t.id == *id) else {
                return Err(GraphError::invalid_param(format!(
                    "No message template with hsm_id {id} exists."
                )));
            };
            if st.templates[pos].name != name {
                return Err(GraphError::invalid_param(format!(
                    "The message template with hsm_id {id} is not named {name}."
                )));
            }
            vec![pos]
        }
        None => st
            .templates
            .iter()
            .enumerate()
            .filter(|(_, t)| t.name == name)
            .map(|(i, _)| i)
            .collect(),
    };
    if doomed.is_empty() {
        return Err(GraphError::invalid_param(format!(
            "Message template \"{name}\" can't be deleted because it doesn't exist."
        ))
        .user(
            "Message Template Not Found",
            format!("There is no message template named {name}."),
        ));
    }
    for &i in doomed.iter().rev() {
        let t = st.templates.remove(i);
        tracing::debug!(name = %t.name, language = %t.language, id = %t.id, "sandbox: template deleted");
        st.deleted_templates.push((t.name, t.language, now_sys));
    }
    Ok(())
}
