//! After a provider call: what it did to the breakers and the learned profiles, and its settle +
//! call row + breaker rows, written behind (observers hear of the call once it is committed).

use super::CallSpec;
use super::backoff::signal_of;
use super::pending::Parts;
use crate::config::ModelInfo;
use crate::domain::{CallOutcome, Micros, TaskType};
use crate::engine::EngineEvent;
use crate::engine::context::{EngineCtx, RunCtx};
use crate::engine::hold::Hold;
use crate::engine::usage::Charge;
use crate::providers::{ChatResponse, ProviderError};
use crate::routing::health::now_ms;
use crate::routing::learning::Profile;
use crate::routing::{Breaker, Signal, Transition};
use crate::store::BudgetStore;
use crate::store::{self, BreakerEventRow, CallRecord};
use std::time::Duration;
use tokio::sync::broadcast;

/// What one provider call did to the breakers and profiles, to persist with its call row.
pub(super) struct Observed {
    /// The model's breaker after the call.
    breaker: Breaker,
    /// The model's transition, then those of the models sharing a rejected key.
    transitions: Vec<(String, Transition)>,
    /// The model's breaker and settings hash, when it says something new.
    breaker_row: Option<(Breaker, String)>,
    /// The model's profile, every 20th call.
    profile: Option<(TaskType, Profile)>,
}

impl Observed {
    pub(super) fn breaker(&self) -> &Breaker {
        &self.breaker
    }
}

/// Feed the call's result to the model's breaker and profile; a bad key (401/403) disables
/// every model that uses it (providers.md).
pub(super) fn observe(
    ctx: &EngineCtx,
    spec: &CallSpec,
    model: &ModelInfo,
    result: &Result<ChatResponse, ProviderError>,
    latency: Duration,
) -> Observed {
    let sig = match result {
        Ok(_) => Signal::Success,
        Err(e) => signal_of(e),
    };
    let (transition, breaker) = ctx.health.record(&model.id, sig, now_ms());
    let profile_type = spec.task_type.unwrap_or(TaskType::Evaluation);
    let profile = (!matches!(sig, Signal::Neutral)).then(|| {
        ctx.learning.record_call(
            &model.id,
            profile_type,
            matches!(sig, Signal::Success),
            latency.as_millis() as u64,
        )
    });
    // Persist the breaker only when it says something new (a closed breaker with no failures is
    // the default); profiles are persisted with each evaluated attempt.
    let breaker_row = (transition.is_some()
        || breaker.consecutive_failures > 0
        || !matches!(sig, Signal::Success))
    .then(|| (breaker.clone(), ctx.hash_of(&model.id)));
    let profile = profile
        .filter(|p| p.calls % 20 == 1)
        .map(|p| (profile_type, p));
    let mut transitions: Vec<(String, Transition)> = transition
        .map(|t| (model.id.clone(), t))
        .into_iter()
        .collect();
    if let Err(ProviderError::Permanent {
        key_scoped: true, ..
    }) = result
    {
        for m in ctx.catalog.models.iter() {
            if m.provider == model.provider
                && m.id != model.id
                && let (Some(t), _) = ctx.health.record(&m.id, Signal::Permanent, now_ms())
            {
                transitions.push((m.id.clone(), t));
            }
        }
    }
    Observed {
        breaker,
        transitions,
        breaker_row,
        profile,
    }
}

/// The call as it ended, for its row.
pub(super) struct Ended<'a> {
    pub model: &'a ModelInfo,
    pub simulated: bool,
    pub result: &'a Result<ChatResponse, ProviderError>,
    pub charge: &'a Charge,
    pub latency: Duration,
    pub retry: u32,
}

/// The call's row.
pub(super) fn call_record(
    run: Option<&RunCtx>,
    spec: &CallSpec,
    ended: &Ended<'_>,
    breaker: &Breaker,
) -> CallRecord {
    let (result, usage) = (ended.result, &ended.charge.usage);
    CallRecord {
        run_id: run.map(|r| r.id.clone()),
        task_id: spec.task_id.clone(),
        attempt: spec.attempt,
        role: spec.role.as_str().into(),
        provider: ended.model.provider.clone(),
        model: ended.model.id.clone(),
        simulated: ended.simulated,
        input_tokens: usage.input,
        cached_tokens: usage.cached_input,
        cache_write_tokens: usage.cache_write,
        output_tokens: usage.output,
        reasoning_tokens: usage.reasoning,
        cost: ended.charge.cost,
        cache_saving: ended.charge.saving,
        latency_ms: ended.latency.as_millis() as u64,
        ttft_ms: result
            .as_ref()
            .ok()
            .and_then(|r| r.ttft.map(|t| t.as_millis() as u64)),
        outcome: match (result, ended.charge.outcome) {
            (_, Some(o)) => o,
            (Ok(_), None) => CallOutcome::Ok,
            (Err(e), None) => e.class(),
        },
        error: result.as_ref().err().map(|e| e.to_string()),
        retry: ended.retry,
        breaker_after: Some(breaker.state.as_str().into()),
        at: store::now_rfc3339(),
    }
}

/// An attempt's settle and record, ready to queue.
pub(super) struct Deferred {
    pub hold: Hold,
    /// The attempt's row in `inflight_calls` (deleted with the settle).
    pub inflight: Option<(i64, i64)>,
    pub rec: CallRecord,
    pub observed: Observed,
    /// The provider answered (its spend is counted as unrecorded if the write is given up).
    pub answered: bool,
}

/// Settle and record without waiting, after `parts` (the call's pending writes) in the same
/// job: the hold keeps the worst case until the commit, and whatever the engine writes next is
/// queued behind it (FIFO), so nothing that depends on this call can be durable before it is.
/// Observers hear of the call once it is committed.
pub(super) fn submit(ctx: &EngineCtx, run: Option<&RunCtx>, d: Deferred, mut parts: Parts) {
    let Deferred {
        hold,
        inflight,
        rec,
        observed,
        answered,
    } = d;
    let Observed {
        transitions,
        breaker_row,
        profile,
        ..
    } = observed;
    let key_breakers: Vec<(String, Breaker, String, Option<String>)> = transitions
        .iter()
        .filter(|(m, _)| *m != rec.model)
        .map(|(m, _)| (m.clone(), ctx.health.get(m), ctx.hash_of(m), ctx.key_of(m)))
        .collect();
    let key = ctx.key_of(&rec.model);
    let cost = rec.cost;
    let run_id = run.map(|r| r.id.clone());
    let team = run.and_then(|r| r.team.clone());
    let err_run = run_id.clone();
    let events = ctx.events.clone();
    let ev_transitions = transitions.clone();
    let submitted = ctx.store.submit_retried(
        answered.then_some(cost),
        move |tx| {
            parts.run(tx)?;
            if let Some((lease, n)) = inflight {
                store::inflight::remove(tx, lease, n)?;
            }
            match hold {
                Hold::Lease(id) => tx.settle_part(id, team.as_deref(), rec.cost)?,
                // Charged calls settle (a refused answer may be billed); others release.
                Hold::Row(id) if rec.outcome == CallOutcome::Ok || rec.cost.0 > 0 => {
                    tx.settle(id, rec.cost)?
                }
                Hold::Row(id) => tx.release(id)?,
            }
            store::runs::insert_call(tx, &rec)?;
            if rec.outcome.is_failure() {
                let text = crate::engine::call_failed_text(
                    &rec.role,
                    &rec.model,
                    rec.outcome,
                    rec.error.as_deref(),
                );
                store::events::insert(tx, run_id.as_deref(), "error", &text)?;
            }
            // Thresholds of the caps this charge reached (80%, 95%), once per level and period.
            let alerts = if rec.cost.0 > 0 {
                store::alerts::check(tx, run_id.as_deref(), team.as_deref())?
            } else {
                vec![]
            };
            for a in &alerts {
                store::events::insert(tx, run_id.as_deref(), "budget", &a.message())?;
            }
            if let Some((b, h)) = &breaker_row {
                store::breakers::save(tx, &rec.model, b, h, key.as_deref())?;
            }
            if let Some((t, p)) = &profile {
                store::models::save_profile(tx, &rec.model, *t, p)?;
            }
            for (m, t) in &transitions {
                store::runs::insert_breaker_event(tx, run_id.as_deref(), &transition_row(m, t))?;
            }
            for (m, b, h, k) in &key_breakers {
                store::breakers::save(tx, m, b, h, k.as_deref())?;
            }
            Ok((rec.clone(), alerts))
        },
        move |r| match r {
            Ok((rec, alerts)) => {
                let run_id = rec.run_id.clone();
                for a in &alerts {
                    tracing::warn!(run = run_id.as_deref(), "{}", a.message());
                    let _ = events.send(EngineEvent::Budget {
                        run_id: run_id.clone(),
                        message: a.message(),
                    });
                }
                let _ = events.send(EngineEvent::Call {
                    run_id: rec.run_id,
                    task_id: rec.task_id,
                    role: rec.role,
                    model: rec.model,
                    provider: rec.provider,
                    outcome: rec.outcome,
                    cost,
                    latency_ms: rec.latency_ms,
                    error: rec.error,
                });
                for (m, t) in &ev_transitions {
                    emit_transition(&events, run_id.as_deref(), m, t);
                }
            }
            Err(e) => not_recorded(&events, err_run, "a call", &e),
        },
    );
    if let Err(e) = submitted {
        not_recorded(&ctx.events, run.map(|r| r.id.clone()), "a call", &e);
    }
}

/// A call's charge, once known: the run's lease shrinks to what is still held, and a charge
/// other than the reported usage is told to observers.
pub(super) fn charged(
    ctx: &EngineCtx,
    run: Option<&RunCtx>,
    hold: Hold,
    worst: Micros,
    c: &Charge,
) {
    if let (Hold::Lease(_), Some(r)) = (hold, run) {
        r.lease.finish(worst.0, c.cost.0);
    }
    if let Some(w) = &c.warning {
        ctx.warn_budget(run.map(|r| r.id.as_str()), w.clone());
    }
}

/// A write the engine did not wait for failed: log it and tell observers (from any thread).
pub(crate) fn not_recorded(
    events: &broadcast::Sender<EngineEvent>,
    run_id: Option<String>,
    what: &str,
    e: &crate::store::StoreError,
) {
    let message = format!("could not record {what}: {e}");
    tracing::warn!(run = run_id.as_deref(), "{message}");
    let _ = events.send(EngineEvent::Warning { run_id, message });
}

fn transition_row(model: &str, t: &Transition) -> BreakerEventRow {
    BreakerEventRow {
        at: store::now_rfc3339(),
        model: model.to_string(),
        from: t.from.as_str().into(),
        to: t.to.as_str().into(),
        reason: t.reason.clone(),
    }
}

fn emit_transition(
    events: &broadcast::Sender<EngineEvent>,
    run_id: Option<&str>,
    model: &str,
    t: &Transition,
) {
    tracing::info!(
        model,
        from = t.from.as_str(),
        to = t.to.as_str(),
        "breaker: {}",
        t.reason
    );
    let _ = events.send(EngineEvent::Breaker {
        run_id: run_id.map(String::from),
        model: model.to_string(),
        from: t.from,
        to: t.to,
        reason: t.reason.clone(),
    });
}

/// Persist and announce a transition that happened outside a call (open -> half-open).
pub(super) async fn persist_transition(
    ctx: &EngineCtx,
    run: Option<&RunCtx>,
    model: &str,
    t: &Transition,
) {
    let row = transition_row(model, t);
    let run_id = run.map(|r| r.id.clone());
    let _ = ctx
        .store
        .call(move |c| store::runs::insert_breaker_event(c, run_id.as_deref(), &row))
        .await;
    emit_transition(&ctx.events, run.map(|r| r.id.as_str()), model, t);
}
