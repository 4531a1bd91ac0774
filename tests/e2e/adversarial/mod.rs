//! Attacks on the gateway's guarantees, each through the transport the
//! attacker would use: what got through before, and must not now.

mod at_rest;
mod exposure;
mod floods;
mod leaks;
mod sessions;
mod text_rules;
