//! When a failed Graph request may be repeated, and after how long.
//!
//! Only failures that prove the request was not accepted are retried:
//! Meta's "try later" codes (2, 130429, 131000 once, 131016, 131056 with
//! Meta's 4^X-second backoff, 131057, and any error marked `is_transient`),
//! and connection failures before anything was sent. The per-hour or
//! per-window quotas (4, 17, 32, 613, 80007) are never retried after a short
//! backoff, which would only spend more of them: only after the wait Meta's
//! usage headers give, and only when it fits the call's deadline (the client
//! checks that). A read
//! (GET) may also be repeated after a lost answer or a proxy's 5xx. A write
//! whose answer was lost is never repeated: its outcome is unknown.

use serde_json::Value;

use super::errors::is_quota_code;
use super::usage::regain_access_seconds;
use crate::host::{HttpError, HttpResponse, Method};
use crate::json::json_i64;

/// At most this many attempts per request, first included.
pub(crate) const MAX_ATTEMPTS: u32 = 4;
/// Backoff base and cap for codes without a prescribed schedule.
const BASE_MS: u64 = 500;
const CAP_MS: u64 = 8_000;

/// What came back from one attempt, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A Graph error object with its code and `is_transient` flag, and for
    /// quota codes the seconds until access comes back, when Meta said.
    Graph {
        code: Option<i64>,
        transient: bool,
        regain_s: Option<u32>,
    },
    /// A non-Graph error status (a proxy or gateway answered).
    Gateway { status: u16 },
    /// No answer; `sent` tells whether the request may have left.
    NoAnswer { sent: bool },
    /// Anything else (success, a body too large, a refusal by the host).
    Final,
}

impl Outcome {
    pub(crate) fn of(result: &Result<HttpResponse, HttpError>) -> Outcome {
        match result {
            Ok(r) if (200..300).contains(&r.status) => Outcome::Final,
            Ok(r) => match serde_json::from_slice::<Value>(&r.body)
                .ok()
                .and_then(|v| v.get("error").filter(|e| e.is_object()).cloned())
            {
                Some(err) => {
                    let code = err.get("code").and_then(json_i64);
                    Outcome::Graph {
                        code,
                        transient: err
                            .get("is_transient")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                        regain_s: code
                            .filter(|c| is_quota_code(*c))
                            .and_then(|_| regain_access_seconds(&r.headers)),
                    }
                }
                None if r.status >= 500 || r.status == 429 => Outcome::Gateway { status: r.status },
                None => Outcome::Final,
            },
            Err(
                HttpError::Timeout { request_sent, .. } | HttpError::Transport { request_sent, .. },
            ) => Outcome::NoAnswer {
                sent: *request_sent,
            },
            Err(_) => Outcome::Final,
        }
    }
}

/// The delay before attempt `attempt + 1` (attempts count from 0), or `None`
/// when the request must not be repeated. `jitter` in 0..=1000 spreads
/// clients apart (±20%).
pub(crate) fn delay_ms(outcome: Outcome, method: Method, attempt: u32, jitter: u64) -> Option<u64> {
    if attempt + 1 >= MAX_ATTEMPTS {
        return None;
    }
    let exponential = || (BASE_MS << attempt.min(16)).min(CAP_MS);
    let base = match outcome {
        // Pair rate limit: Meta prescribes 4^X seconds, X from 0.
        Outcome::Graph {
            code: Some(131056), ..
        } => 1_000 * 4u64.pow(attempt),
        Outcome::Graph {
            code: Some(131000), ..
        } if attempt >= 1 => return None,
        // A quota: wait exactly as long as Meta says, or not at all.
        Outcome::Graph {
            code: Some(c),
            regain_s,
            ..
        } if is_quota_code(c) => return regain_s.map(|s| u64::from(s) * 1000),
        Outcome::Graph {
            code: Some(2 | 130429 | 131000 | 131016 | 131057),
            ..
        } => exponential(),
        Outcome::Graph {
            transient: true, ..
        } => exponential(),
        Outcome::Graph { .. } => return None,
        Outcome::NoAnswer { sent: false } => exponential(),
        Outcome::NoAnswer { sent: true } | Outcome::Gateway { .. } if method == Method::Get => {
            exponential()
        }
        Outcome::NoAnswer { .. } | Outcome::Gateway { .. } | Outcome::Final => return None,
    };
    // ±20% around the base.
    let spread = base / 5;
    Some(base - spread + (spread * 2 * jitter.min(1000)) / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(code: i64) -> Outcome {
        Outcome::Graph {
            code: Some(code),
            transient: false,
            regain_s: None,
        }
    }

    #[test]
    fn meta_try_later_codes_are_retried_with_growing_delays() {
        for code in [2, 130429, 131016, 131057] {
            let delays: Vec<Option<u64>> = (0..4)
                .map(|a| delay_ms(graph(code), Method::Post, a, 500))
                .collect();
            assert_eq!(
                delays,
                [Some(500), Some(1000), Some(2000), None],
                "code {code}"
            );
        }
    }

    #[test]
    fn the_pair_limit_backs_off_four_to_the_x_seconds() {
        let delays: Vec<Option<u64>> = (0..4)
            .map(|a| delay_ms(graph(131056), Method::Post, a, 500))
            .collect();
        assert_eq!(delays, [Some(1_000), Some(4_000), Some(16_000), None]);
    }

    #[test]
    fn hourly_quotas_are_not_retried_after_a_short_backoff() {
        for code in [4, 17, 32, 613, 80007] {
            for method in [Method::Get, Method::Post] {
                assert_eq!(delay_ms(graph(code), method, 0, 500), None, "code {code}");
            }
        }
    }

    #[test]
    fn hourly_quotas_wait_exactly_as_long_as_meta_says() {
        let quota = Outcome::Graph {
            code: Some(80007),
            transient: false,
            regain_s: Some(120),
        };
        assert_eq!(delay_ms(quota, Method::Get, 0, 0), Some(120_000));
        assert_eq!(delay_ms(quota, Method::Get, 0, 1000), Some(120_000));
        assert_eq!(delay_ms(quota, Method::Get, MAX_ATTEMPTS - 1, 0), None);
    }

    #[test]
    fn usage_headers_are_read_for_quota_codes_only() {
        let resp = |code: i64| {
            Ok(HttpResponse {
                status: 400,
                headers: vec![(
                    "x-business-use-case-usage".into(),
                    r#"{"1":[{"estimated_time_to_regain_access":2}]}"#.into(),
                )],
                body: format!(r#"{{"error":{{"code":{code}}}}}"#).into_bytes(),
            })
        };
        assert_eq!(
            Outcome::of(&resp(4)),
            Outcome::Graph {
                code: Some(4),
                transient: false,
                regain_s: Some(120)
            }
        );
        assert_eq!(Outcome::of(&resp(131056)), graph(131056));
    }

    #[test]
    fn a_generic_failure_131000_is_retried_once() {
        assert!(delay_ms(graph(131000), Method::Post, 0, 500).is_some());
        assert_eq!(delay_ms(graph(131000), Method::Post, 1, 500), None);
    }

    #[test]
    fn errors_that_need_a_fix_are_never_retried() {
        for code in [
            0, 1, 3, 10, 100, 190, 200, 368, 131008, 131009, 131026, 131047, 131048, 131049,
            131050, 131053, 132000, 132001,
        ] {
            assert_eq!(
                delay_ms(graph(code), Method::Post, 0, 500),
                None,
                "code {code}"
            );
            assert_eq!(
                delay_ms(graph(code), Method::Get, 0, 500),
                None,
                "code {code}"
            );
        }
        let no_code = Outcome::Graph {
            code: None,
            transient: false,
            regain_s: None,
        };
        assert_eq!(delay_ms(no_code, Method::Get, 0, 500), None);
    }

    #[test]
    fn transient_errors_are_retried_whatever_their_code() {
        let t = Outcome::Graph {
            code: Some(100),
            transient: true,
            regain_s: None,
        };
        assert_eq!(delay_ms(t, Method::Post, 0, 500), Some(500));
    }

    #[test]
    fn a_lost_answer_is_retried_for_reads_only() {
        let lost = Outcome::NoAnswer { sent: true };
        assert!(delay_ms(lost, Method::Get, 0, 500).is_some());
        assert_eq!(
            delay_ms(lost, Method::Post, 0, 500),
            None,
            "a send may have landed"
        );
        assert_eq!(delay_ms(lost, Method::Delete, 0, 500), None);
        let gateway = Outcome::Gateway { status: 502 };
        assert!(delay_ms(gateway, Method::Get, 0, 500).is_some());
        assert_eq!(delay_ms(gateway, Method::Post, 0, 500), None);
    }

    #[test]
    fn a_connection_that_never_opened_is_retried_for_any_method() {
        let refused = Outcome::NoAnswer { sent: false };
        assert!(delay_ms(refused, Method::Post, 0, 500).is_some());
    }

    #[test]
    fn jitter_spreads_delays_by_twenty_percent_and_the_cap_holds() {
        assert_eq!(delay_ms(graph(2), Method::Get, 0, 0), Some(400));
        assert_eq!(delay_ms(graph(2), Method::Get, 0, 1000), Some(600));
        assert_eq!(exponential_cap(), CAP_MS);
    }

    fn exponential_cap() -> u64 {
        (BASE_MS << 16).min(CAP_MS)
    }

    #[test]
    fn outcomes_are_read_from_responses_and_host_errors() {
        let resp = |status: u16, body: &str| {
            Ok(HttpResponse {
                status,
                headers: vec![],
                body: body.as_bytes().to_vec(),
            })
        };
        assert_eq!(Outcome::of(&resp(200, "{}")), Outcome::Final);
        assert_eq!(
            Outcome::of(&resp(400, r#"{"error":{"code":"130429"}}"#)),
            graph(130429)
        );
        assert_eq!(
            Outcome::of(&resp(500, r#"{"error":{"code":1,"is_transient":true}}"#)),
            Outcome::Graph {
                code: Some(1),
                transient: true,
                regain_s: None
            }
        );
        assert_eq!(
            Outcome::of(&resp(502, "<html>")),
            Outcome::Gateway { status: 502 }
        );
        assert_eq!(Outcome::of(&resp(404, "<html>")), Outcome::Final);
        let lost = Err(HttpError::Timeout {
            message: String::new(),
            request_sent: true,
        });
        assert_eq!(Outcome::of(&lost), Outcome::NoAnswer { sent: true });
        assert_eq!(Outcome::of(&Err(HttpError::TooLarge(1))), Outcome::Final);
    }
}
