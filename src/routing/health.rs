//! The breakers of every model in this process, with their clock.

use super::breaker::{Admission, Breaker, Signal, Transition};
use crate::config::BreakerConfig;
use std::collections::HashMap;
use std::sync::Mutex;

pub struct Health {
    cfg: BreakerConfig,
    map: Mutex<HashMap<String, Breaker>>,
}

/// Epoch milliseconds (breaker state means the same to another process), read on a monotonic
/// clock: the wall clock is sampled once per process and advanced by tokio's clock, the one
/// retry sleeps use. A provider's retry-after is slept on tokio's clock and then checked against
/// the not-before time here, so both must be the same clock: with the wall clock, a clock step
/// (NTP) or a paused test clock made the engine wait and then drop the model anyway.
pub fn now_ms() -> u64 {
    static ANCHOR: std::sync::OnceLock<(u64, std::time::Instant)> = std::sync::OnceLock::new();
    let (epoch_ms, at) = *ANCHOR.get_or_init(|| {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        (wall, std::time::Instant::now())
    });
    let now = tokio::time::Instant::now().into_std();
    // Linear in `now` on both sides of the anchor (a paused clock may start before it).
    match now.checked_duration_since(at) {
        Some(d) => epoch_ms.saturating_add(d.as_millis() as u64),
        None => epoch_ms.saturating_sub(at.duration_since(now).as_millis() as u64),
    }
}

impl Health {
    pub fn new(cfg: BreakerConfig) -> Self {
        Health {
            cfg,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn with<R>(&self, model: &str, f: impl FnOnce(&mut Breaker) -> R) -> R {
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        f(m.entry(model.to_string()).or_default())
    }

    pub fn load(&self, model: &str, b: Breaker) {
        self.with(model, |x| *x = b);
    }

    pub fn admit(&self, model: &str, now: u64) -> (Admission, Option<Transition>) {
        self.with(model, |b| b.admit(now))
    }

    pub fn available(&self, model: &str, now: u64) -> bool {
        let m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        m.get(model).is_none_or(|b| b.available(now))
    }

    pub fn record(&self, model: &str, sig: Signal, now: u64) -> (Option<Transition>, Breaker) {
        let cfg = self.cfg.clone();
        self.with(model, |b| {
            let t = b.record(sig, now, &cfg);
            (t, b.clone())
        })
    }

    pub fn reset(&self, model: &str) -> Option<Transition> {
        self.with(model, |b| b.reset())
    }

    pub fn get(&self, model: &str) -> Breaker {
        self.with(model, |b| b.clone())
    }

    pub fn all(&self) -> Vec<(String, Breaker)> {
        let m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<_> = m.iter().map(|(k, b)| (k.clone(), b.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}
