//! Which customers' conversations an app may see in the inbox: those its
//! `allow_values` rules on `to` let it message.
//!
//! An app no such rule restricts sees every conversation. An app with
//! several (global or its own, whatever tools they are attached to) sees
//! only the numbers every one of them allows: reading a conversation is
//! never wider than answering it. An app the policy does not have sees
//! nothing.

use std::collections::BTreeSet;

use super::model::Policy;
use super::phone;
use super::rules::Check;

/// The customers an app may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// Every customer.
    All,
    /// Only the numbers in every one of these sets (E.164 digits, each
    /// with its WhatsApp alias spelling).
    Only(Vec<BTreeSet<String>>),
}

impl Visibility {
    /// Whether the customer `number` (any format `to` accepts) is visible.
    /// A number that is not one is never visible to a restricted app.
    pub fn permits(&self, number: &str) -> bool {
        match self {
            Visibility::All => true,
            Visibility::Only(sets) => match phone::normalise(number) {
                Ok(digits) => sets.iter().all(|set| set.contains(&digits)),
                Err(_) => false,
            },
        }
    }

    /// Whether some customers are hidden.
    pub fn is_restricted(&self) -> bool {
        matches!(self, Visibility::Only(_))
    }
}

impl Policy {
    /// The customers `app` may see in the inbox (see the module docs).
    pub fn visible_customers(&self, app: &str) -> Visibility {
        let Some(found) = self.app(app) else {
            // No set at all would mean "no restriction": one empty set hides everyone.
            return Visibility::Only(vec![BTreeSet::new()]);
        };
        let sets: Vec<BTreeSet<String>> = self
            .global
            .iter()
            .chain(found.rules.iter())
            .filter_map(|rule| match &rule.check {
                Check::AllowValues {
                    field,
                    values,
                    recipient: true,
                } if field == "to" => Some(values.clone()),
                _ => None,
            })
            .collect();
        if sets.is_empty() {
            Visibility::All
        } else {
            Visibility::Only(sets)
        }
    }
}
