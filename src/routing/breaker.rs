//! Per-model circuit breaker as a pure state machine with an injected clock (epoch ms, so state
//! persisted by one process means the same to the next).

use crate::config::BreakerConfig;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    #[default]
    Closed,
    Open,
    HalfOpen,
    Disabled,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
            BreakerState::Disabled => "disabled",
        }
    }
    pub fn parse(s: &str) -> BreakerState {
        match s {
            "open" => BreakerState::Open,
            "half_open" => BreakerState::HalfOpen,
            "disabled" => BreakerState::Disabled,
            _ => BreakerState::Closed,
        }
    }
}

/// What a call's outcome means to the breaker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Signal {
    Success,
    Transient,
    /// A wait the provider asked for, not a fault.
    RateLimited {
        retry_after_ms: u64,
    },
    Permanent,
    /// The request was wrong (400/413) or content unusable: says nothing about the model.
    Neutral,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub from: BreakerState,
    pub to: BreakerState,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// The single half-open probe: its outcome decides closed or open.
    Probe,
    /// Not before this time (cooldown or a provider's retry-after), or never (disabled).
    Denied {
        until_ms: Option<u64>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Breaker {
    pub state: BreakerState,
    pub consecutive_failures: u32,
    pub trips: u32,
    pub open_until_ms: u64,
    pub not_before_ms: u64,
    pub probe_in_flight: bool,
}

impl Breaker {
    /// Whether a call may start now; moves open -> half-open once the cooldown has passed.
    pub fn admit(&mut self, now_ms: u64) -> (Admission, Option<Transition>) {
        if self.not_before_ms > now_ms && self.state != BreakerState::Disabled {
            return (
                Admission::Denied {
                    until_ms: Some(self.not_before_ms),
                },
                None,
            );
        }
        match self.state {
            BreakerState::Closed => (Admission::Allowed, None),
            BreakerState::Disabled => (Admission::Denied { until_ms: None }, None),
            BreakerState::Open if now_ms >= self.open_until_ms => {
                self.state = BreakerState::HalfOpen;
                self.probe_in_flight = true;
                (
                    Admission::Probe,
                    Some(Transition {
                        from: BreakerState::Open,
                        to: BreakerState::HalfOpen,
                        reason: "cooldown elapsed; probing".into(),
                    }),
                )
            }
            BreakerState::Open => (
                Admission::Denied {
                    until_ms: Some(self.open_until_ms),
                },
                None,
            ),
            BreakerState::HalfOpen if !self.probe_in_flight => {
                self.probe_in_flight = true;
                (Admission::Probe, None)
            }
            BreakerState::HalfOpen => (Admission::Denied { until_ms: None }, None),
        }
    }

    /// Is the model worth routing to now (no state change)?
    pub fn available(&self, now_ms: u64) -> bool {
        match self.state {
            BreakerState::Closed => self.not_before_ms <= now_ms,
            BreakerState::Open => now_ms >= self.open_until_ms && self.not_before_ms <= now_ms,
            BreakerState::HalfOpen => !self.probe_in_flight,
            BreakerState::Disabled => false,
        }
    }

    fn cooldown_ms(&self, cfg: &BreakerConfig) -> u64 {
        let base = cfg.cooldown_secs.max(1) * 1000;
        let factor = 1u64 << self.trips.saturating_sub(1).min(16);
        (base.saturating_mul(factor)).min(cfg.max_cooldown_secs.max(cfg.cooldown_secs) * 1000)
    }

    fn open(&mut self, now_ms: u64, cfg: &BreakerConfig, reason: String) -> Option<Transition> {
        let from = self.state;
        self.trips += 1;
        self.state = BreakerState::Open;
        self.probe_in_flight = false;
        self.open_until_ms = now_ms + self.cooldown_ms(cfg);
        Some(Transition {
            from,
            to: BreakerState::Open,
            reason,
        })
    }

    /// Apply a call's outcome; returns the transition if the state changed.
    pub fn record(&mut self, sig: Signal, now_ms: u64, cfg: &BreakerConfig) -> Option<Transition> {
        if self.state == BreakerState::Disabled {
            return None;
        }
        match sig {
            Signal::Success => {
                self.consecutive_failures = 0;
                let was = self.state;
                if was == BreakerState::HalfOpen || was == BreakerState::Open {
                    self.state = BreakerState::Closed;
                    self.probe_in_flight = false;
                    self.trips = 0;
                    return Some(Transition {
                        from: was,
                        to: BreakerState::Closed,
                        reason: "probe succeeded".into(),
                    });
                }
                None
            }
            Signal::Transient => {
                self.consecutive_failures += 1;
                match self.state {
                    BreakerState::HalfOpen => self.open(now_ms, cfg, "probe failed".into()),
                    BreakerState::Closed
                        if self.consecutive_failures >= cfg.failure_threshold.max(1) =>
                    {
                        let n = self.consecutive_failures;
                        self.open(now_ms, cfg, format!("{n} consecutive transient failures"))
                    }
                    _ => None,
                }
            }
            Signal::RateLimited { retry_after_ms } => {
                self.not_before_ms = self.not_before_ms.max(now_ms + retry_after_ms);
                if self.state == BreakerState::HalfOpen {
                    // The probe was answered with a wait: let another probe go after it.
                    self.probe_in_flight = false;
                }
                None
            }
            Signal::Permanent => {
                let from = self.state;
                self.state = BreakerState::Disabled;
                self.probe_in_flight = false;
                Some(Transition {
                    from,
                    to: BreakerState::Disabled,
                    reason: "permanent error (auth, billing, unknown model)".into(),
                })
            }
            Signal::Neutral => {
                if self.state == BreakerState::HalfOpen {
                    self.probe_in_flight = false;
                }
                None
            }
        }
    }

    /// Manual reset (`models reset`, TUI `x`) or a config change.
    pub fn reset(&mut self) -> Option<Transition> {
        let from = self.state;
        *self = Breaker::default();
        (from != BreakerState::Closed).then(|| Transition {
            from,
            to: BreakerState::Closed,
            reason: "reset".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BreakerState::*;

    fn cfg() -> BreakerConfig {
        BreakerConfig {
            failure_threshold: 3,
            cooldown_secs: 30,
            max_cooldown_secs: 600,
        }
    }

    /// Table-driven: a sequence of signals and the state after each.
    #[test]
    fn table() {
        let rl = Signal::RateLimited {
            retry_after_ms: 1000,
        };
        let cases: Vec<(&str, Vec<Signal>, BreakerState, u32)> = vec![
            (
                "two failures then success",
                vec![Signal::Transient, Signal::Transient, Signal::Success],
                Closed,
                0,
            ),
            (
                "429 + timeout + 503 opens",
                vec![rl, Signal::Transient, Signal::Transient, Signal::Transient],
                Open,
                3,
            ),
            ("401 disables at once", vec![Signal::Permanent], Disabled, 0),
            ("429 does not count", vec![rl, rl, rl, rl], Closed, 0),
            (
                "request errors are neutral",
                vec![Signal::Neutral, Signal::Neutral, Signal::Neutral],
                Closed,
                0,
            ),
            (
                "disabled stays disabled",
                vec![Signal::Permanent, Signal::Success],
                Disabled,
                0,
            ),
        ];
        for (name, sigs, want, fails) in cases {
            let mut b = Breaker::default();
            for s in sigs {
                b.record(s, 0, &cfg());
            }
            assert_eq!(b.state, want, "{name}");
            assert_eq!(b.consecutive_failures, fails, "{name}");
        }
    }

    #[test]
    fn half_open_probe_cycle_with_doubling_cooldown() {
        let c = cfg();
        let mut b = Breaker::default();
        for _ in 0..3 {
            b.record(Signal::Transient, 0, &c);
        }
        assert_eq!(b.state, Open);
        assert_eq!(b.open_until_ms, 30_000);
        assert_eq!(
            b.admit(29_999).0,
            Admission::Denied {
                until_ms: Some(30_000)
            }
        );
        let (a, t) = b.admit(30_000);
        assert_eq!(a, Admission::Probe);
        assert_eq!(t.unwrap().to, HalfOpen);
        // Only one probe at a time.
        assert_eq!(b.admit(30_001).0, Admission::Denied { until_ms: None });
        // Probe fails: open again, twice as long.
        let t = b.record(Signal::Transient, 30_000, &c).unwrap();
        assert_eq!((t.from, t.to), (HalfOpen, Open));
        assert_eq!(b.open_until_ms, 30_000 + 60_000);
        // Next probe succeeds: closed, count 0.
        assert_eq!(b.admit(90_000).0, Admission::Probe);
        let t = b.record(Signal::Success, 90_000, &c).unwrap();
        assert_eq!((t.from, t.to), (HalfOpen, Closed));
        assert_eq!(b.consecutive_failures, 0);
        assert_eq!(b.admit(90_001).0, Admission::Allowed);
    }

    #[test]
    fn cooldown_is_capped() {
        let c = cfg();
        let mut b = Breaker {
            trips: 20,
            ..Default::default()
        };
        b.state = HalfOpen;
        b.record(Signal::Transient, 0, &c);
        assert_eq!(b.open_until_ms, 600_000);
    }

    #[test]
    fn retry_after_sets_not_before_for_every_caller() {
        let mut b = Breaker::default();
        b.record(
            Signal::RateLimited {
                retry_after_ms: 5000,
            },
            1000,
            &cfg(),
        );
        assert_eq!(
            b.admit(2000).0,
            Admission::Denied {
                until_ms: Some(6000)
            }
        );
        assert!(!b.available(5999));
        assert_eq!(b.admit(6000).0, Admission::Allowed);
    }

    #[test]
    fn reset_closes() {
        let mut b = Breaker::default();
        b.record(Signal::Permanent, 0, &cfg());
        assert_eq!(b.reset().unwrap().to, Closed);
        assert_eq!(b, Breaker::default());
        assert!(b.reset().is_none());
    }
}
