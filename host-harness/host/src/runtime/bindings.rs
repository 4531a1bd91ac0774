//! Host bindings for the `connector` world (wit/connector.wit).

wasmtime::component::bindgen!({
    world: "connector",
    path: "../../wit",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "whatsapp:connector/vault.credential": crate::caps::credentials::CredentialHandle,
    },
});

pub(crate) use exports::whatsapp::connector::tools;
pub(crate) use exports::whatsapp::connector::webhooks;
pub(crate) use whatsapp::connector::{config, http, kv, media, vault};
