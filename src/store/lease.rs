//! The rows behind a run's budget lease (budget/lease.rs keeps its in-memory side): growth when a
//! call falls short or runs low, and giving spare headroom back.

use super::StoreError;
use super::backend::BudgetStore;
use super::budget::{Denial, Reserve};
use super::sql::Sql;
use crate::budget::lease::Lease;
use crate::domain::Micros;

/// Grow lease `id` for a call that fell short: by `grow` (the spare part only far from the
/// shared caps), else by exactly `at_least`. Run inside a write transaction; returns the amount
/// added or the refusal.
pub fn grow_short(
    c: &dyn Sql,
    id: i64,
    grow: i64,
    at_least: i64,
) -> Result<Result<i64, Denial>, StoreError> {
    if grow > at_least
        && matches!(
            c.grow_lease(id, Micros(grow), grow - at_least)?,
            Reserve::Reserved(_)
        )
    {
        return Ok(Ok(grow));
    }
    Ok(match c.grow_lease(id, Micros(at_least), 0)? {
        Reserve::Reserved(_) => Ok(at_least),
        Reserve::Denied(d) => Err(d),
    })
}

/// A background growth: all of it is spare, so as much must stay free at the shared levels.
pub fn refill(c: &dyn Sql, id: i64, amount: i64) -> Result<bool, StoreError> {
    Ok(matches!(
        c.grow_lease(id, Micros(amount), amount)?,
        Reserve::Reserved(_)
    ))
}

/// Give lease `id`'s spare back: taken out of memory, then out of the row, in the caller's
/// transaction (so memory never holds more than the row). Returns what the row gave back.
pub fn give_back(c: &dyn Sql, lease: &Lease) -> Result<i64, StoreError> {
    let spare = lease.with(|l| l.give_back_spare());
    if spare <= 0 {
        return Ok(0);
    }
    c.shrink_lease(lease.id, Micros(spare))
}
