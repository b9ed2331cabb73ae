//! How one provider call ended, as recorded in `calls.outcome` and sent in `EngineEvent::Call`.
//!
//! The strings are the stored and JSON form and never change. The first migration's comment also
//! lists `content`, which no code has ever produced: it is not a variant (migrations are append
//! only, so the comment stays).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// The provider answered and the answer was used.
    Ok,
    /// 429 or an overloaded provider asking for a wait (`ProviderError::RateLimited`).
    RateLimited,
    /// A fault worth retrying: 5xx, timeouts, broken streams, oversized bodies.
    Transient,
    /// A fault that will not go away by retrying: bad key, unknown model.
    Permanent,
    /// The request itself was refused (400/413): says nothing about the model.
    Request,
    /// Cancelled by the run (or the user) while in flight.
    Cancelled,
    /// The answer's reported usage was impossible (`engine/usage.rs`): charged the worst case.
    MalformedUsage,
    /// A call in flight in a process that died, charged its worst case by crash recovery.
    Estimated,
    /// The server refused the prompt as longer than the model's context window (a 400 naming
    /// it): the engine shrinks the prompt and retries; says nothing about the model's health.
    ContextOverflow,
}

impl CallOutcome {
    pub const ALL: [CallOutcome; 9] = [
        CallOutcome::Ok,
        CallOutcome::RateLimited,
        CallOutcome::Transient,
        CallOutcome::Permanent,
        CallOutcome::Request,
        CallOutcome::Cancelled,
        CallOutcome::MalformedUsage,
        CallOutcome::Estimated,
        CallOutcome::ContextOverflow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::RateLimited => "rate_limited",
            CallOutcome::Transient => "transient",
            CallOutcome::Permanent => "permanent",
            CallOutcome::Request => "request",
            CallOutcome::Cancelled => "cancelled",
            CallOutcome::MalformedUsage => "malformed_usage",
            CallOutcome::Estimated => "estimated",
            CallOutcome::ContextOverflow => "context_overflow",
        }
    }

    /// The outcome stored as `s`, if it is one.
    pub fn parse(s: &str) -> Option<CallOutcome> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// A call that failed in a way worth showing (not answered, not cancelled).
    pub fn is_failure(self) -> bool {
        !matches!(self, CallOutcome::Ok | CallOutcome::Cancelled)
    }

    /// Says nothing about the model's health (its breaker's `Signal::Neutral`): the call was
    /// cancelled, the request itself was refused, or its prompt did not fit the context window.
    pub fn is_neutral(self) -> bool {
        matches!(
            self,
            CallOutcome::Cancelled | CallOutcome::Request | CallOutcome::ContextOverflow
        )
    }
}

impl fmt::Display for CallOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no call outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown call outcome `{0}`")]
pub struct UnknownOutcome(pub String);

impl FromStr for CallOutcome {
    type Err = UnknownOutcome;
    fn from_str(s: &str) -> Result<Self, UnknownOutcome> {
        CallOutcome::parse(s).ok_or_else(|| UnknownOutcome(s.to_string()))
    }
}

/// Compare with the stored string (tests and SQL-facing code speak strings).
impl PartialEq<&str> for CallOutcome {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for CallOutcome {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip_and_match_serde() {
        for o in CallOutcome::ALL {
            assert_eq!(CallOutcome::parse(o.as_str()), Some(o));
            assert_eq!(o.as_str().parse::<CallOutcome>(), Ok(o));
            let json = serde_json::to_string(&o).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", o.as_str()));
        }
        assert_eq!(CallOutcome::parse("content"), None);
        assert!("nope".parse::<CallOutcome>().is_err());
        assert!(CallOutcome::Ok == "ok");
        assert_eq!(CallOutcome::ContextOverflow.as_str(), "context_overflow");
        assert!(CallOutcome::ContextOverflow.is_neutral());
        assert!(CallOutcome::ContextOverflow.is_failure());
    }
}
