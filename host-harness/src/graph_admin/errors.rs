//! Why a Graph call failed, and the errors the client builds itself.

/// Why a Graph call failed. Never contains a secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AdminError {
    /// Graph answered with an `error` object.
    #[error("{call}: the Graph API answered with error {code}{}: {message}", subcode.map(|s| format!(" (subcode {s})")).unwrap_or_default())]
    Graph {
        /// The call's name, e.g. `debug_token`.
        call: &'static str,
        /// The HTTP status.
        status: u16,
        /// Graph's `code`.
        code: i64,
        /// Graph's `error_subcode`.
        subcode: Option<i64>,
        /// Graph's `message`, with the request's secrets redacted.
        message: String,
    },
    /// The request did not get an answer.
    #[error("{call}: cannot reach the Graph API at {base}: {reason}")]
    Transport {
        /// The call's name.
        call: &'static str,
        /// The API's base URL (never the request URL, which may hold secrets).
        base: String,
        /// What went wrong.
        reason: String,
    },
    /// An answer that is not what Graph documents, or a request that could not be made.
    #[error("{call}: unexpected answer from the Graph API (HTTP {status}): {reason}")]
    Unexpected {
        /// The call's name.
        call: &'static str,
        /// The HTTP status (0 when no request was sent).
        status: u16,
        /// What was wrong with it.
        reason: String,
    },
}

impl AdminError {
    /// The Graph error code, for a Graph error.
    pub(crate) fn code(&self) -> Option<i64> {
        match self {
            AdminError::Graph { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The Graph error subcode, for a Graph error that has one.
    pub(crate) fn subcode(&self) -> Option<i64> {
        match self {
            AdminError::Graph { subcode, .. } => *subcode,
            _ => None,
        }
    }

    /// Graph's message, for a Graph error.
    pub(crate) fn graph_message(&self) -> Option<&str> {
        match self {
            AdminError::Graph { message, .. } => Some(message),
            _ => None,
        }
    }
}

/// A request refused before it was sent (a secret that cannot travel).
pub(crate) fn unexpected_input(call: &'static str, reason: String) -> AdminError {
    AdminError::Unexpected {
        call,
        status: 0,
        reason,
    }
}

/// A successful answer without a field Graph documents.
pub(crate) fn missing(call: &'static str, field: &str) -> AdminError {
    AdminError::Unexpected {
        call,
        status: 200,
        reason: format!("no `{field}` in the answer"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_never_carry_the_url() {
        let e = AdminError::Graph {
            call: "debug_token",
            status: 400,
            code: 190,
            subcode: Some(463),
            message: "expired".into(),
        };
        assert_eq!(
            e.to_string(),
            "debug_token: the Graph API answered with error 190 (subcode 463): expired"
        );
    }
}
