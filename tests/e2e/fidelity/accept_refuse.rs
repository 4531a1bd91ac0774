//! Fidelity cases: accept_refuse.
