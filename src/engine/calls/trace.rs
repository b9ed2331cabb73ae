//! The routing record of one call of a task attempt: the router's view of the first pick
//! (candidates, filters, ranking, why the first won) and what happened to each model the call
//! tried (answered, failed, refused by the budget, too large for its context window). Stored
//! once the call ends, written behind (`store/routing.rs`).

use super::CallSpec;
use crate::engine::context::{EngineCtx, RunCtx};
use crate::routing::explain::Verdict;
use crate::routing::router::Routed;
use crate::store::routing::{Candidate, MAX_CANDIDATES, RoutingRecord};

/// Filtered models listed one by one; the rest are counted by reason.
const LISTED_FILTERS: usize = 12;

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
        let room = MAX_CANDIDATES.saturating_sub(listed.len() + counted.len().min(4));
        ranked.truncate(room.max(4));
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

/// Store the record of a finished call (written behind; a failure is only logged).
pub(super) fn store(
    ctx: &EngineCtx,
    run: &RunCtx,
    spec: &CallSpec,
    strategy: crate::config::Strategy,
    trace: Trace,
    chosen: Option<String>,
) {
    let (Some(task_id), Some(attempt)) = (spec.task_id.clone(), spec.attempt) else {
        return;
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
        reason: trace.reason,
        candidates: trace.candidates,
    };
    let queued = ctx.store.submit(
        move |tx| crate::store::routing::insert(tx, &rec),
        |r| {
            if let Err(e) = r {
                tracing::warn!("could not record a routing decision: {e}");
            }
        },
    );
    if let Err(e) = queued {
        tracing::warn!("could not record a routing decision: {e}");
    }
}
