//! The call path's side of store safety: a call holding a run's lease is recorded as in flight
//! (written behind, so the hot path waits on nothing) for crash recovery to charge, and no call
//! starts while the store cannot commit.

use super::calls::{CallFail, CallSpec, Parts, not_recorded};
use super::context::{EngineCtx, RunCtx};
use crate::config::ModelInfo;
use crate::domain::Micros;
use crate::store;

/// The store cannot commit: the run stops (resumable) without cancelling its calls in flight.
pub(super) fn store_down(ctx: &EngineCtx, run: Option<&RunCtx>) -> CallFail {
    if let Some(r) = run
        && !r.stopped_by_store()
    {
        r.request_stop(crate::domain::status::StopReason::StoreUnavailable, false);
        let why = ctx.store.outage().map_or_else(
            || "the database cannot be written".to_string(),
            |o| o.reason,
        );
        ctx.warn(
            Some(&r.id),
            format!(
                "{why}: the run stops, no new call starts; answers in flight are retried into the store for up to {} s",
                store::health::RETRY_WINDOW.as_secs()
            ),
        );
    }
    CallFail::Cancelled
}

/// Record, written behind, that a call holds `worst` of the run's lease while it is in flight:
/// if the process dies before the call's settle, recovery charges it that worst case. `parts`
/// (the call's pending writes) go in the same job. Returns the row's key (the settle deletes
/// the row).
#[allow(clippy::too_many_arguments)]
pub(super) fn note(
    ctx: &EngineCtx,
    run: Option<&RunCtx>,
    lease: Option<i64>,
    spec: &CallSpec,
    model: &ModelInfo,
    simulated: bool,
    worst: Micros,
    mut parts: Parts,
) -> Option<(i64, i64)> {
    let (Some(lease), Some(run)) = (lease, run) else {
        // A reservation row of its own is recovered whole.
        parts.submit(ctx, run.map(|r| r.id.as_str()));
        return None;
    };
    let row = store::inflight::InflightCall {
        reservation_id: lease,
        n: store::inflight::next_n(),
        run_id: Some(run.id.clone()),
        task_id: spec.task_id.clone(),
        attempt: spec.attempt,
        role: spec.role.as_str().into(),
        provider: model.provider.clone(),
        model: model.id.clone(),
        simulated,
        worst,
    };
    let key = (lease, row.n);
    let (events, err_run) = (ctx.events.clone(), Some(run.id.clone()));
    let queued = ctx.store.submit_retried(
        None,
        move |tx| {
            parts.run(tx)?;
            store::inflight::insert(tx, &row)
        },
        move |r| {
            if let Err(e) = r {
                not_recorded(&events, err_run, "a call in flight", &e);
            }
        },
    );
    queued.ok().map(|_| key)
}
