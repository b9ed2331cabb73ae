//! Choosing the next model for a call, and what the call does when none is left.

use super::{CallFail, CallState, audit};
use crate::config::ModelInfo;
use crate::domain::CallRole;
use crate::routing::health::now_ms;
use crate::routing::router::{Inputs, RouteQuery, route};

/// The router's answer for the next try.
pub(super) enum Pick {
    /// Boxed: a catalog row is large next to the other variant.
    Model(Box<ModelInfo>),
    /// No candidate is left; `blocked` are the capable models a policy blocked.
    None { blocked: Vec<String> },
}

/// What a call does when no candidate is left.
pub(super) enum Refusal {
    /// Headroom may have come back: try the candidates the budget refused again.
    TryAgain,
    Fail(CallFail),
}

impl CallState<'_> {
    /// Exploration for learning: a deterministic share of first-try generations.
    fn explore(&self) -> Option<u64> {
        let (spec, run) = (self.spec, self.run);
        if spec.pinned_model.is_some() {
            return None;
        }
        (spec.role == CallRole::Generate && self.exclude.len() == spec.exclude.len())
            .then(|| {
                crate::domain::stable_hash(&[
                    run.map_or("", |r| r.id.as_str()),
                    spec.task_id.as_deref().unwrap_or(""),
                    &spec.attempt.unwrap_or(0).to_string(),
                ])
            })
            .filter(|h| {
                ((h >> 11) as f64 / (1u64 << 53) as f64) < self.ctx.cfg.routing.explore_rate
            })
    }

    /// Route: the pinned model when it is a candidate, else the best ranked; the decision is
    /// audited when policies apply.
    pub(super) fn pick(&mut self) -> Pick {
        let (ctx, spec) = (self.ctx, self.spec);
        let explore = self.explore();
        let q = RouteQuery {
            task_type: spec.task_type,
            exclude: &self.exclude,
            avoid_provider: self.avoid.as_deref().or(spec.avoid_provider.as_deref()),
            prefer_cheap: spec.prefer_cheap,
            threshold: spec.threshold,
            explore,
            team: self.run.and_then(|r| r.team.as_deref()),
            est_input: self.est_in,
            max_tokens: spec.max_tokens,
            explain: self.trace.is_some(),
        };
        let inputs = Inputs {
            catalog: &ctx.catalog,
            registry: &ctx.registry,
            health: &ctx.health,
            learning: &ctx.learning,
            policies: &ctx.policies,
        };
        let routed = route(&inputs, self.strategy, &q, now_ms());
        let model = spec
            .pinned_model
            .as_ref()
            .and_then(|p| routed.ranked.iter().find(|m| &m.id == p))
            .or(routed.ranked.first())
            .map(|m| (*m).clone());
        if let Some(t) = &mut self.trace {
            let pinned = spec
                .pinned_model
                .as_deref()
                .filter(|p| model.as_ref().is_some_and(|m| m.id == *p));
            t.routed(&routed, pinned);
        }
        if !ctx.policies.is_empty() {
            audit::audit(
                ctx,
                self.run,
                spec,
                &routed,
                model.as_ref().map(|m| m.id.as_str()),
                &mut self.audited,
                &mut self.pending,
            );
        }
        match model {
            Some(m) => Pick::Model(Box::new(m)),
            None => Pick::None {
                blocked: routed.blocked.iter().map(|(m, _)| m.id.clone()).collect(),
            },
        }
    }

    /// No candidate is left. When the budget refused some this round, wait as `BudgetWait`
    /// says and try them again; otherwise the call fails with the last error seen.
    pub(super) async fn refusal(&mut self, blocked: &[String]) -> Refusal {
        if let Some((d, model)) = self.denial.take() {
            // The call may wait: what it has written so far goes now.
            self.flush();
            return match self.wait.after_refusal(self.run, &d, self.cancel).await {
                Some(true) => {
                    // Try every candidate the budget refused again.
                    let refused = std::mem::take(&mut self.wait.refused);
                    self.exclude.retain(|m| !refused.contains(m));
                    Refusal::TryAgain
                }
                Some(false) => {
                    self.wait.done(self.ctx);
                    if let Some(r) = self.run {
                        *r.refused_by.lock().unwrap_or_else(|p| p.into_inner()) =
                            Some(d.level.clone());
                    }
                    Refusal::Fail(CallFail::Budget(d, model))
                }
                None => {
                    self.wait.done(self.ctx);
                    Refusal::Fail(CallFail::Cancelled)
                }
            };
        }
        let why = self.last_error.take().unwrap_or_else(|| {
            if !blocked.is_empty() {
                format!(
                    "every capable model is blocked by policy ({})",
                    blocked.join(", ")
                )
            } else {
                format!(
                    "no healthy model can do {}",
                    self.spec
                        .task_type
                        .map_or("this call".into(), |t| t.to_string())
                )
            }
        });
        Refusal::Fail(CallFail::NoModel(why))
    }
}
