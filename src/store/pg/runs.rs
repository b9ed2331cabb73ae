//! Runs on PostgreSQL: the rows every machine sees, with the host and OS user that started
//! them, and their status as liveness makes it (a `running` run whose advisory lock is free is
//! `interrupted`).

use super::liveness;
use crate::domain::Micros;
use crate::domain::status::RunStatus;
use crate::store::owner::{Owner, os_user};
use crate::store::{CallRecord, NewRun, RunSummary, StoreError, now_rfc3339};
use postgres::Transaction;

type Tx<'a, 'b> = &'a mut Transaction<'b>;

pub fn insert_run(t: Tx, r: &NewRun) -> Result<(), StoreError> {
    let now = now_rfc3339();
    let plan = match &r.plan {
        Some(p) => Some(serde_json::to_string(p).map_err(|e| StoreError::Invalid(e.to_string()))?),
        None => None,
    };
    let me = Owner::current();
    t.execute(
        "INSERT INTO runs (id, description, norm_description, criteria, team, strategy,
            budget_micros, time_limit_secs, concurrency, output_dir, plan_json, status, simulated,
            created_at, started_at, updated_at, host, os_user, owner_host, owner_pid, owner_start)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'running', $12, $13, $13, $13,
            $14, $15, $14, $16, $17)",
        &[
            &r.id,
            &r.description,
            &crate::domain::normalize_description(&r.description),
            &r.criteria,
            &r.team,
            &r.strategy,
            &r.budget.0,
            &(r.time_limit_secs as i64),
            &(r.concurrency as i64),
            &r.output_dir,
            &plan,
            &i64::from(r.simulated),
            &now,
            &me.host,
            &os_user(),
            &i64::from(me.pid),
            &me.start,
        ],
    )?;
    Ok(())
}

pub fn set_run_status(t: Tx, id: &str, status: RunStatus) -> Result<(), StoreError> {
    let now = now_rfc3339();
    let finished = status.is_terminal().then(|| now.clone());
    t.execute(
        "UPDATE runs SET status = $2, updated_at = $3, finished_at = $4 WHERE id = $1",
        &[&id, &status.to_string(), &now, &finished],
    )?;
    Ok(())
}

/// Record a call; its cost is added to the run's spend (as `store::runs::insert_call`).
pub fn insert_call(t: Tx, k: &CallRecord) -> Result<i64, StoreError> {
    let id: i64 = t
        .query_one(
            "INSERT INTO calls (run_id, task_id, attempt, role, provider, model, simulated,
                input_tokens, cached_tokens, output_tokens, reasoning_tokens, cost_micros,
                latency_ms, ttft_ms, outcome, error, retry, breaker_after, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                $18, $19) RETURNING id",
            &[
                &k.run_id,
                &k.task_id,
                &k.attempt.map(i64::from),
                &k.role,
                &k.provider,
                &k.model,
                &i64::from(k.simulated),
                &(k.input_tokens as i64),
                &(k.cached_tokens as i64),
                &(k.output_tokens as i64),
                &(k.reasoning_tokens as i64),
                &k.cost.0,
                &(k.latency_ms as i64),
                &k.ttft_ms.map(|v| v as i64),
                &k.outcome.as_str(),
                &k.error,
                &i64::from(k.retry),
                &k.breaker_after,
                &k.at,
            ],
        )?
        .get(0);
    if let Some(run) = &k.run_id
        && k.cost.0 != 0
    {
        t.execute(
            "UPDATE runs SET spent_micros = spent_micros + $2 WHERE id = $1",
            &[run, &k.cost.0],
        )?;
    }
    Ok(id)
}

/// Every run of every machine, newest first, with `running` shown `interrupted` when nobody
/// holds its lock.
pub fn list_runs(t: Tx, schema: &str) -> Result<Vec<RunSummary>, StoreError> {
    let rows = t.query(
        "SELECT r.id, r.status, r.description, r.team, r.spent_micros, r.updated_at, r.created_at,
            (SELECT COUNT(*) FROM tasks k WHERE k.run_id = r.id
                AND k.status IN ('completed','degraded')),
            (SELECT COUNT(*) FROM tasks k WHERE k.run_id = r.id),
            r.budget_micros, r.host, r.os_user
         FROM runs r ORDER BY r.created_at DESC, r.id DESC",
        &[],
    )?;
    let keys: Vec<i64> = rows
        .iter()
        .map(|r| liveness::run_key(schema, r.get::<_, &str>(0)))
        .collect();
    let live = liveness::held_set(t, &keys)?;
    Ok(rows
        .iter()
        .zip(keys)
        .map(|(r, key)| {
            let stored: String = r.get(1);
            let stored = stored.parse().unwrap_or(RunStatus::SystemFailure);
            RunSummary {
                id: r.get(0),
                status: effective(stored, live.contains(&key)),
                description: r.get(2),
                team: r.get(3),
                spent: Micros(r.get(4)),
                updated_at: r.get(5),
                created_at: r.get(6),
                tasks_done: r.get::<_, i64>(7).max(0) as u64,
                tasks_total: r.get::<_, i64>(8).max(0) as u64,
                owner: None,
                lock_held: Some(live.contains(&key)),
                budget: Micros(r.get(9)),
                host: r.get(10),
                user: r.get(11),
            }
        })
        .collect())
}

/// A run's status as liveness makes it: `running` needs its lock held somewhere.
pub fn effective(stored: RunStatus, locked: bool) -> RunStatus {
    if stored == RunStatus::Running && !locked {
        RunStatus::Interrupted
    } else {
        stored
    }
}
