//! Cancelling a run wherever it is driven. A run driven by this engine is cancelled at once; a run
//! driven by another live process gets a cancel request in the store (`store/cancel.rs`), which
//! that process's driver takes within about a second ([`poll`], from the lease keeper) and acts on
//! as its own user would: calls in flight settled, the run saved `partial_success`, resumable.
//! The TUI's `c` and `orchestrator-tui cancel RUN` call [`EngineHandle::cancel_run`].

use super::context::{EngineCtx, RunCtx};
use super::service::EngineHandle;
use super::{EngineError, EngineEvent};
use crate::domain::status::RunStatus;
use crate::store::{self, StoreError};

/// The reason a cancelled run records (the same words as `q` in the TUI and Ctrl-C headless).
pub const USER_CANCEL: &str = "cancelled by the user";

/// What [`EngineHandle::cancel_run`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancel {
    /// This process drives the run: it is being cancelled now.
    Here,
    /// Another live process drives it: the request is in the store for its driver to take.
    Requested,
    /// Nobody drives it (the status it has, liveness folded in): nothing to cancel.
    NotRunning(RunStatus),
}

impl EngineHandle {
    /// Cancel the run with `reason` (its status reason), here or through the store.
    pub async fn cancel_run(&self, run_id: &str, reason: &str) -> Result<Cancel, EngineError> {
        if self.active_runs().iter().any(|r| r == run_id) {
            self.cancel_because(Some(run_id), reason);
            return Ok(Cancel::Here);
        }
        let id = run_id.to_string();
        let row = self
            .ctx
            .store
            .call(move |c| store::runs::get_run(c, &id))
            .await
            .map_err(|e| match e {
                StoreError::NotFound(m) | StoreError::Invalid(m) => EngineError::Invalid(m),
                other => EngineError::Store(other),
            })?;
        let alive = crate::engine::report::run_live(&self.ctx.data_dir, &row);
        if row.status != RunStatus::Running || !alive {
            let shown = if row.status == RunStatus::Running {
                RunStatus::Interrupted
            } else {
                row.status
            };
            return Ok(Cancel::NotRunning(shown));
        }
        let (id, why) = (run_id.to_string(), reason.to_string());
        self.ctx
            .store
            .call(move |c| store::atomic(c, |tx| store::cancel::request(tx, &id, &why)))
            .await?;
        Ok(Cancel::Requested)
    }

    /// Is a cancel request for the run still waiting to be taken by its driver?
    pub async fn cancel_pending(&self, run_id: &str) -> Result<bool, EngineError> {
        let id = run_id.to_string();
        Ok(self
            .ctx
            .store
            .call(move |c| store::cancel::pending(c, &id))
            .await?)
    }
}

/// The driver's look for a cancel request of its run (about once a second): taken, it cancels
/// the run as this process's user would. Returns whether it did.
pub(super) async fn poll(ctx: &EngineCtx, run: &RunCtx) -> bool {
    if run.cancel.is_cancelled() {
        return false;
    }
    // A read first: the write lock is taken only when there is a request to take.
    let id = run.id.clone();
    match ctx
        .store
        .call(move |c| store::cancel::pending(c, &id))
        .await
    {
        Ok(true) => {}
        Ok(false) => return false,
        Err(e) => {
            tracing::warn!(run = run.id.as_str(), "could not read cancel requests: {e}");
            return false;
        }
    }
    let id = run.id.clone();
    let taken = ctx
        .store
        .call(move |c| store::atomic(c, |tx| store::cancel::take(tx, &id)))
        .await;
    match taken {
        Ok(Some(req)) => {
            ctx.emit(EngineEvent::Warning {
                run_id: Some(run.id.clone()),
                message: format!(
                    "cancel requested by pid {} on {} at {}: stopping the run",
                    req.by_pid, req.by_host, req.requested_at
                ),
            });
            run.cancel_because(req.reason);
            true
        }
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(run = run.id.as_str(), "could not read cancel requests: {e}");
            false
        }
    }
}
