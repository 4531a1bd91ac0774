//! Adversarial cases: leaks.
