//! Adversarial cases: floods.
