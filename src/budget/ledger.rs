//! What the budget ledger answers: a level's state and the result of a reservation. The SQL that
//! keeps the ledger lives in `store/budget.rs`.

use crate::domain::Micros;
use serde::Serialize;

pub use super::denial::Denial;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LevelState {
    /// The stored level name (`org`, `team:<name>`: see [`super::level::Level`]).
    pub level: String,
    pub cap: Option<Micros>,
    pub spent: Micros,
    pub reserved: Micros,
    pub period: Option<String>,
    /// Part of `spent` charged as an estimate: the held worst case of calls cut short by a crash.
    pub estimated: Micros,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reserve {
    Reserved(i64),
    Denied(Denial),
}
