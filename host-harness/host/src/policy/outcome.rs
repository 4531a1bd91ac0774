//! What one rule decides about a call.

use super::call::RateHit;

/// Why a rule refused a call, in words a model can act on.
pub(crate) struct Failure {
    pub reason: String,
    pub hint: String,
    pub field: Option<String>,
    pub retryable: bool,
}

pub(crate) enum RuleOutcome {
    Pass,
    /// Passes, and counts towards a rate limit if the whole call is allowed.
    Count(RateHit),
    Fail(Failure),
}

/// A refusal that waiting will not change.
pub(crate) fn fail(reason: String, hint: String, field: Option<&str>) -> RuleOutcome {
    RuleOutcome::Fail(Failure {
        reason,
        hint,
        field: field.map(str::to_string),
        retryable: false,
    })
}
