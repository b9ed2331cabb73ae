//! The breakers of every model in this process, with their clock.

use super::breaker::{Admission, Breaker, Signal, Transition};
use crate::config::BreakerConfig;
use std::collections::HashMap;
use std::sync::Mutex;

pub struct Health {
    cfg: BreakerConfig,
    map: Mutex<HashMap<String, Breaker>>,
}

/// Wall-clock epoch milliseconds: breaker state is shared with other processes via the store.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
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
