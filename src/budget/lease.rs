//! A run's budget lease: one reservation row per run that holds headroom for several calls, so a
//! call takes its worst case in memory instead of waiting on a database transaction.
//!
//! Why it cannot overspend: the lease only grows through `store::budget::grow`, which applies
//! the same run/team/org checks as a per-call reservation inside `BEGIN IMMEDIATE`; a call takes
//! from the lease only what the lease still covers; the spend is charged and the lease shrunk by
//! the same amount in one transaction; headroom given back leaves memory before the row.
//!
//! What it holds: the worst case of the run's calls in flight, plus "spare" headroom of up to
//! [`TARGET`] calls' worst case. Spare is taken only while every shared capped level (team, org)
//! keeps at least as much free after it, and given back when the run goes idle, when a shared cap
//! gets near, or when another owner waits there (engine/driver.rs keeps it). Near a cap the lease
//! therefore grows by exactly what the next call lacks, and the run counts everything it holds
//! as its own: a call is refused only when the run's spend, its other calls in flight and this
//! call's worst case do not fit together.

use std::sync::Mutex;
use tokio::sync::Notify;

/// Grow the lease to cover this many calls' worst case ...
pub const TARGET: i64 = 8;
/// ... and start growing it in the background when fewer than this many remain.
pub const LOW: i64 = 4;

/// In-memory side of a lease. `granted` trails the database: growth counts once committed,
/// spend counts at once, so memory never believes in more headroom than the row holds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct State {
    pub granted: i64,
    pub inflight: i64,
    pub refilling: bool,
    /// Calls taken so far (idle detection).
    pub takes: u64,
    /// Calls ended so far (a refusal seen before a call ended may no longer hold).
    pub settles: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// Covered; `refill` asks for a background growth of that many micros.
    Taken { refill: Option<i64> },
    /// Not covered: grow by `grow`, or at least by `at_least` (the exact shortfall).
    Short { grow: i64, at_least: i64 },
}

impl State {
    pub fn available(&self) -> i64 {
        self.granted - self.inflight
    }

    /// Headroom held beyond the calls in flight.
    pub fn spare(&self) -> i64 {
        self.available().max(0)
    }

    /// Give the spare back (memory first: the row is shrunk by the returned amount after).
    pub fn give_back_spare(&mut self) -> i64 {
        let spare = self.spare();
        self.granted -= spare;
        spare
    }

    /// Take `worst` micros for one call if the lease covers it.
    pub fn take(&mut self, worst: i64) -> Take {
        let worst = worst.max(0);
        let avail = self.available();
        if avail < worst {
            return Take::Short {
                grow: (worst * TARGET - avail).max(worst - avail),
                at_least: worst - avail,
            };
        }
        self.inflight += worst;
        self.takes += 1;
        let left = avail - worst;
        let refill = (left < worst * LOW && !self.refilling).then(|| {
            self.refilling = true;
            worst * TARGET - left
        });
        Take::Taken { refill }
    }

    /// A growth committed.
    pub fn grown(&mut self, amount: i64) {
        self.granted += amount;
    }

    /// A background growth ended (`Some`: committed amount).
    pub fn refill_done(&mut self, amount: Option<i64>) {
        self.refilling = false;
        if let Some(a) = amount {
            self.granted += a;
        }
    }

    /// A call taken with `worst` ended having cost `actual` (0 when it failed).
    pub fn finish(&mut self, worst: i64, actual: i64) {
        self.inflight -= worst.max(0);
        self.granted -= actual.max(0);
        self.settles += 1;
    }
}

/// A run's lease: the reservation row id and the in-memory state.
#[derive(Debug)]
pub struct Lease {
    pub id: i64,
    state: Mutex<State>,
    /// Woken when one of the run's calls ends.
    settled: Notify,
}

impl Lease {
    pub fn new(id: i64) -> Self {
        Lease {
            id,
            state: Mutex::new(State::default()),
            settled: Notify::new(),
        }
    }

    /// A call taken with `worst` ended having cost `actual`: wake calls waiting for it.
    pub fn finish(&self, worst: i64, actual: i64) {
        self.with(|l| l.finish(worst, actual));
        self.settled.notify_waiters();
    }

    /// Wait until one of the run's calls ends, unless none is in flight or one ended since
    /// `settles` was read. Returns at once in those cases.
    pub async fn settle_after(&self, settles: u64) {
        let notified = self.settled.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let s = self.state();
        if s.inflight <= 0 || s.settles != settles {
            return;
        }
        notified.await;
    }

    /// Apply `f` to the state (the lock is never held across an await).
    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn state(&self) -> State {
        self.with(|s| *s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_lease_asks_for_target_or_exact_shortfall() {
        let mut s = State::default();
        assert_eq!(
            s.take(100),
            Take::Short {
                grow: 800,
                at_least: 100
            }
        );
        assert_eq!(s, State::default(), "a short take changes nothing");
        s.grown(150);
        assert_eq!(
            s.take(200),
            Take::Short {
                grow: 1450,
                at_least: 50
            }
        );
    }

    #[test]
    fn takes_in_memory_and_refills_once_below_the_low_mark() {
        let mut s = State {
            granted: 800,
            ..Default::default()
        };
        // 700 left = 7 calls: no refill yet.
        assert_eq!(s.take(100), Take::Taken { refill: None });
        for _ in 0..3 {
            assert_eq!(s.take(100), Take::Taken { refill: None });
        }
        // 300 left < 4 calls: one refill up to 8 calls' worth, not two.
        assert_eq!(s.take(100), Take::Taken { refill: Some(500) });
        assert_eq!(s.take(100), Take::Taken { refill: None });
        assert_eq!(s.inflight, 600);
        s.refill_done(Some(500));
        assert_eq!(s.available(), 700);
        assert!(!s.refilling);
    }

    #[test]
    fn spend_shrinks_the_lease_and_failures_give_the_worst_case_back() {
        let mut s = State {
            granted: 1_000,
            ..Default::default()
        };
        let _ = s.take(300);
        let _ = s.take(300);
        s.finish(300, 40); // succeeded, cost 40
        s.finish(300, 0); // failed
        assert_eq!(s.inflight, 0);
        assert_eq!(s.granted, 960);
        // Spend above the worst case (a bad estimate) leaves memory below the row, not above.
        let _ = s.take(100);
        s.finish(100, 2_000);
        assert!(s.available() < 0);
        assert!(matches!(s.take(1), Take::Short { .. }));
    }

    #[test]
    fn never_takes_more_than_granted() {
        // Any interleaving of takes and finishes keeps inflight within what was granted.
        let mut s = State {
            granted: 1_000,
            ..Default::default()
        };
        let mut held = Vec::new();
        for i in 0..200i64 {
            let w = 37 + (i * 53) % 211;
            match s.take(w) {
                Take::Taken { refill } => {
                    held.push(w);
                    if let Some(a) = refill {
                        s.refill_done(if i % 3 == 0 { None } else { Some(a) });
                    }
                }
                Take::Short { .. } => {
                    if let Some(w) = held.pop() {
                        s.finish(w, w / 3);
                    }
                }
            }
            assert!(s.inflight <= s.granted, "{s:?}");
        }
    }
}
