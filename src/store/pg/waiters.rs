//! `store/waiters.rs` on PostgreSQL: owners waiting for headroom at a shared level.

use crate::budget::waiters::{HOLD_MS, now_ms};
use crate::store::StoreError;
use crate::store::pg::Cached;
use postgres::Transaction;

pub fn wait_for(
    t: &mut Transaction<'_>,
    owner: &str,
    level: &str,
    amount: i64,
) -> Result<(), StoreError> {
    let now = now_ms();
    t.exec_c("DELETE FROM budget_waiters WHERE until_ms < $1", &[&now])?;
    t.exec_c(
        "INSERT INTO budget_waiters (owner, level, amount_micros, until_ms) VALUES ($1, $2, $3, $4)
         ON CONFLICT (owner, level) DO UPDATE SET until_ms = EXCLUDED.until_ms,
            amount_micros = LEAST(budget_waiters.amount_micros, EXCLUDED.amount_micros)",
        &[&owner, &level, &amount.max(0), &(now + HOLD_MS)],
    )?;
    Ok(())
}

pub fn stop_waiting(t: &mut Transaction<'_>, owner: &str) -> Result<(), StoreError> {
    t.exec_c("DELETE FROM budget_waiters WHERE owner = $1", &[&owner])?;
    Ok(())
}

pub fn ahead_of(t: &mut Transaction<'_>, level: &str, owner: &str) -> Result<i64, StoreError> {
    let row = t.query_one_c(
        "SELECT COALESCE(SUM(amount_micros), 0)::BIGINT FROM budget_waiters
         WHERE level = $1 AND owner != $2 AND until_ms >= $3
           AND id < COALESCE((SELECT id FROM budget_waiters
                              WHERE level = $1 AND owner = $2 AND until_ms >= $3),
                             9223372036854775807)",
        &[&level, &owner, &now_ms()],
    )?;
    Ok(row.get(0))
}

pub fn others_waiting(
    t: &mut Transaction<'_>,
    level: &str,
    owner: &str,
) -> Result<bool, StoreError> {
    let row = t.query_one_c(
        "SELECT EXISTS (SELECT 1 FROM budget_waiters
                        WHERE level = $1 AND owner != $2 AND until_ms >= $3)",
        &[&level, &owner, &now_ms()],
    )?;
    Ok(row.get(0))
}
