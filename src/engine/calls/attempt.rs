//! Attempts on one model: admission by its breaker, the budget hold, the provider call, its
//! record, then a retry after a backoff or the end of this model for the call.

use super::{CallFail, CallOk, CallState, backoff, record};
use crate::config::ModelInfo;
use crate::domain::Micros;
use crate::engine::context::Slot;
use crate::engine::hold::{Held, Hold, hold_budget};
use crate::engine::{inflight, usage};
use crate::providers::{ChatRequest, Provider, ProviderError};
use crate::routing::Admission;
use crate::routing::health::now_ms;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The model a call tries, with its request and the worst case held for it.
pub(super) struct Target<'a> {
    pub model: &'a ModelInfo,
    pub provider: &'a Arc<dyn Provider>,
    pub req: &'a ChatRequest,
    /// Input tokens the hold assumes.
    pub input: u64,
    pub worst: Micros,
}

/// How the attempts on one model ended.
pub(super) enum ModelEnd {
    Answered(Box<CallOk>),
    /// The whole call ends (cancelled, the store cannot record).
    Stop(CallFail),
    /// Try the next candidate.
    FallBack,
    /// The prompt did not fit the model's context window (the limit the server named, if any):
    /// shrink and ask again.
    Overflow(Option<u64>),
}

/// How one attempt ended.
pub(super) enum AttemptEnd {
    Answered(Box<CallOk>),
    Stop(CallFail),
    /// Ask the same model again after this wait.
    Retry(Duration),
    FallBack,
    Overflow(Option<u64>),
}

impl CallState<'_> {
    /// Attempt `t` until it answers, the retries run out or its error is not worth a retry.
    /// The slot is released while sleeping between attempts.
    pub(super) async fn try_model(
        &mut self,
        t: &Target<'_>,
        mut slot: Option<&mut Slot>,
    ) -> ModelEnd {
        let mut retry: u32 = 0;
        loop {
            let wait = match self.attempt(t, retry).await {
                AttemptEnd::Answered(ok) => return ModelEnd::Answered(ok),
                AttemptEnd::Stop(f) => return ModelEnd::Stop(f),
                AttemptEnd::FallBack => return ModelEnd::FallBack,
                AttemptEnd::Overflow(limit) => return ModelEnd::Overflow(limit),
                AttemptEnd::Retry(d) => d,
            };
            if retry >= self.ctx.cfg.retry.max_retries {
                return ModelEnd::FallBack; // No sleep after the last attempt.
            }
            retry += 1;
            let cancel = self.cancel;
            let slept = match slot.as_deref_mut() {
                Some(s) => s.sleep_released(wait, cancel).await,
                None => {
                    tokio::select! {
                        _ = cancel.cancelled() => false,
                        _ = tokio::time::sleep(wait) => true,
                    }
                }
            };
            if !slept {
                return ModelEnd::Stop(CallFail::Cancelled);
            }
        }
    }

    /// One attempt: admission, hold, provider call, record (written behind).
    async fn attempt(&mut self, t: &Target<'_>, retry: u32) -> AttemptEnd {
        let (ctx, run, model) = (self.ctx, self.run, t.model);
        // No call starts while the store cannot commit (its answer could not be recorded), nor
        // in a run stopped for that, even if a small write got through since.
        if !ctx.store.writable() || run.is_some_and(|r| r.stopped_by_store()) {
            return AttemptEnd::Stop(inflight::store_down(ctx, run));
        }
        // Admission: breaker state and any provider-requested wait.
        let (adm, transition) = ctx.health.admit(&model.id, now_ms());
        if let Some(tr) = transition {
            record::persist_transition(ctx, run, &model.id, &tr).await;
        }
        if let Admission::Denied { .. } = adm {
            self.traced(&model.id, || {
                format!(
                    "breaker {}: not admitted",
                    ctx.health.get(&model.id).state.as_str()
                )
            });
            return AttemptEnd::FallBack;
        }
        let hold = match hold_budget(ctx, run, t.worst, self.wait.registering()).await {
            Ok(h) => {
                self.wait.done(ctx);
                h
            }
            Err(fail) => {
                self.not_held(model, fail);
                return AttemptEnd::FallBack;
            }
        };
        let lease = match hold {
            Hold::Lease(id) => Some(id),
            Hold::Row(_) => None,
        };
        let simulated = t.provider.is_simulated();
        // Queued before the request is sent, with the call's pending writes.
        let pending = self.pending.take();
        let noted = inflight::note(
            ctx, run, lease, self.spec, model, simulated, t.worst, pending,
        );
        if let (Some(r), Some(task)) = (run, &self.spec.task_id) {
            ctx.emit(crate::engine::EngineEvent::Calling {
                run_id: r.id.clone(),
                task_id: task.clone(),
                attempt: self.spec.attempt,
                role: self.spec.role.to_string(),
                model: model.id.clone(),
            });
        }
        let started = Instant::now();
        let mut result = t.provider.chat(t.req, self.cancel).await;
        let latency = started.elapsed();
        // Reported usage is checked and the charge bounded by `worst` (engine/usage.rs).
        let charge = usage::assess(model, t.req, t.input, t.worst, &mut result);
        let observed = record::observe(ctx, self.spec, model, &result, latency);
        let ended = record::Ended {
            model,
            simulated,
            result: &result,
            charge: &charge,
            latency,
            retry,
        };
        let rec = record::call_record(run, self.spec, &ended, observed.breaker());
        record::charged(ctx, run, hold, t.worst, &charge);
        let deferred = record::Deferred {
            hold,
            inflight: noted,
            rec,
            observed,
            answered: result.is_ok(),
        };
        if matches!(result, Ok(_) | Err(ProviderError::Cancelled)) {
            // The call ends here: its record goes when it does, with its routing record.
            self.record = Some(deferred);
        } else {
            record::submit(ctx, run, deferred, self.pending.take());
        }
        match result {
            Ok(response) => AttemptEnd::Answered(Box::new(CallOk {
                model: model.clone(),
                response,
                cost: charge.cost,
            })),
            Err(ProviderError::Cancelled) => AttemptEnd::Stop(CallFail::Cancelled),
            Err(e @ ProviderError::ContextOverflow { .. }) => {
                let limit = match &e {
                    ProviderError::ContextOverflow { limit, .. } => *limit,
                    _ => None,
                };
                self.last_error = Some(format!("{}: {e}", model.id));
                AttemptEnd::Overflow(limit)
            }
            Err(e) => {
                self.traced(&model.id, || {
                    let tries = if retry > 0 {
                        format!(" (try {})", retry + 1)
                    } else {
                        String::new()
                    };
                    format!("failed{tries}: {e}")
                });
                self.last_error = Some(format!("{}: {e}", model.id));
                match backoff::retry_wait(&ctx.cfg, &e, retry, &mut self.seed) {
                    Some(d) => AttemptEnd::Retry(d),
                    None => AttemptEnd::FallBack,
                }
            }
        }
    }

    /// The budget did not hold `model`'s worst case: remember the cheapest refusal (or the
    /// error), and give the breaker's admission back (a probe that never ran).
    fn not_held(&mut self, model: &ModelInfo, fail: Held) {
        match fail {
            Held::Denied(d) => {
                self.traced(&model.id, || format!("budget: {d}"));
                self.wait.refused.push(model.id.clone());
                if self.denial.as_ref().is_none_or(|p| d.amount < p.0.amount) {
                    self.denial = Some((d, model.id.clone()));
                }
            }
            Held::Error(e) => self.last_error = Some(e),
        }
        self.ctx
            .health
            .record(&model.id, crate::routing::Signal::Neutral, now_ms());
    }
}
