//! Runs, tasks, attempts, calls and artifacts: the SQL behind the engine's state changes.
//! Run rows are here; tasks and attempts in tasks.rs, call rows and breaker events in calls.rs,
//! files and refused paths in artifacts.rs (all re-exported, callers use `store::runs::*`).

mod artifacts;
mod calls;
mod tasks;

pub use artifacts::{
    ArtifactPlace, artifact_places, artifacts, insert_artifact, insert_refusal, refusals,
};
pub use calls::{
    CallCounts, any_call_simulated, breaker_events, call_counts, insert_breaker_event, insert_call,
    task_costs,
};
pub use tasks::{
    AttemptWrite, get_attempts, get_tasks, insert_attempt, insert_tasks, set_task_status,
    update_task_result,
};

use super::records::*;
use super::sql::{Row, Sql};
use super::{StoreError, now_rfc3339};
use crate::args;
use crate::domain::status::RunStatus;
use crate::domain::{Micros, normalize_description};

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

pub fn mark_plan_fallback(c: &dyn Sql, run_id: &str) -> Result<(), StoreError> {
    c.execute(
        "UPDATE runs SET plan_fallback = 1 WHERE id = ?1",
        args![run_id],
    )?;
    Ok(())
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
