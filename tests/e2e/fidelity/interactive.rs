//! Fidelity cases: interactive.
