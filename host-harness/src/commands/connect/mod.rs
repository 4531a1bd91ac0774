//! `host-harness connect`: Facebook Login for WhatsApp
//! (https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow/).
//!
//! 1. A loopback listener on 127.0.0.1 and a random `state`; the user opens the
//!    authorization URL (`/{v}/dialog/oauth` with both WhatsApp scopes, or a
//!    Facebook Login for Business `config_id`).
//! 2. The dialog redirects to `http://127.0.0.1:PORT/callback` with `code` and
//!    the same `state` (or `error=access_denied`).
//! 3. The code is exchanged (`/oauth/access_token`), then exchanged again for a
//!    long-lived token (`grant_type=fb_exchange_token`).
//! 4. `debug_token` (authorised by the app token) confirms validity, app,
//!    expiry and both scopes; the WABA id is the first `whatsapp_business_management`
//!    target in `granular_scopes`; the phone-number ids come from
//!    `/{waba-id}/phone_numbers` (the user picks one when there are several).
//! 5. The app is subscribed to the WABA's webhooks unless it already is.
//!
//! The caller stores the token in the vault and writes the ids. Nothing here
//! logs or prints a secret; errors name what failed and how to fix it.

mod command;
mod config_file;
mod errors;
mod flow;
mod redirect;
#[cfg(test)]
mod tests;

pub use command::{ConnectArgs, run};
pub use errors::ConnectError;
pub use flow::{Connected, FlowOptions, Subscription, run_flow};
