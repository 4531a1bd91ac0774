//! Adversarial cases: text_rules.
