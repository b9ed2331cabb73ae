//! The background engine service: a command loop on the tokio runtime. Observers subscribe to
//! events; commands start, resume and cancel runs (admin.rs: breakers, deletion, budget caps).

use super::context::{EngineCtx, RunCtx};
use super::driver::drive;
use super::preflight;
use super::{EngineError, EngineEvent, ResumeRequest, RunRequest};
use crate::budget::lease::Lease;
use crate::config::{Catalog, Config};
use crate::domain::status::RunStatus;
use crate::domain::status::StopReason;
use crate::domain::{Micros, new_run_id};
use crate::liveness as lock;
use crate::store::{self, NewRun, StoreError};
use crate::store::{BudgetStore, RunStore};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::{Semaphore, broadcast};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Cheap to clone; talks to the engine and observes it.
#[derive(Clone)]
pub struct EngineHandle {
    pub(super) ctx: Arc<EngineCtx>,
    active: Arc<Mutex<HashMap<String, Arc<RunCtx>>>>,
}

/// A run that has just been started or resumed, with a subscription to the engine's events taken
/// before it began (so none of its events is missed). The CLI watches it headless or hands it to
/// the TUI, which owns it like a run started from the TUI.
pub struct Started {
    pub run_id: String,
    pub resumed: bool,
    pub join: JoinHandle<RunStatus>,
    pub events: broadcast::Receiver<EngineEvent>,
}

/// Crash recovery: settle reservations whose holder is provably dead (its lock free and, on this
/// host, its process gone), charging calls it had in flight their worst case.
pub fn release_stale_reservations(store: &store::Store, data_dir: &std::path::Path) {
    let data_dir = data_dir.to_path_buf();
    let recovered = store.call_blocking(move |c| store::atomic(c, |tx| recover(tx, &data_dir)));
    match recovered {
        Ok(r) if r.settled > 0 => tracing::info!(
            "settled {} reservations left by dead processes; {} calls in flight charged ${:.6} (estimated)",
            r.settled,
            r.charged_calls,
            r.charged.usd()
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!("could not settle stale reservations: {e}"),
    }
}

/// [`crate::store::recovery::recover_stale`] with liveness from locks and recorded owners.
fn recover(
    tx: &dyn crate::store::sql::Sql,
    data_dir: &std::path::Path,
) -> Result<crate::store::recovery::Recovered, StoreError> {
    // On PostgreSQL a holder is dead when its advisory lock is free (`dead` is not asked).
    let r = store::ledger::recover(tx, &|h| {
        let dead = lock::holder_dead(data_dir, h);
        if dead && let Some(o) = &h.owner {
            lock::remove_dead_process_lock(data_dir, o);
        }
        dead
    })?;
    Ok(r)
}

/// Where a resumed run writes its new outputs. Files stay on the machine that wrote them: a run
/// started on another host (the shared PostgreSQL store) in its data dir's default place
/// (`<data dir>/outputs/<id>`) continues in this data dir's, in the same layout; an output
/// directory the user named is used as named.
/// `run` is (id, host that started it, stored output directory).
fn local_output_dir(
    run: (&str, Option<&str>, &str),
    here: &str,
    data_dir: &Path,
) -> std::path::PathBuf {
    let (id, host, stored) = run;
    let stored = std::path::PathBuf::from(stored);
    let elsewhere = host.is_some_and(|h| h != here);
    if elsewhere && stored.ends_with(Path::new("outputs").join(id)) {
        data_dir.join("outputs").join(id)
    } else {
        stored
    }
}

/// Start the service (crash recovery ran when the context was built).
pub fn spawn(ctx: EngineCtx) -> EngineHandle {
    let ctx = Arc::new(ctx);
    if ctx.follow_breakers {
        super::live::follow_breakers(&ctx);
    }
    EngineHandle {
        ctx,
        active: Arc::new(Mutex::new(HashMap::new())),
    }
}

fn invalid(e: StoreError) -> EngineError {
    match e {
        StoreError::NotFound(m) | StoreError::Invalid(m) => EngineError::Invalid(m),
        other => EngineError::Store(other),
    }
}

impl EngineHandle {
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.ctx.events.subscribe()
    }

    /// The configuration the engine runs with (defaults for runs started from the TUI).
    pub fn config(&self) -> &Config {
        &self.ctx.cfg
    }

    pub fn catalog(&self) -> &Catalog {
        &self.ctx.catalog
    }

    /// The store, for reading (snapshots, reports) and for records outside runs, budgets and
    /// breakers (saved analyses); those three change only through the engine's methods.
    pub fn store(&self) -> &store::Store {
        &self.ctx.store
    }

    pub fn data_dir(&self) -> &Path {
        &self.ctx.data_dir
    }

    /// Calls go to the simulator (no provider key, or `[simulated] enabled = "always"`).
    pub fn is_simulated(&self) -> bool {
        self.ctx.registry.is_simulated()
    }

    /// `model`'s breaker as this engine's routing sees it now (read only).
    pub fn breaker(&self, model: &str) -> crate::routing::Breaker {
        self.ctx.health.get(model)
    }

    /// How many routing policies are in force (benchmarks report it).
    pub fn policy_count(&self) -> usize {
        self.ctx.policies.len()
    }

    /// One model call outside a run, or within a run opened with [`Self::open_run`]: routing,
    /// breakers, budget and retries apply, and the call is recorded like any other.
    pub async fn call(
        &self,
        run: Option<&RunCtx>,
        spec: &super::calls::CallSpec,
    ) -> Result<super::calls::CallOk, super::calls::CallFail> {
        super::calls::call(&self.ctx, run, spec, None).await
    }

    /// [`Self::start`] with the events subscribed before the run begins.
    pub async fn start_observed(&self, req: RunRequest) -> Result<Started, EngineError> {
        let events = self.subscribe();
        let (run_id, join) = self.start(req).await?;
        Ok(Started {
            run_id,
            resumed: false,
            join,
            events,
        })
    }

    /// [`Self::resume`] with the events subscribed before the run begins again.
    pub async fn resume_observed(&self, req: ResumeRequest) -> Result<Started, EngineError> {
        let events = self.subscribe();
        let (run_id, join) = self.resume(req).await?;
        Ok(Started {
            run_id,
            resumed: true,
            join,
            events,
        })
    }

    /// Validate, pre-flight, commit the run, and start driving it. Returns the run id and a
    /// handle that resolves to the final status.
    pub async fn start(
        &self,
        req: RunRequest,
    ) -> Result<(String, JoinHandle<RunStatus>), EngineError> {
        let run = self.open_run(req).await?;
        Ok((run.id.clone(), self.launch(run, false)))
    }

    /// Validate, pre-flight and commit a new run, without driving it (`start` drives it; the
    /// overhead benchmark makes its own calls within it).
    pub async fn open_run(&self, req: RunRequest) -> Result<Arc<RunCtx>, EngineError> {
        let description = req.description.trim().to_string();
        if description.is_empty() {
            return Err(EngineError::Invalid("the run description is empty".into()));
        }
        if req.budget.0 <= 0 {
            return Err(EngineError::Invalid(
                "--budget must be a positive amount".into(),
            ));
        }
        if req.concurrency == 0 {
            return Err(EngineError::Invalid(
                "--concurrency must be at least 1".into(),
            ));
        }
        if !req.force {
            let est = match &req.plan {
                Some(p) => preflight::estimate_plan(&self.ctx.catalog, &self.ctx.registry, p),
                None => preflight::estimate(&self.ctx.catalog, &self.ctx.registry, 5, true),
            };
            let (budget, team) = (req.budget, req.team.clone());
            let verdict = self
                .ctx
                .store
                .call(move |c| Ok(preflight::check(c, est, budget, team.as_deref())))
                .await?;
            if let Err(msg) = verdict {
                return Err(EngineError::Preflight(msg));
            }
        }
        let id = new_run_id();
        let output_dir = req
            .output_dir
            .clone()
            .unwrap_or_else(|| self.ctx.data_dir.join("outputs").join(&id));
        std::fs::create_dir_all(&output_dir).map_err(|e| {
            EngineError::Invalid(format!(
                "cannot create the output directory {}: {e}",
                output_dir.display()
            ))
        })?;
        let output_dir = output_dir.canonicalize().unwrap_or(output_dir);
        let lock = lock::acquire(&self.ctx.data_dir, &id)
            .map_err(|e| EngineError::Invalid(format!("cannot create the run lock: {e}")))?
            .ok_or_else(|| EngineError::Invalid(format!("run {id} is already locked")))?;
        let claim = self.ctx.store.claim_run(&id).await?;
        let new = NewRun {
            id: id.clone(),
            description: description.clone(),
            criteria: req.criteria.clone(),
            team: req.team.clone(),
            strategy: req.strategy.as_str().into(),
            budget: req.budget,
            time_limit_secs: req.time_limit_secs,
            concurrency: req.concurrency,
            output_dir: output_dir.display().to_string(),
            plan: req.plan.clone(),
            simulated: self.ctx.registry.is_simulated(),
        };
        let (team, pid) = (req.team.clone(), std::process::id());
        let lease_id = self
            .ctx
            .store
            .transact(move |tx| {
                store::runs::insert_run(tx, &new)?;
                store::runs::claim_run(tx, &new.id, store::owner::Owner::current())?;
                tx.open_lease(&new.id, team.as_deref(), pid)
            })
            .await?;
        let run = Arc::new(RunCtx {
            id: id.clone(),
            description,
            criteria: req.criteria,
            team: req.team,
            strategy: req.strategy,
            output_dir,
            cancel: CancellationToken::new(),
            stop: Mutex::new(None),
            cancel_note: Default::default(),
            slots: Arc::new(Semaphore::new(req.concurrency)),
            lease: Arc::new(Lease::new(lease_id)),
            refused_by: Default::default(),
            _lock: lock,
            _claim: claim,
        });
        Ok(run)
    }

    /// Resume a stored run: only tasks without a passing result are executed again.
    pub async fn resume(
        &self,
        req: ResumeRequest,
    ) -> Result<(String, JoinHandle<RunStatus>), EngineError> {
        let id = req.run_id.clone();
        let row = self
            .ctx
            .store
            .call(move |c| store::runs::get_run(c, &id))
            .await
            .map_err(invalid)?;
        if row.status.is_terminal() {
            return Err(EngineError::Invalid(format!(
                "run {} ended `{}`: terminal runs are not resumed (start a new run instead)",
                row.id, row.status
            )));
        }
        // Only a cycle's tasks left: a resume would fail them again and run nothing.
        let id = row.id.clone();
        let tasks: Vec<store::TaskRow> = self
            .ctx
            .store
            .call(move |c| c.tasks(&id))
            .await
            .map_err(invalid)?;
        if let Some(why) = super::resumable::blocked_rows(&tasks) {
            return Err(EngineError::Invalid(format!("run {} is {why}", row.id)));
        }
        if let Some(b) = req.budget
            && b.0 <= 0
        {
            return Err(EngineError::Invalid(
                "--budget must be a positive amount".into(),
            ));
        }
        let driven = |by: String| {
            EngineError::Invalid(format!(
                "run {} is being driven by another live process{by}; wait for it or stop it first",
                row.id
            ))
        };
        let lock = lock::acquire(&self.ctx.data_dir, &row.id)
            .map_err(|e| EngineError::Invalid(format!("cannot create the run lock: {e}")))?
            .ok_or_else(|| driven(String::new()))?;
        // The lock file may have been deleted under a live driver: its recorded owner decides too.
        if let Some(o) = &row.owner
            && !o.is_me()
            && lock::owner_alive(&self.ctx.data_dir, o)
        {
            return Err(driven(format!(" (pid {} on {})", o.pid, o.host)));
        }
        if self.active_runs().contains(&row.id) {
            return Err(driven(String::new()));
        }
        // On the PostgreSQL store: its lock, held by whoever drives it on any machine.
        let claim = self.ctx.store.claim_run(&row.id).await.map_err(invalid)?;
        let (id, budget, time) = (row.id.clone(), req.budget, req.time_limit_secs);
        let data_dir = self.ctx.data_dir.clone();
        let (team, pid) = (row.team.clone(), std::process::id());
        let lease_id = self
            .ctx
            .store
            .call(move |c| {
                store::atomic(c, |tx| {
                    // What the run's dead owner held is settled first (and only what dead
                    // processes held: a live holder's reservation is never touched).
                    recover(tx, &data_dir)?;
                    store::runs::reopen_run(tx, &id, budget, time)?;
                    // A cancel request left from before applies to the old drive, not this one.
                    store::cancel::clear(tx, &id)?;
                    store::runs::claim_run(tx, &id, store::owner::Owner::current())?;
                    // Shown as where the run is driven now (it may have started elsewhere).
                    store::resume::mark_driven(tx, &id, &store::owner::Owner::current().host)?;
                    tx.open_lease(&id, team.as_deref(), pid)
                })
            })
            .await?;
        let here = &store::owner::Owner::current().host;
        let output_dir = local_output_dir(
            (&row.id, row.host.as_deref(), &row.output_dir),
            here,
            &self.ctx.data_dir,
        );
        if let Err(e) = std::fs::create_dir_all(&output_dir) {
            return Err(EngineError::Invalid(format!(
                "cannot create the output directory {}: {e}",
                output_dir.display()
            )));
        }
        let strategy =
            crate::config::Strategy::parse(&row.strategy).unwrap_or(self.ctx.cfg.engine.strategy);
        let run = Arc::new(RunCtx {
            id: row.id.clone(),
            description: row.description.clone(),
            criteria: row.criteria.clone(),
            team: row.team.clone(),
            strategy,
            output_dir,
            cancel: CancellationToken::new(),
            stop: Mutex::new(None),
            cancel_note: Default::default(),
            slots: Arc::new(Semaphore::new(row.concurrency.max(1))),
            lease: Arc::new(Lease::new(lease_id)),
            refused_by: Default::default(),
            _lock: lock,
            _claim: claim,
        });
        Ok((row.id, self.launch(run, true)))
    }

    fn launch(&self, run: Arc<RunCtx>, resumed: bool) -> JoinHandle<RunStatus> {
        self.active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(run.id.clone(), run.clone());
        let (ctx, active) = (self.ctx.clone(), self.active.clone());
        tokio::spawn(async move {
            let id = run.id.clone();
            let st = drive(ctx, run, resumed).await;
            // Dropping the RunCtx releases the liveness lock.
            active.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            st
        })
    }

    /// Cancel a run in flight: calls are cancelled and recorded, the run ends partial_success.
    pub fn cancel(&self, run_id: &str) {
        if let Some(r) = self
            .active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(run_id)
        {
            r.request_stop(StopReason::Cancelled, true);
        }
    }

    /// [`Self::cancel`] (one run, or every run with `None`) with the reason the run records,
    /// e.g. "cancelled (SIGTERM)".
    pub fn cancel_because(&self, run_id: Option<&str>, note: &str) {
        for (id, r) in self.active.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            if run_id.is_none_or(|want| want == id) {
                r.cancel_because(note.to_string());
            }
        }
    }

    pub fn cancel_all(&self) {
        for r in self
            .active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
        {
            r.request_stop(StopReason::Cancelled, true);
        }
    }

    pub fn active_runs(&self) -> Vec<String> {
        self.active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// Minimum-cost estimate for a run of `tasks` tasks (dry runs and pre-flight messages).
    pub fn estimate(&self, tasks: usize, decompose: bool) -> Micros {
        preflight::estimate(&self.ctx.catalog, &self.ctx.registry, tasks, decompose)
    }
}

#[cfg(test)]
mod tests {
    use super::local_output_dir;
    use std::path::{Path, PathBuf};

    #[test]
    fn a_run_resumed_on_another_host_writes_in_this_data_dir_in_the_same_layout() {
        let here = Path::new("/home/b/data");
        let a = "/home/a/data/outputs/r-1";
        assert_eq!(
            local_output_dir(("r-1", Some("host-a"), a), "host-b", here),
            PathBuf::from("/home/b/data/outputs/r-1")
        );
        // The same host, an older run without a host, or a directory the user named: as stored.
        assert_eq!(
            local_output_dir(("r-1", Some("host-b"), a), "host-b", here),
            PathBuf::from(a)
        );
        assert_eq!(
            local_output_dir(("r-1", None, a), "host-b", here),
            PathBuf::from(a)
        );
        assert_eq!(
            local_output_dir(("r-1", Some("host-a"), "/srv/site"), "host-b", here),
            PathBuf::from("/srv/site")
        );
    }
}
