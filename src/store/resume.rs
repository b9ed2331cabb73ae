//! What a resumed run needs from the store besides its rows: where parked tasks continue
//! (`tasks.resume_state`, JSON encoded by `engine/checkpoint.rs`), how far each task's attempt
//! numbering got, and the tasks a stopped run left `running`.

use super::StoreError;
use rusqlite::{Connection, params};
use std::collections::HashMap;

/// Store (or clear, with `None`) a task's encoded resume point.
pub fn save_resume_state(
    c: &Connection,
    run_id: &str,
    task_id: &str,
    json: Option<&str>,
) -> Result<(), StoreError> {
    super::exec(
        c,
        "UPDATE tasks SET resume_state = ?3 WHERE run_id = ?1 AND id = ?2",
        params![run_id, task_id, json],
    )?;
    Ok(())
}

/// (task id, encoded resume point) of a run's tasks that have one.
pub fn resume_states(c: &Connection, run_id: &str) -> Result<Vec<(String, String)>, StoreError> {
    let mut st = c.prepare(
        "SELECT id, resume_state FROM tasks WHERE run_id = ?1 AND resume_state IS NOT NULL",
    )?;
    let rows = st
        .query_map([run_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The highest attempt number each task of a run used, in attempts or in calls (a call may be
/// recorded for an attempt that never was), so a resumed task numbers on from there.
pub fn last_attempts(c: &Connection, run_id: &str) -> Result<HashMap<String, u32>, StoreError> {
    let mut st = c.prepare(
        "SELECT task_id, MAX(n) FROM (
            SELECT task_id, n FROM attempts WHERE run_id = ?1
            UNION ALL
            SELECT task_id, attempt FROM calls
            WHERE run_id = ?1 AND task_id IS NOT NULL AND attempt IS NOT NULL)
         GROUP BY task_id",
    )?;
    let rows = st
        .query_map([run_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?))
        })?
        .collect::<Result<HashMap<_, _>, _>>()?;
    Ok(rows)
}

/// Tasks left running by a cancelled in-flight call go back to pending.
pub fn requeue_running(c: &Connection, run_id: &str) -> Result<(), StoreError> {
    super::exec(
        c,
        "UPDATE tasks SET status = 'pending' WHERE run_id = ?1 AND status = 'running'",
        [run_id],
    )?;
    Ok(())
}
