//! Fidelity cases: media.
