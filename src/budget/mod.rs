//! Budget hierarchy (org, team, run) with reservations that make overspending impossible under
//! any concurrency: the worst case of a call is reserved at every level in one `BEGIN IMMEDIATE`
//! transaction before the call, then settled to the actual cost. A run holds its reservations as
//! one growing lease (lease.rs) so its calls take their worst case in memory. The levels are
//! `level.rs`; the rows that keep them are in `store/budget.rs`.

pub mod denial;
pub mod lease;
pub mod ledger;
pub mod level;
pub mod period;
pub mod waiters;

use crate::domain::Micros;

/// Does `amount` fit under `cap` given what is spent and reserved? No cap always fits.
pub fn fits(cap: Option<Micros>, spent: Micros, reserved: Micros, amount: Micros) -> bool {
    match cap {
        None => true,
        Some(c) => spent.0 + reserved.0 + amount.0 <= c.0,
    }
}

/// Remaining headroom at a level (None: uncapped).
pub fn remaining(cap: Option<Micros>, spent: Micros, reserved: Micros) -> Option<Micros> {
    cap.map(|c| Micros((c.0 - spent.0 - reserved.0).max(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_respects_spent_and_reserved() {
        let m = Micros;
        assert!(fits(None, m(10), m(10), m(1_000)));
        assert!(fits(Some(m(10)), m(9), m(0), m(1)));
        assert!(!fits(Some(m(10)), m(9), m(0), m(2)));
        assert!(!fits(Some(m(10)), m(5), m(5), m(1)));
        assert_eq!(remaining(Some(m(10)), m(4), m(3)), Some(m(3)));
        assert_eq!(remaining(Some(m(10)), m(14), m(3)), Some(m(0)));
    }
}
