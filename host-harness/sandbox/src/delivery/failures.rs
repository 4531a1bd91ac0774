//! The documented rules by which an accepted message later fails, and the error object its
//! `failed` status webhook carries.

use serde_json::{Value, json};

const ERROR_CODES_HREF: &str =
    "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/";

/// A status the sandbox reports for an accepted message.
#[derive(Clone, Debug)]
pub(crate) struct Failure {
    pub(crate) code: i64,
    pub(crate) title: &'static str,
    pub(crate) details: String,
}

impl Failure {
    pub(crate) fn window_closed() -> Failure {
        Failure {
            code: 131047,
            title: "Re-engagement message",
            details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number.".into(),
        }
    }

    pub(crate) fn undeliverable() -> Failure {
        Failure {
            code: 131026,
            title: "Message undeliverable",
            details: "Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number; the recipient has not accepted the new Terms of Service and Privacy Policy; the recipient is using an old WhatsApp version.".into(),
        }
    }

    /// A reaction to a message that is not in the conversation (or is itself a reaction).
    pub(crate) fn reaction_target_unknown(message_id: &str) -> Failure {
        Failure {
            code: 131009,
            title: "Parameter value is not valid",
            details: format!(
                "The reaction was not delivered: message {message_id} is not a message of this conversation that can be reacted to."
            ),
        }
    }

    pub(crate) fn media_unfetchable(link: &str) -> Failure {
        let host = link_host(link).unwrap_or_default();
        Failure {
            code: 131053,
            title: "Media upload error",
            details: format!(
                "Downloading media from weblink failed with http code 404, status message Not Found (host {host})."
            ),
        }
    }

    pub(super) fn to_json(&self) -> Value {
        json!({
            "code": self.code,
            "title": self.title,
            "message": self.title,
            "error_data": {"details": self.details},
            "href": ERROR_CODES_HREF,
        })
    }
}

/// The host of an http(s) URL, lower-case, without port or credentials.
fn link_host(link: &str) -> Option<String> {
    let url = url::Url::parse(link.trim()).ok()?;
    url.host_str().map(str::to_ascii_lowercase)
}

/// The documented rule for media Meta cannot fetch: host `unreachable.example` (or below it),
/// or a path containing `/missing`.
pub(crate) fn media_unfetchable(link: &str) -> bool {
    let Ok(url) = url::Url::parse(link.trim()) else {
        return false;
    };
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    host == "unreachable.example"
        || host.ends_with(".unreachable.example")
        || url.path().to_ascii_lowercase().contains("/missing")
}

/// The documented rule for undeliverable recipients: numbers ending in `0000`.
pub(crate) fn undeliverable(wa_id: &str) -> bool {
    wa_id.len() > 4 && wa_id.ends_with("0000")
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn the_documented_failure_rules_match_only_what_they_say() {
        assert!(undeliverable("16505550000"));
        assert!(!undeliverable("16505551234"));
        assert!(!undeliverable("0000"));
        assert!(media_unfetchable("https://unreachable.example/a.png"));
        assert!(media_unfetchable("https://cdn.unreachable.example/a.png"));
        assert!(media_unfetchable("https://shop.example.com/missing/a.pdf"));
        assert!(!media_unfetchable(
            "https://shop.example.com/receipts/1042.pdf"
        ));
        assert!(!media_unfetchable("https://notunreachable.example/a.png"));
    }
}
