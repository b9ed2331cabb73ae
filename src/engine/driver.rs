//! Drives one run: decomposition (unless the task list is already committed), DAG scheduling with
//! a concurrency limit, the time limit and stop requests; `close.rs` records the final status.

use super::EngineEvent;
use super::calls::{CallFail, CallSpec, call};
use super::checkpoint::{self, Checkpoint};
use super::context::{EngineCtx, RunCtx, Slot};
use super::dag::Dag;
use super::decompose::{self, parse_plan};
use super::task_loop::{Refused, TaskOutcome, run_task};
use crate::domain::Micros;
use crate::domain::status::{RunStatus, StopReason, TaskStatus};
use crate::domain::{CallRole, TaskSpec};
use crate::prompts;
use crate::prompts::schemas;
use crate::store::lease;
use crate::store::{self, BudgetStore, RunStore, TaskRow};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinSet;

/// Drive the run to a final status, which is committed before this returns.
pub async fn drive(ctx: Arc<EngineCtx>, run: Arc<RunCtx>, resumed: bool) -> RunStatus {
    let started = Instant::now();
    ctx.emit(EngineEvent::RunStarted {
        run_id: run.id.clone(),
        description: run.description.clone(),
        resumed,
    });
    let keeper = tokio::spawn(keep_lease(ctx.clone(), run.clone()));
    let fatal = execute(&ctx, &run, started).await.err();
    keeper.abort();
    super::close::finalize(&ctx, &run, started.elapsed(), fatal).await
}

async fn load_run(ctx: &EngineCtx, id: &str) -> Result<store::RunRow, String> {
    let id = id.to_string();
    ctx.store
        .call(move |c| c.run(&id))
        .await
        .map_err(|e| e.to_string())
}

/// Appended to the decomposition prompt when its answer had no usable task list and no other
/// model is left to ask.
const PLAN_REPAIR: &str = "\n\nYour previous answer was not a usable task list. Answer with the \
JSON object only: {\"tasks\": [{\"id\": \"t1\", \"type\": \"code_generation\", \"prompt\": \"...\", \
\"dependencies\": [], \"validators\": []}]}";

/// Most decomposition answers read before the run falls back to one task.
const PLAN_TRIES: usize = 3;

/// The task list a run executes, and whether it is the one-task fallback.
struct Plan {
    tasks: Vec<TaskSpec>,
    fallback: bool,
}

/// Ask a cheap model for the task list (structured output): after an answer with no usable
/// list, another model when one is left, else the same model with a stricter prompt. With still
/// no plan, the description runs as one task of the type it asks for (a warning; `plan_fallback`
/// in JSON). Only a decomposition no model could answer at all fails the run.
async fn decompose(ctx: &EngineCtx, run: &RunCtx) -> Result<Plan, String> {
    let mut spec = CallSpec::new(
        CallRole::Decompose,
        prompts::decompose_prompt(&run.description, &run.criteria),
        4096,
    );
    spec.system = Some(prompts::DECOMPOSE_SYSTEM.into());
    spec.prefer_cheap = true;
    spec.schema = Some(schemas::task_list());
    let mut last = String::new();
    let mut answered: Option<String> = None;
    let mut tries = 0;
    while tries < PLAN_TRIES {
        match call(ctx, Some(run), &spec, None).await {
            Ok(ok) => {
                tries += 1;
                match parse_plan(&ok.response.text, &ctx.cfg) {
                    Ok(p) => {
                        for w in &p.warnings {
                            ctx.warn(Some(&run.id), format!("decomposition: {w}"));
                        }
                        return Ok(Plan {
                            tasks: p.tasks,
                            fallback: false,
                        });
                    }
                    Err(e) => {
                        last = format!("{}: {e}", ok.model.id);
                        ctx.warn(Some(&run.id), format!("decomposition by {last}"));
                        spec.avoid_provider = Some(ok.model.provider.clone());
                        spec.exclude.push(ok.model.id.clone());
                        answered = Some(ok.model.id.clone());
                    }
                }
            }
            Err(CallFail::Cancelled) => {
                run.request_stop(StopReason::Cancelled, true);
                return Err("cancelled during decomposition".into());
            }
            Err(CallFail::Budget(d, _)) => {
                run.request_stop(StopReason::BudgetExhausted, false);
                return Err(format!("budget exhausted during decomposition: {d}"));
            }
            Err(e) => match answered.take() {
                // No other model is left: the last one again, with a stricter prompt.
                Some(model) if !spec.prompt.ends_with(PLAN_REPAIR) => {
                    spec.exclude.retain(|m| *m != model);
                    spec.pinned_model = Some(model);
                    spec.avoid_provider = None;
                    spec.prompt.push_str(PLAN_REPAIR);
                }
                Some(_) => break,
                None => return Err(format!("decomposition failed: {e}")),
            },
        }
    }
    let task = decompose::single_task(&run.description, &run.criteria, &ctx.cfg);
    ctx.warn(
        Some(&run.id),
        format!(
            "no usable task list after {tries} answers ({last}): running the description as one \
             {} task",
            task.task_type
        ),
    );
    Ok(Plan {
        tasks: vec![task],
        fallback: true,
    })
}

async fn execute(ctx: &Arc<EngineCtx>, run: &Arc<RunCtx>, started: Instant) -> Result<(), String> {
    let row = load_run(ctx, &run.id).await?;
    let deadline = deadline(ctx, run, &row, started);
    if !row.tasks_committed {
        plan(ctx, run, &row).await?;
    }
    let mut sched = Schedule::load(ctx, run).await?;
    sched.fail_cycles().await;
    sched.run(deadline).await?;
    if !sched.parked.is_empty() {
        // No parked task's call fits, with nothing of the run in flight.
        run.request_stop(StopReason::BudgetExhausted, false);
    }
    Ok(())
}

/// Commit the task list: the stored `--plan`, else the decomposition's.
async fn plan(ctx: &EngineCtx, run: &RunCtx, row: &store::RunRow) -> Result<(), String> {
    let Plan { tasks, fallback } = match &row.plan_json {
        Some(p) => Plan {
            tasks: serde_json::from_str::<Vec<TaskSpec>>(p)
                .map_err(|e| format!("stored plan is unreadable: {e}"))?,
            fallback: false,
        },
        None => decompose(ctx, run).await?,
    };
    let (id, t2) = (run.id.clone(), tasks.clone());
    ctx.store
        .call(move |c| {
            store::atomic(c, |tx| {
                tx.insert_tasks(&id, &t2)?;
                if fallback {
                    tx.mark_plan_fallback(&id)?;
                }
                Ok(())
            })
        })
        .await
        .map_err(|e| e.to_string())?;
    ctx.emit(EngineEvent::Planned {
        run_id: run.id.clone(),
        tasks: tasks.len(),
        warnings: vec![],
    });
    Ok(())
}

/// A run's tasks being scheduled: the DAG, what each finished task produced, and the tasks
/// started, parked or done so far.
struct Schedule<'a> {
    ctx: &'a Arc<EngineCtx>,
    run: &'a Arc<RunCtx>,
    tasks: Arc<Vec<TaskRow>>,
    ids: Vec<String>,
    /// Each task's status when the run was loaded (cycle members newly failed are told apart).
    before: Vec<TaskStatus>,
    outputs: Vec<Option<String>>,
    dag: Dag,
    /// Cycle members found when the DAG was built: (task, reason).
    cycle: Vec<(usize, String)>,
    /// The highest attempt number each task used so far.
    attempts: HashMap<String, u32>,
    /// Where tasks parked by an earlier process continue.
    resume_points: HashMap<String, Checkpoint>,
    inflight: JoinSet<(usize, TaskOutcome)>,
    /// Tasks waiting at a call the budget refused, with the number of tasks that had finished
    /// when they were parked: one is tried again once another task has finished since (its
    /// spend and holdings changed), and the run ends `budget_exhausted` when only they are left.
    parked: Vec<(usize, Checkpoint, u64)>,
    /// The call each task last parked at (iteration, attempt, step, model): refused again at
    /// the same call when tried again, it is not announced again.
    told: HashMap<usize, ParkedAt>,
    finished: u64,
}

/// Where a task waits: its iteration, attempt number, step and the model refused.
type ParkedAt = (u32, u32, CallRole, String);

impl<'a> Schedule<'a> {
    /// Load the run's tasks, attempt numbers and resume points.
    async fn load(ctx: &'a Arc<EngineCtx>, run: &'a Arc<RunCtx>) -> Result<Self, String> {
        let id = run.id.clone();
        let (tasks, attempts, (resume_points, unreadable)) = ctx
            .store
            .call(move |c| {
                let t = c.tasks(&id)?;
                let points = checkpoint::load_all(c, &id)?;
                Ok((t, c.last_attempts(&id)?, points))
            })
            .await
            .map_err(|e| e.to_string())?;
        for w in unreadable {
            ctx.warn(Some(&run.id), w);
        }
        let tasks: Arc<Vec<TaskRow>> = Arc::new(tasks);
        let specs: Vec<TaskSpec> = tasks.iter().map(|t| t.spec.clone()).collect();
        let before: Vec<TaskStatus> = tasks.iter().map(|t| t.status).collect();
        let (dag, cycle) = Dag::new(&specs, &before);
        Ok(Schedule {
            ctx,
            run,
            ids: tasks.iter().map(|t| t.spec.id.clone()).collect(),
            outputs: tasks.iter().map(|t| t.output.clone()).collect(),
            tasks,
            before,
            dag,
            cycle,
            attempts,
            resume_points,
            inflight: JoinSet::new(),
            parked: Vec::new(),
            told: HashMap::new(),
            finished: 0,
        })
    }

    /// Members of a dependency cycle fail, and what depends on them is skipped.
    async fn fail_cycles(&mut self) {
        let (ctx, run) = (self.ctx, self.run);
        for (i, reason) in std::mem::take(&mut self.cycle) {
            set_status(ctx, run, &self.ids[i], TaskStatus::Failed, Some(reason)).await;
        }
        for i in 0..self.before.len() {
            if self.dag.status(i) == TaskStatus::Failed && self.before[i] != TaskStatus::Failed {
                for (k, why) in self.dag.finish(i, TaskStatus::Failed, &self.ids) {
                    set_status(ctx, run, &self.ids[k], TaskStatus::Skipped, Some(why)).await;
                }
            }
        }
    }

    /// Start tasks as slots free up until none is left to start and none runs, or the run
    /// stops (time limit, cancel, a stop request) and what runs has ended.
    async fn run(&mut self, deadline: tokio::time::Instant) -> Result<(), String> {
        let run = self.run;
        loop {
            let stopping = run.stop_reason().is_some();
            let retry = self.parked.iter().position(|p| p.2 < self.finished);
            let startable = retry.is_some() || self.dag.has_ready();
            if self.inflight.is_empty() && (stopping || !startable) {
                return Ok(());
            }
            tokio::select! {
                permit = run.slots.clone().acquire_owned(), if !stopping && startable => {
                    let Ok(permit) = permit else { return Ok(()) };
                    self.start(permit, retry).await;
                }
                joined = self.inflight.join_next(), if !self.inflight.is_empty() => {
                    let Some(joined) = joined else { continue };
                    let (i, outcome) = joined.map_err(|e| format!("a task panicked: {e}"))?;
                    self.ended(i, outcome).await;
                }
                _ = tokio::time::sleep_until(deadline), if !stopping => {
                    self.ctx.warn(Some(&run.id), "time limit reached: stopping".into());
                    run.request_stop(StopReason::TimeLimit, true);
                }
                _ = run.cancel.cancelled(), if !stopping => {
                    run.request_stop(StopReason::Cancelled, true);
                }
            }
        }
    }

    /// Start a parked task again (`retry`), else the next ready one, on the slot `permit`.
    async fn start(&mut self, permit: OwnedSemaphorePermit, retry: Option<usize>) {
        let (i, resume) = match retry {
            Some(k) => {
                let (i, ck, _) = self.parked.remove(k);
                (i, Some(ck))
            }
            None => {
                let Some(i) = self.dag.next_ready() else {
                    return;
                };
                (i, self.resume_points.remove(&self.ids[i]))
            }
        };
        set_status(self.ctx, self.run, &self.ids[i], TaskStatus::Running, None).await;
        let context: Vec<(String, String)> = self
            .dag
            .deps(i)
            .iter()
            .filter_map(|&d| self.outputs[d].clone().map(|o| (self.ids[d].clone(), o)))
            .collect();
        let first = self.attempts.get(&self.ids[i]).copied().unwrap_or(0) + 1;
        let (c2, r2, t2) = (self.ctx.clone(), self.run.clone(), self.tasks.clone());
        let sem = self.run.slots.clone();
        self.inflight.spawn(async move {
            let mut slot = Slot::new(sem, permit);
            let out = run_task(&c2, &r2, &t2[i], &context, first, resume, &mut slot).await;
            (i, out)
        });
    }

    /// Record how task `i` ended and what that does to the tasks depending on it.
    async fn ended(&mut self, i: usize, outcome: TaskOutcome) {
        let (ctx, run, id) = (self.ctx, self.run, self.ids[i].clone());
        match outcome {
            TaskOutcome::Done { status, output } => {
                self.finished += 1;
                write_task_output(ctx, run, &self.tasks[i], &output).await;
                self.outputs[i] = Some(output);
                set_status(ctx, run, &id, status, None).await;
                self.dag.finish(i, status, &self.ids);
            }
            TaskOutcome::Failed(reason) => {
                self.finished += 1;
                set_status(ctx, run, &id, TaskStatus::Failed, Some(reason)).await;
                for (k, why) in self.dag.finish(i, TaskStatus::Failed, &self.ids) {
                    set_status(ctx, run, &self.ids[k], TaskStatus::Skipped, Some(why)).await;
                }
            }
            TaskOutcome::Parked {
                checkpoint,
                reason,
                refused,
            } => {
                let at = (
                    checkpoint.iter,
                    checkpoint.n,
                    refused.role,
                    refused.model.clone(),
                );
                let tell = self.told.get(&i) != Some(&at);
                self.told.insert(i, at);
                park(ctx, run, &id, &checkpoint, reason, *refused, tell).await;
                self.parked.push((i, *checkpoint, self.finished));
            }
            TaskOutcome::Stopped(why, reason) => {
                set_status(ctx, run, &id, TaskStatus::Pending, Some(reason)).await;
                self.dag.unstart(i);
                run.request_stop(why, why == StopReason::Cancelled);
            }
        }
    }
}

/// When the time limit is reached. Older versions stored any `--time` (`u64::MAX` as -1, read
/// back as 0): a stored limit of 0 means the configured default and one above the maximum is
/// clamped, with a warning, so such a run neither panics nor times out at once on resume.
fn deadline(
    ctx: &EngineCtx,
    run: &RunCtx,
    row: &store::RunRow,
    started: Instant,
) -> tokio::time::Instant {
    let max = crate::config::MAX_TIME_SECS;
    let limit = match row.time_limit_secs {
        0 => ctx.cfg.engine.default_time_secs.clamp(1, max),
        t => t.min(max),
    };
    if limit != row.time_limit_secs {
        ctx.warn(
            Some(&run.id),
            format!(
                "stored time limit {}s is out of range: using {limit}s",
                row.time_limit_secs
            ),
        );
    }
    let remaining = Duration::from_secs(limit).saturating_sub(Duration::from_millis(row.exec_ms));
    let start = tokio::time::Instant::from_std(started);
    start
        .checked_add(remaining)
        .or_else(|| start.checked_add(Duration::from_secs(3600)))
        .unwrap_or(start)
}

/// A task waits at a call the budget refused: pending, with the reason and its resume point;
/// unless they were told already (`tell`), observers are told which call, on which model, the
/// budget refused (`TaskParked`).
async fn park(
    ctx: &EngineCtx,
    run: &RunCtx,
    task_id: &str,
    ck: &Checkpoint,
    reason: String,
    refused: Refused,
    tell: bool,
) {
    let (rid, tid, r, ck2) = (
        run.id.clone(),
        task_id.to_string(),
        reason.clone(),
        ck.clone(),
    );
    let saved = ctx
        .store
        .transact(move |tx| {
            tx.set_task_status(&rid, &tid, TaskStatus::Pending, Some(&r))?;
            checkpoint::save(tx, &rid, &tid, Some(&ck2))
        })
        .await;
    if let Err(e) = saved {
        ctx.warn(
            Some(&run.id),
            format!("task {task_id}: could not record where it waits: {e}"),
        );
    }
    if !tell {
        return;
    }
    ctx.emit(EngineEvent::TaskParked {
        run_id: run.id.clone(),
        task_id: task_id.to_string(),
        iteration: ck.iter,
        role: refused.role.as_str().to_string(),
        model: refused.model,
        refusal: refused.denial,
        reason,
    });
}

/// How often the lease keeper looks at the run's lease.
const KEEP_TICK: Duration = Duration::from_millis(300);
/// Lease keeper ticks between two looks for a cancel request (3 x 300 ms: under a second).
const CANCEL_POLL_TICKS: u32 = 3;

/// Keep the run's lease to what its calls need: its spare goes back within a second of the run
/// going idle (no call in flight and none taken for a whole tick), and as soon as a shared cap
/// it draws on gets near or another run or process waits there.
async fn keep_lease(ctx: Arc<EngineCtx>, run: Arc<RunCtx>) {
    let mut tick = tokio::time::interval(KEEP_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut takes = run.lease.state().takes;
    let mut ticks: u32 = 0;
    loop {
        tick.tick().await;
        // The store cannot commit: the run stops now rather than at its next call (its tasks may
        // all be waiting on writes queued behind the retried ones), and nothing here waits on
        // the store meanwhile.
        if !ctx.store.writable() {
            let _ = super::inflight::store_down(&ctx, Some(&run));
            continue;
        }
        // Another process may have asked this run to stop (`store/cancel.rs`): looked for every
        // third tick, so within a second.
        ticks = ticks.wrapping_add(1);
        if ticks.is_multiple_of(CANCEL_POLL_TICKS) {
            super::cancel::poll(&ctx, &run).await;
        }
        let s = run.lease.state();
        let idle = s.inflight == 0 && s.takes == takes;
        takes = s.takes;
        let spare = s.spare();
        if spare <= 0 {
            continue;
        }
        let id = run.lease.id;
        let pressed = idle
            || ctx
                .store
                .call(move |c| c.lease_pressed(id, Micros(spare)))
                .await
                .unwrap_or(false);
        if pressed {
            let lease = run.lease.clone();
            if let Err(e) = ctx
                .store
                .transact(move |tx| lease::give_back(tx, &lease))
                .await
            {
                tracing::warn!(
                    run = run.id.as_str(),
                    "could not shrink the budget lease: {e}"
                );
            }
        }
    }
}

async fn set_status(
    ctx: &EngineCtx,
    run: &RunCtx,
    task_id: &str,
    st: TaskStatus,
    reason: Option<String>,
) {
    let (rid, tid, r) = (run.id.clone(), task_id.to_string(), reason.clone());
    if let Err(e) = ctx
        .store
        .call(move |c| c.set_task_status(&rid, &tid, st, r.as_deref()))
        .await
    {
        ctx.warn(Some(&run.id), format!("could not record task status: {e}"));
    }
    ctx.emit(EngineEvent::TaskChanged {
        run_id: run.id.clone(),
        task_id: task_id.to_string(),
        status: st,
        model: None,
        iteration: 0,
        score: None,
        reason,
    });
}

async fn write_task_output(ctx: &EngineCtx, run: &RunCtx, task: &TaskRow, output: &str) {
    let (dir, t, o) = (run.output_dir.clone(), task.clone(), output.to_string());
    let report =
        match tokio::task::spawn_blocking(move || super::outputs::write_task(&dir, &t, &o)).await {
            Ok(r) => r,
            Err(e) => {
                ctx.warn(
                    Some(&run.id),
                    format!("task {}: could not write output: {e}", task.spec.id),
                );
                return;
            }
        };
    for w in report.warnings(&task.spec.id) {
        ctx.warn(Some(&run.id), w);
    }
    let (rid, tid) = (run.id.clone(), task.spec.id.clone());
    let here = run.output_dir.to_string_lossy().into_owned();
    let saved = ctx
        .store
        .transact(move |tx| {
            for w in &report.written {
                tx.insert_artifact(&rid, Some(&tid), &w.path, w.bytes, &here)?;
            }
            for r in &report.refused {
                tx.insert_refusal(&rid, &tid, &r.path, &r.reason)?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = saved {
        ctx.warn(
            Some(&run.id),
            format!("task {}: could not record artifacts: {e}", task.spec.id),
        );
    }
}
