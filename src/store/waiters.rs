//! Owners waiting for headroom at a shared level (team or org). A run or process refused there
//! registers what it needs and retries for a short while; later growths by other owners leave
//! that much free (first come, first served), and leases holding headroom beyond their calls in
//! flight give it back. Rows expire on their own, so a waiter that died blocks nobody for long.

use crate::budget::waiters::{HOLD_MS, now_ms};
use crate::store::StoreError;
use rusqlite::{Connection, params};

pub use crate::budget::waiters::lease_owner;

/// Register (or renew) `owner` waiting for `amount` at `level`. A renewal keeps the owner's
/// place in the queue and the smaller amount.
pub fn wait_for(c: &Connection, owner: &str, level: &str, amount: i64) -> Result<(), StoreError> {
    let now = now_ms();
    crate::store::exec(c, "DELETE FROM budget_waiters WHERE until_ms < ?1", [now])?;
    crate::store::exec(
        c,
        "INSERT INTO budget_waiters (owner, level, amount_micros, until_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(owner, level) DO UPDATE SET until_ms = excluded.until_ms,
            amount_micros = MIN(amount_micros, excluded.amount_micros)",
        params![owner, level, amount.max(0), now + HOLD_MS],
    )?;
    Ok(())
}

/// `owner` no longer waits (served or given up).
pub fn stop_waiting(c: &Connection, owner: &str) -> Result<(), StoreError> {
    crate::store::exec(c, "DELETE FROM budget_waiters WHERE owner = ?1", [owner])?;
    Ok(())
}

/// Headroom at `level` kept for live owners that started waiting before `owner` (all live
/// waiters when `owner` is not waiting there).
pub fn ahead_of(c: &Connection, level: &str, owner: &str) -> Result<i64, StoreError> {
    Ok(crate::store::query_row(
        c,
        "SELECT COALESCE(SUM(amount_micros), 0) FROM budget_waiters
         WHERE level = ?1 AND owner != ?2 AND until_ms >= ?3
           AND id < COALESCE((SELECT id FROM budget_waiters
                              WHERE level = ?1 AND owner = ?2 AND until_ms >= ?3), 9223372036854775807)",
        params![level, owner, now_ms()],
        |r| r.get(0),
    )?)
}

/// Does any live owner other than `owner` wait at `level`?
pub fn others_waiting(c: &Connection, level: &str, owner: &str) -> Result<bool, StoreError> {
    Ok(crate::store::query_row(
        c,
        "SELECT EXISTS (SELECT 1 FROM budget_waiters WHERE level = ?1 AND owner != ?2 AND until_ms >= ?3)",
        params![level, owner, now_ms()],
        |r| r.get(0),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::ledger::Reserve;
    use crate::domain::Micros;
    use crate::store::budget as ledger;
    use crate::store::migrations::migrate;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        c
    }

    #[test]
    fn waiters_are_served_first_come_first_served() {
        let c = db();
        ledger::set_cap(&c, "org", Micros(1_000), None).unwrap();
        wait_for(&c, "a", "org", 600).unwrap();
        wait_for(&c, "b", "org", 300).unwrap();
        // A renewal keeps the place and the smaller amount.
        wait_for(&c, "a", "org", 700).unwrap();
        assert_eq!(ahead_of(&c, "org", "a").unwrap(), 0);
        assert_eq!(ahead_of(&c, "org", "b").unwrap(), 600);
        assert_eq!(ahead_of(&c, "org", "c").unwrap(), 900);
        assert!(others_waiting(&c, "org", "a").unwrap());
        // Someone not waiting cannot take what the waiters need ...
        assert!(matches!(
            ledger::reserve(&c, None, None, Micros(200), 1).unwrap(),
            Reserve::Denied(d) if d.waiting == Micros(900)
        ));
        // ... the first waiter can, the second only what the first leaves.
        assert!(matches!(
            ledger::reserve_for(&c, None, None, Micros(600), 1, "a").unwrap(),
            Reserve::Reserved(_)
        ));
        stop_waiting(&c, "a").unwrap();
        assert!(matches!(
            ledger::reserve_for(&c, None, None, Micros(401), 1, "b").unwrap(),
            Reserve::Denied(_)
        ));
        assert!(matches!(
            ledger::reserve_for(&c, None, None, Micros(400), 1, "b").unwrap(),
            Reserve::Reserved(_)
        ));
        stop_waiting(&c, "b").unwrap();
        assert!(!others_waiting(&c, "org", "x").unwrap());
    }

    #[test]
    fn expired_waiters_block_nobody() {
        let c = db();
        ledger::set_cap(&c, "org", Micros(1_000), None).unwrap();
        wait_for(&c, "dead", "org", 900).unwrap();
        crate::store::exec(&c, "UPDATE budget_waiters SET until_ms = 1", []).unwrap();
        assert_eq!(ahead_of(&c, "org", "me").unwrap(), 0);
        assert!(matches!(
            ledger::reserve(&c, None, None, Micros(900), 1).unwrap(),
            Reserve::Reserved(_)
        ));
    }
}
