//! Cancel requests: how one process asks another to cancel a run it drives (the TUI's `c` on a
//! run driven elsewhere, `orchestrator-tui cancel RUN`). The request is a row; the driving engine
//! takes it within about a second (`engine/cancel.rs`) and cancels the run as its own user would.

use super::owner::Owner;
use super::sql::Sql;
use super::{StoreError, now_rfc3339};
use crate::args;

/// A recorded request, as the driver reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelRequest {
    pub reason: String,
    pub requested_at: String,
    pub by_host: String,
    pub by_pid: u32,
}

/// Ask the run's driver to cancel it (a second request replaces the first).
pub fn request(c: &dyn Sql, run_id: &str, reason: &str) -> Result<(), StoreError> {
    let me = Owner::current();
    let n = c.execute(
        "INSERT INTO cancel_requests (run_id, reason, requested_at, by_host, by_pid)
         SELECT id, ?2, ?3, ?4, ?5 FROM runs WHERE id = ?1
         ON CONFLICT (run_id) DO UPDATE SET reason = excluded.reason,
             requested_at = excluded.requested_at, by_host = excluded.by_host,
             by_pid = excluded.by_pid",
        args![run_id, reason, now_rfc3339(), me.host, me.pid],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("no run with id `{run_id}`")));
    }
    Ok(())
}

/// Take the run's request, if any (read and deleted in one step: it is acted on once).
pub fn take(c: &dyn Sql, run_id: &str) -> Result<Option<CancelRequest>, StoreError> {
    c.query_opt(
        "DELETE FROM cancel_requests WHERE run_id = ?1
         RETURNING reason, requested_at, by_host, by_pid",
        args![run_id],
        |r| {
            Ok(CancelRequest {
                reason: r.get(0)?,
                requested_at: r.get(1)?,
                by_host: r.get(2)?,
                by_pid: r.get::<i64>(3)? as u32,
            })
        },
    )
}

/// Is a request waiting for the run (nothing is taken)?
pub fn pending(c: &dyn Sql, run_id: &str) -> Result<bool, StoreError> {
    let n: i64 = c.query_row(
        "SELECT COUNT(*) FROM cancel_requests WHERE run_id = ?1",
        args![run_id],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// Forget a request left over from before (a run resumed starts with none).
pub fn clear(c: &dyn Sql, run_id: &str) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM cancel_requests WHERE run_id = ?1",
        args![run_id],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewRun;
    use crate::store::runs::insert_run;
    use rusqlite::Connection;

    fn db_with_run() -> Connection {
        let c = crate::store::open_in_memory().unwrap();
        let run = NewRun {
            id: "r-1".into(),
            description: "d".into(),
            criteria: String::new(),
            team: None,
            strategy: "quality".into(),
            budget: crate::domain::Micros::from_usd(1.0),
            time_limit_secs: 60,
            concurrency: 1,
            output_dir: "/tmp/x".into(),
            plan: None,
            simulated: true,
        };
        insert_run(&c, &run).unwrap();
        c
    }

    #[test]
    fn a_request_is_taken_once() {
        let c = db_with_run();
        assert_eq!(take(&c, "r-1").unwrap(), None);
        request(&c, "r-1", "cancelled by the user").unwrap();
        request(&c, "r-1", "cancelled by the user (again)").unwrap();
        assert!(pending(&c, "r-1").unwrap());
        let r = take(&c, "r-1").unwrap().unwrap();
        assert_eq!(r.reason, "cancelled by the user (again)");
        assert_eq!(r.by_pid, std::process::id());
        assert_eq!(take(&c, "r-1").unwrap(), None);
        assert!(!pending(&c, "r-1").unwrap());
    }

    #[test]
    fn unknown_runs_are_refused_and_deleted_runs_take_their_request() {
        let c = db_with_run();
        let e = request(&c, "r-nope", "x").unwrap_err();
        assert!(e.to_string().contains("r-nope"), "{e}");
        request(&c, "r-1", "x").unwrap();
        crate::store::runs::delete_run(&c, "r-1").unwrap();
        assert!(!pending(&c, "r-1").unwrap());
        request(&c, "r-1", "x").unwrap_err();
        clear(&c, "r-1").unwrap();
    }
}
