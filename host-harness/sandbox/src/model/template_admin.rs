//! What Meta does to templates after review, on the control API's request: status changes
//! (PAUSED, DISABLED, FLAGGED, back to APPROVED), quality scores and category reassignment,
//! each announced by the webhook Meta sends for it
//! (https://developers.facebook.com/docs/whatsapp/business-management-api/webhooks/components:
//! `message_template_status_update`, `message_template_quality_update`,
//! `template_category_update`).

use std::time::{Instant, SystemTime};

use serde_json::{Value, json};

use super::template::Status;
use super::world::World;
use crate::records::TemplateSnapshot;

/// A change Meta makes to a template after its review. Build it with `..Default::default()`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateChange {
    /// `APPROVED` (or `REINSTATED`), `PAUSED`, `DISABLED` or `FLAGGED`.
    pub status: Option<String>,
    /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
    pub quality_score: Option<String>,
    /// `AUTHENTICATION`, `MARKETING` or `UTILITY`.
    pub category: Option<String>,
}

fn parse_status(s: &str) -> Result<Status, String> {
    Ok(match s.to_ascii_uppercase().as_str() {
        "APPROVED" | "REINSTATED" => Status::Approved,
        "PAUSED" => Status::Paused,
        "DISABLED" => Status::Disabled,
        "FLAGGED" => Status::Flagged,
        _ => {
            return Err(format!(
                "status `{s}` is not one of APPROVED, REINSTATED, PAUSED, DISABLED, FLAGGED"
            ));
        }
    })
}

fn one_of(what: &str, value: Option<&str>, allowed: &[&str]) -> Result<Option<String>, String> {
    let Some(v) = value.map(str::to_ascii_uppercase) else {
        return Ok(None);
    };
    if allowed.contains(&v.as_str()) {
        Ok(Some(v))
    } else {
        Err(format!("{what} `{v}` is not one of {}", allowed.join(", ")))
    }
}

fn id_value(id: &str) -> Value {
    // Meta sends template ids in webhooks as JSON numbers.
    id.parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| id.into())
}

/// Applies `change` to template `name` (in `language`, or in every language); the templates
/// changed, or why none was.
pub(crate) fn apply(
    world: &World,
    name: &str,
    language: Option<&str>,
    change: &TemplateChange,
) -> Result<Vec<TemplateSnapshot>, String> {
    let status = change.status.as_deref().map(parse_status).transpose()?;
    let quality = one_of(
        "quality_score",
        change.quality_score.as_deref(),
        &["GREEN", "YELLOW", "RED", "UNKNOWN"],
    )?;
    let category = one_of(
        "category",
        change.category.as_deref(),
        &["AUTHENTICATION", "MARKETING", "UTILITY"],
    )?;
    let cfg = &world.cfg;
    let mut guard = world.lock();
    let st = &mut *guard;
    st.refresh_templates(cfg, Instant::now());
    let mut changed = Vec::new();
    for t in st
        .templates
        .iter_mut()
        .filter(|t| t.name == name && language.is_none_or(|l| t.language == l))
    {
        if let Some(new) = status {
            let was_held = matches!(
                t.status,
                Status::Paused | Status::Disabled | Status::Flagged
            );
            let event = if new == Status::Approved && was_held {
                "REINSTATED"
            } else {
                new.as_str()
            };
            t.status = new;
            t.review = None;
            st.outbox
                .template_status(cfg, &t.id, &t.name, &t.language, event, None);
        }
        if let Some(q) = &quality {
            let previous = std::mem::replace(&mut t.quality_score, q.clone());
            t.quality_score_at = SystemTime::now();
            st.outbox.template_update(
                cfg,
                "message_template_quality_update",
                json!({
                    "previous_quality_score": previous,
                    "new_quality_score": q,
                    "message_template_id": id_value(&t.id),
                    "message_template_name": t.name,
                    "message_template_language": t.language,
                }),
            );
        }
        if let Some(c) = category.as_ref().filter(|c| **c != t.category) {
            let previous = std::mem::replace(&mut t.category, c.clone());
            st.outbox.template_update(
                cfg,
                "template_category_update",
                json!({
                    "message_template_id": id_value(&t.id),
                    "message_template_name": t.name,
                    "message_template_language": t.language,
                    "previous_category": previous,
                    "new_category": c,
                }),
            );
            t.previous_category = Some(previous);
        }
        changed.push(t.snapshot());
    }
    if changed.is_empty() {
        let lang = language.map(|l| format!(" in {l}")).unwrap_or_default();
        return Err(format!("no template is named `{name}`{lang}"));
    }
    Ok(changed)
}
