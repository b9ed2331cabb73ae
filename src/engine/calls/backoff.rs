//! What a failed attempt means: the breaker's signal, and whether (and how long) to wait before
//! asking the same model again.

use crate::config::Config;
use crate::domain::splitmix64;
use crate::providers::ProviderError;
use crate::routing::Signal;
use std::time::Duration;

/// Full-jitter exponential backoff (no sleep after the last retry: the caller checks).
pub fn backoff(retry: u32, base_ms: u64, cap_ms: u64, seed: u64) -> Duration {
    let ceiling = base_ms.saturating_mul(1u64 << retry.min(20)).min(cap_ms);
    let r = splitmix64(seed ^ retry as u64) % (ceiling + 1);
    Duration::from_millis(r)
}

pub(super) fn signal_of(e: &ProviderError) -> Signal {
    match e {
        ProviderError::RateLimited { retry_after, .. } => Signal::RateLimited {
            retry_after_ms: retry_after.map_or(1000, |d| d.as_millis() as u64),
        },
        ProviderError::Transient { .. } | ProviderError::Oversized { .. } => Signal::Transient,
        ProviderError::Permanent { .. } => Signal::Permanent,
        ProviderError::Request { .. }
        | ProviderError::ContextOverflow { .. }
        | ProviderError::Cancelled => Signal::Neutral,
    }
}

/// How long to wait before retrying the same request after `e` (retry number `retry`), or
/// `None` to fall back to another model instead. `seed` advances with each jittered wait.
pub(super) fn retry_wait(
    cfg: &Config,
    e: &ProviderError,
    retry: u32,
    seed: &mut u64,
) -> Option<Duration> {
    match e {
        ProviderError::RateLimited { retry_after, .. } => {
            let d = retry_after.unwrap_or(Duration::from_secs(1));
            // Too long a wait: fall back instead.
            (d <= Duration::from_secs(cfg.retry.max_retry_after_secs)).then_some(d)
        }
        ProviderError::Transient { .. } | ProviderError::Oversized { .. } => {
            *seed = splitmix64(*seed);
            Some(backoff(
                retry,
                cfg.retry.backoff_base_ms,
                cfg.retry.backoff_cap_ms,
                *seed,
            ))
        }
        // Permanent or request: never the same request again. A context overflow is shrunk and
        // retried by the call path (attempt.rs), not here.
        ProviderError::Permanent { .. }
        | ProviderError::Request { .. }
        | ProviderError::ContextOverflow { .. } => None,
        ProviderError::Cancelled => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_by_cap_and_grows() {
        for retry in 0..10 {
            for seed in 0..50 {
                let d = backoff(retry, 500, 8000, seed);
                assert!(d <= Duration::from_millis((500u64 << retry).min(8000)));
            }
        }
    }

    #[test]
    fn retry_waits_only_for_faults_worth_it() {
        let cfg = Config::default();
        let mut seed = 7;
        let rate = |secs| ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(secs)),
            message: String::new(),
        };
        // The provider's wait, unless longer than allowed: then fall back.
        assert_eq!(
            retry_wait(&cfg, &rate(1), 0, &mut seed),
            Some(Duration::from_secs(1))
        );
        let too_long = cfg.retry.max_retry_after_secs + 1;
        assert_eq!(retry_wait(&cfg, &rate(too_long), 0, &mut seed), None);
        // Transient faults back off (jittered, within the cap) and move the seed on.
        let transient = ProviderError::Transient {
            status: Some(503),
            message: String::new(),
        };
        let before = seed;
        let d = retry_wait(&cfg, &transient, 3, &mut seed);
        assert!(d.is_some_and(|d| d <= Duration::from_millis(cfg.retry.backoff_cap_ms)));
        assert_ne!(seed, before);
        // The same request is never sent again after a permanent or request error.
        let permanent = ProviderError::Permanent {
            status: Some(401),
            message: String::new(),
            key_scoped: true,
        };
        assert_eq!(retry_wait(&cfg, &permanent, 0, &mut seed), None);
        assert_eq!(signal_of(&permanent), Signal::Permanent);
    }
}
