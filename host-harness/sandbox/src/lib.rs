//! A loopback imitation ("sandbox") of the WhatsApp Cloud API (Meta Graph API).
//!
//! It lets the demo, the end-to-end tests and the benchmarks run the connector with no Meta
//! account. It answers the documented paths with the documented JSON, error JSON and HTTP
//! statuses (https://developers.facebook.com/docs/whatsapp/cloud-api/reference), keeps enough
//! state to be believable (templates with a review lifecycle, the 24-hour customer-service
//! window, throughput and pair rate limits, the business profile) and can inject transport
//! faults for resilience tests.
//!
//! # Layout
//!
//! Dependencies point one way, down this list; no module imports one above it.
//!
//! - [`Sandbox`] (`sandbox.rs`): the handle a caller holds; starts the server and the webhook
//!   dispatcher over one shared `World`.
//! - `routes/`: the HTTP side. The accept loop, request parsing (`GraphRequest`), paging, the
//!   Graph router, one handler file per family of endpoints, the `/_sandbox/*` control
//!   endpoints and the carrying out of injected faults. Handlers turn requests into model
//!   calls and model results into Graph JSON or errors.
//! - `model/`: the API's state and rules with no HTTP in it. `world` aggregates the account
//!   (templates and their review lifecycle, sent messages, the customer-service window, rate
//!   limits, the profile, the token registry, queued faults); the operations (`templates`,
//!   `messages`) and rules (`template_rules`, `send_rules`, …) work on it.
//! - `delivery/`: outgoing webhooks: the queue the model writes to, the payloads and their
//!   signature, and the dispatcher that POSTs them with retries. It knows nothing of the
//!   model (a template review that falls due is signalled through a callback).
//! - leaves used by all: `config` ([`SandboxConfig`] and friends), `records` (what the sandbox
//!   reports: [`RecordedRequest`], [`TemplateSnapshot`], [`SentMessage`]), `graph_error` (the
//!   Graph error model) and `util`.
//!
//! # Documented choices (where Meta leaves room)
//!
//! - Template lists are ordered newest first (Meta's order); cursors are opaque base64 strings;
//!   `limit` defaults to 25; above 100 it is refused with code 100, as Graph does, not cut.
//! - A new template is `PENDING` until `approval_delay` has elapsed, then `APPROVED`, except names
//!   starting with `reject_`, which become `REJECTED` with `rejected_reason: INVALID_FORMAT`. The
//!   transition is evaluated lazily whenever state is read.
//! - A deleted template name+language cannot be recreated for 30 days (subcode 2388023): Meta's
//!   rule as BSP docs quote it.
//! - Throughput (130429) and pair limit (131056) are reported synchronously in the HTTP
//!   response. The 24 h window (131047) is too when no webhook callback is configured; with one,
//!   the send is accepted and fails later by a `failed` status webhook, as Meta does.
//! - With `webhook_callback` set, the sandbox delivers signed webhooks: statuses after each
//!   accepted send, template review results and simulated inbound messages (rules and settings:
//!   see `delivery`).
//! - Rate windows are sliding: throughput counts accepted sends in the last second, the pair
//!   limit is a token bucket per recipient: a burst, then one send per [`PairLimit::interval`]
//!   (Meta: one message every 6 s to the same user, bursts up to 45).
//! - Facebook Login (`/{v}/dialog/oauth`, `oauth/access_token`), `debug_token`,
//!   `subscribed_apps` and the token registry (each token with scopes and expiry, checked on
//!   every request): see `routes::login`, `routes::tokens`, `model::tokens` and
//!   [`OAuthConfig`].
//! - Media: `POST /{phone-number-id}/media` (multipart) checks Meta's types and size limits and
//!   returns ids that sends accept; `GET /{media-id}` describes the upload (no download URL);
//!   the Resumable Upload API (`/{app-id}/uploads`, `/upload:…`) returns handles. See
//!   `model::media`.
//! - Templates can be paused (132015), disabled (132016), flagged (still sendable), reinstated,
//!   re-scored and re-categorised by [`Sandbox::change_template`]; filled-in template text over
//!   Meta's limits is 132005, parameters with newlines, tabs or five spaces 132007.
//! - Simulated users write texts, reply-button taps (`interactive.button_reply` for an
//!   interactive message, `button {payload, text}` for a template quick reply), photos (an 8×8
//!   JPEG under a media id `GET /{media-id}` describes; the webhook's `sha256` is base64, the
//!   media endpoint's hex), quoted replies (`context {from, id}`) and reactions (no `emoji` when
//!   removed), each with the contact's profile name ([`Sandbox::simulate_inbound_message`]).
//!   A quoted or reacted-to id must be a message of that conversation.
//! - A read receipt (`status: read`, optional `typing_indicator {"type": "text"}`) must name a
//!   message a user sent (else code 100 naming `message_id`: the sandbox's choice, Meta does not
//!   document it); it and the user's earlier messages become read
//!   ([`Sandbox::received_messages`]). A reaction to a message outside the conversation (or to
//!   a reaction) fails with 131009, by webhook when a callback is set, as Meta documents.
//! - Brazilian and Mexican mobiles answer with a different `wa_id` (see `util::wa_id_for`).
//! - Errors from auth (190) and unknown objects (100/33) carry no `error_data`, like Graph;
//!   WhatsApp-level errors carry `error_data.details`.
//! - [`Sandbox::requests`] keeps the latest 50 000 requests; [`Sandbox::sent_messages`] the
//!   latest 100 000.
//!
//! # Control endpoints
//!
//! Loopback test hooks, no auth, never recorded or faulted:
//! `POST /_sandbox/inbound` (a user writes: [`InboundMessage`] as JSON, `{"from", "kind"?:
//! "text"|"button_reply"|"image"|"reply"|"reaction", "text"?, "button"?: {"id","title"},
//! "context_message_id"?, "emoji"?, "caption"?, "name"?, "timestamp"?}`, answers `{"id"}`),
//! `GET /_sandbox/inbound` (what users wrote, with `read`), `GET|DELETE /_sandbox/requests`,
//! `POST|DELETE /_sandbox/faults` (JSON form: `{"path_contains"?, "times"?, "kind": {"type":
//! "status"|"graph_error"|"latency"|"malformed_json"|"drop_connection"|"slow_body"|
//! "oversized_body", …}}`), `GET /_sandbox/templates`, `POST /_sandbox/templates {"name",
//! "language"?, "status"?: "PAUSED"|"DISABLED"|"FLAGGED"|"APPROVED", "quality_score"?,
//! "category"?}` (what Meta does to a template after review, with its webhooks),
//! `GET /_sandbox/messages`,
//! `POST /_sandbox/token {"expired": bool}`, `GET /_sandbox/config`, `GET /_sandbox/webhooks`
//! (deliveries made, without bodies), `POST /_sandbox/webhooks {"callback": url|null}` (where
//! webhooks go; the config shows the app secret that signs them).

#![deny(missing_docs)]

mod config;
mod delivery;
mod graph_error;
mod model;
mod records;
mod routes;
mod sandbox;
mod util;

#[cfg(test)]
mod inbound_tests;
#[cfg(test)]
mod tests;

pub use config::{
    Consent, OAuthConfig, PairLimit, SandboxConfig, SandboxPhoneNumber, WebhookBehaviour,
};
pub use delivery::payload::signature as webhook_signature;
pub use delivery::record::{WebhookDelivery, WebhookKind};
pub use model::faults::{Fault, FaultKind};
pub use model::inbound::{InboundButton, InboundKind, InboundMessage};
pub use model::template_admin::TemplateChange;
pub use records::{ReceivedMessage, RecordedRequest, SentMessage, TemplateSnapshot};
pub use sandbox::{GivenCredentials, Sandbox, run_standalone};
