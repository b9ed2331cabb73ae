//! What a resumed run needs from the store besides its rows: where parked tasks continue
//! (`tasks.resume_state`, JSON encoded by `engine/checkpoint.rs`), how far each task's attempt
//! numbering got, the tasks a stopped run left `running`, and which machine drove it last.

use super::StoreError;
use super::sql::Sql;
use crate::args;
use std::collections::HashMap;

/// Store (or clear, with `None`) a task's encoded resume point.
pub fn save_resume_state(
    c: &dyn Sql,
    run_id: &str,
    task_id: &str,
    json: Option<&str>,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE tasks SET resume_state = ?3 WHERE run_id = ?1 AND id = ?2",
        args![run_id, task_id, json],
    )?;
    Ok(())
}

/// (task id, encoded resume point) of a run's tasks that have one.
pub fn resume_states(c: &dyn Sql, run_id: &str) -> Result<Vec<(String, String)>, StoreError> {
    c.query_map(
        "SELECT id, resume_state FROM tasks WHERE run_id = ?1 AND resume_state IS NOT NULL",
        args![run_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// The highest attempt number each task of a run used, in attempts or in calls (a call may be
/// recorded for an attempt that never was), so a resumed task numbers on from there.
pub fn last_attempts(c: &dyn Sql, run_id: &str) -> Result<HashMap<String, u32>, StoreError> {
    let rows = c.query_map(
        // The derived table is named: PostgreSQL before 16 requires it.
        "SELECT task_id, MAX(n) FROM (
            SELECT task_id, n FROM attempts WHERE run_id = ?1
            UNION ALL
            SELECT task_id, attempt FROM calls
            WHERE run_id = ?1 AND task_id IS NOT NULL AND attempt IS NOT NULL) AS used
         GROUP BY task_id",
        args![run_id],
        |r| Ok((r.get::<String>(0)?, r.get::<u32>(1)?)),
    )?;
    Ok(rows.into_iter().collect())
}

/// Tasks left running by a cancelled in-flight call go back to pending.
pub fn requeue_running(c: &dyn Sql, run_id: &str) -> Result<(), StoreError> {
    c.execute(
        "UPDATE tasks SET status = 'pending' WHERE run_id = ?1 AND status = 'running'",
        args![run_id],
    )?;
    Ok(())
}

/// A run is driven (resumed) on `host` now: the machine `runs`, `show` and the TUI name for it.
pub fn mark_driven(c: &dyn Sql, run_id: &str, host: &str) -> Result<(), StoreError> {
    c.execute(
        "UPDATE runs SET driven_host = ?2 WHERE id = ?1",
        args![run_id, host],
    )?;
    Ok(())
}

/// (run id, host) of the runs resumed at least once: the machine that drove each last. Runs
/// not in it were only ever driven where they started (`runs.host`).
pub fn driven_hosts(c: &dyn Sql) -> Result<HashMap<String, String>, StoreError> {
    let rows = c.query_map(
        "SELECT id, driven_host FROM runs WHERE driven_host IS NOT NULL",
        args![],
        |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)),
    )?;
    Ok(rows.into_iter().collect())
}

/// The machine that drove run `run_id` last, when it was resumed at least once.
pub fn driven_host(c: &dyn Sql, run_id: &str) -> Result<Option<String>, StoreError> {
    let rows = c.query_map(
        "SELECT driven_host FROM runs WHERE id = ?1",
        args![run_id],
        |r| r.get::<Option<String>>(0),
    )?;
    Ok(rows.into_iter().next().flatten())
}
