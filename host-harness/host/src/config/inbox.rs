//! `[inbox]`: whether the content of inbound messages is kept, and how long.
//!
//! Off by default: then inbound webhooks only move the 24-hour window and
//! nothing of what a customer wrote is stored. On, the component keeps each
//! message (and what this gateway sends) in the state store, sealed at rest,
//! and every record expires `retention_days` after it was written.

use anyhow::Context as _;
use serde::Deserialize;

/// The default retention, in days.
pub(crate) const DEFAULT_RETENTION_DAYS: f64 = 30.0;
/// The longest retention accepted (ten years), so the TTL fits.
const MAX_RETENTION_DAYS: f64 = 3650.0;

/// The `[inbox]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InboxSettings {
    /// Keep inbound message content for the inbox tools (env `WHATSAPP_INBOX_ENABLED`).
    pub enabled: bool,
    /// Days a record is kept (env `WHATSAPP_INBOX_RETENTION_DAYS`). Fractions
    /// are accepted (`0.5` is twelve hours); at least one second.
    pub retention_days: f64,
}

impl Default for InboxSettings {
    fn default() -> Self {
        InboxSettings {
            enabled: false,
            retention_days: DEFAULT_RETENTION_DAYS,
        }
    }
}

impl InboxSettings {
    pub(super) fn apply_env(
        &mut self,
        get: &impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<()> {
        if let Some(v) = get("WHATSAPP_INBOX_ENABLED") {
            self.enabled = match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                other => anyhow::bail!(
                    "WHATSAPP_INBOX_ENABLED `{other}` is not a boolean; use true or false"
                ),
            };
        }
        if let Some(v) = get("WHATSAPP_INBOX_RETENTION_DAYS") {
            self.retention_days = v.trim().parse().with_context(|| {
                format!(
                    "WHATSAPP_INBOX_RETENTION_DAYS `{v}` is not a number of days like 30 or 0.5"
                )
            })?;
        }
        Ok(())
    }

    /// Checks the retention is a number of days from one second to ten years.
    pub(super) fn validate(&self) -> anyhow::Result<()> {
        let days = self.retention_days;
        if !days.is_finite() || days * 86_400.0 < 1.0 || days > MAX_RETENTION_DAYS {
            anyhow::bail!(
                "inbox.retention_days is {days}; give a number of days from 0.00002 (about two seconds) to {MAX_RETENTION_DAYS}, for example 30"
            );
        }
        Ok(())
    }

    /// The retention in whole seconds (at least one).
    pub(crate) fn retention_seconds(&self) -> u32 {
        let secs = (self.retention_days * 86_400.0).round();
        secs.clamp(1.0, f64::from(u32::MAX)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inbox_is_off_by_default_and_keeps_thirty_days_when_turned_on() {
        let mut inbox = InboxSettings::default();
        assert!(!inbox.enabled);
        assert_eq!(inbox.retention_seconds(), 30 * 86_400);
        inbox
            .apply_env(&|name: &str| match name {
                "WHATSAPP_INBOX_ENABLED" => Some("true".into()),
                "WHATSAPP_INBOX_RETENTION_DAYS" => Some("0.5".into()),
                _ => None,
            })
            .unwrap();
        assert!(inbox.enabled);
        assert_eq!(inbox.retention_seconds(), 43_200);
        inbox.validate().unwrap();
    }

    #[test]
    fn a_retention_that_is_not_a_usable_number_of_days_is_refused_with_the_range() {
        for days in [0.0, -1.0, f64::NAN, 5000.0] {
            let inbox = InboxSettings {
                enabled: true,
                retention_days: days,
            };
            let e = inbox.validate().unwrap_err().to_string();
            assert!(e.contains("inbox.retention_days"), "{e}");
        }
        let mut inbox = InboxSettings::default();
        let e = inbox
            .apply_env(&|name: &str| (name == "WHATSAPP_INBOX_ENABLED").then(|| "maybe".into()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("WHATSAPP_INBOX_ENABLED"), "{e}");
    }
}
