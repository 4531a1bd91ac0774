//! Fidelity to the Cloud API: what Meta accepts is accepted, what it
//! refuses is refused, and the sandbox is as strict as the API.

mod accept_refuse;
mod carousel;
pub(crate) mod interactive;
mod media;
mod strict_sandbox;
