//! Candidate selection. Candidates are capable, served, healthy models; ranked by strategy.

use super::health::Health;
use crate::config::{Catalog, ModelInfo, Strategy};
use crate::domain::TaskType;
use crate::providers::ProviderRegistry;

/// What a call needs from routing.
#[derive(Debug, Clone, Default)]
pub struct RouteQuery<'a> {
    pub task_type: Option<TaskType>,
    /// Models already tried (failed, denied) for this call.
    pub exclude: &'a [String],
    /// Prefer a model of another provider than this one (cross-provider critique/evaluation,
    /// fallback after a failure).
    pub avoid_provider: Option<&'a str>,
    /// Prefer cheap models (decomposition, analysis).
    pub prefer_cheap: bool,
}

/// Rank candidates best first. Ties keep catalog order.
pub fn candidates<'c>(
    catalog: &'c Catalog,
    registry: &ProviderRegistry,
    health: &Health,
    strategy: Strategy,
    q: &RouteQuery,
    now_ms: u64,
) -> Vec<&'c ModelInfo> {
    let mut v: Vec<(usize, &ModelInfo)> = catalog
        .models
        .iter()
        .enumerate()
        .filter(|(_, m)| registry.serves(m))
        .filter(|(_, m)| q.task_type.is_none_or(|t| m.capable(t)))
        .filter(|(_, m)| !q.exclude.iter().any(|e| e == &m.id))
        .filter(|(_, m)| health.available(&m.id, now_ms))
        .collect();
    let t = q.task_type;
    let strategy = if q.prefer_cheap {
        Strategy::Cost
    } else {
        strategy
    };
    let key = |m: &ModelInfo| -> f64 {
        let quality = t.map_or(m.quality, |t| m.prior(t));
        let price = m.input + m.output * 0.5;
        match strategy {
            Strategy::Quality => -quality,
            Strategy::Cost => price,
            Strategy::Latency => m.latency_ms as f64,
            Strategy::Balanced => -(quality / (0.25 + price).sqrt()),
        }
    };
    v.sort_by(|(ia, a), (ib, b)| {
        let pa = q.avoid_provider.is_some_and(|p| p == a.provider) as u8;
        let pb = q.avoid_provider.is_some_and(|p| p == b.provider) as u8;
        pa.cmp(&pb)
            .then(
                key(a)
                    .partial_cmp(&key(b))
                    .unwrap_or(std::cmp::Ordering::Equal),
            )
            .then(ia.cmp(ib))
    });
    v.into_iter().map(|(_, m)| m).collect()
}
