//! Calls in flight: a row per call that took its worst case from a run's lease, written behind
//! when the call starts and deleted with its settle. A process that dies leaves its rows, and
//! crash recovery charges each of them its held worst case (the provider may well have billed
//! it) instead of giving the money back (`store::recovery::recover_stale`).

use super::sql::Sql;
use super::{StoreError, now_rfc3339};
use crate::args;
use crate::domain::Micros;
use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Debug, Clone, PartialEq)]
pub struct InflightCall {
    pub reservation_id: i64,
    pub n: i64,
    pub run_id: Option<String>,
    pub task_id: Option<String>,
    pub attempt: Option<u32>,
    pub role: String,
    pub provider: String,
    pub model: String,
    pub simulated: bool,
    pub worst: Micros,
}

/// A number no other call of this process uses; with the lease id (never reused, and a lease
/// belongs to one process) it names the call.
pub fn next_n() -> i64 {
    static N: AtomicI64 = AtomicI64::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

pub fn insert(c: &dyn Sql, k: &InflightCall) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO inflight_calls (reservation_id, n, run_id, task_id, attempt, role,
            provider, model, simulated, worst_micros, started_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (reservation_id, n) DO UPDATE SET run_id = excluded.run_id,
            task_id = excluded.task_id, attempt = excluded.attempt, role = excluded.role,
            provider = excluded.provider, model = excluded.model,
            simulated = excluded.simulated, worst_micros = excluded.worst_micros,
            started_at = excluded.started_at",
        args![
            k.reservation_id,
            k.n,
            k.run_id,
            k.task_id,
            k.attempt,
            k.role,
            k.provider,
            k.model,
            k.simulated,
            k.worst.0,
            now_rfc3339()
        ],
    )?;
    Ok(())
}

/// The call ended and is settled in the same transaction.
pub fn remove(c: &dyn Sql, reservation_id: i64, n: i64) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM inflight_calls WHERE reservation_id = ?1 AND n = ?2",
        args![reservation_id, n],
    )?;
    Ok(())
}

/// Calls in flight on a reservation, oldest first; they are deleted.
pub fn take_all(c: &dyn Sql, reservation_id: i64) -> Result<Vec<InflightCall>, StoreError> {
    let rows = c.query_map(
        "SELECT reservation_id, n, run_id, task_id, attempt, role, provider, model, simulated,
            worst_micros
         FROM inflight_calls WHERE reservation_id = ?1 ORDER BY started_at, n",
        args![reservation_id],
        |r| {
            Ok(InflightCall {
                reservation_id: r.get(0)?,
                n: r.get(1)?,
                run_id: r.get(2)?,
                task_id: r.get(3)?,
                attempt: r.get(4)?,
                role: r.get(5)?,
                provider: r.get(6)?,
                model: r.get(7)?,
                simulated: r.get(8)?,
                worst: Micros(r.get(9)?),
            })
        },
    )?;
    c.execute(
        "DELETE FROM inflight_calls WHERE reservation_id = ?1",
        args![reservation_id],
    )?;
    Ok(rows)
}

/// Rows whose reservation is gone (a call whose task was dropped mid-flight, then its lease
/// released at the run's end) hold nothing any more.
pub fn delete_orphans(c: &dyn Sql) -> Result<usize, StoreError> {
    c.execute(
        "DELETE FROM inflight_calls WHERE reservation_id NOT IN (SELECT id FROM reservations)",
        args![],
    )
}
