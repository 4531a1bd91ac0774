//! Meta's error codes: for each, a short title, a hint that says what to do,
//! and whether repeating the same request later can succeed. A data table;
//! the mapping that uses it is in `errors`.
//!
//! Codes and meanings: https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
//! and https://developers.facebook.com/docs/graph-api/guides/error-handling

/// What the connector says about one error code.
///
/// In `hint`, `{scope}` stands for the permission the call needs and
/// `{details}` for the details Meta gave; nothing else is substituted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CodeInfo {
    pub(crate) title: &'static str,
    pub(crate) hint: &'static str,
    pub(crate) retryable: bool,
}

/// Code 100, "Invalid parameter": its hint is built from the details.
pub(crate) const INVALID_PARAMETER: i64 = 100;

/// The info for `code`, if the table knows it.
pub(crate) fn lookup(code: i64) -> Option<CodeInfo> {
    if (200..=299).contains(&code) {
        return Some(PERMISSION_RANGE);
    }
    CODES
        .binary_search_by_key(&code, |&(c, ..)| c)
        .ok()
        .map(|i| {
            let (_, title, hint, retryable) = CODES[i];
            CodeInfo {
                title,
                hint,
                retryable,
            }
        })
}

/// A title and hint for a (code, subcode) pair that needs its own, when
/// Meta gives a subcode the connector knows.
/// Token subcodes: https://developers.facebook.com/docs/graph-api/guides/error-handling#errorcodes
/// Template subcodes: https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates#troubleshooting
pub(crate) fn lookup_subcode(code: i64, subcode: i64) -> Option<(&'static str, &'static str)> {
    Some(match (code, subcode) {
        (190, 463) => (
            "Access token expired",
            "The access token has expired: reconnect the account (`host-harness connect`) to get a new token; use a system-user token to avoid expiry.",
        ),
        (190, 467) => (
            "Access token invalidated",
            "The access token was invalidated (the user logged out, changed the password or removed the app): reconnect the account (`host-harness connect`) with a user who has access.",
        ),
        (190, 460) => (
            "Access token invalidated by a password change",
            "The password of the account behind the token changed: reconnect the account (`host-harness connect`).",
        ),
        (_, 2388023) => (
            "Template language being deleted",
            "This template name's content in this language is being deleted, so it cannot be created again yet: use a new name, or wait until the deletion finishes (up to 4 weeks).",
        ),
        (_, 2388024) => (
            "Template already exists",
            "A template with this name and language already exists: use a new name, or add a different language; whatsapp_list_templates shows the existing one.",
        ),
        (_, 2388299) => (
            "Variable at the start or end",
            "A placeholder stands at the very start or end of the text: add words before the first and after the last placeholder, then create the template again.",
        ),
        _ => return None,
    })
}

/// Codes 200 to 299: permission errors.
const PERMISSION_RANGE: CodeInfo = CodeInfo {
    title: "Permission denied",
    hint: "The token has no access to this WhatsApp asset: grant {scope} (with the WABA and phone number assigned to the system user or app), then reconnect (`host-harness connect`).",
    retryable: false,
};

/// (code, title, hint, retryable), sorted by code.
pub(crate) const CODES: &[(i64, &str, &str, bool)] = &[
    (
        0,
        "Authentication failed",
        "The access token could not be authenticated (expired or invalidated): reconnect the account (`host-harness connect`) or replace the token.",
        false,
    ),
    (
        1,
        "Unknown API error",
        "Meta could not process the request (invalid request or a server problem): check the arguments, then retry once after a short wait; see metastatus.com if it persists.",
        true,
    ),
    (
        2,
        "API service unavailable",
        "Temporary downtime or overload at Meta: retry later with exponential backoff.",
        true,
    ),
    (
        3,
        "Capability or permission missing",
        "The app lacks the capability for this call: check that the token has {scope} and that the app has the WhatsApp product.",
        false,
    ),
    (
        4,
        "Too many API calls",
        "The app-level rate limit was reached: it is counted per hour, so retrying within seconds fails again; wait retry_after_seconds when given (else several minutes), and spread calls out.",
        true,
    ),
    (
        10,
        "Permission denied",
        "The token lacks a permission: grant {scope} to the app or system user and assign the WhatsApp account to it, then reconnect (`host-harness connect`).",
        false,
    ),
    (
        17,
        "User request limit reached",
        "Too many calls for this user: the limit is counted per hour, so wait retry_after_seconds when given (else several minutes) before calling again.",
        true,
    ),
    (
        33,
        "Phone number deleted",
        "The sending phone number was deleted from the WhatsApp Business Account: check `phone-number-id`.",
        false,
    ),
    (100, "Invalid parameter", "", false),
    (
        190,
        "Access token expired or invalid",
        "The access token expired or is invalid: reconnect the account (`host-harness connect`) or replace the token, then retry.",
        false,
    ),
    (
        368,
        "Temporarily blocked for policy violations",
        "The account is temporarily blocked for policy violations: check Business Support Home / WhatsApp Manager for the restriction and appeal there; retrying will not help.",
        false,
    ),
    (
        803,
        "Object not found",
        "Meta does not know an id in the request ({details}): check `phone-number-id` and `waba-id` in the configuration, or the template or media id given.",
        false,
    ),
    (
        80007,
        "WABA rate limit reached",
        "The WhatsApp Business Account's management rate limit (200 or 5000 calls per hour) was hit: wait retry_after_seconds when given (else several minutes) before listing, creating or deleting templates again.",
        true,
    ),
    (
        130429,
        "Throughput limit reached",
        "The phone number's send rate (80 messages per second by default) was exceeded: slow down and retry this message after a short backoff.",
        true,
    ),
    (
        130472,
        "User in a marketing experiment",
        "Meta withheld this marketing message because the user is part of an experiment: do not retry; reach them with a utility template or later.",
        false,
    ),
    (
        130497,
        "Country restricted",
        "Messages to users in this country are restricted for this business: do not retry.",
        false,
    ),
    (
        131000,
        "Something went wrong",
        "A generic WhatsApp failure: retry once or twice with backoff; if it persists, contact Meta support with the fbtrace id.",
        true,
    ),
    (
        131005,
        "Access denied",
        "The token lacks the permission for this call: grant {scope} and reconnect (`host-harness connect`).",
        false,
    ),
    (
        131008,
        "Required parameter missing",
        "A required parameter is missing: {details}. Add it and call again.",
        false,
    ),
    (
        131009,
        "Parameter value not valid",
        "A parameter value is not valid: {details}. Fix it and call again.",
        false,
    ),
    (
        131016,
        "Service unavailable",
        "WhatsApp is temporarily unavailable: retry later with backoff.",
        true,
    ),
    (
        131021,
        "Recipient cannot be sender",
        "`to` is the business's own number: send to a different user.",
        false,
    ),
    (
        131026,
        "Message undeliverable",
        "The recipient cannot receive this message (not on WhatsApp, an old app version, terms not accepted, or the business is blocked): check the number; do not retry the same message.",
        false,
    ),
    (
        131030,
        "Recipient not in allowed list",
        "With a test number only up to 5 allowed recipients can be messaged: add this number in App Dashboard > WhatsApp > API Setup (To field), or use a production number.",
        false,
    ),
    (
        131031,
        "Business account locked",
        "The WhatsApp Business Account is locked (policy violation or a wrong two-step PIN): check WhatsApp Manager; retrying will not help.",
        false,
    ),
    (
        131037,
        "Display name not approved",
        "The sending number needs an approved display name before it can send: finish display-name review in WhatsApp Manager.",
        false,
    ),
    (
        131042,
        "Payment issue",
        "There is a billing problem with the WhatsApp Business Account: fix the payment method in Business Settings, then retry.",
        false,
    ),
    (
        131045,
        "Phone number not registered correctly",
        "The phone number's certificate or registration is wrong: register the number again (POST /{phone-number-id}/register).",
        false,
    ),
    (
        131047,
        "Re-engagement message",
        "More than 24 hours have passed since the user last wrote, so free-form messages are not allowed: use whatsapp_send_template with an APPROVED template (see whatsapp_list_templates).",
        false,
    ),
    (
        131048,
        "Spam rate limit hit",
        "Messages were restricted because many users blocked or reported this number: stop sending to new users for a while and improve message quality; retrying now will not help.",
        false,
    ),
    (
        131049,
        "Not delivered to maintain engagement",
        "Meta chose not to deliver this marketing message to keep engagement healthy (per-user marketing limit): do not retry now; wait at least 24 hours before sending this user another marketing template.",
        false,
    ),
    (
        131050,
        "User stopped marketing messages",
        "The user opted out of marketing messages from this business: never resend marketing to them; utility or service messages may still be allowed.",
        false,
    ),
    (
        131051,
        "Unsupported message type",
        "This message type is not supported: use text, image, video, document or audio, or a template.",
        false,
    ),
    (
        131052,
        "Media download error",
        "Media a user sent to the business could not be downloaded by WhatsApp; it concerns an inbound message, not one the connector sent. The user may send it again.",
        false,
    ),
    (
        131053,
        "Media upload error",
        "Meta could not fetch or process the media: the media link must be publicly reachable over HTTPS without login or redirects, with a supported type and size (image JPEG/PNG ≤ 5 MB, video MP4/3GP ≤ 16 MB, audio ≤ 16 MB, document ≤ 100 MB); fix the file, then send again.",
        false,
    ),
    (
        131056,
        "Pair rate limit hit",
        "Too many messages to this same user in a short time (about 1 every 6 seconds): wait 4^X seconds before retrying this recipient (1 s, 4 s, 16 s, … for X = 0, 1, 2, …); other recipients are not affected.",
        true,
    ),
    (
        131057,
        "Account in maintenance mode",
        "The business account is in maintenance mode (for example a throughput upgrade): retry in a few minutes.",
        true,
    ),
    (
        131062,
        "Business-scoped user id not supported",
        "This recipient id (BSUID) is not supported for this send: use the phone number.",
        false,
    ),
    (
        131063,
        "Marketing templates disabled",
        "Marketing templates cannot be sent through the Cloud API for this account: use a utility template or enable marketing messages.",
        false,
    ),
    (
        131064,
        "Messaging limit from misclassification",
        "The template was misclassified and its sends are limited: recategorise the template.",
        false,
    ),
    (
        132000,
        "Template parameter count mismatch",
        "Give exactly as many parameters as the template has placeholders (body, header and buttons): see body_parameter_count and header_parameter_count in whatsapp_list_templates.",
        false,
    ),
    (
        132001,
        "Template does not exist",
        "No APPROVED template has this name in this language: check the name and language with whatsapp_list_templates (status APPROVED, exact language code such as en_US).",
        false,
    ),
    (
        132005,
        "Template text too long",
        "With the parameters filled in, the template text exceeds the limit: shorten the parameter values.",
        false,
    ),
    (
        132007,
        "Template format policy violated",
        "A parameter breaks the formatting rules (for example newlines, tabs or more than 4 consecutive spaces in a body parameter): clean the parameter values.",
        false,
    ),
    (
        132008,
        "Template parameter not valid",
        "Meta refused a parameter of the template send ({details}): fix the value it names, matching the template's components (whatsapp_list_templates), and send again.",
        false,
    ),
    (
        132012,
        "Template parameter format mismatch",
        "A parameter has the wrong type for its placeholder (for example text where the header expects an image, or positional parameters for a NAMED template): match the template's components from whatsapp_list_templates.",
        false,
    ),
    (
        132015,
        "Template paused",
        "The template is paused for low quality: send another APPROVED template or wait until it is unpaused.",
        false,
    ),
    (
        132016,
        "Template disabled",
        "The template was disabled after repeated pauses: create a new template (whatsapp_create_template) or use another.",
        false,
    ),
    (
        132068,
        "Flow blocked",
        "The Flow in this template is blocked: fix the Flow in WhatsApp Manager.",
        false,
    ),
    (
        132069,
        "Flow throttled",
        "The Flow is throttled: retry later.",
        true,
    ),
    (
        133010,
        "Account not registered",
        "The phone number is not registered with the Cloud API: register it (POST /{phone-number-id}/register with a PIN) and retry.",
        false,
    ),
    (
        133016,
        "Registration rate limit",
        "Too many register/deregister attempts for this number: wait before trying again.",
        true,
    ),
    (
        135000,
        "Generic user error",
        "Meta rejected the request for an unspecified reason: check the arguments; contact Meta support with the fbtrace id if it persists.",
        false,
    ),
    (
        137000,
        "Identity key hash mismatch",
        "The user's identity changed (reinstalled WhatsApp or new phone): confirm the user, then send again.",
        false,
    ),
];
