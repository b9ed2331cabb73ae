//! `BudgetStore` for a PostgreSQL connection: each operation one transaction (`PgConn::tx`).

use super::PgConn;
use super::budget as b;
use crate::budget::ledger::{LevelState, Reserve};
use crate::budget::level::Level;
use crate::domain::Micros;
use crate::store::recovery::{Holder, Recovered};
use crate::store::{BudgetStore, StoreError};

impl BudgetStore for PgConn {
    fn level_state(&self, level: &Level) -> Result<Option<LevelState>, StoreError> {
        self.tx(|t| b::level(t, &level.to_string()))
    }
    fn all_levels(&self) -> Result<Vec<LevelState>, StoreError> {
        self.tx(b::all_levels)
    }
    fn spend_series(&self, level: &str, limit: usize) -> Result<Vec<(String, Micros)>, StoreError> {
        self.tx(|t| b::series(t, level, limit))
    }
    fn set_cap(&self, level: &Level, cap: Micros, period: Option<&str>) -> Result<(), StoreError> {
        self.tx(|t| b::set_cap(t, &level.to_string(), cap, period))
    }
    fn reserve(
        &self,
        run: Option<&str>,
        team: Option<&str>,
        amount: Micros,
        pid: u32,
        owner: &str,
    ) -> Result<Reserve, StoreError> {
        let stamp = b::Stamp::of(pid, self.owner_lock());
        self.tx(|t| b::reserve_for(t, run, team, amount, &stamp, owner))
    }
    fn open_lease(&self, run: &str, team: Option<&str>, pid: u32) -> Result<i64, StoreError> {
        let stamp = b::Stamp::of(pid, self.owner_lock());
        self.tx(|t| b::open_lease(t, run, team, &stamp))
    }
    fn grow_lease(&self, id: i64, amount: Micros, margin: i64) -> Result<Reserve, StoreError> {
        self.tx(|t| b::grow(t, id, amount, margin))
    }
    fn shrink_lease(&self, id: i64, amount: Micros) -> Result<i64, StoreError> {
        self.tx(|t| b::shrink(t, id, amount))
    }
    fn lease_pressed(&self, id: i64, spare: Micros) -> Result<bool, StoreError> {
        self.tx(|t| b::lease_pressed(t, id, spare))
    }
    fn settle(&self, id: i64, actual: Micros) -> Result<(), StoreError> {
        self.tx(|t| b::settle(t, id, actual))
    }
    fn settle_part(&self, id: i64, team: Option<&str>, actual: Micros) -> Result<(), StoreError> {
        self.tx(|t| b::settle_part(t, id, team, actual))
    }
    fn release(&self, id: i64) -> Result<(), StoreError> {
        self.tx(|t| b::release(t, id))
    }
    fn holders(&self) -> Result<Vec<Holder>, StoreError> {
        self.tx(|t| Ok(b::holders(t)?.into_iter().map(|(h, _)| h).collect()))
    }
    fn recover_stale(&self, dead: &dyn Fn(&Holder) -> bool) -> Result<Recovered, StoreError> {
        self.tx(|t| b::recover(t, &|h, _| dead(h)))
    }
    fn wait_for(&self, owner: &str, level: &str, amount: i64) -> Result<(), StoreError> {
        self.tx(|t| super::waiters::wait_for(t, owner, level, amount))
    }
    fn stop_waiting(&self, owner: &str) -> Result<(), StoreError> {
        self.tx(|t| super::waiters::stop_waiting(t, owner))
    }
}

impl PgConn {
    /// Settle every reservation whose owner's process lock is free (its process died or lost
    /// its connection): what every command that opens the store does first.
    pub fn recover_dead(&self) -> Result<Recovered, StoreError> {
        self.tx(b::recover_unlocked)
    }
}
