//! Adversarial cases: exposure.
