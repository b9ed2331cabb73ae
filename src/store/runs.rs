//! Runs, tasks, attempts, calls and artifacts: the SQL behind the engine's state changes.

use super::records::*;
use super::sql::{Row, Sql};
use super::{StoreError, now_rfc3339};
use crate::args;
use crate::domain::status::{RunStatus, TaskStatus};
use crate::domain::{Micros, TaskSpec, TaskType, normalize_description};
use crate::validators::{ValidatorResult, ValidatorSpec};
use std::sync::LazyLock;

pub fn insert_run(c: &dyn Sql, r: &NewRun) -> Result<(), StoreError> {
    let now = now_rfc3339();
    let plan = match &r.plan {
        Some(p) => Some(serde_json::to_string(p).map_err(|e| StoreError::Invalid(e.to_string()))?),
        None => None,
    };
    c.execute(
        "INSERT INTO runs (id, description, norm_description, criteria, team, strategy, budget_micros,
            time_limit_secs, concurrency, output_dir, plan_json, status, simulated, created_at,
            started_at, updated_at, host, os_user)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'running', ?12, ?13, ?13, ?13, ?14, ?15)",
        args![
            r.id,
            r.description,
            normalize_description(&r.description),
            r.criteria,
            r.team,
            r.strategy,
            r.budget.0,
            r.time_limit_secs as i64,
            r.concurrency as i64,
            r.output_dir,
            plan,
            r.simulated,
            now,
            super::owner::Owner::current().host,
            super::owner::os_user()
        ],
    )?;
    Ok(())
}

const RUN_COLS: &str = "id, description, criteria, team, strategy, budget_micros, time_limit_secs,
    concurrency, output_dir, plan_json, status, status_reason, tasks_committed, exec_ms,
    spent_micros, simulated, created_at, started_at, updated_at, finished_at, owner_host,
    owner_pid, owner_start, plan_fallback, host, os_user";

/// The owner recorded in columns `host, pid, start` (all set or none).
fn owner_at(r: &Row, i: usize) -> Result<Option<super::owner::Owner>, StoreError> {
    let host: Option<String> = r.get(i)?;
    let pid: Option<u32> = r.get(i + 1)?;
    let start: Option<String> = r.get(i + 2)?;
    Ok(match (host, pid, start) {
        (Some(host), Some(pid), Some(start)) => Some(super::owner::Owner { host, pid, start }),
        _ => None,
    })
}

fn run_row(r: &Row) -> Result<RunRow, StoreError> {
    let status: String = r.get(10)?;
    Ok(RunRow {
        id: r.get(0)?,
        description: r.get(1)?,
        criteria: r.get(2)?,
        team: r.get(3)?,
        strategy: r.get(4)?,
        budget: Micros(r.get(5)?),
        time_limit_secs: r.get::<i64>(6)?.max(0) as u64,
        concurrency: r.get::<i64>(7)?.max(1) as usize,
        output_dir: r.get(8)?,
        plan_json: r.get(9)?,
        status: status.parse().unwrap_or(RunStatus::SystemFailure),
        status_reason: r.get(11)?,
        tasks_committed: r.get(12)?,
        exec_ms: r.get::<i64>(13)?.max(0) as u64,
        spent: Micros(r.get(14)?),
        simulated: r.get(15)?,
        created_at: r.get(16)?,
        started_at: r.get(17)?,
        updated_at: r.get(18)?,
        finished_at: r.get(19)?,
        owner: owner_at(r, 20)?,
        lock_held: None,
        plan_fallback: r.get(23)?,
        host: r.get(24)?,
        user: r.get(25)?,
    })
}

pub fn get_run(c: &dyn Sql, id: &str) -> Result<RunRow, StoreError> {
    let mut run = c
        .query_opt(
            &format!("SELECT {RUN_COLS} FROM runs WHERE id = ?1"),
            args![id],
            run_row,
        )?
        .ok_or_else(|| {
            StoreError::NotFound(format!(
                "no run with id `{id}` (see `orchestrator-tui runs`)"
            ))
        })?;
    super::claim::fill_locks(
        c,
        std::slice::from_mut(&mut run),
        |r| &r.id,
        |r, h| r.lock_held = Some(h),
    )?;
    Ok(run)
}

/// Newest run id, for `resume --last`.
pub fn last_run_id(c: &dyn Sql) -> Result<Option<String>, StoreError> {
    c.query_opt(
        "SELECT id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1",
        args![],
        |r| r.get(0),
    )
}

/// Runs with the same normalised description, newest first.
pub fn runs_matching(c: &dyn Sql, description: &str) -> Result<Vec<RunRow>, StoreError> {
    let mut rows = c.query_map(
        &format!(
            "SELECT {RUN_COLS} FROM runs WHERE norm_description = ?1 ORDER BY created_at DESC, rowid DESC"
        ),
        args![normalize_description(description)],
        run_row,
    )?;
    super::claim::fill_locks(c, &mut rows, |r| &r.id, |r, h| r.lock_held = Some(h))?;
    Ok(rows)
}

pub fn list_runs(c: &dyn Sql) -> Result<Vec<RunSummary>, StoreError> {
    let mut rows = c.query_map(
        "SELECT r.id, r.status, r.description, r.team, r.spent_micros, r.updated_at, r.created_at,
            (SELECT COUNT(*) FROM tasks t WHERE t.run_id = r.id AND t.status IN ('completed','degraded')),
            (SELECT COUNT(*) FROM tasks t WHERE t.run_id = r.id),
            r.owner_host, r.owner_pid, r.owner_start, r.budget_micros, r.host, r.os_user
         FROM runs r ORDER BY r.created_at DESC, r.rowid DESC",
        args![],
        |r| {
            let status: String = r.get(1)?;
            Ok(RunSummary {
                id: r.get(0)?,
                status: status.parse().unwrap_or(RunStatus::SystemFailure),
                description: r.get(2)?,
                team: r.get(3)?,
                spent: Micros(r.get(4)?),
                updated_at: r.get(5)?,
                created_at: r.get(6)?,
                tasks_done: r.get::<i64>(7)? as u64,
                tasks_total: r.get::<i64>(8)? as u64,
                owner: owner_at(r, 9)?,
                lock_held: None,
                budget: Micros(r.get(12)?),
                host: r.get(13)?,
                user: r.get(14)?,
            })
        },
    )?;
    super::claim::fill_locks(c, &mut rows, |r| &r.id, |r, h| r.lock_held = Some(h))?;
    Ok(rows)
}

pub fn set_run_status(
    c: &dyn Sql,
    id: &str,
    status: RunStatus,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    let now = now_rfc3339();
    let finished = (status != RunStatus::Running).then_some(now.clone());
    // A run that stops being driven has no owner any more.
    c.execute(
        "UPDATE runs SET status = ?2, status_reason = ?3, updated_at = ?4, finished_at = ?5,
            owner_host = CASE WHEN ?2 = 'running' THEN owner_host END,
            owner_pid = CASE WHEN ?2 = 'running' THEN owner_pid END,
            owner_start = CASE WHEN ?2 = 'running' THEN owner_start END
         WHERE id = ?1",
        args![id, status.as_str(), reason, now, finished],
    )?;
    Ok(())
}

/// Record the process that drives the run (with its lock; see `engine::lock::run_alive`).
pub fn claim_run(c: &dyn Sql, id: &str, o: &super::owner::Owner) -> Result<(), StoreError> {
    c.execute(
        "UPDATE runs SET owner_host = ?2, owner_pid = ?3, owner_start = ?4 WHERE id = ?1",
        args![id, o.host, o.pid, o.start],
    )?;
    Ok(())
}

/// Mark a run as driven again (resume): running, not finished, new limits if given.
pub fn reopen_run(
    c: &dyn Sql,
    id: &str,
    budget: Option<Micros>,
    time_limit_secs: Option<u64>,
) -> Result<(), StoreError> {
    let now = now_rfc3339();
    c.execute(
        "UPDATE runs SET status = 'running', status_reason = NULL, updated_at = ?2, finished_at = NULL,
            budget_micros = COALESCE(?3, budget_micros), time_limit_secs = COALESCE(?4, time_limit_secs)
         WHERE id = ?1",
        args![id, now, budget.map(|b| b.0), time_limit_secs.map(|t| t as i64)],
    )?;
    // Tasks caught mid-flight by a crash start over; their attempts so far are kept.
    c.execute(
        "UPDATE tasks SET status = 'pending', status_reason = NULL
         WHERE run_id = ?1 AND status IN ('running', 'failed', 'skipped')",
        args![id],
    )?;
    Ok(())
}

pub fn add_exec_ms(c: &dyn Sql, id: &str, ms: u64) -> Result<(), StoreError> {
    c.execute(
        "UPDATE runs SET exec_ms = exec_ms + ?2, updated_at = ?3 WHERE id = ?1",
        args![id, ms as i64, now_rfc3339()],
    )?;
    Ok(())
}

/// Commit the task list and mark it committed in one step (resume then skips decomposition).
pub fn insert_tasks(c: &dyn Sql, run_id: &str, tasks: &[TaskSpec]) -> Result<(), StoreError> {
    for (i, t) in tasks.iter().enumerate() {
        c.execute(
            "INSERT INTO tasks (run_id, id, seq, type, prompt, dependencies, threshold,
                max_iterations, max_output_tokens, validators, status)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending')",
            args![
                run_id,
                t.id,
                i as i64,
                t.task_type.as_str(),
                t.prompt,
                serde_json::to_string(&t.dependencies).unwrap_or_else(|_| "[]".into()),
                t.threshold,
                t.max_iterations,
                t.max_output_tokens,
                serde_json::to_string(&t.validators).unwrap_or_else(|_| "[]".into()),
            ],
        )?;
    }
    c.execute(
        // The plan now lives in `tasks`; dropping the copy keeps the hot run row small (every
        // call updates it, and SQLite rewrites the whole row).
        "UPDATE runs SET tasks_committed = 1, plan_json = NULL, updated_at = ?2 WHERE id = ?1",
        args![run_id, now_rfc3339()],
    )?;
    Ok(())
}

pub fn mark_plan_fallback(c: &dyn Sql, run_id: &str) -> Result<(), StoreError> {
    c.execute(
        "UPDATE runs SET plan_fallback = 1 WHERE id = ?1",
        args![run_id],
    )?;
    Ok(())
}

fn task_row(r: &Row) -> Result<TaskRow, StoreError> {
    let ty: String = r.get(1)?;
    let deps: String = r.get(3)?;
    let vals: String = r.get(7)?;
    let status: String = r.get(8)?;
    Ok(TaskRow {
        spec: TaskSpec {
            id: r.get(0)?,
            task_type: ty.parse().unwrap_or(TaskType::CodeGeneration),
            prompt: r.get(2)?,
            dependencies: serde_json::from_str(&deps).unwrap_or_default(),
            threshold: r.get(4)?,
            max_iterations: r.get(5)?,
            max_output_tokens: r.get(6)?,
            validators: serde_json::from_str::<Vec<ValidatorSpec>>(&vals).unwrap_or_default(),
        },
        status: status.parse().unwrap_or(TaskStatus::Pending),
        status_reason: r.get(9)?,
        model: r.get(10)?,
        reviewer: r.get(11)?,
        score: r.get(12)?,
        iterations: r.get(13)?,
        output: r.get(14)?,
    })
}

pub fn get_tasks(c: &dyn Sql, run_id: &str) -> Result<Vec<TaskRow>, StoreError> {
    c.query_map(
        "SELECT id, type, prompt, dependencies, threshold, max_iterations, max_output_tokens,
            validators, status, status_reason, model, reviewer, score, iterations, output
         FROM tasks WHERE run_id = ?1 ORDER BY seq",
        args![run_id],
        task_row,
    )
}

pub fn set_task_status(
    c: &dyn Sql,
    run_id: &str,
    task_id: &str,
    status: TaskStatus,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    let now = now_rfc3339();
    c.execute(
        "UPDATE tasks SET status = ?3, status_reason = ?4,
            started_at = CASE WHEN ?3 = 'running' THEN ?5 ELSE started_at END,
            finished_at = CASE WHEN ?3 IN ('completed','degraded','failed','skipped') THEN ?5 ELSE NULL END
         WHERE run_id = ?1 AND id = ?2",
        args![run_id, task_id, status.as_str(), reason, now],
    )?;
    Ok(())
}

/// Everything an attempt produced, recorded whole; the task row reflects its best attempt.
pub struct AttemptWrite<'a> {
    pub run_id: &'a str,
    pub task_id: &'a str,
    pub n: u32,
    pub model: Option<&'a str>,
    pub reviewer: Option<&'a str>,
    pub evaluator: Option<&'a str>,
    pub score: Option<f64>,
    pub validators: &'a [ValidatorResult],
    pub failure_reason: Option<&'a str>,
    pub critique: Option<&'a str>,
    pub output: Option<&'a str>,
    /// The evaluator was the generator itself (a single-model setup).
    pub self_evaluated: bool,
    /// How an out-of-range score was read (`feedback::Score::note`).
    pub score_note: Option<&'a str>,
}

pub fn insert_attempt(c: &dyn Sql, a: &AttemptWrite) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO attempts (run_id, task_id, n, model, reviewer, evaluator, score,
            validators, failure_reason, critique, output, created_at, self_evaluated, score_note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
         ON CONFLICT (run_id, task_id, n) DO UPDATE SET model = excluded.model,
            reviewer = excluded.reviewer, evaluator = excluded.evaluator, score = excluded.score,
            validators = excluded.validators, failure_reason = excluded.failure_reason,
            critique = excluded.critique, output = excluded.output,
            created_at = excluded.created_at, self_evaluated = excluded.self_evaluated,
            score_note = excluded.score_note",
        args![
            a.run_id,
            a.task_id,
            a.n,
            a.model,
            a.reviewer,
            a.evaluator,
            a.score,
            serde_json::to_string(a.validators).unwrap_or_else(|_| "[]".into()),
            a.failure_reason,
            a.critique,
            a.output,
            now_rfc3339(),
            a.self_evaluated,
            a.score_note
        ],
    )?;
    Ok(())
}

/// The task's current result: best attempt so far; iterations = attempts recorded.
pub fn update_task_result(
    c: &dyn Sql,
    run_id: &str,
    task_id: &str,
    model: Option<&str>,
    reviewer: Option<&str>,
    score: Option<f64>,
    output: Option<&str>,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE tasks SET model = COALESCE(?3, model), reviewer = COALESCE(?4, reviewer),
            score = COALESCE(?5, score), output = COALESCE(?6, output),
            iterations = (SELECT COUNT(*) FROM attempts a WHERE a.run_id = ?1 AND a.task_id = ?2)
         WHERE run_id = ?1 AND id = ?2",
        args![run_id, task_id, model, reviewer, score, output],
    )?;
    Ok(())
}

pub fn get_attempts(c: &dyn Sql, run_id: &str) -> Result<Vec<AttemptRow>, StoreError> {
    // One grouped pass over the calls instead of a subquery per attempt.
    let costs: std::collections::HashMap<(String, u32), i64> = c
        .query_map(
            "SELECT task_id, attempt, CAST(SUM(cost_micros) AS BIGINT) FROM calls
             WHERE run_id = ?1 AND task_id IS NOT NULL AND attempt IS NOT NULL
             GROUP BY task_id, attempt",
            args![run_id],
            |r| Ok(((r.get::<String>(0)?, r.get::<u32>(1)?), r.get::<i64>(2)?)),
        )?
        .into_iter()
        .collect();
    let rows = c.query_map(
        "SELECT a.task_id, a.n, a.model, a.reviewer, a.evaluator, a.score, a.validators,
            a.failure_reason, a.critique, a.output, a.created_at, a.self_evaluated, a.score_note
         FROM attempts a WHERE a.run_id = ?1 ORDER BY a.task_id, a.n",
        args![run_id],
        |r| {
            let v: String = r.get(6)?;
            Ok(AttemptRow {
                task_id: r.get(0)?,
                n: r.get(1)?,
                model: r.get(2)?,
                reviewer: r.get(3)?,
                evaluator: r.get(4)?,
                score: r.get(5)?,
                validators: serde_json::from_str(&v).unwrap_or_default(),
                failure_reason: r.get(7)?,
                critique: r.get(8)?,
                output: r.get(9)?,
                created_at: r.get(10)?,
                self_evaluated: r.get(11)?,
                score_note: r.get(12)?,
                cost: Micros::ZERO,
            })
        },
    )?;
    let rows = rows
        .into_iter()
        .map(|mut a| {
            a.cost = Micros(costs.get(&(a.task_id.clone(), a.n)).copied().unwrap_or(0));
            a
        })
        .collect();
    Ok(rows)
}

/// Record one provider request and charge its settled cost to the run in the same transaction.
/// The columns of a call row, in the order of [`call_args`].
const CALL_COLUMNS: &str =
    "run_id, task_id, attempt, role, provider, model, simulated, input_tokens,
    cached_tokens, output_tokens, reasoning_tokens, cost_micros, latency_ms, ttft_ms, outcome,
    error, retry, breaker_after, at, cache_write_tokens, cache_saving_micros";

const CALL_VALUES: &str = "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
    ?17, ?18, ?19, ?20, ?21";

fn call_args(k: &CallRecord) -> Vec<super::sql::Value> {
    args![
        k.run_id,
        k.task_id,
        k.attempt,
        k.role,
        k.provider,
        k.model,
        k.simulated,
        k.input_tokens as i64,
        k.cached_tokens as i64,
        k.output_tokens as i64,
        k.reasoning_tokens as i64,
        k.cost.0,
        k.latency_ms as i64,
        k.ttft_ms.map(|t| t as i64),
        k.outcome.as_str(),
        k.error,
        k.retry,
        k.breaker_after,
        k.at,
        k.cache_write_tokens as i64,
        k.cache_saving.0
    ]
    .to_vec()
}

/// Store a call's row and charge its cost to its run.
pub fn insert_call(c: &dyn Sql, k: &CallRecord) -> Result<i64, StoreError> {
    if c.sqlite().is_none() {
        // PostgreSQL: one round trip on every call's settle (the run's charge rides along).
        static ONE: LazyLock<String> = LazyLock::new(|| {
            format!(
                "WITH c AS (INSERT INTO calls ({CALL_COLUMNS}) VALUES ({CALL_VALUES}) RETURNING id),
                      r AS (UPDATE runs SET spent_micros = spent_micros + ?12
                            WHERE id = ?1 AND ?12 <> 0)
                 SELECT id FROM c"
            )
        });
        return c.query_row(&ONE, &call_args(k), |r| r.get(0));
    }
    static INSERT: LazyLock<String> =
        LazyLock::new(|| format!("INSERT INTO calls ({CALL_COLUMNS}) VALUES ({CALL_VALUES})"));
    let id: i64 = super::insert_returning_id(c, &INSERT, &call_args(k))?;
    if let Some(run) = &k.run_id
        && k.cost.0 != 0
    {
        c.execute(
            "UPDATE runs SET spent_micros = spent_micros + ?2 WHERE id = ?1",
            args![run, k.cost.0],
        )?;
    }
    Ok(id)
}

#[derive(Debug, Clone, Copy, Default)]
pub struct CallCounts {
    pub total: u64,
    pub ok: u64,
    pub cost: Micros,
    /// Part of `cost` charged as an estimate (calls cut short by a crash).
    pub estimated: Micros,
    /// Input tokens read from and written to providers' caches.
    pub cached_tokens: u64,
    pub cache_write_tokens: u64,
    /// What caching saved, summed over the calls.
    pub cache_saving: Micros,
}

pub fn call_counts(c: &dyn Sql, run_id: &str) -> Result<CallCounts, StoreError> {
    c.query_row(
        "SELECT COUNT(*),
            CAST(COALESCE(SUM(CASE WHEN outcome = 'ok' THEN 1 ELSE 0 END), 0) AS BIGINT),
            CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT),
            CAST(COALESCE(SUM(CASE WHEN outcome = 'estimated' THEN cost_micros END), 0) AS BIGINT),
            CAST(COALESCE(SUM(cached_tokens), 0) AS BIGINT),
            CAST(COALESCE(SUM(cache_write_tokens), 0) AS BIGINT),
            CAST(COALESCE(SUM(cache_saving_micros), 0) AS BIGINT)
         FROM calls WHERE run_id = ?1",
        args![run_id],
        |r| {
            Ok(CallCounts {
                total: r.get::<i64>(0)? as u64,
                ok: r.get::<i64>(1)? as u64,
                cost: Micros(r.get(2)?),
                estimated: Micros(r.get(3)?),
                cached_tokens: r.get::<i64>(4)?.max(0) as u64,
                cache_write_tokens: r.get::<i64>(5)?.max(0) as u64,
                cache_saving: Micros(r.get(6)?),
            })
        },
    )
}

/// Settled cost per task of a run.
pub fn task_costs(c: &dyn Sql, run_id: &str) -> Result<Vec<(String, Micros)>, StoreError> {
    c.query_map(
        "SELECT task_id, CAST(SUM(cost_micros) AS BIGINT) FROM calls
         WHERE run_id = ?1 AND task_id IS NOT NULL GROUP BY task_id",
        args![run_id],
        |r| Ok((r.get(0)?, Micros(r.get(1)?))),
    )
}

pub fn insert_breaker_event(
    c: &dyn Sql,
    run_id: Option<&str>,
    e: &BreakerEventRow,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO breaker_events (at, run_id, model, from_state, to_state, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        args![e.at, run_id, e.model, e.from, e.to, e.reason],
    )?;
    Ok(())
}

pub fn breaker_events(c: &dyn Sql, run_id: &str) -> Result<Vec<BreakerEventRow>, StoreError> {
    c.query_map(
        "SELECT at, model, from_state, to_state, reason FROM breaker_events WHERE run_id = ?1 ORDER BY id",
        args![run_id],
        |r| {
            Ok(BreakerEventRow {
                at: r.get(0)?,
                model: r.get(1)?,
                from: r.get(2)?,
                to: r.get(3)?,
                reason: r.get(4)?,
            })
        },
    )
}

/// A file written for a run, in `dir` (the run's output directory on this machine), recorded
/// with this host: the machine that has it.
pub fn insert_artifact(
    c: &dyn Sql,
    run_id: &str,
    task_id: Option<&str>,
    path: &str,
    bytes: u64,
    dir: &str,
) -> Result<(), StoreError> {
    let host = &super::owner::Owner::current().host;
    c.execute(
        "INSERT INTO artifacts (run_id, task_id, path, bytes, host, dir)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (run_id, path) DO UPDATE SET task_id = excluded.task_id,
            bytes = excluded.bytes, host = excluded.host, dir = excluded.dir",
        args![run_id, task_id, path, bytes as i64, host, dir],
    )?;
    Ok(())
}

/// Where a run's files are: (host, directory, relative path), `None` for files recorded before
/// the host was (the run's own host and output directory), by path.
pub type ArtifactPlace = (Option<String>, Option<String>, String);

pub fn artifact_places(c: &dyn Sql, run_id: &str) -> Result<Vec<ArtifactPlace>, StoreError> {
    c.query_map(
        "SELECT host, dir, path FROM artifacts WHERE run_id = ?1 ORDER BY path",
        args![run_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}

/// A path from model output that was refused: a finding of the task.
pub fn insert_refusal(
    c: &dyn Sql,
    run_id: &str,
    task_id: &str,
    path: &str,
    reason: &str,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO artifact_refusals (run_id, task_id, path, reason, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        args![run_id, task_id, path, reason, now_rfc3339()],
    )?;
    Ok(())
}

/// Files written for a run: (relative path, task id).
pub fn artifacts(c: &dyn Sql, run_id: &str) -> Result<Vec<(String, Option<String>)>, StoreError> {
    c.query_map(
        "SELECT path, task_id FROM artifacts WHERE run_id = ?1 ORDER BY path",
        args![run_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Refused paths per task: task id -> [(path, reason)].
pub fn refusals(
    c: &dyn Sql,
    run_id: &str,
) -> Result<std::collections::HashMap<String, Vec<(String, String)>>, StoreError> {
    let rows: Vec<(String, String, String)> = c.query_map(
        "SELECT task_id, path, reason FROM artifact_refusals WHERE run_id = ?1 ORDER BY id",
        args![run_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let mut m: std::collections::HashMap<String, Vec<(String, String)>> = Default::default();
    for (t, p, why) in rows {
        m.entry(t).or_default().push((p, why));
    }
    Ok(m)
}

pub fn log_event(
    c: &dyn Sql,
    run_id: Option<&str>,
    level: &str,
    message: &str,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO run_events (at, run_id, level, message) VALUES (?1, ?2, ?3, ?4)",
        args![now_rfc3339(), run_id, level, message],
    )?;
    Ok(())
}

pub fn delete_run(c: &dyn Sql, run_id: &str) -> Result<(), StoreError> {
    crate::store::events::delete_run(c, run_id)?;
    c.execute("DELETE FROM calls WHERE run_id = ?1", args![run_id])?;
    c.execute("DELETE FROM runs WHERE id = ?1", args![run_id])?;
    Ok(())
}

/// Did any call of the run go to a simulated provider (false when it made none)?
pub fn any_call_simulated(c: &dyn Sql, run_id: &str) -> Result<bool, StoreError> {
    c.query_row(
        "SELECT COALESCE(MAX(simulated), 0) FROM calls WHERE run_id = ?1",
        args![run_id],
        |r| r.get(0),
    )
}
