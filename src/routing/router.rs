//! Candidate selection: capable, served, healthy, policy-allowed models, ranked by strategy with
//! expected quality = catalog prior blended with learned scores. Pure apart from the shared maps.

use super::explain::{Basis, Considered, Verdict};
use super::health::Health;
use super::learning::Learning;
use super::policy::{CallFacts, Decision, Policy, decide};
use crate::config::{Catalog, ModelInfo, Strategy};
use crate::domain::{Micros, TaskType, splitmix64};
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
    /// The task's acceptance threshold: `cost` and `balanced` pick among models expected to reach it.
    pub threshold: Option<f64>,
    /// Exploration: put a pseudo-random other candidate first (learning needs samples).
    pub explore: Option<u64>,
    pub team: Option<&'a str>,
    /// For cost estimates and the max-cost policy: expected input tokens and max output tokens.
    pub est_input: u64,
    pub max_tokens: u32,
    /// Say how each model was seen and why the first won (`Routed::considered`, `reason`).
    pub explain: bool,
}

pub struct Routed<'c> {
    pub ranked: Vec<&'c ModelInfo>,
    /// Models a policy blocked, with the decision (for the audit trail).
    pub blocked: Vec<(&'c ModelInfo, Decision)>,
    /// Decisions of allowed models that had applicable policies (warnings, monitor logs).
    pub allowed: Vec<(&'c ModelInfo, Decision)>,
    /// With `RouteQuery::explain`: every catalog model, ranked or filtered out and why.
    pub considered: Vec<Considered>,
    /// With `RouteQuery::explain`: why the first ranked model won.
    pub reason: String,
}

/// Why `m` is not a candidate, when it is filtered before policies (`None`: it is one).
fn filtered(inp: &Inputs, q: &RouteQuery, m: &ModelInfo, now_ms: u64) -> Option<String> {
    if !inp.registry.serves(m) {
        return Some("not served: no provider or key configured".into());
    }
    if let Some(t) = q.task_type.filter(|t| !m.capable(*t)) {
        return Some(format!("capability: cannot do {t}"));
    }
    if q.exclude.iter().any(|e| e == &m.id) {
        return Some("tried already for this call".into());
    }
    if !inp.health.available(&m.id, now_ms) {
        let b = inp.health.get(&m.id);
        return Some(match b.state {
            super::BreakerState::Closed => "breaker: waiting for the provider's retry-after".into(),
            st => format!("breaker {}", st.as_str()),
        });
    }
    None
}

/// Everything routing reads.
pub struct Inputs<'a> {
    pub catalog: &'a Catalog,
    pub registry: &'a ProviderRegistry,
    pub health: &'a Health,
    pub learning: &'a Learning,
    pub policies: &'a [Policy],
}

/// Typical cost of a call on `m`, for ranking (not for reservations).
fn typical_cost(m: &ModelInfo) -> Micros {
    m.cost(1500, 0, 800)
}

pub fn route<'c>(inp: &Inputs<'c>, strategy: Strategy, q: &RouteQuery, now_ms: u64) -> Routed<'c> {
    let mut blocked = Vec::new();
    let mut allowed = Vec::new();
    let strategy = if q.prefer_cheap {
        Strategy::Cost
    } else {
        strategy
    };
    let needs_latency = strategy == Strategy::Latency
        || inp.policies.iter().any(|p| p.max_latency_p95_ms.is_some());
    // (catalog index, model, expected quality, latency ms, typical cost)
    let mut v: Vec<(usize, &'c ModelInfo, f64, f64, f64)> = Vec::new();
    let mut considered: Vec<Considered> = Vec::new();
    for (i, m) in inp.catalog.models.iter().enumerate() {
        if let Some(why) = filtered(inp, q, m, now_ms) {
            if q.explain {
                considered.push(Considered {
                    model: m.id.clone(),
                    provider: m.provider.clone(),
                    verdict: Verdict::Filtered(why),
                });
            }
            continue;
        }
        let latency = if needs_latency {
            inp.learning
                .latency_ms(&m.id)
                .unwrap_or(m.latency_ms as f64)
        } else {
            m.latency_ms as f64
        };
        if !inp.policies.is_empty() {
            // Reasoning the model's server does not count inside max_tokens is held too.
            let output = q
                .max_tokens
                .min(m.max_output)
                .saturating_add(crate::providers::reasoning::outside_max_tokens(m));
            let facts = CallFacts {
                team: q.team,
                task_type: q.task_type,
                worst_cost: Some(m.worst_case(q.est_input, output)),
                p95_ms: Some(latency as u64),
            };
            let d = decide(inp.policies, m, &facts);
            if !d.allowed {
                if q.explain {
                    let what: Vec<String> = d
                        .violations
                        .iter()
                        .map(|v| format!("{}: {}", v.policy, v.what))
                        .collect();
                    considered.push(Considered {
                        model: m.id.clone(),
                        provider: m.provider.clone(),
                        verdict: Verdict::Filtered(format!("policy {}", what.join("; "))),
                    });
                }
                blocked.push((m, d));
                continue;
            }
            if !d.policies.is_empty() {
                allowed.push((m, d));
            }
        }
        let quality = match q.task_type {
            Some(t) => inp.learning.expected_quality(m, t),
            None => m.quality,
        };
        v.push((i, m, quality, latency, typical_cost(m).0.max(1) as f64));
    }
    let threshold = q.threshold.unwrap_or(0.0);
    // Lower key = better. Models expected to reach the threshold come first for cost/balanced.
    let key = |quality: f64, latency: f64, cost: f64| -> (u8, f64) {
        match strategy {
            Strategy::Quality => (0, -quality),
            Strategy::Cost => (
                (quality < threshold) as u8,
                if quality < threshold { -quality } else { cost },
            ),
            Strategy::Balanced => (
                (quality < threshold - 0.03) as u8,
                if quality < threshold - 0.03 {
                    -quality
                } else {
                    -(quality / cost.sqrt())
                },
            ),
            Strategy::Latency => (0, latency),
        }
    };
    // Expected quality and latency of each candidate, for the explanation.
    let figures: std::collections::HashMap<String, (f64, f64)> = if q.explain {
        v.iter()
            .map(|(_, m, quality, latency, _)| (m.id.clone(), (*quality, *latency)))
            .collect()
    } else {
        Default::default()
    };
    let mut keyed: Vec<(u8, (u8, f64), usize, &'c ModelInfo)> = v
        .into_iter()
        .map(|(i, m, quality, latency, cost)| {
            let avoid = q.avoid_provider.is_some_and(|p| p == m.provider) as u8;
            (avoid, key(quality, latency, cost), i, m)
        })
        .collect();
    keyed.sort_by(|(pa, ka, ia, _), (pb, kb, ib, _)| {
        pa.cmp(pb)
            .then(ka.0.cmp(&kb.0))
            .then(ka.1.partial_cmp(&kb.1).unwrap_or(std::cmp::Ordering::Equal))
            .then(ia.cmp(ib))
    });
    let mut ranked: Vec<&ModelInfo> = keyed.into_iter().map(|(_, _, _, m)| m).collect();
    let mut explored = false;
    if let Some(seed) = q.explore
        && ranked.len() > 1
    {
        let i = 1 + (splitmix64(seed) % (ranked.len() as u64 - 1)) as usize;
        let m = ranked.remove(i);
        ranked.insert(0, m);
        explored = true;
    }
    let mut reason = String::new();
    if q.explain {
        let mut first = None;
        for (rank, m) in ranked.iter().enumerate() {
            let (quality, latency) = figures.get(&m.id).copied().unwrap_or((m.quality, 0.0));
            let c = Considered {
                model: m.id.clone(),
                provider: m.provider.clone(),
                verdict: Verdict::Ranked {
                    rank,
                    quality,
                    cost: typical_cost(m),
                    latency_ms: latency,
                },
            };
            if rank == 0 {
                first = Some(c.clone());
            }
            considered.push(c);
        }
        let basis = Basis {
            strategy,
            prefer_cheap: q.prefer_cheap,
            threshold: q.threshold,
            explored,
            avoid_provider: q.avoid_provider,
        };
        reason = first.map_or("no candidate left".into(), |f| {
            super::explain::reason(&basis, &f)
        });
    }
    Routed {
        ranked,
        blocked,
        allowed,
        considered,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BreakerConfig, Config};
    use crate::routing::Signal;

    fn setup() -> (Config, Catalog, ProviderRegistry) {
        let cfg = Config::defaults();
        let cat = Catalog::from_config(&cfg).unwrap();
        let mut c2 = cfg.clone();
        c2.simulated.enabled = crate::config::SimulatedMode::Always;
        let reg = ProviderRegistry::from_config(&c2, &cat).unwrap();
        (cfg, cat, reg)
    }

    fn first<'a>(r: &Routed<'a>) -> &'a str {
        r.ranked[0].id.as_str()
    }

    #[test]
    fn strategies_rank_differently_and_learning_moves_cost_routing() {
        let (_, cat, reg) = setup();
        let health = Health::new(BreakerConfig::default());
        let learning = Learning::default();
        let inp = Inputs {
            catalog: &cat,
            registry: &reg,
            health: &health,
            learning: &learning,
            policies: &[],
        };
        let q = RouteQuery {
            task_type: Some(TaskType::CodeGeneration),
            threshold: Some(0.85),
            ..Default::default()
        };
        // The highest prior for code generation (catalog of 2026-12: Opus 4.7).
        assert_eq!(
            first(&route(&inp, Strategy::Quality, &q, 0)),
            "claude-opus-4-7"
        );
        let cost_pick = first(&route(&inp, Strategy::Cost, &q, 0)).to_string();
        assert_ne!(
            cost_pick, "deepseek-chat",
            "prior 0.82 is below the threshold"
        );
        // deepseek-chat learns to score well: cost routing moves to it.
        for _ in 0..5 {
            learning.record_score("deepseek-chat", TaskType::CodeGeneration, 0.97, Micros(100));
        }
        assert_eq!(first(&route(&inp, Strategy::Cost, &q, 0)), "deepseek-chat");
        assert_eq!(
            first(&route(&inp, Strategy::Balanced, &q, 0)),
            "deepseek-chat"
        );
    }

    #[test]
    fn unhealthy_excluded_and_avoided_provider_last() {
        let (cfg, cat, reg) = setup();
        let health = Health::new(cfg.breaker.clone());
        health.record("claude-opus-4-1", Signal::Permanent, 0);
        let learning = Learning::default();
        let inp = Inputs {
            catalog: &cat,
            registry: &reg,
            health: &health,
            learning: &learning,
            policies: &[],
        };
        let q = RouteQuery {
            task_type: Some(TaskType::CodeGeneration),
            avoid_provider: Some("anthropic"),
            ..Default::default()
        };
        let r = route(&inp, Strategy::Quality, &q, 0);
        assert!(r.ranked.iter().all(|m| m.id != "claude-opus-4-1"));
        assert_ne!(r.ranked[0].provider, "anthropic");
        assert_eq!(r.ranked.last().unwrap().provider, "anthropic");
    }

    #[test]
    fn hard_policy_blocks_and_reports() {
        let (_, cat, reg) = setup();
        let health = Health::new(BreakerConfig::default());
        let learning = Learning::default();
        let cfg: Config = toml::from_str(
            "[[policy]]\nname='no-anthropic'\nmode='hard'\nblocked_providers=['anthropic']\n",
        )
        .unwrap();
        let policies = crate::routing::policy::parse(&cfg.policies).unwrap();
        let inp = Inputs {
            catalog: &cat,
            registry: &reg,
            health: &health,
            learning: &learning,
            policies: &policies,
        };
        let r = route(&inp, Strategy::Quality, &RouteQuery::default(), 0);
        assert!(r.ranked.iter().all(|m| m.provider != "anthropic"));
        let anthropic = cat
            .models
            .iter()
            .filter(|m| m.provider == "anthropic")
            .count();
        assert_eq!(r.blocked.len(), anthropic);
    }

    #[test]
    fn a_cost_policy_counts_reasoning_held_beyond_max_tokens() {
        let (_, cat, reg) = setup();
        let health = Health::new(BreakerConfig::default());
        let learning = Learning::default();
        let cfg: Config =
            toml::from_str("[[policy]]\nname='cap'\nmode='hard'\nmax_cost_per_call_usd=0.05\n")
                .unwrap();
        let policies = crate::routing::policy::parse(&cfg.policies).unwrap();
        // $1 / $2 per million: 100 input and 4,000 output tokens are $0.0081, under the cap;
        // R1's 32,768 chain-of-thought tokens beyond max_tokens make the hold $0.0737.
        let priced = |id: &str| ModelInfo {
            id: id.into(),
            input: 1.0,
            output: 2.0,
            ..cat.get("deepseek-reasoner").unwrap().clone()
        };
        let one = |m: ModelInfo| Catalog { models: vec![m] };
        let q = RouteQuery {
            est_input: 100,
            max_tokens: 4000,
            ..Default::default()
        };
        for (m, blocked) in [(priced("deepseek-reasoner"), 0), (priced("deepseek-r1"), 1)] {
            let cat = one(m);
            let inp = Inputs {
                catalog: &cat,
                registry: &reg,
                health: &health,
                learning: &learning,
                policies: &policies,
            };
            let r = route(&inp, Strategy::Quality, &q, 0);
            assert_eq!(r.blocked.len(), blocked, "{}", cat.models[0].id);
            assert_eq!(r.ranked.len(), 1 - blocked);
        }
    }
}
