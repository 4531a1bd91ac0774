//! End-to-end tests: the real component in the real harness, against the
//! Cloud API sandbox and other servers on 127.0.0.1 only.

mod admin;
mod adversarial;
mod common;
mod credentials;
mod errors;
mod fidelity;
mod hostile;
mod imports;
mod inbox;
mod mcp;
mod policy;
mod reliability;
mod replicas;
mod secrets;
mod tools;
mod validation;
mod webhooks;
