//! A message template as the API holds it, and its review lifecycle: `PENDING` until the
//! review ends, then `APPROVED` or `REJECTED`
//! (https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates).
//! A leaf: the world stores templates, the rules and handlers read them.

use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value, json};

use crate::records::TemplateSnapshot;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Pending,
    Approved,
    Rejected,
    /// Paused for low quality (the control API sets it); sends fail with 132015.
    Paused,
    /// Disabled after repeated pauses; sends fail with 132016.
    Disabled,
    /// Flagged for low quality; still sendable.
    Flagged,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Approved => "APPROVED",
            Status::Rejected => "REJECTED",
            Status::Paused => "PAUSED",
            Status::Disabled => "DISABLED",
            Status::Flagged => "FLAGGED",
        }
    }

    /// Whether messages can be sent with a template in this status.
    pub(crate) fn sendable(self) -> bool {
        matches!(self, Status::Approved | Status::Flagged)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParamFormat {
    Positional,
    Named,
}

impl ParamFormat {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ParamFormat::Positional => "POSITIONAL",
            ParamFormat::Named => "NAMED",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Template {
    /// Creation order; lists are newest first, i.e. by descending `seq`.
    pub(crate) seq: u64,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) language: String,
    pub(crate) category: String,
    pub(crate) parameter_format: ParamFormat,
    /// Stored as Meta returns them: component and button types upper-case.
    pub(crate) components: Vec<Value>,
    pub(crate) status: Status,
    pub(crate) rejected_reason: Option<String>,
    /// A pending review: when it ends and how.
    pub(crate) review: Option<(Instant, Status)>,
    /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN` (new templates).
    pub(crate) quality_score: String,
    /// When the quality score was last set (Meta's `quality_score.date`).
    pub(crate) quality_score_at: SystemTime,
    /// The category before Meta last reassigned it.
    pub(crate) previous_category: Option<String>,
}

/// Names with this prefix are rejected by the sandbox's reviewer (documented rule).
pub(crate) const REJECT_PREFIX: &str = "reject_";

/// Meta blocks re-creating a deleted name+language for 30 days.
pub(crate) const DELETED_NAME_BLOCK: Duration = Duration::from_secs(30 * 24 * 3600);

impl Template {
    /// Ends the review when due; returns the event name for the (future) status webhook.
    pub(crate) fn review_if_due(&mut self, now: Instant) -> Option<&'static str> {
        let (at, outcome) = self.review?;
        if now < at {
            return None;
        }
        self.review = None;
        self.status = outcome;
        if outcome == Status::Rejected {
            self.rejected_reason = Some("INVALID_FORMAT".into());
        }
        Some(outcome.as_str())
    }

    pub(crate) fn component(&self, ty: &str) -> Option<&Map<String, Value>> {
        self.components
            .iter()
            .filter_map(Value::as_object)
            .find(|c| c.get("type").and_then(Value::as_str) == Some(ty))
    }

    pub(crate) fn component_text(&self, ty: &str) -> Option<&str> {
        self.component(ty)?.get("text")?.as_str()
    }

    /// `TEXT`, `IMAGE`, … or `None` without a header.
    pub(crate) fn header_format(&self) -> Option<&str> {
        self.component("HEADER")?.get("format")?.as_str()
    }

    /// Distinct placeholders of a component's text, in order of first appearance.
    pub(crate) fn params_of(&self, ty: &str) -> Vec<String> {
        if ty == "BODY" && self.category == "AUTHENTICATION" {
            // Meta's fixed authentication body: "*{{1}}* is your verification code."
            return vec!["1".into()];
        }
        distinct(placeholders(self.component_text(ty).unwrap_or("")))
    }

    /// Indexes of buttons that need a parameter when sending (URL with a variable, OTP).
    pub(crate) fn buttons_needing_params(&self) -> Vec<(usize, String)> {
        let Some(buttons) = self
            .component("BUTTONS")
            .and_then(|c| c.get("buttons"))
            .and_then(Value::as_array)
        else {
            return Vec::new();
        };
        buttons
            .iter()
            .enumerate()
            .filter_map(|(i, b)| {
                let ty = b.get("type").and_then(Value::as_str).unwrap_or("");
                let url_var = ty == "URL"
                    && b.get("url")
                        .and_then(Value::as_str)
                        .is_some_and(|u| u.contains("{{"));
                let otp = ty == "OTP";
                (url_var || otp).then(|| (i, if otp { "Otp".into() } else { "Url".into() }))
            })
            .collect()
    }

    pub(crate) fn snapshot(&self) -> TemplateSnapshot {
        TemplateSnapshot {
            id: self.id.clone(),
            name: self.name.clone(),
            language: self.language.clone(),
            category: self.category.clone(),
            status: self.status.as_str().into(),
            parameter_format: self.parameter_format.as_str().into(),
            components: Value::Array(self.components.clone()),
            rejected_reason: self.rejected_reason.clone(),
        }
    }
}

/// `{{1}}` / `{{first_name}}` contents (trimmed), in order, duplicates kept.
pub(crate) fn placeholders(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            break;
        };
        out.push(after[..end].trim().to_owned());
        rest = &after[end + 2..];
    }
    out
}

pub(crate) fn distinct(v: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for x in v {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

// ----------------------------------------------------------------------------------------
// Seed: what a new WhatsApp Business Account has (plus one template with parameters).

pub(crate) fn seed() -> Vec<Template> {
    let hello = Template {
        seq: 0,
        id: "1192339204654487".into(),
        name: "hello_world".into(),
        language: "en_US".into(),
        category: "UTILITY".into(),
        parameter_format: ParamFormat::Positional,
        components: vec![
            json!({"type": "HEADER", "format": "TEXT", "text": "Hello World"}),
            json!({"type": "BODY", "text": "Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking the time to test with us."}),
            json!({"type": "FOOTER", "text": "WhatsApp Business Platform sample message"}),
        ],
        status: Status::Approved,
        rejected_reason: None,
        review: None,
        quality_score: "UNKNOWN".into(),
        quality_score_at: SystemTime::now(),
        previous_category: None,
    };
    let order = Template {
        seq: 0,
        id: "1689556908129832".into(),
        name: "order_update".into(),
        language: "en_US".into(),
        category: "UTILITY".into(),
        parameter_format: ParamFormat::Positional,
        components: vec![json!({
            "type": "BODY",
            "text": "Hi {{1}}, your order {{2}} has shipped.",
            "example": {"body_text": [["Mark", "#1042"]]}
        })],
        status: Status::Approved,
        rejected_reason: None,
        review: None,
        quality_score: "UNKNOWN".into(),
        quality_score_at: SystemTime::now(),
        previous_category: None,
    };
    vec![hello, order]
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn placeholders_are_found_in_order_with_spaces_trimmed() {
        assert_eq!(
            placeholders("Hi {{1}}, order {{ 2 }} and {{1}} again {{name}}"),
            vec!["1", "2", "1", "name"]
        );
        assert!(placeholders("no vars {{ unterminated").is_empty());
        assert!(placeholders("").is_empty());
    }
}
