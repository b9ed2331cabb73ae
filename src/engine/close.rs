//! Closing a run: the final status decided from its tasks and why it stopped, committed in one
//! transaction with the lease's unused part given back, then the summary file and the
//! `RunFinished` event.

use super::EngineEvent;
use super::context::{EngineCtx, RunCtx};
use crate::budget::waiters;
use crate::domain::Micros;
use crate::domain::status::{RunFacts, RunStatus, StopReason, final_status};
use crate::store::{self, BudgetStore, RunStore};
use std::path::Path;
use std::time::Duration;

/// Why the run stopped, as the final status should say it.
struct Ending {
    stop: Option<StopReason>,
    fatal: Option<String>,
    /// What the store could not do, when it stopped the run.
    store_down: Option<String>,
    cancel_note: Option<String>,
    /// The budget level that refused last, named in a `budget_exhausted` reason.
    refused_by: Option<String>,
}

impl Ending {
    /// The reason recorded with the final `status` (`ok`: the run's successful calls).
    fn reason(&self, status: RunStatus, ok: u64) -> Option<String> {
        match (status, &self.fatal, self.stop) {
            (_, _, Some(StopReason::StoreUnavailable)) => self.store_down.clone(),
            (_, Some(f), _) => Some(f.clone()),
            (RunStatus::SystemFailure, None, _) if ok == 0 => {
                Some("no model call succeeded".to_string())
            }
            (_, None, Some(StopReason::Cancelled)) => Some(
                self.cancel_note
                    .clone()
                    .unwrap_or_else(|| "cancelled by the user".into()),
            ),
            (_, None, Some(StopReason::TimeLimit)) => Some("time limit reached".into()),
            (_, None, Some(StopReason::BudgetExhausted)) => Some(
                crate::budget::denial::exhausted_reason(self.refused_by.as_deref()),
            ),
            _ => None,
        }
    }
}

/// Close the run in one transaction: the lease's unused part goes back (every call of the run
/// has ended and been settled: settles are queued ahead of this job), tasks left running go back
/// to pending, and the final status is recorded. Returns (status, reason, the run's cost).
fn close_run(
    tx: &(impl BudgetStore + RunStore + ?Sized),
    id: &str,
    lease: i64,
    elapsed: Duration,
    end: &Ending,
) -> Result<(RunStatus, Option<String>, Micros), store::StoreError> {
    tx.release(lease)?;
    tx.stop_waiting(&waiters::lease_owner(lease))?;
    let tasks = tx.tasks(id)?;
    let counts = tx.call_counts(id)?;
    let facts = RunFacts {
        tasks: tasks.iter().map(|t| t.status).collect(),
        successful_calls: counts.ok,
        stop: end.stop,
    };
    let status = final_status(&facts);
    let mut reason = end.reason(status, counts.ok);
    // Only a cycle's tasks are left: no resume can run them, and the reason says so.
    if status.is_resumable()
        && let Some(why) = super::resumable::blocked_rows(&tasks)
    {
        reason = Some(match reason {
            Some(r) => format!("{r}; {why}"),
            None => why,
        });
    }
    // Tasks left running by a cancelled in-flight call go back to pending.
    tx.requeue_running(id)?;
    tx.add_exec_ms(id, elapsed.as_millis() as u64)?;
    tx.set_run_status(id, status, reason.as_deref())?;
    Ok((status, reason, counts.cost))
}

pub(super) async fn finalize(
    ctx: &EngineCtx,
    run: &RunCtx,
    elapsed: Duration,
    fatal: Option<String>,
) -> RunStatus {
    let id = run.id.clone();
    let stop = run.stop_reason();
    let end = Ending {
        stop,
        fatal,
        store_down: (stop == Some(StopReason::StoreUnavailable))
            .then(|| ctx.store.outage().map(|o| o.reason))
            .flatten(),
        cancel_note: run.cancel_note.get().cloned(),
        refused_by: run
            .refused_by
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone(),
    };
    let lease = run.lease.id;
    let result = ctx
        .store
        .call(move |c| store::atomic(c, |tx| close_run(tx, &id, lease, elapsed, &end)))
        .await;
    let (status, reason, cost) = match result {
        Ok(x) => x,
        Err(e) => {
            ctx.warn(
                Some(&run.id),
                format!("could not record the final status: {e}"),
            );
            // The store cannot commit: the run stays resumable, as after a crash.
            let status = if e.is_unavailable() {
                RunStatus::Interrupted
            } else {
                RunStatus::SystemFailure
            };
            (status, Some(e.to_string()), Default::default())
        }
    };
    write_summary(ctx, &run.id, &run.output_dir).await;
    ctx.emit(EngineEvent::RunFinished {
        run_id: run.id.clone(),
        status,
        cost,
        reason,
    });
    status
}

async fn write_summary(ctx: &EngineCtx, run_id: &str, out_dir: &Path) {
    let id = run_id.to_string();
    let data_dir = ctx.data_dir.clone();
    let report = ctx
        .store
        .call(move |c| {
            let run = c.run(&id)?;
            let tasks = c.tasks(&id)?;
            let json = super::report::run_json(c, &data_dir, &id)?;
            let files = c.artifacts(&id)?;
            Ok((run, tasks, json, files))
        })
        .await;
    match report {
        Ok((run, tasks, json, files)) => {
            if let Err(e) = super::outputs::write_summary(out_dir, &run, &tasks, &files, &json) {
                ctx.warn(Some(run_id), format!("could not write summary: {e}"));
            }
        }
        Err(e) => ctx.warn(Some(run_id), format!("could not build summary: {e}")),
    }
}
