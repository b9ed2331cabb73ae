//! The call path: route -> breaker admission -> reserve budget -> provider call -> settle +
//! telemetry + breaker (one transaction) -> retry / fall back. Every role goes through here.

use super::EngineEvent;
use super::context::{EngineCtx, RunCtx, Slot};
use super::hold::{BudgetWait, Held, Hold, hold_budget};
use crate::budget::ledger::Denial;
use crate::config::ModelInfo;
use crate::domain::{CallRole, Micros, TaskType, splitmix64};
use crate::providers::{ChatRequest, ChatResponse, Message, ProviderError};
use crate::routing::health::now_ms;
use crate::routing::router::{Inputs, RouteQuery, route};
use crate::routing::{Admission, Signal, Transition};
use crate::store::budget as ledger;
use crate::store::{self, BreakerEventRow, CallRecord};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct CallSpec {
    pub role: CallRole,
    pub task_type: Option<TaskType>,
    pub task_id: Option<String>,
    pub attempt: Option<u32>,
    pub system: Option<String>,
    pub prompt: String,
    pub max_tokens: u32,
    /// Prefer a model of another provider (critique/evaluation of this provider's output).
    pub avoid_provider: Option<String>,
    pub prefer_cheap: bool,
    /// Try this model first when healthy (revision by the generator).
    pub pinned_model: Option<String>,
    /// Models not to use at all for this call.
    pub exclude: Vec<String>,
    /// The task's acceptance threshold (cost/balanced routing pick models expected to reach it).
    pub threshold: Option<f64>,
}

impl CallSpec {
    pub fn new(role: CallRole, prompt: String, max_tokens: u32) -> Self {
        CallSpec {
            role,
            task_type: None,
            task_id: None,
            attempt: None,
            system: None,
            prompt,
            max_tokens,
            avoid_provider: None,
            prefer_cheap: false,
            pinned_model: None,
            exclude: vec![],
            threshold: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CallOk {
    pub model: ModelInfo,
    pub response: ChatResponse,
    pub cost: Micros,
}

#[derive(Debug, Clone)]
pub enum CallFail {
    /// No capable, healthy, allowed model is left (`no_available_model`).
    NoModel(String),
    /// No candidate's reservation fits the budget.
    Budget(Denial),
    Cancelled,
}

impl std::fmt::Display for CallFail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallFail::NoModel(s) => write!(f, "no_available_model: {s}"),
            CallFail::Budget(d) => write!(f, "budget exhausted: {d}"),
            CallFail::Cancelled => write!(f, "cancelled"),
        }
    }
}

/// Full-jitter exponential backoff (no sleep after the last retry: the caller checks).
pub fn backoff(retry: u32, base_ms: u64, cap_ms: u64, seed: u64) -> Duration {
    let ceiling = base_ms.saturating_mul(1u64 << retry.min(20)).min(cap_ms);
    let r = splitmix64(seed ^ retry as u64) % (ceiling + 1);
    Duration::from_millis(r)
}

fn signal_of(e: &ProviderError) -> Signal {
    match e {
        ProviderError::RateLimited { retry_after, .. } => Signal::RateLimited {
            retry_after_ms: retry_after.map_or(1000, |d| d.as_millis() as u64),
        },
        ProviderError::Transient { .. } | ProviderError::Oversized { .. } => Signal::Transient,
        ProviderError::Permanent { .. } => Signal::Permanent,
        ProviderError::Request { .. } | ProviderError::Cancelled => Signal::Neutral,
    }
}

/// Make one logical call for a run (or for no run, e.g. analysis), with retries and fallback.
pub async fn call(
    ctx: &EngineCtx,
    run: Option<&RunCtx>,
    spec: &CallSpec,
    mut slot: Option<&mut Slot>,
) -> Result<CallOk, CallFail> {
    let never = tokio_util::sync::CancellationToken::new();
    let cancel = run.map_or(&never, |r| &r.cancel);
    let strategy = run.map_or(ctx.cfg.engine.strategy, |r| r.strategy);
    let mut exclude = spec.exclude.clone();
    // The refusal of the cheapest candidate this round, and how the call waits for headroom.
    let mut denial: Option<Denial> = None;
    let mut wait = BudgetWait::new(run);
    let mut last_error: Option<String> = None;
    let mut seed = now_ms() ^ spec.prompt.len() as u64;
    // After a model fails, prefer another provider for the fallback.
    let mut avoid: Option<String> = None;
    let mut audited: Vec<String> = Vec::new();
    let est_in = crate::providers::estimate_tokens(&spec.prompt)
        + spec
            .system
            .as_deref()
            .map_or(0, crate::providers::estimate_tokens)
        + 8;
    loop {
        if cancel.is_cancelled() {
            return Err(CallFail::Cancelled);
        }
        let now = now_ms();
        // Exploration for learning: a deterministic share of first-try generations.
        let explore = (spec.role == CallRole::Generate && exclude.len() == spec.exclude.len())
            .then(|| {
                crate::domain::stable_hash(&[
                    run.map_or("", |r| r.id.as_str()),
                    spec.task_id.as_deref().unwrap_or(""),
                    &spec.attempt.unwrap_or(0).to_string(),
                ])
            })
            .filter(|h| ((h >> 11) as f64 / (1u64 << 53) as f64) < ctx.cfg.routing.explore_rate);
        let q = RouteQuery {
            task_type: spec.task_type,
            exclude: &exclude,
            avoid_provider: avoid.as_deref().or(spec.avoid_provider.as_deref()),
            prefer_cheap: spec.prefer_cheap,
            threshold: spec.threshold,
            explore: if spec.pinned_model.is_some() {
                None
            } else {
                explore
            },
            team: run.and_then(|r| r.team.as_deref()),
            est_input: est_in,
            max_tokens: spec.max_tokens,
        };
        let inputs = Inputs {
            catalog: &ctx.catalog,
            registry: &ctx.registry,
            health: &ctx.health,
            learning: &ctx.learning,
            policies: &ctx.policies,
        };
        let routed = route(&inputs, strategy, &q, now);
        let model = spec
            .pinned_model
            .as_ref()
            .and_then(|p| routed.ranked.iter().find(|m| &m.id == p))
            .or(routed.ranked.first())
            .map(|m| (*m).clone());
        if !ctx.policies.is_empty() {
            audit(
                ctx,
                run,
                spec,
                &routed,
                model.as_ref().map(|m| m.id.as_str()),
                &mut audited,
            );
        }
        let Some(model) = model else {
            if let Some(d) = denial.take() {
                match wait.after_refusal(run, &d, cancel).await {
                    Some(true) => {
                        // Try every candidate the budget refused again.
                        exclude.retain(|m| !wait.refused.contains(m));
                        wait.refused.clear();
                        continue;
                    }
                    Some(false) => {
                        wait.done(ctx);
                        return Err(CallFail::Budget(d));
                    }
                    None => {
                        wait.done(ctx);
                        return Err(CallFail::Cancelled);
                    }
                }
            }
            return Err(match denial {
                Some(d) => CallFail::Budget(d),
                None => CallFail::NoModel(last_error.unwrap_or_else(|| {
                    if !routed.blocked.is_empty() {
                        format!(
                            "every capable model is blocked by policy ({})",
                            routed
                                .blocked
                                .iter()
                                .map(|(m, _)| m.id.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    } else {
                        format!(
                            "no healthy model can do {}",
                            spec.task_type.map_or("this call".into(), |t| t.to_string())
                        )
                    }
                })),
            });
        };
        let Some(provider) = ctx.registry.get(&model.provider).cloned() else {
            exclude.push(model.id.clone());
            continue;
        };
        let req = ChatRequest {
            model: model.id.clone(),
            system: spec.system.clone(),
            messages: vec![Message {
                role: "user".into(),
                content: spec.prompt.clone(),
            }],
            max_tokens: spec.max_tokens.min(model.max_output).max(1),
            temperature: None,
            role: spec.role,
            task_type: spec.task_type,
            attempt: spec.attempt.unwrap_or(1),
        };
        // Reserve the worst case; a little slack on the input estimate.
        let est_in = req.estimated_input_tokens() + req.estimated_input_tokens() / 10 + 16;
        let worst = match model.try_worst_case(est_in, req.max_tokens) {
            Ok(w) => w,
            Err(e) => {
                last_error = Some(format!("{}: cannot hold its worst case: {e}", model.id));
                exclude.push(model.id.clone());
                continue;
            }
        };
        let mut retry: u32 = 0;
        let outcome_for_model = loop {
            // No call starts while the store cannot commit (its answer could not be recorded),
            // nor in a run stopped for that, even if a small write got through since.
            if !ctx.store.writable() || run.is_some_and(|r| r.stopped_by_store()) {
                return Err(super::inflight::store_down(ctx, run));
            }
            // Admission: breaker state and any provider-requested wait.
            let (adm, t) = ctx.health.admit(&model.id, now_ms());
            if let Some(t) = t {
                persist_transition(ctx, run, &model.id, &t).await;
            }
            if let Admission::Denied { .. } = adm {
                break None;
            }
            let hold = match hold_budget(ctx, run, worst, wait.registering()).await {
                Ok(h) => {
                    wait.done(ctx);
                    h
                }
                Err(fail) => {
                    match fail {
                        Held::Denied(d) => {
                            wait.refused.push(model.id.clone());
                            if denial.as_ref().is_none_or(|p| d.amount < p.amount) {
                                denial = Some(d);
                            }
                        }
                        Held::Error(e) => last_error = Some(e),
                    }
                    // Give the admission back (a probe that never ran).
                    ctx.health.record(&model.id, Signal::Neutral, now_ms());
                    break None;
                }
            };
            let lease = match hold {
                Hold::Lease(id) => Some(id),
                Hold::Row(_) => None,
            };
            let inflight = super::inflight::note(
                ctx,
                run,
                lease,
                spec,
                &model,
                provider.is_simulated(),
                worst,
            );
            let started = Instant::now();
            let mut result = provider.chat(&req, cancel).await;
            let latency = started.elapsed();
            // Reported usage is checked and the charge bounded by `worst` (engine/usage.rs).
            let charge = super::usage::assess(&model, &req, est_in, worst, &mut result);
            let (cost, usage) = (charge.cost, charge.usage);
            let sig = match &result {
                Ok(_) => Signal::Success,
                Err(e) => signal_of(e),
            };
            let (transition, breaker) = ctx.health.record(&model.id, sig, now_ms());
            let profile_type = spec
                .task_type
                .unwrap_or(crate::domain::TaskType::Evaluation);
            let profile = (!matches!(sig, Signal::Neutral)).then(|| {
                ctx.learning.record_call(
                    &model.id,
                    profile_type,
                    matches!(sig, Signal::Success),
                    latency.as_millis() as u64,
                )
            });
            // Persist the breaker only when it says something new (a closed breaker with no
            // failures is the default); profiles are persisted with each evaluated attempt.
            let breaker_row = (transition.is_some()
                || breaker.consecutive_failures > 0
                || !matches!(sig, Signal::Success))
            .then(|| (breaker.clone(), ctx.hash_of(&model.id)));
            let profile = profile.filter(|p| p.calls % 20 == 1);
            // A bad key (401/403) disables every model that uses it (providers.md).
            let mut key_transitions = Vec::new();
            if let Err(ProviderError::Permanent {
                key_scoped: true, ..
            }) = &result
            {
                for m in ctx.catalog.models.iter() {
                    if m.provider == model.provider
                        && m.id != model.id
                        && let (Some(t), _) = ctx.health.record(&m.id, Signal::Permanent, now_ms())
                    {
                        key_transitions.push((m.id.clone(), t));
                    }
                }
            }
            let rec = CallRecord {
                run_id: run.map(|r| r.id.clone()),
                task_id: spec.task_id.clone(),
                attempt: spec.attempt,
                role: spec.role.as_str().into(),
                provider: model.provider.clone(),
                model: model.id.clone(),
                simulated: provider.is_simulated(),
                input_tokens: usage.input,
                cached_tokens: usage.cached_input,
                output_tokens: usage.output,
                reasoning_tokens: usage.reasoning,
                cost,
                latency_ms: latency.as_millis() as u64,
                ttft_ms: result
                    .as_ref()
                    .ok()
                    .and_then(|r| r.ttft.map(|t| t.as_millis() as u64)),
                outcome: match (&result, charge.outcome) {
                    (_, Some(o)) => o.into(),
                    (Ok(_), None) => "ok".into(),
                    (Err(e), None) => e.class().into(),
                },
                error: result.as_ref().err().map(|e| e.to_string()),
                retry,
                breaker_after: Some(breaker.state.as_str().into()),
                at: store::now_rfc3339(),
            };
            let key_breakers: Vec<(String, crate::routing::Breaker, String)> = key_transitions
                .iter()
                .map(|(m, _)| (m.clone(), ctx.health.get(m), ctx.hash_of(m)))
                .collect();
            if let (Hold::Lease(_), Some(r)) = (hold, run) {
                r.lease.finish(worst.0, cost.0);
            }
            if let Some(w) = charge.warning {
                ctx.warn(run.map(|r| r.id.as_str()), w);
            }
            let run_id = run.map(|r| r.id.clone());
            let team = run.and_then(|r| r.team.clone());
            let err_run = run_id.clone();
            let events = ctx.events.clone();
            let transitions: Vec<(String, Transition)> = transition
                .map(|t| (model.id.clone(), t))
                .into_iter()
                .chain(key_transitions)
                .collect();
            let ev_transitions = transitions.clone();
            let answered = result.is_ok().then_some(cost);
            // Settle and record without waiting: the reservation holds the worst case until the
            // commit, and whatever the engine writes next is queued behind it (FIFO), so nothing
            // that depends on this call can be durable before it is. Observers hear of the call
            // once it is committed.
            let submitted = ctx.store.submit_retried(
                answered,
                move |tx| {
                    if let Some((lease, n)) = inflight {
                        store::inflight::remove(tx, lease, n)?;
                    }
                    match hold {
                        Hold::Lease(id) => ledger::settle_part(tx, id, team.as_deref(), rec.cost)?,
                        // Charged calls settle (a refused answer may be billed); others release.
                        Hold::Row(id) if rec.outcome == "ok" || rec.cost.0 > 0 => {
                            ledger::settle(tx, id, rec.cost)?
                        }
                        Hold::Row(id) => ledger::release(tx, id)?,
                    }
                    store::runs::insert_call(tx, &rec)?;
                    if let Some((b, h)) = &breaker_row {
                        store::models::save_breaker(tx, &rec.model, b, h)?;
                    }
                    if let Some(p) = &profile {
                        store::models::save_profile(tx, &rec.model, profile_type, p)?;
                    }
                    for (m, t) in &transitions {
                        store::runs::insert_breaker_event(
                            tx,
                            run_id.as_deref(),
                            &transition_row(m, t),
                        )?;
                    }
                    for (m, b, h) in &key_breakers {
                        store::models::save_breaker(tx, m, b, h)?;
                    }
                    Ok(rec.clone())
                },
                move |r| match r {
                    Ok(rec) => {
                        let run_id = rec.run_id.clone();
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
            match result {
                Ok(response) => {
                    return Ok(CallOk {
                        model,
                        response,
                        cost,
                    });
                }
                Err(ProviderError::Cancelled) => return Err(CallFail::Cancelled),
                Err(e) => {
                    last_error = Some(format!("{}: {e}", model.id));
                    let wait = match &e {
                        ProviderError::RateLimited { retry_after, .. } => {
                            let d = retry_after.unwrap_or(Duration::from_secs(1));
                            if d > Duration::from_secs(ctx.cfg.retry.max_retry_after_secs) {
                                break None; // Too long a wait: fall back instead.
                            }
                            d
                        }
                        ProviderError::Transient { .. } | ProviderError::Oversized { .. } => {
                            seed = splitmix64(seed);
                            backoff(
                                retry,
                                ctx.cfg.retry.backoff_base_ms,
                                ctx.cfg.retry.backoff_cap_ms,
                                seed,
                            )
                        }
                        _ => break None, // permanent or request: never the same request again
                    };
                    if retry >= ctx.cfg.retry.max_retries {
                        break None; // No sleep after the last attempt.
                    }
                    retry += 1;
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
                        return Err(CallFail::Cancelled);
                    }
                }
            }
        };
        let _: Option<()> = outcome_for_model;
        if spec.avoid_provider.is_none() {
            avoid = Some(model.provider.clone());
        }
        exclude.push(model.id.clone());
    }
}

/// Audit the routing decision under policies: blocked models once per call, and the chosen one.
fn audit(
    ctx: &EngineCtx,
    run: Option<&RunCtx>,
    spec: &CallSpec,
    routed: &crate::routing::router::Routed<'_>,
    chosen: Option<&str>,
    audited: &mut Vec<String>,
) {
    // (model, policies, mode, violations, allowed)
    type Row = (String, Vec<String>, Option<String>, Vec<String>, bool);
    let mut rows: Vec<Row> = Vec::new();
    for (m, d) in &routed.blocked {
        if audited.contains(&m.id) {
            continue;
        }
        audited.push(m.id.clone());
        rows.push((
            m.id.clone(),
            d.policies.clone(),
            d.mode.map(|x| x.as_str().to_string()),
            d.violations
                .iter()
                .map(|v| format!("{}: {}", v.policy, v.what))
                .collect(),
            false,
        ));
    }
    if let Some(c) = chosen
        && let Some((_, d)) = routed.allowed.iter().find(|(m, _)| m.id == c)
    {
        for w in &d.warnings {
            ctx.warn(
                run.map(|r| r.id.as_str()),
                format!("policy warning for {c}: {w}"),
            );
        }
        rows.push((
            c.to_string(),
            d.policies.clone(),
            d.mode.map(|x| x.as_str().to_string()),
            d.violations
                .iter()
                .map(|v| format!("{}: {}", v.policy, v.what))
                .collect(),
            true,
        ));
    }
    if rows.is_empty() {
        return;
    }
    let run_id = run.map(|r| r.id.clone());
    let task_id = spec.task_id.clone();
    // Write-behind like the call record (which it precedes in the queue): nothing waits on it.
    let (events, err_run) = (ctx.events.clone(), run_id.clone());
    let queued = ctx.store.submit(
        move |tx| {
            for (model, policies, mode, violations, allowed) in &rows {
                store::models::insert_audit(
                    tx,
                    &store::models::AuditRow {
                        run_id: run_id.as_deref(),
                        task_id: task_id.as_deref(),
                        model,
                        policies,
                        mode: mode.as_deref(),
                        violations,
                        allowed: *allowed,
                    },
                )?;
            }
            Ok(())
        },
        move |r| {
            if let Err(e) = r {
                not_recorded(&events, err_run, "a policy decision", &e);
            }
        },
    );
    if let Err(e) = queued {
        not_recorded(
            &ctx.events,
            run.map(|r| r.id.clone()),
            "a policy decision",
            &e,
        );
    }
}

/// A write the engine did not wait for failed: log it and tell observers (from any thread).
fn not_recorded(
    events: &tokio::sync::broadcast::Sender<EngineEvent>,
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
    events: &tokio::sync::broadcast::Sender<EngineEvent>,
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
        from: t.from.as_str().into(),
        to: t.to.as_str().into(),
        reason: t.reason.clone(),
    });
}

/// Persist and announce a transition that happened outside a call (open -> half-open).
async fn persist_transition(ctx: &EngineCtx, run: Option<&RunCtx>, model: &str, t: &Transition) {
    let row = transition_row(model, t);
    let run_id = run.map(|r| r.id.clone());
    let _ = ctx
        .store
        .call(move |c| store::runs::insert_breaker_event(c, run_id.as_deref(), &row))
        .await;
    emit_transition(&ctx.events, run.map(|r| r.id.as_str()), model, t);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_by_cap_and_grows() {
        for retry in 0..10 {
            for seed in 0..50 {
                let d = backoff(retry, 500, 8000, seed);
                assert!(d <= Duration::from_millis((500u64 << retry).min(8000)));
            }
        }
    }
}
