//! Persistent learning of model quality per task type: EMA of evaluation scores, success rate,
//! latency, mean cost; blended with the catalog prior by sample count; recommendations.

use crate::config::ModelInfo;
use crate::domain::{Micros, TaskType};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;

/// Weight of the catalog prior, in samples.
pub const PRIOR_WEIGHT: f64 = 3.0;
const EMA_ALPHA: f64 = 0.2;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Profile {
    /// Evaluated attempts (quality samples).
    pub samples: u64,
    pub quality: f64,
    pub calls: u64,
    pub successes: u64,
    pub latency_ema_ms: f64,
    /// Generation cost of evaluated attempts, summed.
    pub cost_total: Micros,
}

impl Profile {
    pub fn mean_cost(&self) -> Micros {
        if self.samples == 0 {
            Micros::ZERO
        } else {
            Micros(self.cost_total.0 / self.samples as i64)
        }
    }
    pub fn success_rate(&self) -> f64 {
        if self.calls == 0 {
            1.0
        } else {
            self.successes as f64 / self.calls as f64
        }
    }
}

/// Prior and learned quality blended by sample count.
pub fn blend(prior: f64, learned: f64, samples: u64) -> f64 {
    let n = samples as f64;
    (prior * PRIOR_WEIGHT + learned * n) / (PRIOR_WEIGHT + n)
}

/// Profiles of one model: per task type, plus a running latency aggregate over all types.
#[derive(Default)]
struct ModelEntry {
    by_type: HashMap<TaskType, Profile>,
}

impl ModelEntry {
    fn latency(&self) -> Option<f64> {
        let (sum, n) = self
            .by_type
            .values()
            .filter(|p| p.calls > 0)
            .fold((0.0, 0u64), |(s, n), p| {
                (s + p.latency_ema_ms * p.calls as f64, n + p.calls)
            });
        (n > 0).then(|| sum / n as f64)
    }
}

/// Keyed by model id then task type, so lookups by `&str` allocate nothing (routing is hot).
#[derive(Default)]
pub struct Learning {
    map: Mutex<HashMap<String, ModelEntry>>,
}

impl Learning {
    pub fn load(rows: Vec<(String, TaskType, Profile)>) -> Self {
        let l = Learning::default();
        {
            let mut m = l.map.lock().unwrap_or_else(|p| p.into_inner());
            for (model, t, p) in rows {
                m.entry(model).or_default().by_type.insert(t, p);
            }
        }
        l
    }

    pub fn get(&self, model: &str, t: TaskType) -> Option<Profile> {
        let m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        m.get(model).and_then(|e| e.by_type.get(&t)).cloned()
    }

    pub fn expected_quality(&self, m: &ModelInfo, t: TaskType) -> f64 {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&m.id).and_then(|e| e.by_type.get(&t)) {
            Some(p) if p.samples > 0 => blend(m.prior(t), p.quality, p.samples),
            _ => m.prior(t),
        }
    }

    /// Learned latency of a model (any task type), if any call was seen.
    pub fn latency_ms(&self, model: &str) -> Option<f64> {
        let m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        m.get(model).and_then(ModelEntry::latency)
    }

    fn update(&self, model: &str, t: TaskType, f: impl FnOnce(&mut Profile)) -> Profile {
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let entry = match m.get_mut(model) {
            Some(e) => e,
            None => m.entry(model.to_string()).or_default(),
        };
        let p = entry.by_type.entry(t).or_default();
        f(p);
        p.clone()
    }

    /// An evaluated attempt of `model` on a task of type `t`.
    pub fn record_score(&self, model: &str, t: TaskType, score: f64, cost: Micros) -> Profile {
        self.update(model, t, |p| {
            p.quality = if p.samples == 0 {
                score
            } else {
                p.quality + EMA_ALPHA * (score - p.quality)
            };
            p.samples += 1;
            p.cost_total += cost;
        })
    }

    /// A call's outcome and latency.
    pub fn record_call(&self, model: &str, t: TaskType, ok: bool, latency_ms: u64) -> Profile {
        self.update(model, t, |p| {
            p.latency_ema_ms = if p.calls == 0 {
                latency_ms as f64
            } else {
                p.latency_ema_ms + EMA_ALPHA * (latency_ms as f64 - p.latency_ema_ms)
            };
            p.calls += 1;
            if ok {
                p.successes += 1;
            }
        })
    }

    pub fn all(&self) -> Vec<(String, TaskType, Profile)> {
        let m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<_> = m
            .iter()
            .flat_map(|(id, e)| {
                e.by_type
                    .iter()
                    .map(move |(t, p)| (id.clone(), *t, p.clone()))
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        v
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Recommendation {
    pub task_type: TaskType,
    pub from: String,
    pub to: String,
    pub cost_change_pct: f64,
    pub quality_ratio: f64,
    pub samples: u64,
    pub text: String,
}

/// Minimum quality samples before a model is recommended.
pub const MIN_SAMPLES: u64 = 3;

/// For each task type: the most used model vs a cheaper one scoring at least 97% as well.
pub fn recommendations(profiles: &[(String, TaskType, Profile)]) -> Vec<Recommendation> {
    let mut out = Vec::new();
    for t in TaskType::ALL {
        let of_type: Vec<&(String, TaskType, Profile)> = profiles
            .iter()
            .filter(|(_, tt, p)| *tt == t && p.samples >= MIN_SAMPLES && p.cost_total.0 > 0)
            .collect();
        let Some(from) = of_type.iter().max_by_key(|(_, _, p)| p.samples) else {
            continue;
        };
        let best = of_type
            .iter()
            .filter(|(id, _, p)| {
                id != &from.0
                    && p.mean_cost() < from.2.mean_cost()
                    && p.quality >= 0.97 * from.2.quality
            })
            .min_by_key(|(_, _, p)| p.mean_cost());
        if let Some(to) = best {
            let pct = (to.2.mean_cost().0 - from.2.mean_cost().0) as f64
                / from.2.mean_cost().0.max(1) as f64
                * 100.0;
            let ratio = if from.2.quality > 0.0 {
                to.2.quality / from.2.quality
            } else {
                1.0
            };
            let samples = to.2.samples + from.2.samples;
            out.push(Recommendation {
                task_type: t,
                from: from.0.clone(),
                to: to.0.clone(),
                cost_change_pct: (pct * 10.0).round() / 10.0,
                quality_ratio: (ratio * 100.0).round() / 100.0,
                samples,
                text: format!(
                    "route {t} to {} instead of {}: {:+.0}% cost at {:.0}% of its quality, from {samples} tasks",
                    to.0,
                    from.0,
                    pct,
                    ratio * 100.0
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blend_moves_from_prior_to_learned() {
        assert!((blend(0.8, 0.95, 0) - 0.8).abs() < 1e-12);
        let b = blend(0.8, 0.95, 3);
        assert!((b - 0.875).abs() < 1e-9);
        assert!(blend(0.8, 0.95, 1000) > 0.94);
    }

    #[test]
    fn ema_and_counts() {
        let l = Learning::default();
        l.record_score("m", TaskType::Summarization, 1.0, Micros(10));
        let p = l.record_score("m", TaskType::Summarization, 0.5, Micros(30));
        assert_eq!(p.samples, 2);
        assert!((p.quality - 0.9).abs() < 1e-9);
        assert_eq!(p.mean_cost(), Micros(20));
        l.record_call("m", TaskType::Summarization, true, 100);
        let p = l.record_call("m", TaskType::Summarization, false, 200);
        assert_eq!(p.success_rate(), 0.5);
        assert!((l.latency_ms("m").unwrap() - 120.0).abs() < 1e-9);
    }

    #[test]
    fn recommends_a_cheaper_model_of_similar_quality() {
        let mk = |s: u64, q: f64, c: i64| Profile {
            samples: s,
            quality: q,
            cost_total: Micros(c * s as i64),
            ..Default::default()
        };
        let rows = vec![
            (
                "dear".to_string(),
                TaskType::Summarization,
                mk(100, 0.90, 1000),
            ),
            (
                "cheap".to_string(),
                TaskType::Summarization,
                mk(40, 0.89, 380),
            ),
            ("bad".to_string(), TaskType::Summarization, mk(40, 0.60, 10)),
        ];
        let r = recommendations(&rows);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].from.as_str(), r[0].to.as_str()), ("dear", "cheap"));
        assert_eq!(r[0].cost_change_pct, -62.0);
        assert_eq!(r[0].quality_ratio, 0.99);
        assert!(
            r[0].text
                .contains("-62% cost at 99% of its quality, from 140 tasks"),
            "{}",
            r[0].text
        );
    }
}
