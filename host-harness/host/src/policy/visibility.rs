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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::ToolInfo;
    use crate::tool::Category;

    fn policy(text: &str) -> Policy {
        let tool = |name: &str, fields: &[&str]| ToolInfo {
            name: name.into(),
            category: Category::Write,
            fields: fields.iter().map(|f| f.to_string()).collect(),
        };
        let tools = [
            tool("whatsapp_send_message", &["to", "text"]),
            tool("whatsapp_get_messages", &["customer"]),
        ];
        Policy::parse(text, "test.toml", &tools).expect("the test policy loads")
    }

    const TWO_APPS: &str = r#"
        [[apps]]
        name = "a-only"
        key_hash = "sha256:0000000000000000000000000000000000000000000000000000000000000001"
        tools = ["*"]
        [[apps.rules]]
        id = "a"
        template = "allow_values"
        tools = ["whatsapp_send_message"]
        field = "to"
        values = ["+16505550001", "+5511987654321"]

        [[apps]]
        name = "everyone"
        key_hash = "sha256:0000000000000000000000000000000000000000000000000000000000000002"
        tools = ["*"]
    "#;

    #[test]
    fn an_app_restricted_on_to_sees_only_the_numbers_it_may_message_in_any_spelling() {
        let visible = policy(TWO_APPS).visible_customers("a-only");
        assert!(visible.is_restricted());
        assert!(visible.permits("+1 (650) 555-0001"));
        // Brazil's other spelling of the same mobile number is the same customer.
        assert!(visible.permits("+551187654321"));
        assert!(!visible.permits("+16505550002"));
        assert!(!visible.permits("not a number"));
    }

    #[test]
    fn an_app_without_recipient_rules_sees_every_customer_and_an_unknown_app_none() {
        let p = policy(TWO_APPS);
        assert_eq!(p.visible_customers("everyone"), Visibility::All);
        assert!(!p.visible_customers("stranger").permits("+16505550001"));
    }

    #[test]
    fn a_global_and_an_app_rule_on_to_both_restrict_what_the_app_sees() {
        let text = format!(
            r#"
            [[rules]]
            id = "us-only"
            template = "allow_values"
            tools = ["whatsapp_send_message"]
            field = "to"
            values = ["+16505550001", "+16505550003"]
            {TWO_APPS}"#
        );
        let p = policy(&text);
        let a = p.visible_customers("a-only");
        assert!(a.permits("+16505550001"));
        assert!(!a.permits("+16505550003"), "the app's own rule excludes it");
        assert!(!a.permits("+5511987654321"), "the global rule excludes it");
        assert!(p.visible_customers("everyone").permits("+16505550003"));
        assert!(!p.visible_customers("everyone").permits("+16505550002"));
    }
}
