//! The routing record of one call of a task attempt: the router's view of the first pick
//! (candidates, filters, ranking, why the first won) and what happened to each model the call
//! tried (answered, failed, refused by the budget, too large for its context window). Stored
//! once the call ends, written behind (`store/routing.rs`).

use super::CallSpec;
use crate::engine::context::RunCtx;
use crate::routing::explain::Verdict;
use crate::routing::router::Routed;
use crate::store::routing::{Candidate, MAX_CANDIDATES, RoutingRecord};

/// Filtered models listed one by one; the rest are counted by reason.
const LISTED_FILTERS: usize = 8;
/// Ranked candidates kept beyond the models the call tried.
const KEPT_RANKS: usize = 10;

#[derive(Debug, Default)]
pub(super) struct Trace {
    /// Set by the first pick.
    routed: bool,
    reason: String,
    candidates: Vec<Candidate>,
}

impl Trace {
    /// Keep the router's view of the first pick (later picks only follow its ranking).
    pub(super) fn routed(&mut self, r: &Routed<'_>, pinned: Option<&str>) {
        if self.routed {
            return;
        }
        self.routed = true;
        self.reason = match pinned {
            Some(p) => format!("pinned to {p}: the model that wrote what is being revised"),
            None => r.reason.clone(),
        };
        let mut ranked: Vec<Candidate> = Vec::new();
        let mut listed: Vec<Candidate> = Vec::new();
        // (reason, count) of filters not listed one by one (unserved, incapable: the bulk).
        let mut counted: Vec<(String, usize)> = Vec::new();
        for c in &r.considered {
            match &c.verdict {
                Verdict::Ranked {
                    rank,
                    quality,
                    cost,
                    ..
                } => ranked.push(Candidate {
                    model: c.model.clone(),
                    rank: Some(*rank as u32 + 1),
                    quality: Some((*quality * 1000.0).round() / 1000.0),
                    cost_micros: Some(cost.0),
                    filtered: None,
                    outcome: None,
                }),
                Verdict::Filtered(why) => {
                    let bulk = why.starts_with("not served") || why.starts_with("capability");
                    if bulk || listed.len() >= LISTED_FILTERS {
                        match counted.iter_mut().find(|(w, _)| w == why) {
                            Some((_, n)) => *n += 1,
                            None => counted.push((why.clone(), 1)),
                        }
                    } else {
                        listed.push(Candidate {
                            model: c.model.clone(),
                            rank: None,
                            quality: None,
                            cost_micros: None,
                            filtered: Some(why.clone()),
                            outcome: None,
                        });
                    }
                }
            }
        }
        ranked.sort_by_key(|c| c.rank);
        self.candidates = ranked;
        self.candidates.extend(listed);
        self.candidates
            .extend(counted.into_iter().map(|(why, n)| Candidate {
                model: format!("{n} model{}", if n == 1 { "" } else { "s" }),
                rank: None,
                quality: None,
                cost_micros: None,
                filtered: Some(why),
                outcome: None,
            }));
    }

    /// The candidates to store: the first [`KEPT_RANKS`] ranked and every model the call tried,
    /// then the filtered ones, at most [`MAX_CANDIDATES`].
    fn kept(self) -> Vec<Candidate> {
        let mut out: Vec<Candidate> = self
            .candidates
            .into_iter()
            .filter(|c| c.rank.is_none_or(|r| r as usize <= KEPT_RANKS) || c.outcome.is_some())
            .collect();
        out.truncate(MAX_CANDIDATES);
        out
    }

    /// What happened when the call tried `model` (the latest word wins).
    pub(super) fn outcome(&mut self, model: &str, what: String) {
        if let Some(c) = self.candidates.iter_mut().find(|c| c.model == model) {
            c.outcome = Some(what);
        } else if self.candidates.len() < MAX_CANDIDATES {
            self.candidates.push(Candidate {
                model: model.to_string(),
                rank: None,
                quality: None,
                cost_micros: None,
                filtered: None,
                outcome: Some(what),
            });
        }
    }
}

/// The write that stores the record of a finished call (it goes with the call's last record,
/// written behind).
pub(super) fn part(
    run: &RunCtx,
    spec: &CallSpec,
    strategy: crate::config::Strategy,
    trace: Trace,
    chosen: Option<String>,
) -> Option<super::Part> {
    let (Some(task_id), Some(attempt)) = (spec.task_id.clone(), spec.attempt) else {
        return None;
    };
    let rec = RoutingRecord {
        run_id: run.id.clone(),
        task_id,
        attempt,
        role: spec.role.to_string(),
        strategy: if spec.prefer_cheap {
            "cost".to_string()
        } else {
            strategy.as_str().to_string()
        },
        chosen,
        reason: trace.reason.clone(),
        candidates: trace.kept(),
    };
    Some(Box::new(move |tx: &dyn crate::store::sql::Sql| {
        crate::store::routing::insert(tx, &rec)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Micros;
    use crate::routing::explain::Considered;

    fn routed(n_ranked: usize, unserved: usize) -> Routed<'static> {
        let mut considered: Vec<Considered> = (0..n_ranked)
            .map(|i| Considered {
                model: format!("m{i}"),
                provider: "p".into(),
                verdict: Verdict::Ranked {
                    rank: i,
                    quality: 0.9 - i as f64 / 100.0,
                    cost: Micros(1000 + i as i64),
                    latency_ms: 0.0,
                },
            })
            .collect();
        considered.push(Considered {
            model: "open".into(),
            provider: "p".into(),
            verdict: Verdict::Filtered("breaker open".into()),
        });
        for i in 0..unserved {
            considered.push(Considered {
                model: format!("u{i}"),
                provider: "q".into(),
                verdict: Verdict::Filtered("not served: no provider or key configured".into()),
            });
        }
        Routed {
            ranked: vec![],
            blocked: vec![],
            allowed: vec![],
            considered,
            reason: "quality strategy: highest expected quality (0.90)".into(),
        }
    }

    #[test]
    fn the_record_keeps_the_top_ranks_every_model_tried_and_counts_the_bulk() {
        let mut t = Trace::default();
        t.routed(&routed(30, 40), None);
        t.outcome("m0", "failed: 503".into());
        t.outcome("m17", "answered".into());
        // A second pick does not replace the first one's view.
        t.routed(&routed(2, 0), Some("m1"));
        assert_eq!(
            t.reason,
            "quality strategy: highest expected quality (0.90)"
        );
        let kept = t.kept();
        let ranks: Vec<Option<u32>> = kept.iter().map(|c| c.rank).collect();
        assert_eq!(
            &ranks[..11],
            &(1..=10).chain([18]).map(Some).collect::<Vec<_>>()[..]
        );
        assert_eq!(kept[0].outcome.as_deref(), Some("failed: 503"));
        assert_eq!(kept[10].outcome.as_deref(), Some("answered"));
        let open = kept.iter().find(|c| c.model == "open").expect("listed");
        assert_eq!(open.filtered.as_deref(), Some("breaker open"));
        let bulk = kept
            .iter()
            .find(|c| c.model == "40 models")
            .expect("counted");
        assert!(
            bulk.filtered
                .as_deref()
                .is_some_and(|f| f.starts_with("not served"))
        );
        assert!(kept.len() <= MAX_CANDIDATES);
    }

    #[test]
    fn a_pinned_pick_says_so() {
        let mut t = Trace::default();
        t.routed(&routed(3, 0), Some("m2"));
        assert!(t.reason.starts_with("pinned to m2"), "{}", t.reason);
    }
}
