//! `BudgetStore` for any `Sql` (the store thread's jobs on either backend): SQLite's ledger
//! (`budget.rs`, `waiters.rs`, `recovery.rs`) on a SQLite connection, PostgreSQL's
//! (`pg/budget.rs`: row locks in a fixed order) inside the current PostgreSQL transaction.
//! Reservations made on PostgreSQL are owned by the thread's process lock
//! (`pg::thread::owner_lock`), so whoever opens the store after this process dies settles them.

use super::backend::BudgetStore;
use super::pg;
use super::recovery::{Holder, Recovered};
use super::sql::Sql;
use super::{StoreError, budget as sq};
use crate::budget::ledger::{LevelState, Reserve};
use crate::budget::level::Level;
use crate::domain::Micros;

/// Run `$sqlite` with `c` the SQLite connection, else `$pg` with `t` the PostgreSQL transaction.
macro_rules! either {
    ($self:ident, |$c:ident| $sqlite:expr, |$t:ident| $pg:expr) => {
        match $self.sqlite() {
            Some($c) => $sqlite,
            None => $self.pg(|$t| $pg),
        }
    };
}

fn stamp(pid: u32) -> pg::budget::Stamp<'static> {
    pg::budget::Stamp::of(pid, pg::thread::owner_lock())
}

impl BudgetStore for dyn Sql + '_ {
    fn level_state(&self, level: &Level) -> Result<Option<LevelState>, StoreError> {
        let l = level.to_string();
        either!(self, |c| sq::level(c, &l), |t| pg::budget::level(t, &l))
    }
    fn all_levels(&self) -> Result<Vec<LevelState>, StoreError> {
        either!(self, |c| sq::all_levels(c), |t| pg::budget::all_levels(t))
    }
    fn spend_series(&self, level: &str, limit: usize) -> Result<Vec<(String, Micros)>, StoreError> {
        either!(self, |c| sq::series(c, level, limit), |t| {
            pg::budget::series(t, level, limit)
        })
    }
    fn set_cap(&self, level: &Level, cap: Micros, period: Option<&str>) -> Result<(), StoreError> {
        let l = level.to_string();
        either!(self, |c| sq::set_cap(c, &l, cap, period), |t| {
            pg::budget::set_cap(t, &l, cap, period)
        })
    }
    fn reserve(
        &self,
        run: Option<&str>,
        team: Option<&str>,
        amount: Micros,
        pid: u32,
        owner: &str,
    ) -> Result<Reserve, StoreError> {
        either!(
            self,
            |c| sq::reserve_for(c, run, team, amount, pid, owner),
            |t| pg::budget::reserve_for(t, run, team, amount, &stamp(pid), owner)
        )
    }
    fn open_lease(&self, run: &str, team: Option<&str>, pid: u32) -> Result<i64, StoreError> {
        either!(self, |c| sq::open_lease(c, run, team, pid), |t| {
            pg::budget::open_lease(t, run, team, &stamp(pid))
        })
    }
    fn grow_lease(&self, id: i64, amount: Micros, margin: i64) -> Result<Reserve, StoreError> {
        either!(self, |c| sq::grow(c, id, amount, margin), |t| {
            pg::budget::grow(t, id, amount, margin)
        })
    }
    fn shrink_lease(&self, id: i64, amount: Micros) -> Result<i64, StoreError> {
        either!(self, |c| sq::shrink(c, id, amount), |t| {
            pg::budget::shrink(t, id, amount)
        })
    }
    fn lease_pressed(&self, id: i64, spare: Micros) -> Result<bool, StoreError> {
        either!(self, |c| sq::lease_pressed(c, id, spare), |t| {
            pg::budget::lease_pressed(t, id, spare)
        })
    }
    fn settle(&self, id: i64, actual: Micros) -> Result<(), StoreError> {
        either!(self, |c| sq::settle(c, id, actual), |t| {
            pg::budget::settle(t, id, actual)
        })
    }
    fn settle_part(&self, id: i64, team: Option<&str>, actual: Micros) -> Result<(), StoreError> {
        either!(self, |c| sq::settle_part(c, id, team, actual), |t| {
            pg::budget::settle_part(t, id, team, actual)
        })
    }
    fn release(&self, id: i64) -> Result<(), StoreError> {
        either!(self, |c| sq::release(c, id), |t| pg::budget::release(t, id))
    }
    fn holders(&self) -> Result<Vec<Holder>, StoreError> {
        either!(self, |c| super::recovery::holders(c), |t| Ok(
            pg::budget::holders(t)?
                .into_iter()
                .map(|(h, _)| h)
                .collect()
        ))
    }
    fn recover_stale(&self, dead: &dyn Fn(&Holder) -> bool) -> Result<Recovered, StoreError> {
        either!(self, |c| super::recovery::recover_stale(c, dead), |t| {
            pg::budget::recover(t, &|h, _| dead(h))
        })
    }
    fn wait_for(&self, owner: &str, level: &str, amount: i64) -> Result<(), StoreError> {
        either!(
            self,
            |c| super::waiters::wait_for(c, owner, level, amount),
            |t| { pg::waiters::wait_for(t, owner, level, amount) }
        )
    }
    fn stop_waiting(&self, owner: &str) -> Result<(), StoreError> {
        either!(self, |c| super::waiters::stop_waiting(c, owner), |t| {
            pg::waiters::stop_waiting(t, owner)
        })
    }
}

/// Charge `actual` at team and org level without a reservation (a call whose hold is gone).
pub fn charge(c: &dyn Sql, team: Option<&str>, actual: Micros) -> Result<(), StoreError> {
    either!(c, |c| sq::charge(c, team, actual), |t| pg::budget::charge(
        t, team, actual
    ))
}

/// Set the cap (and period) of level `level` by its stored name (`org`, `team:<name>`).
pub fn set_level_cap(
    c: &dyn Sql,
    level: &str,
    cap: Micros,
    period: Option<&str>,
) -> Result<(), StoreError> {
    either!(c, |c| sq::set_cap(c, level, cap, period), |t| {
        pg::budget::set_cap(t, level, cap, period)
    })
}

/// Set a run's own cap (its budget); `NotFound` when there is no such run.
pub fn set_run_cap(c: &dyn Sql, run: &str, cap: Micros) -> Result<(), StoreError> {
    either!(c, |c| sq::set_run_cap(c, run, cap), |t| {
        let n = t.execute(
            "UPDATE runs SET budget_micros = $2 WHERE id = $1",
            &[&run, &cap.0],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("no run with id `{run}`")));
        }
        Ok(())
    })
}

/// Settle what dead processes held: on SQLite those `dead` says are gone (owner identity and
/// lock files); on PostgreSQL those whose owner's advisory lock is free (`dead` is not asked).
pub fn recover(c: &dyn Sql, dead: &dyn Fn(&Holder) -> bool) -> Result<Recovered, StoreError> {
    either!(c, |c| super::recovery::recover_stale(c, dead), |t| {
        pg::budget::recover_unlocked(t)
    })
}
