//! The Graph error model: `{"error": {message, type, code, error_subcode?, error_data?,
//! error_user_title?, error_user_msg?, is_transient?, fbtrace_id}}`, as described at
//! https://developers.facebook.com/docs/graph-api/guides/error-handling/ and
//! https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/.
//! A leaf: both the model (which decides the errors) and the routes (which send them) use it.

use http::StatusCode;
use serde_json::{Map, Value, json};

use crate::util;

/// Boxed: errors travel through every `Result` of the request path and would otherwise make
/// them all large.
#[derive(Clone, Debug)]
pub(crate) struct GraphError(Box<GraphErrorData>);

#[derive(Clone, Debug)]
pub(crate) struct GraphErrorData {
    pub(crate) http: StatusCode,
    pub(crate) code: i64,
    pub(crate) subcode: Option<i64>,
    pub(crate) kind: &'static str,
    pub(crate) message: String,
    /// `error_data.details`; `None` for errors Graph answers without `error_data` (auth,
    /// unknown objects).
    pub(crate) details: Option<String>,
    pub(crate) user_title: Option<String>,
    pub(crate) user_msg: Option<String>,
    pub(crate) is_transient: Option<bool>,
    /// `x-business-use-case-usage` for a rate-limit error: the header Graph adds with
    /// `estimated_time_to_regain_access` (minutes).
    pub(crate) business_usage: Option<String>,
}

pub(crate) type GraphResult<T> = Result<T, GraphError>;

impl std::ops::Deref for GraphError {
    type Target = GraphErrorData;

    fn deref(&self) -> &GraphErrorData {
        &self.0
    }
}

impl GraphError {
    pub(crate) fn new(http: StatusCode, code: i64, message: impl Into<String>) -> Self {
        GraphError(Box::new(GraphErrorData {
            http,
            code,
            subcode: None,
            kind: "OAuthException",
            message: message.into(),
            details: None,
            user_title: None,
            user_msg: None,
            is_transient: None,
            business_usage: None,
        }))
    }

    pub(crate) fn details(mut self, details: impl Into<String>) -> Self {
        self.0.details = Some(details.into());
        self
    }

    pub(crate) fn subcode(mut self, subcode: i64) -> Self {
        self.0.subcode = Some(subcode);
        self
    }

    pub(crate) fn kind(mut self, kind: &'static str) -> Self {
        self.0.kind = kind;
        self
    }

    pub(crate) fn transient(mut self, transient: bool) -> Self {
        self.0.is_transient = Some(transient);
        self
    }

    pub(crate) fn maybe_transient(mut self, transient: Option<bool>) -> Self {
        self.0.is_transient = transient;
        self
    }

    /// Adds Graph's `x-business-use-case-usage` header for `waba_id`, exhausted, with
    /// access back in `regain_minutes`
    /// (https://developers.facebook.com/docs/graph-api/overview/rate-limiting#headers-2).
    pub(crate) fn business_usage(mut self, waba_id: &str, kind: &str, regain_minutes: u64) -> Self {
        let usage = json!({ waba_id: [{
            "type": kind,
            "call_count": 100,
            "total_cputime": 1,
            "total_time": 1,
            "estimated_time_to_regain_access": regain_minutes,
        }]});
        self.0.business_usage = Some(usage.to_string());
        self
    }

    pub(crate) fn user(mut self, title: impl Into<String>, msg: impl Into<String>) -> Self {
        self.0.user_title = Some(title.into());
        self.0.user_msg = Some(msg.into());
        self
    }

    // ---- the errors the sandbox uses, worded like Graph ----

    /// 401 / 190: no token or not ours.
    pub(crate) fn invalid_token() -> Self {
        GraphError::new(
            StatusCode::UNAUTHORIZED,
            190,
            "Invalid OAuth access token - Cannot parse access token",
        )
    }

    /// 401 / 190 / 463: the session behind the token expired.
    pub(crate) fn expired_token(now: std::time::SystemTime) -> Self {
        let expired_at = now - std::time::Duration::from_secs(3600);
        GraphError::new(
            StatusCode::UNAUTHORIZED,
            190,
            format!(
                "Error validating access token: Session has expired on {}. The current time is {}.",
                http_date(expired_at),
                http_date(now)
            ),
        )
        .subcode(463)
    }

    /// 400 / 100 / 33: the id in the path is not an object this token can see.
    pub(crate) fn unknown_object(method: &str, id: &str) -> Self {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            100,
            format!(
                "Unsupported {} request. Object with ID '{}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
                method.to_ascii_lowercase(),
                id
            ),
        )
        .subcode(33)
        .kind("GraphMethodException")
    }

    /// 400 / 100: a path or method Graph does not serve.
    pub(crate) fn unsupported(method: &str) -> Self {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            100,
            format!(
                "Unsupported {} request. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
                method.to_ascii_lowercase()
            ),
        )
        .kind("GraphMethodException")
    }

    /// 400 / 100 `(#100) The parameter X is required.`
    pub(crate) fn required_param(name: &str) -> Self {
        let msg = format!("(#100) The parameter {name} is required.");
        GraphError::new(StatusCode::BAD_REQUEST, 100, msg.clone()).details(msg)
    }

    /// 400 / 100 Graph's enum check: `(#100) Param X must be one of {A, B} - got "y".`
    pub(crate) fn enum_param(name: &str, allowed: &[&str], got: &str) -> Self {
        let msg = format!(
            "(#100) Param {name} must be one of {{{}}} - got \"{got}\".",
            allowed.join(", ")
        );
        GraphError::new(StatusCode::BAD_REQUEST, 100, msg.clone()).details(msg)
    }

    /// 400 / 100 `(#100) Invalid parameter` with details.
    pub(crate) fn invalid_param(details: impl Into<String>) -> Self {
        GraphError::new(StatusCode::BAD_REQUEST, 100, "(#100) Invalid parameter").details(details)
    }

    /// 400 / 131008 `Required parameter is missing`.
    pub(crate) fn missing_param(details: impl Into<String>) -> Self {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            131008,
            "(#131008) Required parameter is missing",
        )
        .details(details)
    }

    /// 400 / 131009 `Parameter value is not valid`.
    pub(crate) fn invalid_value(details: impl Into<String>) -> Self {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            131009,
            "(#131009) Parameter value is not valid",
        )
        .details(details)
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut e = Map::new();
        e.insert("message".into(), json!(self.message));
        e.insert("type".into(), json!(self.kind));
        e.insert("code".into(), json!(self.code));
        if let Some(sub) = self.subcode {
            e.insert("error_subcode".into(), json!(sub));
        }
        if let Some(t) = self.is_transient {
            e.insert("is_transient".into(), json!(t));
        }
        if let Some(t) = &self.user_title {
            e.insert("error_user_title".into(), json!(t));
        }
        if let Some(m) = &self.user_msg {
            e.insert("error_user_msg".into(), json!(m));
        }
        if let Some(d) = &self.details {
            e.insert(
                "error_data".into(),
                json!({"messaging_product": "whatsapp", "details": d}),
            );
        }
        e.insert("fbtrace_id".into(), json!(util::fbtrace_id()));
        json!({ "error": Value::Object(e) })
    }
}

/// Graph's `Tuesday, 04-Nov-25 10:00:00 PST` style, in UTC.
fn http_date(t: std::time::SystemTime) -> String {
    let secs = util::unix_secs(t) as i64;
    // Beyond jiff's range (year 9999) only in clock games; the epoch is as good as any.
    let at = jiff::Timestamp::from_second(secs).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let dt = jiff::tz::Offset::UTC.to_datetime(at);
    // `%y` covers only 1969-2068; the two-digit year is written by hand for any year.
    format!(
        "{}{:02}{}",
        dt.strftime("%A, %d-%b-"),
        dt.year().rem_euclid(100),
        dt.strftime(" %H:%M:%S UTC")
    )
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn dates_are_formatted_like_graph() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_762_250_400);
        assert_eq!(http_date(t), "Tuesday, 04-Nov-25 10:00:00 UTC");
        assert_eq!(
            http_date(std::time::UNIX_EPOCH),
            "Thursday, 01-Jan-70 00:00:00 UTC"
        );
        let leap = std::time::UNIX_EPOCH + std::time::Duration::from_secs(951_782_400 + 86_399);
        assert_eq!(http_date(leap), "Tuesday, 29-Feb-00 23:59:59 UTC");
    }
}
