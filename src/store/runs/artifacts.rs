//! Files written for a run (where, on which host) and paths refused from model output.

use crate::args;
use crate::store::sql::Sql;
use crate::store::{StoreError, now_rfc3339};

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
    let host = &crate::store::owner::Owner::current().host;
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
