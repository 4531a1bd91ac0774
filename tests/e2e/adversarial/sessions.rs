//! Adversarial cases: sessions.
