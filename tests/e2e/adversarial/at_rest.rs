//! Adversarial cases: at_rest.
